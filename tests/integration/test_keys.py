"""`attendance keys rotate`: every value the template key seals (face templates, Slack tokens,
webhook secrets, connector credentials) re-encrypted under a new key on the real database, after
which the old key can go; before it, a database without its key reads nothing."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.oauth.installation_store import Installation

from attendance.adapters.crypto.cipher import TemplateKeyError
from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.mongo.slack_installs import MongoSlackInstallationStore
from attendance.core.domain.model import new_id
from attendance.core.domain.webhooks import SigningSecret, Subscription
from attendance.entrypoints.bootstrap import Container, build
from attendance.entrypoints.cli import main
from attendance.services.keys import rotate_keys
from attendance.settings import CryptoSettings, Settings
from tests.harness.checkins import tenant_with_people


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def with_keys(settings: Settings, active: tuple[str, str], old: dict[str, str] | None = None) -> Settings:
    crypto = CryptoSettings(
        template_key=active[1],  # type: ignore[arg-type]
        template_key_id=active[0],
        old_template_keys=old or {},  # type: ignore[arg-type]
    )
    return settings.model_copy(update={"crypto": crypto})


@asynccontextmanager
async def opened(settings: Settings, uri: str, engine: Any) -> AsyncIterator[Container]:
    async with build(settings, uri=uri, engine=engine) as c:
        yield c


async def seal_one_of_each(c: Container, photo: Any) -> tuple[str, str]:
    tid, _ = await tenant_with_people(c, photo)  # enrolls face templates
    sub_id = new_id()
    await c.subscriptions.add(
        Subscription(
            id=sub_id,
            tenant_id=tid,
            url="https://payroll.example/hook",
            events=frozenset(),
            secrets=(SigningSecret(value="whsec_one"), SigningSecret(value="whsec_old", expires_at=datetime.now(UTC))),
            created_at=datetime.now(UTC),
            kind="workday",
            credentials={"username": "isu", "password": "s3cret"},
        )
    )
    await c.sealed["Slack installations"].async_save(  # type: ignore[attr-defined]
        Installation(app_id="A1", team_id="T1", bot_token="xoxb-secret-1", bot_id="B1", bot_user_id="U0", user_id="U1")
    )
    return tid, sub_id


async def key_ids(c: Container) -> set[str]:
    ids = {d["key_id"] async for d in c.db["face_templates"].find({}, {"key_id": 1})}
    async for d in c.db["subscriptions"].find({}):
        ids |= {s["key_id"] for s in d["secrets"]} | {d["credentials"]["key_id"]}
    async for d in c.db["installations"].find({}):
        ids |= {s["key_id"] for s in d["secrets"].values()}
    return ids


async def test_rotation_reseals_everything_then_the_old_key_can_go(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, photo: Any
) -> None:
    k1, k2 = new_key(), new_key()
    before = with_keys(settings, ("k1", k1))
    async with opened(before, mongo_server.uri, engine) as c:
        tid, sub_id = await seal_one_of_each(c, photo)
        templates_before = await c.deps.templates.for_tenant(tid, model_id=c.deps.engine.model.id)
    rotating = with_keys(settings, ("k2", k2), {"k1": k1})
    try:
        async with opened(rotating, mongo_server.uri, engine) as c:
            checked = await rotate_keys(c.sealed, dry_run=True)
            assert {n: (r.resealed, r.current) for n, r in checked.items()} == {
                "face templates": (len(templates_before), 0),
                "Slack installations": (1, 0),
                "webhook secrets and connector credentials": (3, 0),
            }
            assert await key_ids(c) == {"k1"}  # a dry run changes nothing
            done = await rotate_keys(c.sealed)
            assert {n: r.resealed for n, r in done.items()} == {n: r.resealed for n, r in checked.items()}
            assert await key_ids(c) == {"k2"}
            again = await rotate_keys(c.sealed)
            assert all(r.resealed == 0 and r.current > 0 for r in again.values())
        # the old key removed: everything still reads, with the same values
        async with opened(with_keys(settings, ("k2", k2)), mongo_server.uri, engine) as c:
            after = await c.deps.templates.for_tenant(tid, model_id=c.deps.engine.model.id)
            assert sorted(t.embedding for t in after) == sorted(t.embedding for t in templates_before)
            sub = await c.subscriptions.get(tid, sub_id)
            assert sub is not None and [s.value for s in sub.secrets] == ["whsec_one", "whsec_old"]
            assert sub.credentials == {"username": "isu", "password": "s3cret"}
            store = c.sealed["Slack installations"]
            assert isinstance(store, MongoSlackInstallationStore)
            bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
            assert bot is not None and bot.bot_token == "xoxb-secret-1"
    finally:
        async with opened(before, mongo_server.uri, engine) as c:
            await c.client.drop_database(settings.database.name)


async def test_without_its_key_the_database_reads_nothing(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, photo: Any
) -> None:
    k1 = new_key()
    try:
        async with opened(with_keys(settings, ("k1", k1)), mongo_server.uri, engine) as c:
            tid, _ = await seal_one_of_each(c, photo)
        async with opened(with_keys(settings, ("k2", new_key())), mongo_server.uri, engine) as c:
            with pytest.raises(TemplateKeyError, match="unknown key id 'k1'"):
                await c.deps.templates.for_tenant(tid, model_id=c.deps.engine.model.id)
            with pytest.raises(TemplateKeyError):
                await rotate_keys(c.sealed)  # and rotation without the old key says so
    finally:
        async with opened(with_keys(settings, ("k1", k1)), mongo_server.uri, engine) as c:
            await c.client.drop_database(settings.database.name)


def test_the_command_checks_rotates_and_checks_again(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, photo: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:  # fmt: skip
    import asyncio

    k1, k2 = new_key(), new_key()

    async def prepare() -> None:
        async with opened(with_keys(settings, ("k1", k1)), mongo_server.uri, engine) as c:
            await seal_one_of_each(c, photo)

    asyncio.run(prepare())
    for name, value in {
        "MONGODB_URI": mongo_server.uri,
        "ATTENDANCE_HOME": str(tmp_path / "home"),
        "ATTENDANCE_DATABASE__NAME": settings.database.name,
        "ATTENDANCE_CRYPTO__TEMPLATE_KEY": k2,
        "ATTENDANCE_CRYPTO__TEMPLATE_KEY_ID": "k2",
        "ATTENDANCE_CRYPTO__OLD_TEMPLATE_KEYS": f'{{"k1": "{k1}"}}',
    }.items():
        monkeypatch.setenv(name, value)
    try:
        monkeypatch.delenv("ATTENDANCE_CRYPTO__OLD_TEMPLATE_KEYS")  # the old key forgotten: told how to give it
        assert main(["keys", "rotate"]) == 1
        said = capsys.readouterr().err
        assert "unknown key id 'k1'" in said and "Keep the old key in ATTENDANCE_CRYPTO__OLD_TEMPLATE_KEYS" in said
        monkeypatch.setenv("ATTENDANCE_CRYPTO__OLD_TEMPLATE_KEYS", f'{{"k1": "{k1}"}}')
        assert main(["keys", "rotate", "--check"]) == 1
        assert "7 values are still under an older key" in capsys.readouterr().out
        assert main(["keys", "rotate"]) == 0
        assert "every value is under key 'k2'" in capsys.readouterr().out
        assert main(["keys", "rotate", "--check"]) == 0
        assert "nothing is left under an older key" in capsys.readouterr().out
    finally:

        async def drop() -> None:
            async with opened(with_keys(settings, ("k2", k2)), mongo_server.uri, engine) as c:
                await c.client.drop_database(settings.database.name)

        asyncio.run(drop())


def test_a_shared_database_needs_configured_keys(tmp_path: Path) -> None:
    """Each replica generating its own key would seal what the others cannot read: refused, with
    the variable to set; one machine (the embedded database, MongoDB on loopback) may generate it."""
    from attendance.entrypoints.bootstrap import template_cipher
    from attendance.entrypoints.bootstrap.container import session_keys

    shared = Settings(home=tmp_path / "a", mongodb_uri="mongodb+srv://u:p@cluster0.example.mongodb.net/")  # type: ignore[arg-type]
    with pytest.raises(TemplateKeyError, match="ATTENDANCE_CRYPTO__TEMPLATE_KEY is not set"):
        template_cipher(shared)
    with pytest.raises(TemplateKeyError, match="ATTENDANCE_WEB__SESSION_KEY is not set"):
        session_keys(shared)
    assert not (tmp_path / "a" / "keys").exists()  # nothing generated
    local = Settings(home=tmp_path / "b", mongodb_uri="mongodb://127.0.0.1:27017,localhost:27018/")  # type: ignore[arg-type]
    assert template_cipher(local).active_key_id == "local-1"
    configured = with_keys(shared, ("k1", new_key()))
    assert template_cipher(configured).active_key_id == "k1"
