"""Real worker processes against the real database: killed workers and a restarted database
lose nothing and double nothing."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo, free_port
from attendance.adapters.faces.pipeline import FacePipeline
from attendance.entrypoints.bootstrap import build
from attendance.settings import CryptoSettings, DatabaseSettings, Settings
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import jobs_settled, submit, tenant_with_people, with_policy
from tools.bench.pipeline import WorkerProcesses


def make_settings(tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    key = base64.b64encode(os.urandom(32)).decode()
    name = f"res_{uuid.uuid4().hex[:10]}"
    settings = Settings(
        home=tmp_path / "home",
        database=DatabaseSettings(name=name, server_selection_timeout_ms=3000),
        crypto=CryptoSettings(template_key=key),
    )  # type: ignore[arg-type]
    env = {
        **os.environ,
        "ATTENDANCE_DATABASE__NAME": name,
        "ATTENDANCE_CRYPTO__TEMPLATE_KEY": key,
        "ATTENDANCE_HOME": str(tmp_path / "home"),
        "ATTENDANCE_WORKER__LEASE_S": "3",
        "ATTENDANCE_WORKER__RETRY_BASE_S": "0.2",
        "ATTENDANCE_WORKER__POLL_MAX_S": "0.1",
        "ATTENDANCE_DATABASE__SERVER_SELECTION_TIMEOUT_MS": "3000",
        "ATTENDANCE_LOG__LEVEL": "WARNING",
    }
    return settings, env


@pytest.fixture
def workers() -> Iterator[list[WorkerProcesses]]:
    made: list[WorkerProcesses] = []
    yield made
    for w in made:
        w.stop()


async def test_a_worker_killed_mid_job_loses_nothing(
    mongo_server: EmbeddedMongo,
    platform: FakeChatPlatform,
    workers: list[WorkerProcesses],
    engine: FacePipeline,
    photo,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings, env = make_settings(tmp_path)
    env["MONGODB_URI"] = mongo_server.uri
    pool = WorkerProcesses(env)
    workers.append(pool)
    async with build(settings, uri=mongo_server.uri, engine=engine) as c:
        tid, _ = await tenant_with_people(c, photo)
        platform.photos["ada.jpg"] = photo("Serena_Williams/2.jpg")
        platform.hold["ada.jpg"] = asyncio.Event()
        first = pool.start()
        job, _ = await submit(c, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
        await asyncio.wait_for(platform.requested["ada.jpg"].wait(), 60)  # the worker is mid-job
        pool.kill(first)
        platform.hold["ada.jpg"].set()
        pool.start()
        replies = await platform.wait_for_replies(1, timeout=90)
        assert replies[0]["job_id"] == job.id and replies[0]["outcome"] == "accepted"
        assert await c.db["attendance_events"].count_documents({"tenant_id": tid}) == 1
        assert await jobs_settled(c, tid) == {"done"}
        stored = await c.checkin.jobs.get(job.id)
        assert stored is not None and stored.attempts == 2
        assert platform.downloads["ada.jpg"] == 2


async def test_the_database_restarting_while_jobs_flow(
    platform: FakeChatPlatform,
    workers: list[WorkerProcesses],
    engine: FacePipeline,
    photo,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    port = free_port()
    server = EmbeddedMongo(tmp_path / "db", port=port)
    await server.start()
    try:
        settings, env = make_settings(tmp_path)
        env["MONGODB_URI"] = server.uri
        pool = WorkerProcesses(env)
        workers.append(pool)
        names = [
            "Serena_Williams/2.jpg",
            "Serena_Williams/3.jpg",
            "Queen_Rania/2.jpg",
            "Queen_Rania/3.jpg",
            "Jesse_Jackson/2.jpg",
            "Jesse_Jackson/3.jpg",
        ]
        who = {"Serena_Williams": "ADA", "Queen_Rania": "BOB", "Jesse_Jackson": "CY"}
        async with build(settings, uri=server.uri, engine=engine) as c:
            tid, _ = await tenant_with_people(c, photo, with_policy(duplicate_window_minutes=0, replay_check=False))
            for n, name in enumerate(names):
                platform.photos[f"{n}.jpg"] = photo(name)
            pool.start()
            pool.start()
            jobs = [
                await submit(
                    c, tid, who[name.split("/")[0]], platform.photo_url(f"{n}.jpg"), reply_to=platform.reply_url
                )
                for n, name in enumerate(names[:3])
            ]
            await platform.wait_for_replies(1, timeout=90)
        await server.stop()  # the database goes away while jobs are queued or running
        await server.start()
        async with build(settings, uri=server.uri, engine=engine) as c:
            jobs += [
                await submit(
                    c, tid, who[name.split("/")[0]], platform.photo_url(f"{n + 3}.jpg"), reply_to=platform.reply_url
                )
                for n, name in enumerate(names[3:])
            ]
            ids = [job.id for job, _ in jobs]
            replies = await platform.wait_for_jobs(set(ids), timeout=120)
            assert {r["outcome"] for r in replies} == {"accepted"}
            events = [d async for d in c.db["attendance_events"].find({"tenant_id": tid})]
            assert sorted(e["_id"] for e in events) == sorted(ids)  # one each: none lost, none doubled
            assert await jobs_settled(c, tid) == {"done"}
    finally:
        for w in workers:  # while the database is still there: a worker stopping without one waits for it
            w.stop()
        await server.stop()
