"""`attendance bench pipeline`: check-ins through the real job path, end to end.

An in-memory embedded database, a bench tenant with the face set's people enrolled, photos
served over HTTP on loopback by the tests' chat platform stand-in (``tests/fakes/chat.py``: the
path a chat platform's photos take), ``W`` real ``attendance worker`` processes (one
face-engine process each), replies posted back to the stand-in over HTTP.
Photos are reused, so the bench tenant switches off the replay check and the duplicate window
(the report says so). With ``--kill-every K`` a worker is SIGKILLed every K completions and a
new one started; its jobs come back when their lease (shortened for the bench) ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from attendance.adapters.embedded.secantus import die_with_parent
from attendance.adapters.faces.faceset import FaceSet, load_face_set
from attendance.adapters.mongo.checkins import event_doc
from attendance.core.domain.checkins import AttendanceEvent, Direction, PhotoRef
from attendance.core.domain.model import ChatIdentity, CheckInPolicy, Employee, Tenant, new_id
from attendance.core.messages import CreateTenant, EnrollPhoto, RecordConsent
from attendance.entrypoints.bootstrap import Container, build
from attendance.services.checkin import RequestCheckIn, submit_check_in
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.services.tenants import create_tenant
from tests.fakes.chat import FakeChatPlatform
from tools.bench.scratch import scratch_database
from tools.bench.stats import percentile

BENCH_LEASE_S = 5


def stop_processes(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each, then wait; one that does not stop within 30 s is killed."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class WorkerProcesses:
    """`attendance worker` child processes, each its own process group (its face-engine pool
    goes with it) and each dying with its parent."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.kills = 0

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "attendance", "worker", "--processes", "1"],
            env=self.env,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool, as a crash would."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.kills += 1

    def kill_one_and_replace(self) -> None:
        alive = [p for p in self.procs if p.poll() is None]
        if alive:
            self.kill(random.choice(alive))
            self.start()

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


async def bench_tenant(
    c: Container, faces: FaceSet, *, slack_team: str = "TBENCH"
) -> tuple[Tenant, list[tuple[str, str]], dict[str, bytes]]:
    """A tenant with the face set's people enrolled (first photo each; Slack users ``U<n>``), the
    fraud rules that reused photos would trip switched off; returns the (user, photo) probes."""
    tenant = await create_tenant(
        CreateTenant(name="Bench", timezone="UTC", chats=(ChatIdentity("slack", slack_team),)),
        tenants=c.deps.tenants,
        identities=c.deps.identities,
    )
    policy = dataclasses.replace(CheckInPolicy(), replay_check=False, duplicate_window_minutes=0, freshness_minutes=0)
    await c.deps.tenants.set_policy(tenant.id, policy)
    probes: list[tuple[str, str]] = []
    photos: dict[str, bytes] = {}
    for n, (identity, pics) in enumerate(faces.enrolled.items()):
        e = await c.deps.employees.upsert(
            Employee(id=new_id(), tenant_id=tenant.id, name=identity, email=f"p{n}@bench.invalid")
        )
        await c.deps.identities.link_user(tenant.id, e.id, ChatIdentity("slack", slack_team, f"U{n}"))
        consent = RecordConsent(
            tenant_id=tenant.id, employee_id=e.id, notice_version="bench", recorded_by="bench", method="signed-form"
        )
        await record_consent(consent, deps=c.deps)
        await enroll_photo(
            EnrollPhoto(tenant_id=tenant.id, employee_id=e.id, photo=pics[0].path.read_bytes()), deps=c.deps
        )
        for pic in pics[1:]:
            name = f"{n}-{pic.path.name}"
            photos[name] = pic.path.read_bytes()
            probes.append((f"U{n}", name))
    return tenant, probes, photos


async def _past_events(c: Container, tenant: Tenant, per_person: int) -> None:
    """``per_person`` check-ins and check-outs of earlier days for each of the tenant's people,
    numbered 1.. as the store numbers them (months of use)."""
    start = c.checkin.clock.now() - timedelta(days=per_person // 2 + 2)
    async for person in c.db["employees"].find({"tenant_id": tenant.id}, {"_id": 1}):
        docs = []
        for i in range(per_person):
            at = start + timedelta(days=i // 2, hours=8 + 9 * (i % 2))
            event = AttendanceEvent(
                id=new_id(),
                tenant_id=tenant.id,
                employee_id=person["_id"],
                direction=Direction.OUT if i % 2 else Direction.IN,
                at=at,
                timezone="UTC",
                channel="bench",
                job_id=None,
            )
            docs.append({**event_doc(event), "seq": i + 1})
        if docs:
            await c.db["attendance_events"].insert_many(docs)


async def bench_pipeline(
    faces_dir: Path,
    *,
    checkins: int,
    workers: int,
    kill_every: int | None,
    rate: float | None,
    history: int = 0,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    faces = load_face_set(faces_dir)
    async with scratch_database() as db:
        server, settings = db.server, db.settings
        env = {**db.env, "ATTENDANCE_WORKER__LEASE_S": str(BENCH_LEASE_S)}
        pool = WorkerProcesses(env)
        platform: FakeChatPlatform | None = None
        loop = asyncio.get_running_loop()
        try:
            async with build(settings, uri=server.uri) as c:
                tenant, probes, photos = await bench_tenant(c, faces)
                await _past_events(c, tenant, history)
                platform = FakeChatPlatform()
                platform.photos.update(photos)
                await platform.start()

                def replied() -> dict[str, float]:
                    """Job id -> when its first reply arrived."""
                    assert platform is not None
                    first: dict[str, float] = {}
                    for reply, at in zip(platform.replies, platform.reply_times, strict=True):
                        first.setdefault(str(reply["job_id"]), at)
                    return first

                begun = c.checkin.clock.now()
                for _ in range(workers):
                    pool.start()
                while await c.db["workers"].count_documents({"started_at": {"$gte": begun}}) < workers:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)  # the workers load their models; the clock starts after
                submitted: dict[str, float] = {}
                started = loop.time()
                next_kill = kill_every
                interval = 1.0 / rate if rate else 0.0
                for i in range(checkins):
                    user, name = probes[i % len(probes)]
                    job, _ = await submit_check_in(
                        RequestCheckIn(
                            tenant_id=tenant.id,
                            channel="bench",
                            identity_kind="slack",
                            identity=user,
                            photo=PhotoRef(kind="url", ref=platform.photo_url(name)),
                            idempotency_key=f"bench-{i}",
                            reply_to=platform.reply_url,
                        ),
                        jobs=c.checkin.jobs,
                        clock=c.checkin.clock,
                    )
                    submitted[job.id] = loop.time()
                    if next_kill and len(replied()) >= next_kill:
                        pool.kill_one_and_replace()
                        next_kill += kill_every or 0
                    if interval:
                        await asyncio.sleep(max(0.0, started + (i + 1) * interval - loop.time()))
                deadline = loop.time() + timeout_s
                while loop.time() < deadline:
                    if next_kill and len(replied()) >= next_kill:  # before the exit test: every due kill happens
                        pool.kill_one_and_replace()
                        next_kill += kill_every or 0
                    if len(replied().keys() & submitted.keys()) >= len(submitted):
                        break
                    with contextlib.suppress(TimeoutError):  # the next reply, or a second to look again
                        await platform.wait_for_replies(len(platform.replies) + 1, timeout=1.0)
                while loop.time() < deadline and await c.db["checkin_jobs"].count_documents(  # noqa: ASYNC110
                    {"tenant_id": tenant.id, "state": {"$ne": "done"}}
                ):
                    await asyncio.sleep(0.1)  # replies go out just before a job is marked done
                finished = max(replied().values(), default=loop.time())
                jobs = [d async for d in c.db["checkin_jobs"].find({"tenant_id": tenant.id})]
                latencies = [
                    (d["decided_at"] - d["received_at"]).total_seconds() * 1000
                    for d in jobs
                    if d.get("decided_at") is not None
                ]
                run = {"tenant_id": tenant.id, "job_id": {"$ne": None}}  # not the history (--history)
                events = [d async for d in c.db["attendance_events"].find(run, {"job_id": 1})]
                per_job: dict[str, int] = {}
                for ev in events:
                    per_job[ev["job_id"]] = per_job.get(ev["job_id"], 0) + 1
                outcomes: dict[str, int] = {}
                for d in jobs:
                    kind = (d.get("outcome") or {}).get("kind", "none")
                    outcomes[kind] = outcomes.get(kind, 0) + 1
                done = sum(1 for d in jobs if d["state"] == "done")
                accepted = outcomes.get("accepted", 0)
                return {
                    "submitted": len(submitted),
                    "completed": done,
                    "events": len(events),
                    "duplicates": sum(n - 1 for n in per_job.values() if n > 1) + max(0, len(events) - accepted),
                    "lost": len(submitted) - done,
                    "p50_ms": percentile(latencies, 0.5),
                    "p95_ms": percentile(latencies, 0.95),
                    "throughput_per_s": round(done / max(1e-9, finished - started), 1),
                    "workers": workers,
                    "kill_every": kill_every,
                    "workers_killed": pool.kills,
                    "rate_per_s": rate,
                    "history_per_person": history,
                    "outcomes": outcomes,
                    "replies_received": len(platform.replies),
                    "lease_s": BENCH_LEASE_S,
                    "rules_switched_off_for_the_bench_tenant": ["replay_check", "duplicate_window", "freshness"],
                }
        finally:
            pool.stop()
            if platform is not None:
                await platform.stop()
