"""`attendance bench dispatch`: deliveries per second through real dispatcher processes.

An in-memory embedded database, a bench tenant with ``employees`` people (each with ``history``
deliveries already delivered, as months of use leave them) and one webhook subscription to the
tests' receiver stand-in on loopback (``tests/fakes/receivers.py``: it verifies each signature,
answers 204, optionally after ``receiver_ms``, and logs each ``webhook-id``), ``events``
check-in/check-out rows made as the tests make them (``tests/harness/deliveries.punch_rows``)
and written to the outbox, then ``D`` real ``attendance dispatcher`` processes. The clock starts
when every dispatcher has said it is ready and the rows are in the outbox; it stops at the last
delivery the receiver got.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from attendance.adapters.embedded.secantus import die_with_parent
from attendance.adapters.mongo.deliveries import delivery_doc
from attendance.adapters.mongo.outbox import outbox_doc
from attendance.core.domain.deliveries import OutboxMessage
from attendance.entrypoints.bootstrap import build
from attendance.settings import WebhookSettings
from tests.harness.deliveries import punch_rows, tenant_with_staff, webhook_receiver, webhook_to
from tools.bench.scratch import scratch_database

Running = tuple[asyncio.subprocess.Process, asyncio.Event, asyncio.Task[None]]


async def _delivered_history(deliveries: Any, rows: list[OutboxMessage], subscription_id: str) -> None:
    """Deliveries of earlier days, delivered: what the ordering queries must not read."""
    past = datetime.now(UTC) - timedelta(days=30)
    docs = []
    for i, row in enumerate(rows):
        doc = delivery_doc(dataclasses.replace(row, created_at=past + timedelta(milliseconds=i)), subscription_id, past)
        doc.update(
            state="delivered",
            attempts=1,
            next_attempt_at=None,
            history=[{"at": past, "result": "delivered", "status": 204, "detail": "", "ms": 3.0}],
            delivered_at=past,
        )
        docs.append(doc)
    for start in range(0, len(docs), 1000):
        await deliveries.insert_many(docs[start : start + 1000])


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


def out_of_order(arrived: list[str], written: dict[str, tuple[str, int]]) -> int:
    """Events that arrived after a later one of their employee (``written``: id -> (employee,
    position written))."""
    latest: dict[str, int] = {}
    late = 0
    for event_id in arrived:
        employee, at = written[event_id]
        if at < latest.get(employee, -1):
            late += 1
        latest[employee] = max(at, latest.get(employee, -1))
    return late


async def bench_dispatch(
    *,
    events: int,
    dispatchers: int,
    employees: int,
    receiver_ms: float,
    concurrency: int,
    history: int = 0,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    async with scratch_database(log_level="INFO") as db:  # INFO: the dispatchers' "ready" line
        server = db.server  # the receiver is on loopback
        settings = db.settings.model_copy(update={"webhooks": WebhookSettings(allow_private_networks=True)})
        env = {
            **db.env,
            "ATTENDANCE_DISPATCHER__CONCURRENCY": str(concurrency),
            "ATTENDANCE_WEBHOOKS__ALLOW_PRIVATE_NETWORKS": "true",
        }
        procs: list[Running] = []
        async with webhook_receiver() as receiver:
            receiver.delay_s = receiver_ms / 1000
            loop = asyncio.get_running_loop()
            try:
                async with build(settings, uri=server.uri) as c:
                    tenant_id, people = await tenant_with_staff(c, employees)
                    sub_id, _ = await webhook_to(c, tenant_id, receiver, "hook")
                    if history:
                        await _delivered_history(c.db["deliveries"], punch_rows(tenant_id, people, history), sub_id)
                    rows = punch_rows(tenant_id, people, max(1, events // employees))
                    for _ in range(dispatchers):
                        procs.append(await _start_dispatcher(env))
                    await asyncio.wait_for(asyncio.gather(*(ready.wait() for _, ready, _ in procs)), 120)
                    await c.db["outbox"].insert_many([outbox_doc(row) for row in rows])
                    started = loop.time()
                    deadline = started + timeout_s
                    while len(receiver.accepted) < len(rows) and loop.time() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)  # the dispatchers are other processes; poll the receiver
                    elapsed = max(1e-9, receiver.last_at - started)
                    by_dispatcher: Counter[str] = Counter()
                    async for d in c.db["deliveries"].find({}, {"dispatcher": 1}):
                        by_dispatcher[str(d.get("dispatcher"))] += 1
                    delivered = len(receiver.accepted)
                    written = {row.id: (row.employee_id, i) for i, row in enumerate(rows)}
                    return {
                        "events": len(rows),
                        "dispatchers": dispatchers,
                        "concurrency_per_dispatcher": concurrency,
                        "employees": employees,
                        "receiver_ms": receiver_ms,
                        "history_per_employee": history,
                        "delivered": delivered,
                        "lost": len(rows) - delivered,
                        "sent_twice": len(receiver.received) - delivered,
                        "out_of_order": out_of_order(receiver.accepted, written),
                        "bad_signatures": receiver.bad_signatures,
                        "seconds": round(elapsed, 2),
                        "deliveries_per_s": round(delivered / elapsed, 1),
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
