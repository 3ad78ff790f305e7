"""Shared fixtures: the development face set, a real embedded database, the real dlib engine."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.settings import CryptoSettings, Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """``../shared/faces`` beside the repository (or ``ATTENDANCE_FACES_DIR``). Never copied in."""
    path = Path(os.environ.get("ATTENDANCE_FACES_DIR", ROOT.parent / "shared" / "faces"))
    if not (path / "MANIFEST.csv").exists():
        pytest.fail(f"the development face set is missing at {path}: tests need ../shared/faces")
    return path


@pytest.fixture(scope="session")
def photo(faces_dir: Path):  # type: ignore[no-untyped-def]
    def read(name: str) -> bytes:
        return (faces_dir / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[EmbeddedMongo]:
    """One real SecantusDB server (a child process, in memory) for the whole test session."""
    server = EmbeddedMongo(None)
    asyncio.run(server.start())
    yield server
    asyncio.run(server.stop())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own database name, home folder and template key."""
    return Settings(
        home=tmp_path / "home",
        database={"name": f"t_{uuid.uuid4().hex[:12]}"},  # type: ignore[arg-type]
        crypto=CryptoSettings(template_key=base64.b64encode(os.urandom(32)).decode()),  # type: ignore[arg-type]
        webhooks={"allow_private_networks": True},  # the receivers are loopback stand-ins  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    from attendance.adapters.faces.registry import face_pipeline

    eng = face_pipeline(Settings().face)
    eng.warm_up()
    return eng


@pytest.fixture
async def container(settings: Settings, mongo_server: EmbeddedMongo, engine) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
    from attendance.entrypoints.bootstrap import build

    async with build(settings, uri=mongo_server.uri, engine=engine) as c:
        yield c
        await c.client.drop_database(settings.database.name)


@pytest.fixture
async def slack():  # type: ignore[no-untyped-def]
    """Slack's side of the network on loopback (tests/fakes/slack.py)."""
    from tests.fakes.slack import FakeSlack

    s = FakeSlack()
    await s.start()
    yield s
    await s.stop()
