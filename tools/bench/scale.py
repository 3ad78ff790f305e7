"""`attendance bench scale`: check-ins per second through the whole path, by process count.

One in-memory embedded database and one bench tenant (the face set's people enrolled), the
tests' stand-in for Slack on loopback. For each combination of ``S`` real ``attendance serve``
processes and ``W`` real ``attendance worker`` processes (one face-engine process each), started
fresh on the same database: ``checkins`` signed Slack selfie events are posted, at most
``in_flight`` at a time, round-robin over the serve processes (a load balancer's job); the figure
is the check-ins answered per second, from the first event sent to the last answer reaching
Slack's ``chat.postMessage``. Every process runs on this machine's cores, the database's too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from attendance.adapters.embedded.secantus import free_port
from attendance.adapters.faces.faceset import load_face_set
from attendance.entrypoints.bootstrap import Container, build
from tests.fakes.slack import TEAM, FakeSlack
from tools.bench.pipeline import WorkerProcesses, bench_tenant, stop_processes
from tools.bench.scratch import scratch_database
from tools.bench.slack import post_signed, selfie_event, start_serve, until
from tools.bench.stats import percentile


async def bench_scale(
    faces_dir: Path,
    *,
    checkins: int,
    serves: Sequence[int],
    workers: Sequence[int],
    in_flight: int = 32,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    faces = load_face_set(faces_dir)
    rows: list[dict[str, Any]] = []
    async with scratch_database() as db:
        slack = FakeSlack()
        env = {**db.env, "SLACK_SIGNING_SECRET": slack.signing_secret, "SLACK_BOT_TOKEN": slack.bot_token}
        try:
            async with build(db.settings, uri=db.server.uri) as c, aiohttp.ClientSession() as http:
                _tenant, probes, photos = await bench_tenant(c, faces, slack_team=TEAM)
                await slack.start()
                files = {name: slack.add_file(name, data) for name, data in photos.items()}
                env["SLACK_API_URL"] = slack.api_url
                sent = 0
                for s in serves:
                    for w in workers:
                        row, sent = await _one_run(
                            c,
                            http,
                            slack,
                            env=env,
                            files=files,
                            probes=probes,
                            serves=s,
                            workers=w,
                            checkins=checkins,
                            in_flight=in_flight,
                            sent=sent,
                            timeout_s=timeout_s,
                        )
                        rows.append(row)
                        print(json.dumps(row), flush=True)
        finally:
            await slack.stop()
    by = {(r["serves"], r["workers"]): r["checkins_per_s"] for r in rows}
    return {"checkins": checkins, "in_flight": in_flight, "cpus": os.cpu_count(), "runs": rows, "per_s": by}


async def _one_run(
    c: Container,
    http: aiohttp.ClientSession,
    slack: FakeSlack,
    *,
    env: dict[str, str],
    files: dict[str, dict[str, Any]],
    probes: list[tuple[str, str]],
    serves: int,
    workers: int,
    checkins: int,
    in_flight: int,
    sent: int,
    timeout_s: float,
) -> tuple[dict[str, Any], int]:
    ports = [free_port() for _ in range(serves)]
    procs = [start_serve(env, port) for port in ports]
    pool = WorkerProcesses(env)
    begun = c.checkin.clock.now()
    try:
        for _ in range(workers):
            pool.start()

        async def up() -> bool:
            try:
                for port in ports:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status != 200:
                            return False
                return True
            except aiohttp.ClientError:
                return False

        async def workers_ready() -> bool:
            return bool(await c.db["workers"].count_documents({"started_at": {"$gte": begun}}) >= workers)

        if not (await until(up, 60) and await until(workers_ready, 120)):
            raise RuntimeError("the serve or worker processes did not start")
        urls = [f"http://127.0.0.1:{port}/slack/events" for port in ports]
        # not measured: Bolt's first request on each server asks auth.test
        for i, url in enumerate(urls):
            user, name = probes[i % len(probes)]
            sent += 1
            await post_signed(slack, http, url, selfie_event(slack, sent, user, files[name]))
        await until(lambda: _answered(slack, sent), 60)
        first = sent + 1
        limit = asyncio.Semaphore(in_flight)
        acks: list[float] = []

        async def one(n: int) -> None:
            user, name = probes[n % len(probes)]
            async with limit:
                acks.append(
                    await post_signed(slack, http, urls[n % len(urls)], selfie_event(slack, n, user, files[name]))
                )

        started = time.monotonic()
        await asyncio.gather(*(one(n) for n in range(first, first + checkins)))
        sent += checkins
        done = await until(lambda: _answered(slack, sent), timeout_s)
        elapsed = time.monotonic() - started
        answered = await _answered_count(slack, first, sent)
        return {
            "serves": serves,
            "workers": workers,
            "checkins": checkins,
            "answered": answered,
            "all_answered": done,
            "seconds": round(elapsed, 2),
            "checkins_per_s": round(answered / elapsed, 1) if elapsed else None,
            "ack_p50_ms": percentile(acks, 0.5),
            "ack_p99_ms": percentile(acks, 0.99),
        }, sent
    finally:
        pool.stop()
        stop_processes(procs)


def _channels(slack: FakeSlack) -> set[str]:
    return {str(call.args.get("channel")) for call in slack.called("chat.postMessage")}


async def _answered(slack: FakeSlack, upto: int) -> bool:
    """Whether every selfie numbered 1 to ``upto`` has its answer (one DM channel per selfie)."""
    return await _answered_count(slack, 1, upto) >= upto


async def _answered_count(slack: FakeSlack, first: int, last: int) -> int:
    """How many of the selfies numbered ``first`` to ``last`` have their answer."""
    numbers = set()
    for ch in _channels(slack):
        with contextlib.suppress(ValueError):
            numbers.add(int(ch.rsplit("-", 1)[1]))
    return sum(1 for n in range(first, last + 1) if n in numbers)
