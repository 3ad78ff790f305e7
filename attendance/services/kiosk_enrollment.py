"""Enrolling at the kiosk: an admin issues a one-time code for a person (dashboard or CLI); at a
paired kiosk the person types it, reads what is stored, agrees, and the kiosk's camera takes up to
three photos. The code names the person, so nobody enrolls as someone else by choosing a name; it
works once, for 24 hours, and a new code for the same person replaces the old one. Only a hash of
the code is stored.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from attendance.core.domain.access import CODE_ALPHABET, CODE_LENGTH, EnrollmentCode, format_code, normalise_code
from attendance.core.domain.model import Employee, Tenant
from attendance.core.errors import NotFound, ServiceError
from attendance.core.ports import EnrollmentCodes
from attendance.services.access import hash_secret
from attendance.services.chat import ChatDeps, EnrollReport, enroll_with_consent

CODE_VALID = timedelta(hours=24)
MAX_KIOSK_PHOTOS = 3


class CodeRefused(ServiceError):
    """The code is not one (or no longer): the kiosk counts these against guessing."""


REFUSED = "That code is not valid: it may have expired or been used. Ask your admin for a new one."


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str  # as people read it, ABCD-2345
    employee: Employee
    expires_at: datetime


def _hash(tenant_id: str, raw: str) -> str:
    return hash_secret(f"enroll:{tenant_id}:{raw}")


async def issue_enrollment_code(
    tenant: Tenant, employee_id: str, *, issued_by: str, deps: ChatDeps, codes: EnrollmentCodes
) -> IssuedCode:
    """A new code for the person (the caller has checked that ``issued_by`` is an admin)."""
    d = deps.enrollment
    person = await d.employees.get(tenant.id, employee_id)
    if person is None:
        raise NotFound("No such person in your organisation.")
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    now = d.clock.now()
    await codes.replace(
        EnrollmentCode(
            tenant_id=tenant.id,
            employee_id=person.id,
            code_hash=_hash(tenant.id, raw),
            issued_by=issued_by,
            issued_at=now,
            expires_at=now + CODE_VALID,
        )
    )
    await d.audit.record(tenant_id=tenant.id, actor=issued_by, action="enroll_code.issued", subject=person.id, at=now)
    return IssuedCode(format_code(raw), person, now + CODE_VALID)


async def person_of_code(tenant: Tenant, typed: str, *, deps: ChatDeps, codes: EnrollmentCodes) -> Employee:
    """Whose code it is (``CodeRefused`` when it is none)."""
    raw = normalise_code(typed)
    code = await codes.valid(tenant.id, _hash(tenant.id, raw), deps.enrollment.clock.now()) if raw else None
    person = await deps.enrollment.employees.get(tenant.id, code.employee_id) if code else None
    if person is None:
        raise CodeRefused(REFUSED)
    return person


async def enroll_at_kiosk(
    tenant: Tenant,
    typed: str,
    photos: Sequence[bytes],
    *,
    agreed: bool,
    device: str,
    notice_version: str,
    deps: ChatDeps,
    codes: EnrollmentCodes,
) -> tuple[Employee, EnrollReport]:
    """The person's consent (given at the kiosk) and their photos; the code is spent when at least
    one photo was enrolled, so a blurred first try can be taken again."""
    person = await person_of_code(tenant, typed, deps=deps, codes=codes)
    if not agreed:
        raise ServiceError("Please read what is stored and tick the box to agree first.")
    if not photos or len(photos) > MAX_KIOSK_PHOTOS:
        raise ServiceError(f"Take 1 to {MAX_KIOSK_PHOTOS} photos.")
    report = await enroll_with_consent(
        tenant, person, list(photos), notice_version=notice_version, deps=deps, method="kiosk"
    )
    if report.enrolled:
        raw = normalise_code(typed) or ""
        await codes.use(tenant.id, _hash(tenant.id, raw))
        await deps.enrollment.audit.record(
            tenant_id=tenant.id,
            actor=device,
            action="enroll_code.used",
            subject=person.id,
            at=deps.enrollment.clock.now(),
        )
    return person, report
