"""Consent, enrollment of face templates, and erasure of face data.

Face data is stored only after consent is recorded; every template passes the pipeline's
enrollment gates and is refused when it duplicates one already stored or looks like another
employee. Erasure removes every template of the person at once and withdraws the consent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from attendance.core.domain.faces import PhotoRefused, Purpose, RefusalReason
from attendance.core.domain.model import MAX_TEMPLATES_PER_PERSON, Consent, Employee, FaceTemplate, Tenant, new_id
from attendance.core.errors import ConsentRequired, NotFound
from attendance.core.matching import check_enrollment
from attendance.core.messages import EnrollPhoto, EraseFaceData, FaceDataErased, FaceEnrolled, RecordConsent
from attendance.core.ports import (
    AuditLog,
    ChatIdentityRepository,
    Clock,
    ConsentRepository,
    EmployeeRepository,
    FaceEngine,
    GalleryProvider,
    TemplateRepository,
    TenantRepository,
)

log = logging.getLogger(__name__)

CONSENT_METHODS = ("chat", "kiosk", "signed-form")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentDeps:
    tenants: TenantRepository
    employees: EmployeeRepository
    identities: ChatIdentityRepository
    consents: ConsentRepository
    templates: TemplateRepository
    audit: AuditLog
    engine: FaceEngine
    galleries: GalleryProvider
    clock: Clock


async def _load(deps: EnrollmentDeps, tenant_id: str, employee_id: str) -> tuple[Tenant, Employee]:
    tenant = await deps.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    employee = await deps.employees.get(tenant_id, employee_id)
    if employee is None:
        raise NotFound("no such employee")
    return tenant, employee


async def record_consent(cmd: RecordConsent, *, deps: EnrollmentDeps) -> Consent:
    if cmd.method not in CONSENT_METHODS:
        raise ValueError(f"consent method must be one of {CONSENT_METHODS}")
    await _load(deps, cmd.tenant_id, cmd.employee_id)
    consent = Consent(
        id=new_id(),
        tenant_id=cmd.tenant_id,
        employee_id=cmd.employee_id,
        notice_version=cmd.notice_version,
        given_at=deps.clock.now(),
        recorded_by=cmd.recorded_by,
        method=cmd.method,
    )
    await deps.consents.add(consent)
    await deps.audit.record(
        tenant_id=cmd.tenant_id,
        actor=cmd.recorded_by,
        action="consent.recorded",
        subject=cmd.employee_id,
        at=consent.given_at,
    )
    return consent


async def enroll_photo(cmd: EnrollPhoto, *, deps: EnrollmentDeps) -> FaceEnrolled:
    tenant, employee = await _load(deps, cmd.tenant_id, cmd.employee_id)
    consent = await deps.consents.active(tenant.id, employee.id)
    if consent is None:
        raise ConsentRequired(f"{employee.name} has not agreed to face enrollment yet; record their consent first")
    existing = await deps.templates.count(tenant.id, employee.id)
    if existing >= MAX_TEMPLATES_PER_PERSON:
        raise PhotoRefused(RefusalReason.TOO_MANY_TEMPLATES, limit=MAX_TEMPLATES_PER_PERSON)
    analysis = await deps.engine.analyse(cmd.photo, Purpose.ENROLL)
    gallery = await deps.galleries.gallery(tenant.id)
    probe = np.asarray(analysis.embedding, dtype=np.float32)
    problem = check_enrollment(gallery, employee.id, probe, tenant.thresholds or deps.engine.model.thresholds)
    if problem == "duplicate":
        raise PhotoRefused(RefusalReason.DUPLICATE)
    if problem == "not_same_person":  # in the audit log, for the admins to look into
        await deps.audit.record(
            tenant_id=tenant.id,
            actor=employee.id,
            action="enroll.refused_not_same_person",
            subject=employee.id,
            at=deps.clock.now(),
        )
        raise PhotoRefused(RefusalReason.NOT_SAME_PERSON)
    if problem == "other_person":
        await deps.audit.record(
            tenant_id=tenant.id,
            actor=employee.id,
            action="enroll.refused_other_face",
            subject=employee.id,
            at=deps.clock.now(),
        )
        raise PhotoRefused(RefusalReason.OTHER_PERSONS_FACE)
    template = FaceTemplate(
        id=new_id(),
        tenant_id=tenant.id,
        employee_id=employee.id,
        embedding=analysis.embedding,
        mirror=analysis.mirror,
        model_id=analysis.model_id,
        quality=analysis.quality,
        consent_id=consent.id,
        created_at=deps.clock.now(),
    )
    await deps.templates.add(template)
    version = await deps.tenants.bump_template_version(tenant.id)
    await deps.audit.record(
        tenant_id=tenant.id, actor=employee.id, action="face.enrolled", subject=employee.id, at=template.created_at
    )
    log.info("enrolled a face template tenant=%s employee=%s gallery_version=%s", tenant.id, employee.id, version)
    return FaceEnrolled(
        tenant_id=tenant.id, employee_id=employee.id, template_id=template.id, templates_now=existing + 1
    )


async def erase_face_data(cmd: EraseFaceData, *, deps: EnrollmentDeps) -> FaceDataErased:
    """Delete every template of the person and withdraw consent; attendance history stays."""
    tenant, employee = await _load(deps, cmd.tenant_id, cmd.employee_id)
    deleted = await deps.templates.delete_for_employee(tenant.id, employee.id)
    now = deps.clock.now()
    await deps.consents.withdraw_all(tenant.id, employee.id, now)
    await deps.tenants.bump_template_version(tenant.id)
    await deps.audit.record(
        tenant_id=tenant.id, actor=cmd.requested_by, action="face.erased", subject=employee.id, at=now
    )
    log.info("erased face data tenant=%s employee=%s templates=%s", tenant.id, employee.id, deleted)
    return FaceDataErased(tenant_id=tenant.id, employee_id=employee.id, templates_deleted=deleted)
