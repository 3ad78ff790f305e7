"""Retention, as biometric law asks: face data is destroyed once its person has not checked in
for the tenant's ``template_retention_days`` (default 3 years; counted from the newest of their
last check-in and their newest template), and attendance records older than
``record_retention_days`` are deleted when a tenant sets it (default off: wage rules often ask to
keep 2-3 years). Each destruction is audited; the job is idempotent (what is gone stays gone)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from attendance.core.messages import EraseFaceData
from attendance.core.ports import AttendanceStore
from attendance.services.enrollment import EnrollmentDeps, erase_face_data

log = logging.getLogger(__name__)

ACTOR = "retention"


@dataclass(frozen=True, slots=True)
class RetentionDone:
    templates_erased: int = 0
    people: int = 0
    records_deleted: int = 0


async def apply_retention(now: datetime, *, deps: EnrollmentDeps, store: AttendanceStore) -> RetentionDone:
    erased = people = deleted = 0
    for tenant in await deps.tenants.list():
        cutoff = now - timedelta(days=tenant.policy.template_retention_days)
        for person in await deps.employees.list(tenant.id):
            templates = await deps.templates.for_employee(tenant.id, person.id)
            if not templates:
                continue
            last = await store.last_at(tenant.id, person.id)
            newest = max([t.created_at for t in templates] + ([last] if last else []))
            if newest < cutoff:
                done = await erase_face_data(
                    EraseFaceData(tenant_id=tenant.id, employee_id=person.id, requested_by=ACTOR), deps=deps
                )
                erased, people = erased + done.templates_deleted, people + 1
        days = tenant.policy.record_retention_days
        if days:
            before = now - timedelta(days=days)
            gone = await store.delete_before(tenant.id, before)
            if gone:
                await deps.audit.record(
                    tenant_id=tenant.id,
                    actor=ACTOR,
                    action="records.deleted",
                    subject=before.date().isoformat(),
                    at=now,
                )
                deleted += gone
    if erased or deleted:
        log.info("retention: %s templates of %s people erased, %s records deleted", erased, people, deleted)
    return RetentionDone(erased, people, deleted)
