"""Set-up shared by the check-in tests: a tenant with enrolled people, a stand-in platform."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from attendance.core.domain.checkins import CheckInJob, PhotoRef, Requested
from attendance.core.domain.model import ChatIdentity, CheckInPolicy, Employee, new_id
from attendance.core.messages import CreateTenant, EnrollPhoto, RecordConsent
from attendance.core.ports import Metrics
from attendance.entrypoints.bootstrap import Container
from attendance.services.checkin import RequestCheckIn, submit_check_in
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.services.tenants import create_tenant
from attendance.services.worker import JobWorker
from attendance.settings import WorkerSettings
from tests.fakes.chat import FakeChatPlatform

PEOPLE = {"ada": "Serena_Williams", "bob": "Queen_Rania", "cy": "Jesse_Jackson"}  # LFW: no EXIF dates


async def tenant_with_people(
    c: Container, photo: Callable[[str], bytes], policy: CheckInPolicy | None = None
) -> tuple[str, dict[str, Employee]]:
    tenant = await create_tenant(
        CreateTenant(name=f"Acme {new_id()[:6]}", timezone="Europe/Berlin"), tenants=c.deps.tenants
    )
    if policy is not None:
        await c.deps.tenants.set_policy(tenant.id, policy)
    people = {}
    for slack_id, identity in PEOPLE.items():
        e = await c.deps.employees.upsert(
            Employee(
                id=new_id(),
                tenant_id=tenant.id,
                name=identity.replace("_", " "),
                email=f"{slack_id}@example.com",
            )
        )
        await c.deps.identities.link_user(tenant.id, e.id, ChatIdentity("slack", "", slack_id.upper()))
        await record_consent(
            RecordConsent(
                tenant_id=tenant.id, employee_id=e.id, notice_version="2026-11", recorded_by=e.email, method="chat"
            ),
            deps=c.deps,
        )
        await enroll_photo(
            EnrollPhoto(tenant_id=tenant.id, employee_id=e.id, photo=photo(f"{identity}/1.jpg")), deps=c.deps
        )
        people[slack_id] = e
    return tenant.id, people


async def submit(
    c: Container,
    tenant_id: str,
    slack_user: str,
    url: str,
    *,
    key: str | None = None,
    requested: Requested = Requested.AUTO,
    reply_to: str | None = None,
) -> tuple[CheckInJob, bool]:
    return await submit_check_in(
        RequestCheckIn(
            tenant_id=tenant_id,
            channel="slack",
            identity_kind="slack",
            identity=slack_user,
            photo=PhotoRef(kind="url", ref=url),
            idempotency_key=key or new_id(),
            requested=requested,
            reply_to=reply_to,
        ),
        jobs=c.checkin.jobs,
        clock=c.checkin.clock,
    )


FAST = WorkerSettings(
    concurrency=2, lease_s=30, poll_min_s=0.01, poll_max_s=0.05, retry_base_s=0.05, max_attempts=4, tenant_reuse_s=0
)  # tenant_reuse_s=0: a test that changes a tenant's settings sees them in its next check-in


async def drain(
    c: Container,
    platform: FakeChatPlatform,
    replies: int,
    settings: WorkerSettings = FAST,
    metrics: Metrics | None = None,
) -> JobWorker:
    """Run a real worker loop in this process until ``replies`` answers reached the platform."""
    worker = JobWorker(
        deps=c.checkin, replier=c.replier, buffer=c.buffer, settings=settings, name="test", metrics=metrics
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await platform.wait_for_replies(replies, timeout=120)
    finally:
        stop.set()
        await task
    return worker


def with_policy(**changes: object) -> CheckInPolicy:
    return dataclasses.replace(CheckInPolicy(), **changes)  # type: ignore[arg-type]


async def jobs_settled(c: Container, tenant_id: str, timeout: float = 30.0) -> set[str]:
    """The job states once none is queued or running any more (replies precede the final write)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        states = {d["state"] async for d in c.db["checkin_jobs"].find({"tenant_id": tenant_id})}
        if states <= {"done"} or loop.time() > deadline:
            return states
        await asyncio.sleep(0.05)  # polling a condition with a deadline
