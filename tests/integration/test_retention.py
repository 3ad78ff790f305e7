"""Retention through the real database: face data of someone with no check-in for the tenant's
period is destroyed (audited), a recent check-in keeps it, and old records go when a tenant asks."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import Employee, new_id
from attendance.core.messages import CreateTenant, EnrollPhoto, RecordConsent
from attendance.entrypoints.bootstrap import Container
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.services.retention import apply_retention
from attendance.services.tenants import create_tenant


async def test_face_data_is_destroyed_after_the_retention_period_and_old_records_on_request(
    container: Container, photo: object
) -> None:
    c = container
    tenant = await create_tenant(CreateTenant(name="Acme", timezone="Europe/Berlin"), tenants=c.deps.tenants)
    people = {}
    for name, face in (("ada", "Serena_Williams/1.jpg"), ("bob", "Queen_Rania/1.jpg")):
        people[name] = await c.deps.employees.upsert(
            Employee(id=new_id(), tenant_id=tenant.id, name=name.title(), email=f"{name}@acme.example")
        )
        consent = RecordConsent(
            tenant_id=tenant.id,
            employee_id=people[name].id,
            notice_version="v1",
            recorded_by="hr",
            method="signed-form",
        )
        await record_consent(consent, deps=c.deps)
        await enroll_photo(
            EnrollPhoto(tenant_id=tenant.id, employee_id=people[name].id, photo=photo(face)), deps=c.deps
        )  # type: ignore[operator]
    now = c.deps.clock.now()
    later = now + timedelta(days=3 * 365 + 1)
    await c.store.append(  # Bob checked in last week (of that later day): his face data stays
        AttendanceEvent(
            id=new_id(),
            tenant_id=tenant.id,
            employee_id=people["bob"].id,
            direction=Direction.IN,
            at=later - timedelta(days=7),
            timezone="Europe/Berlin",
            channel="kiosk",
            job_id=None,
        ),
        1,
        [],
        None,
    )
    assert (await apply_retention(now, deps=c.deps, store=c.store)).templates_erased == 0  # too early
    done = await apply_retention(later, deps=c.deps, store=c.store)
    assert (done.templates_erased, done.people) == (1, 1)
    assert await c.deps.templates.count(tenant.id, people["ada"].id) == 0
    assert await c.deps.templates.count(tenant.id, people["bob"].id) == 1
    audit = [d async for d in c.db["audit_log"].find({"tenant_id": tenant.id, "action": "face.erased"})]
    assert [(a["actor"], a["subject"]) for a in audit] == [("retention", people["ada"].id)]
    assert (await apply_retention(later, deps=c.deps, store=c.store)).templates_erased == 0  # gone stays gone

    assert (await apply_retention(later, deps=c.deps, store=c.store)).records_deleted == 0  # off by default
    kept = dataclasses.replace(tenant.policy, record_retention_days=3)
    await c.deps.tenants.set_policy(tenant.id, kept)
    assert (await apply_retention(later, deps=c.deps, store=c.store)).records_deleted == 1
    assert await c.store.last_at(tenant.id, people["bob"].id) is None
    assert await c.db["audit_log"].count_documents({"tenant_id": tenant.id, "action": "records.deleted"}) == 1
