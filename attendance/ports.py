"""Ports: what the services need from the outside world, as ``typing.Protocol``s.

Adapters live elsewhere and are named by technology and port (``MongoTenantRepository``,
``DlibFaceEngine``, ...). Only ``bootstrap`` knows which adapter serves which port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from attendance.domain.checkins import AttendanceEvent, CheckInJob, Outcome
from attendance.domain.faces import FaceAnalysis, Purpose
from attendance.domain.model import CheckInPolicy, Consent, Employee, FaceTemplate, Tenant
from attendance.matching import Gallery


class AlreadyExists(Exception):
    """A repository refused a write because a unique key is taken."""


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""
        ...


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...
    async def get(self, tenant_id: str) -> Tenant | None: ...
    async def by_name(self, name: str) -> Tenant | None: ...
    async def list(self) -> Sequence[Tenant]: ...
    async def bump_template_version(self, tenant_id: str) -> int: ...
    async def set_policy(self, tenant_id: str, policy: CheckInPolicy) -> None: ...


class EmployeeRepository(Protocol):
    async def upsert(self, employee: Employee) -> Employee:
        """Insert, or update the employee with the same tenant and email; returns the stored one."""
        ...

    async def get(self, tenant_id: str, employee_id: str) -> Employee | None: ...
    async def by_email(self, tenant_id: str, email: str) -> Employee | None: ...
    async def list(self, tenant_id: str) -> Sequence[Employee]: ...
    async def set_manager(self, tenant_id: str, employee_id: str, manager_id: str | None) -> None: ...
    async def by_chat_identity(self, tenant_id: str, kind: str, value: str) -> Employee | None: ...


class ConsentRepository(Protocol):
    async def add(self, consent: Consent) -> None: ...
    async def active(self, tenant_id: str, employee_id: str) -> Consent | None: ...
    async def withdraw_all(self, tenant_id: str, employee_id: str, at: datetime) -> int: ...


class TemplateRepository(Protocol):
    """Face templates. The adapter encrypts embeddings on the way in, decrypts on the way out."""

    async def add(self, template: FaceTemplate) -> None: ...
    async def for_employee(self, tenant_id: str, employee_id: str) -> Sequence[FaceTemplate]: ...
    async def for_tenant(self, tenant_id: str) -> Sequence[FaceTemplate]: ...
    async def count(self, tenant_id: str, employee_id: str) -> int: ...
    async def delete_for_employee(self, tenant_id: str, employee_id: str) -> int: ...


class AuditLog(Protocol):
    async def record(self, *, tenant_id: str, actor: str, action: str, subject: str, at: datetime) -> None:
        """Who did what to whom. Never biometric data."""
        ...


class TemplateCipher(Protocol):
    """Authenticated encryption of embeddings; ``context`` binds a ciphertext to its owner."""

    @property
    def active_key_id(self) -> str: ...
    def encrypt(self, plaintext: bytes, context: bytes) -> tuple[str, bytes]: ...
    def decrypt(self, key_id: str, blob: bytes, context: bytes) -> bytes: ...


class FaceEngine(Protocol):
    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        """Find the face and describe it, or raise ``PhotoRefused``."""
        ...


class PhotoFiles(Protocol):
    def read(self, name: str) -> bytes:
        """The bytes of the photo called ``name``; ``OSError``/``ValueError`` if it cannot be read."""
        ...


class GalleryProvider(Protocol):
    async def gallery(self, tenant_id: str) -> Gallery:
        """The tenant's current gallery (rebuilt when its template version changed)."""
        ...


class EngineUnavailable(Exception):
    """The face engine could not run the photo now (a worker process died); try again."""


class PhotoUnavailable(Exception):
    """The photo could not be fetched. ``transient``: worth another try later."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class PhotoSource(Protocol):
    async def fetch(self, job: CheckInJob) -> bytes:
        """The photo's bytes, or ``PhotoUnavailable``."""
        ...


class Replier(Protocol):
    async def reply(self, job: CheckInJob, outcome: Outcome, text: str) -> None:
        """Tell the person. May raise; the job is then retried for its reply."""
        ...


class PhotoBuffer(Protocol):
    """Photos uploaded straight to us (kiosk, CLI, bench): kept only until their job ends."""

    async def put(self, tenant_id: str, data: bytes) -> str: ...
    async def get(self, buffer_id: str) -> bytes | None: ...
    async def delete(self, buffer_id: str) -> None: ...


class JobQueue(Protocol):
    async def submit(self, job: CheckInJob) -> tuple[CheckInJob, bool]:
        """Store the job; a job with the same tenant and idempotency key wins: (it, False)."""
        ...

    async def claim(self, worker: str, now: datetime, lease: timedelta) -> CheckInJob | None: ...
    async def retry_later(self, job_id: str, at: datetime, error: str) -> None: ...
    async def record_outcome(self, job_id: str, outcome: Outcome, now: datetime) -> None: ...
    async def finish(self, job_id: str, now: datetime) -> None: ...
    async def get(self, job_id: str) -> CheckInJob | None: ...


class AttendanceTx(Protocol):
    """One transaction on one employee's attendance (serialised per employee)."""

    async def events_between(self, start: datetime, end: datetime) -> list[AttendanceEvent]: ...
    async def event(self, event_id: str) -> AttendanceEvent | None: ...
    async def add_event(self, event: AttendanceEvent, outbox: Sequence[dict[str, object]]) -> None: ...
    async def add_fingerprint(self, fingerprint: int, at: datetime, retention_days: int) -> None: ...
    async def set_outcome(self, job_id: str, outcome: Outcome, now: datetime) -> None: ...


class AttendanceStore(Protocol):
    async def transaction(
        self, tenant_id: str, employee_id: str, work: Callable[[AttendanceTx], Awaitable[Outcome]]
    ) -> Outcome:
        """Run ``work`` in a transaction that conflicts with any other on the same employee."""
        ...

    async def events(
        self, tenant_id: str, start: datetime, end: datetime, employee_id: str | None = None
    ) -> list[AttendanceEvent]: ...

    async def add_correction(self, event: AttendanceEvent, outbox: Sequence[dict[str, object]]) -> None: ...
    async def event(self, tenant_id: str, event_id: str) -> AttendanceEvent | None: ...
    async def is_superseded(self, tenant_id: str, event_id: str) -> bool: ...


class Fingerprints(Protocol):
    async def seen(self, tenant_id: str, fingerprint: int, max_bits: int, since: datetime) -> bool: ...


class ReviewQueue(Protocol):
    async def flag(self, job: CheckInJob, outcome: Outcome, now: datetime) -> None: ...
