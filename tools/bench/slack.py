"""`attendance bench slack`: the Slack app's latency, measured through real processes.

An in-memory embedded database, a bench tenant with the face set's people enrolled, the tests'
stand-in for Slack on loopback (``tests/fakes/slack.py``: the Web API, private file downloads,
request signing),
a real ``attendance serve`` with the Slack app and ``W`` real ``attendance worker`` processes.

1. Acknowledgement: after a warm-up (each person's first selfie, which makes the server look
   them up once, and one burst that opens the connections), ``rounds`` bursts of
   ``concurrency`` signed selfie events at once; the time until each HTTP 200 (the check-in
   job is stored before it). With ``workers=0`` nothing decides the jobs meanwhile.
2. Answer: selfies sent one at a time once the queue is empty; the time from the event to the
   answer arriving at Slack's ``chat.postMessage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp

from attendance.adapters.embedded.secantus import die_with_parent, free_port
from attendance.adapters.faces.faceset import load_face_set
from attendance.entrypoints.bootstrap import build
from tests.fakes.slack import TEAM, FakeSlack
from tools.bench.pipeline import WorkerProcesses, bench_tenant, stop_processes
from tools.bench.scratch import scratch_database
from tools.bench.stats import percentile


def selfie_event(slack: FakeSlack, n: int, user: str, file: dict[str, Any]) -> bytes:
    channel = f"D{user}-{n}"  # one DM per selfie, so that each answer can be timed
    event = {
        "type": "message",
        "subtype": "file_share",
        "user": user,
        "channel": channel,
        "channel_type": "im",
        "text": "",
        "ts": f"{time.time():.6f}",
        "files": [file],
    }
    return slack.event_body(event, f"EvBench{n}").encode()


def _cpu_s(pid: int | None) -> float:
    """User plus system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "attendance", "serve", "--port", str(port)],
        env=env,
        preexec_fn=die_with_parent,  # noqa: PLW1509
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def post_signed(slack: FakeSlack, http: aiohttp.ClientSession, url: str, body: bytes) -> float:
    headers = {"Content-Type": "application/json", **slack.sign(body.decode())}
    started = time.perf_counter()
    async with http.post(url, data=body, headers=headers) as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"the app answered HTTP {resp.status}")
    return (time.perf_counter() - started) * 1000


async def until(check: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)  # polling a condition with a deadline
    return False


async def bench_slack(
    faces_dir: Path, *, concurrency: int, rounds: int, answers: int, workers: int, timeout_s: float = 600.0
) -> dict[str, Any]:
    faces = load_face_set(faces_dir)
    async with scratch_database() as db:
        server, settings = db.server, db.settings
        slack = FakeSlack()
        serve: subprocess.Popen[bytes] | None = None
        port = free_port()
        env = {**db.env, "SLACK_SIGNING_SECRET": slack.signing_secret, "SLACK_BOT_TOKEN": slack.bot_token}
        pool = WorkerProcesses(env)
        try:
            async with build(settings, uri=server.uri) as c, aiohttp.ClientSession() as http:
                tenant, probes, photos = await bench_tenant(c, faces, slack_team=TEAM)
                await slack.start()
                files = {name: slack.add_file(name, data) for name, data in photos.items()}
                env["SLACK_API_URL"] = slack.api_url
                serve = start_serve(env, port)
                begun = c.checkin.clock.now()
                for _ in range(workers):
                    pool.start()
                url = f"http://127.0.0.1:{port}/slack/events"

                async def up() -> bool:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                            return r.status == 200
                    except aiohttp.ClientError:
                        return False

                async def workers_ready() -> bool:
                    return await c.db["workers"].count_documents({"started_at": {"$gte": begun}}) >= workers

                if not (await until(up, 60) and await until(workers_ready, 120)):
                    raise RuntimeError("the server or the workers did not start")
                n = 0

                def next_event() -> bytes:
                    nonlocal n
                    n += 1
                    user, name = probes[n % len(probes)]
                    return selfie_event(slack, n, user, files[name])

                def post(body: bytes) -> Awaitable[float]:
                    return post_signed(slack, http, url, body)

                # not measured: Bolt's first request asks auth.test; then each person's first selfie (the
                # server looks them up once) and a burst that opens the connections
                await post(next_event())
                first_of_each = {user: name for user, name in reversed(probes)}
                for user, name in first_of_each.items():
                    n += 1
                    await post(selfie_event(slack, n, user, files[name]))
                await asyncio.gather(*(post(next_event()) for _ in range(concurrency)))
                acks: list[float] = []
                burst_max: list[float] = []
                cpu_before = _cpu_s(serve.pid), _cpu_s(server.pid)
                for _ in range(rounds):
                    burst = await asyncio.gather(*(post(next_event()) for _ in range(concurrency)))
                    acks += burst
                    burst_max.append(round(max(burst), 1))
                serve_cpu = (_cpu_s(serve.pid) - cpu_before[0]) * 1000 / max(1, len(acks))
                db_cpu = (_cpu_s(server.pid) - cpu_before[1]) * 1000 / max(1, len(acks))

                async def queue_empty() -> bool:
                    return not await c.db["checkin_jobs"].count_documents({"state": {"$ne": "done"}})

                drained = await until(queue_empty, timeout_s) if workers else False
                answer_ms: list[float] = []

                def answered(channel: str) -> float | None:
                    """When the answer in that DM reached Slack."""
                    return next(
                        (c.at for c in slack.called("chat.postMessage") if c.args.get("channel") == channel), None
                    )

                for _ in range(answers if workers else 0):
                    body = next_event()
                    channel = json.loads(body)["event"]["channel"]
                    sent = time.monotonic()
                    await post(body)
                    with contextlib.suppress(TimeoutError):  # lost: counted below
                        at = await slack.wait_for(lambda ch=channel: answered(ch), timeout=30)  # type: ignore[misc]
                        answer_ms.append((at - sent) * 1000)
                jobs = await c.db["checkin_jobs"].count_documents({"tenant_id": tenant.id})
                return {
                    "ack_requests": len(acks),
                    "ack_concurrency": concurrency,
                    "ack_p50_ms": percentile(acks, 0.5),
                    "ack_p99_ms": percentile(acks, 0.99),
                    "ack_max_ms": round(max(acks), 1) if acks else None,
                    "ack_burst_max_ms": burst_max,
                    "serve_cpu_ms_per_ack": round(serve_cpu, 2),
                    "database_cpu_ms_per_ack": round(db_cpu, 2),
                    "burst_jobs_all_answered": drained,
                    "answer_samples": len(answer_ms),
                    "answer_lost": answers - len(answer_ms) if workers else None,
                    "answer_p50_ms": percentile(answer_ms, 0.5),
                    "answer_p95_ms": percentile(answer_ms, 0.95),
                    "jobs_stored": jobs,
                    "events_sent": n,
                    "workers": workers,
                    "cpus": os.cpu_count(),
                }
        finally:
            pool.stop()
            if serve is not None:
                stop_processes([serve])
            await slack.stop()
