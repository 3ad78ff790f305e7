"""`attendance bench dispatch`: deliveries per second through real dispatcher processes.

An in-memory embedded database, a bench tenant with ``employees`` people and one webhook
subscription to a receiver on loopback (it answers 204, optionally after ``receiver_ms``, and
counts each ``webhook-id``), ``events`` check-in/check-out rows written to the outbox, then
``D`` real ``attendance dispatcher`` processes. The clock starts when every dispatcher has said
it is ready and the rows are in the outbox; it stops at the last delivery the receiver got.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from attendance.adapters.embedded.secantus import die_with_parent
from attendance.adapters.mongo.deliveries import outbox_doc
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.model import Employee, new_id
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import build
from attendance.services import webhooks
from attendance.services.checkin import outbox_rows
from attendance.services.tenants import create_tenant
from attendance.settings import WebhookSettings
from tools.bench.scratch import scratch_database


class _Receiver:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.ids: Counter[str] = Counter()
        self.first: float | None = None
        self.last = 0.0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            await request.read()
            if self.delay_s:
                await asyncio.sleep(self.delay_s)  # a receiver that takes its time (simulated work)
            self.ids[request.headers["webhook-id"]] += 1
            self.last = time.monotonic()
            self.first = self.first or self.last
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


Running = tuple[asyncio.subprocess.Process, asyncio.Event, asyncio.Task[None]]


async def _start_dispatcher(env: dict[str, str]) -> Running:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "attendance",
        "dispatcher",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    ready = asyncio.Event()

    async def drain() -> None:  # read the log to the end (a full pipe would stop the process)
        assert proc.stderr is not None
        async for line in proc.stderr:
            if b"ready" in line:
                ready.set()

    return proc, ready, asyncio.create_task(drain())


async def bench_dispatch(
    *, events: int, dispatchers: int, employees: int, receiver_ms: float, concurrency: int, timeout_s: float = 600.0
) -> dict[str, Any]:
    async with scratch_database(log_level="INFO") as db:  # INFO: the dispatchers' "ready" line
        server = db.server  # the receiver is on loopback
        settings = db.settings.model_copy(update={"webhooks": WebhookSettings(allow_private_networks=True)})
        env = {
            **db.env,
            "ATTENDANCE_DISPATCHER__CONCURRENCY": str(concurrency),
            "ATTENDANCE_WEBHOOKS__ALLOW_PRIVATE_NETWORKS": "true",
        }
        receiver = _Receiver(receiver_ms / 1000)
        procs: list[Running] = []
        try:
            await receiver.start()
            async with build(settings, uri=server.uri) as c:
                tenant = await create_tenant(
                    CreateTenant(name="Bench", timezone="Europe/Berlin"), tenants=c.deps.tenants
                )
                await webhooks.add_subscription(
                    tenant,
                    f"http://127.0.0.1:{receiver.port}/hook",
                    [],
                    by="bench",
                    subscriptions=c.subscriptions,
                    audit=c.deps.audit,
                    clock=c.deps.clock,
                    destinations=c.destinations,
                )
                people = [
                    await c.deps.employees.upsert(
                        Employee(
                            id=new_id(),
                            tenant_id=tenant.id,
                            name=f"Person {i}",
                            email=f"p{i}@bench.invalid",
                            worker_id=f"W{i}",
                        )
                    )
                    for i in range(employees)
                ]
                rows: list[OutboxMessage] = []
                start = datetime(2026, 12, 1, 7, tzinfo=UTC)
                created = datetime.now(UTC)
                for n in range(events):
                    person = people[n % employees]
                    r = n // employees
                    event = AttendanceEvent(
                        id=new_id(),
                        tenant_id=tenant.id,
                        employee_id=person.id,
                        direction=Direction.IN if r % 2 == 0 else Direction.OUT,
                        at=start + timedelta(minutes=n),
                        timezone="Europe/Berlin",
                        channel="bench",
                        job_id=None,
                    )
                    created += timedelta(microseconds=10)
                    rows += outbox_rows(event, person, created)
                for _ in range(dispatchers):
                    procs.append(await _start_dispatcher(env))
                await asyncio.wait_for(asyncio.gather(*(ready.wait() for _, ready, _ in procs)), 120)
                await c.db["outbox"].insert_many([outbox_doc(row) for row in rows])
                started = time.monotonic()
                deadline = started + timeout_s
                while len(receiver.ids) < len(rows) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)  # the dispatchers are other processes; poll the receiver
                elapsed = max(1e-9, receiver.last - started)
                by_dispatcher: Counter[str] = Counter()
                async for d in c.db["deliveries"].find({}, {"dispatcher": 1}):
                    by_dispatcher[str(d.get("dispatcher"))] += 1
                return {
                    "events": len(rows),
                    "dispatchers": dispatchers,
                    "concurrency_per_dispatcher": concurrency,
                    "employees": employees,
                    "receiver_ms": receiver_ms,
                    "delivered": len(receiver.ids),
                    "lost": len(rows) - len(receiver.ids),
                    "sent_twice": sum(n - 1 for n in receiver.ids.values()),
                    "seconds": round(elapsed, 2),
                    "deliveries_per_s": round(len(receiver.ids) / elapsed, 1),
                    "share_by_dispatcher": sorted(by_dispatcher.values(), reverse=True),
                }
        finally:
            for proc, _, drain in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 30)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                drain.cancel()
            await receiver.stop()
