"""Slack's installations in MongoDB (tokens encrypted) and the Slack file download rules."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.oauth.installation_store import Installation

from attendance.adapters.crypto.cipher import AesGcmTemplateCipher
from attendance.adapters.http.photos import HttpPhotoSource
from attendance.adapters.mongo.slack_installs import MongoSlackInstallationStore, MongoSlackOAuthStateStore
from attendance.adapters.slack.replier import SlackPhotoSource
from attendance.adapters.slack.tokens import StaticSlackTokens
from attendance.core.domain.checkins import CheckInJob
from attendance.core.ports import PhotoUnavailable
from attendance.settings import SlackSettings


def cipher() -> AesGcmTemplateCipher:
    return AesGcmTemplateCipher("k1", {"k1": os.urandom(32)})


async def test_installations_round_trip_with_the_token_encrypted(container: Any) -> None:
    store = MongoSlackInstallationStore(container.db, cipher())
    inst = Installation(
        app_id="A1",
        team_id="T1",
        team_name="Acme",
        bot_token="xoxb-secret-1",
        bot_id="B1",
        bot_user_id="U0",
        bot_scopes="chat:write",
        user_id="U1",
    )
    await store.async_save(inst)
    raw = await container.db["installations"].find_one({"team_id": "T1"})
    assert b"xoxb-secret-1" not in repr(raw).encode()
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-secret-1" and bot.bot_user_id == "U0"
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is None
    # another key cannot read it; the blob is bound to its workspace
    other = MongoSlackInstallationStore(container.db, cipher())
    with pytest.raises(Exception, match="failed authentication"):
        await other.async_find_bot(enterprise_id=None, team_id="T1")
    await store.async_delete_installation(enterprise_id=None, team_id="T1")
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None


async def test_oauth_states_are_single_use(container: Any) -> None:
    states = MongoSlackOAuthStateStore(container.db)
    state = await states.async_issue()
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
    assert await states.async_consume("made-up") is False


@pytest.fixture
async def files_server() -> Any:
    seen: list[tuple[str, str | None]] = []

    async def photo(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization")))
        return web.Response(body=b"\xff\xd8\xff\xe0 a jpeg", content_type="image/jpeg")

    async def hop(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization")))
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/photo", photo)
    app.router.add_get("/hop", hop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def job(url: str) -> CheckInJob:
    from datetime import UTC, datetime

    from attendance.core.domain.checkins import PhotoRef, Requested

    return CheckInJob(
        id="j",
        tenant_id="t",
        channel="slack",
        identity_kind="slack",
        identity="U1",
        photo=PhotoRef(kind="slack", ref=url),
        requested=Requested.AUTO,
        received_at=datetime.now(UTC),
        idempotency_key="k",
        context={"team": "T1"},
    )


async def test_slack_files_come_only_from_slack_hosts_with_the_token_kept_across_redirects(files_server: Any) -> None:
    base, seen = files_server
    async with aiohttp.ClientSession() as http:
        source = SlackPhotoSource(
            HttpPhotoSource(http, max_bytes=1000, allowed_hosts=frozenset({"127.0.0.1"})),
            StaticSlackTokens("xoxb-t"),
            SlackSettings(),
        )
        assert await source.fetch(job(f"{base}/hop?to={base}/photo")) == b"\xff\xd8\xff\xe0 a jpeg"
        assert seen == [("/hop", "Bearer xoxb-t"), ("/photo", "Bearer xoxb-t")]
        with pytest.raises(PhotoUnavailable, match="does not point at the chat platform") as refused:
            await source.fetch(job(f"{base}/hop?to=http://169.254.169.254/latest/meta-data"))
        assert refused.value.transient is False
        with pytest.raises(PhotoUnavailable, match="does not point"):
            await source.fetch(job("http://localhost:1/photo"))
        assert len(seen) == 3  # the metadata address was never asked
