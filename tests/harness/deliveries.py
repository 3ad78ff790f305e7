"""Set-up shared by the delivery tests and ``attendance bench dispatch``: a tenant with people,
attendance events written to the outbox as the check-in pipeline writes them, a webhook
subscription to the receiver stand-in, and a dispatcher run in this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.model import Employee, Tenant, new_id
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import Container, dispatcher
from attendance.services import webhooks as svc
from attendance.services.checkin import outbox_rows
from attendance.services.dispatcher import Dispatcher
from attendance.services.tenants import create_tenant
from tests.fakes.receivers import WebhookReceiver


async def tenant_with_staff(c: Container, count: int = 3) -> tuple[str, list[Employee]]:
    tenant = await create_tenant(
        CreateTenant(name=f"Acme {new_id()[:6]}", timezone="Europe/Berlin"), tenants=c.deps.tenants
    )
    people = []
    for i in range(count):
        people.append(
            await c.deps.employees.upsert(
                Employee(
                    id=new_id(),
                    tenant_id=tenant.id,
                    name=f"Person {i}",
                    email=f"p{i}@example.com",
                    worker_id=f"W{100 + i}",
                )
            )
        )
    return tenant.id, people


async def tenant_of(c: Container, tenant_id: str) -> Tenant:
    tenant = await c.deps.tenants.get(tenant_id)
    assert tenant is not None
    return tenant


async def webhook_to(
    c: Container, tenant_id: str, receiver: WebhookReceiver, path: str, events: list[str] | None = None
) -> tuple[str, str]:
    """A subscription to ``receiver``'s ``path``; the receiver is told its secret. (id, secret)."""
    sub, secret = await svc.add_subscription(
        await tenant_of(c, tenant_id),
        receiver.url(path),
        events or [],
        by="test",
        subscriptions=c.subscriptions,
        audit=c.deps.audit,
        clock=c.deps.clock,
        destinations=c.destinations,
    )
    receiver.secrets[path] = secret
    return sub.id, secret


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    await r.start()
    try:
        yield r
    finally:
        if r.hold is not None:
            r.hold.set()
        await r.stop()


async def punches(c: Container, tenant_id: str, people: list[Employee], rounds: int) -> list[OutboxMessage]:
    """``rounds`` alternating in/out events per person, interleaved, in the outbox."""
    rows = punch_rows(tenant_id, people, rounds)
    await c.deliveries.add_outbox(rows)
    return rows


def punch_rows(tenant_id: str, people: list[Employee], rounds: int) -> list[OutboxMessage]:
    """The outbox rows of ``rounds`` alternating in/out events per person, interleaved, each
    person's in the order written (not stored: ``punches`` stores them)."""
    rows: list[OutboxMessage] = []
    start = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    created = datetime.now(UTC)
    for r in range(rounds):
        for i, person in enumerate(people):
            event = AttendanceEvent(
                id=new_id(),
                tenant_id=tenant_id,
                employee_id=person.id,
                direction=Direction.IN if r % 2 == 0 else Direction.OUT,
                at=start + timedelta(hours=r * 4, minutes=i),
                timezone="Europe/Berlin",
                channel="slack",
                job_id=None,
            )
            created += timedelta(milliseconds=1)
            rows += outbox_rows(event, person, created)
    return rows


@contextlib.asynccontextmanager
async def running(c: Container) -> AsyncIterator[Dispatcher]:
    d = dispatcher(c)
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    try:
        yield d
    finally:
        stop.set()
        await task


async def delivered(
    c: Container, tenant_id: str, count: int, timeout: float = 30.0, states: tuple[str, ...] = ("delivered",)
) -> None:
    async def n() -> int:
        return await c.db["deliveries"].count_documents({"tenant_id": tenant_id, "state": {"$in": list(states)}})

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (have := await n()) < count:
        if loop.time() > deadline:
            raise AssertionError(f"{have} of {count} deliveries are {states} after {timeout}s")
        await asyncio.sleep(0.02)  # polling a condition with a deadline


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll ``check`` (another task's or process's progress) until it holds, with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # polling a condition with a deadline


async def alerted(c: Container, tenant_id: str) -> list[tuple[datetime, str]]:
    """The admins' alerts, once there is one (a dispatcher writes them just after the state change)."""

    async def any_alert() -> bool:
        return bool(await c.deliveries.alerts(tenant_id, 10))

    await until(any_alert, 30, "an alert to the admins")
    return await c.deliveries.alerts(tenant_id, 10)


def in_order_per_employee(ids: list[str], rows: list[OutboxMessage]) -> bool:
    """Each employee's events arrived in the order they were written."""
    employee_of = {r.id: r.employee_id for r in rows}
    written = {e: [r.id for r in rows if r.employee_id == e] for e in set(employee_of.values())}
    got: dict[str, list[str]] = {}
    for i in ids:
        got.setdefault(employee_of[i], []).append(i)
    return got == written
