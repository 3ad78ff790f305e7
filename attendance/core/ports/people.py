"""Ports for the people and their faces: tenants, employees, chat identities, consents,
face templates (and their cipher), the audit log, the clock."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from attendance.core.domain.adaptation import Settled
from attendance.core.domain.model import (
    ChatIdentity,
    CheckInPolicy,
    Consent,
    Employee,
    FaceTemplate,
    MatchThresholds,
    ReminderPolicy,
    Tenant,
    WorkSchedule,
)


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
    async def set_timezone(self, tenant_id: str, timezone: str) -> None: ...
    async def set_schedule(self, tenant_id: str, schedule: WorkSchedule) -> None: ...
    async def set_holidays(self, tenant_id: str, region: str | None) -> None: ...
    async def set_weekly_hours(self, tenant_id: str, hours: float) -> None: ...
    async def set_reminders(self, tenant_id: str, policy: ReminderPolicy) -> None: ...
    async def set_thresholds(self, tenant_id: str, thresholds: MatchThresholds | None) -> None: ...


class EmployeeRepository(Protocol):
    async def upsert(self, employee: Employee) -> Employee:
        """Insert, or update the employee with the same tenant and email; returns the stored one."""
        ...

    async def get(self, tenant_id: str, employee_id: str) -> Employee | None: ...
    async def by_email(self, tenant_id: str, email: str) -> Employee | None: ...
    async def list(self, tenant_id: str) -> Sequence[Employee]: ...
    async def set_manager(self, tenant_id: str, employee_id: str, manager_id: str | None) -> None: ...
    async def set_schedule(
        self, tenant_id: str, employee_id: str, schedule: WorkSchedule | None, weekly_hours: float | None
    ) -> None:
        """The person's own working days and hours and weekly limit (None: the tenant's)."""
        ...

    async def set_holidays(self, tenant_id: str, employee_id: str, region: str | None) -> None: ...
    async def set_reminders(self, tenant_id: str, employee_id: str, on: bool) -> None:
        """False: the person opted out of reminders."""
        ...

    async def set_inactive_from(self, tenant_id: str, employee_id: str, day: date | None) -> None:
        """The person left: inactive from ``day`` on (None: active again)."""
        ...

    async def page(
        self, tenant_id: str, *, after: str | None, limit: int, visible_to: str | None = None
    ) -> builtins.list[Employee]:
        """By id, after ``after``. ``visible_to``: only that employee and the people reporting to them."""
        ...


class ChatIdentityRepository(Protocol):
    """Who is who on the chat platforms (``ChatIdentity``), in one collection of its own: a
    workspace belongs to one tenant, a user id (per tenant and platform) to one employee, and an
    employee has at most one user id per platform."""

    async def tenant_of(self, platform: str, workspace: str) -> str | None:
        """The id of the tenant that workspace belongs to."""
        ...

    async def link_workspace(self, tenant_id: str, workspace: ChatIdentity) -> None:
        """Messages from that workspace belong to this tenant (idempotent; ``AlreadyExists``
        when it belongs to another one)."""
        ...

    async def workspaces(self, tenant_id: str) -> Sequence[ChatIdentity]: ...
    async def employee_of(self, tenant_id: str, platform: str, user: str) -> str | None:
        """The id of the employee behind that user id (any workspace of the tenant)."""
        ...

    async def link_user(self, tenant_id: str, employee_id: str, identity: ChatIdentity) -> bool:
        """Link that user id to the employee if neither is linked on that platform; False if
        the user id belongs to someone else or the employee has another one."""
        ...

    async def set_user(self, tenant_id: str, employee_id: str, platform: str, identity: ChatIdentity | None) -> None:
        """The employee's user id on ``platform`` becomes ``identity`` (None: none).
        ``AlreadyExists`` when that user id belongs to another employee."""
        ...

    async def of_employees(
        self, tenant_id: str, employee_ids: Iterable[str] | None = None
    ) -> dict[str, builtins.list[ChatIdentity]]:
        """Employee id -> their user identities (every linked employee of the tenant if None)."""
        ...


class ConsentRepository(Protocol):
    async def add(self, consent: Consent) -> None: ...
    async def active(self, tenant_id: str, employee_id: str) -> Consent | None: ...
    async def active_for(self, tenant_id: str, employee_ids: Iterable[str]) -> dict[str, str]:
        """Employee id -> the id of their active consent, for those of them who have one."""
        ...

    async def withdraw_all(self, tenant_id: str, employee_id: str, at: datetime) -> int: ...


class TemplateRepository(Protocol):
    """Face templates. The adapter encrypts embeddings on the way in, decrypts on the way out."""

    async def add(self, template: FaceTemplate) -> None: ...
    async def for_employee(self, tenant_id: str, employee_id: str) -> Sequence[FaceTemplate]: ...
    async def for_tenant(self, tenant_id: str, *, model_id: str) -> Sequence[FaceTemplate]:
        """The tenant's templates of that face model."""
        ...

    async def count(self, tenant_id: str, employee_id: str) -> int:
        """The person's templates from enrollment (adapted ones are not counted)."""
        ...

    async def delete_for_employee(self, tenant_id: str, employee_id: str) -> int: ...
    async def add_adapted(self, template: FaceTemplate) -> bool:
        """Store a pending template adapted from a check-in (its id derived from the check-in: a
        second run adds nothing, False)."""
        ...

    async def settle_adapted(self, tenant_id: str, settled: Settled) -> None:
        """Confirm pending templates under their consent, delete the dropped ones."""
        ...

    async def drop_adapted_from(self, tenant_id: str, event_id: str) -> int:
        """Delete the template adapted from that check-in, if any."""
        ...


class AuditLog(Protocol):
    async def record(
        self, *, tenant_id: str, actor: str, action: str, subject: str, at: datetime, key: str | None = None
    ) -> None:
        """Who did what to whom. Never biometric data. ``key``: the entry is recorded once (an
        entry of that key again, another worker's, a re-run's, is left out)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str
    action: str
    subject: str


class AuditTrail(Protocol):
    async def entries(
        self, tenant_id: str, *, before: tuple[datetime, str] | None, limit: int, action: str | None = None
    ) -> builtins.list[AuditEntry]:
        """Newest first, older than ``before`` (time, id)."""
        ...


class TemplateCipher(Protocol):
    """Authenticated encryption of embeddings; ``context`` binds a ciphertext to its owner."""

    @property
    def active_key_id(self) -> str: ...
    def encrypt(self, plaintext: bytes, context: bytes) -> tuple[str, bytes]: ...
    def decrypt(self, key_id: str, blob: bytes, context: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Resealed:
    """What ``SealedStore.reseal`` found: values re-encrypted (or, in a dry run, to re-encrypt)
    under the active key, and values already under it."""

    resealed: int
    current: int


class SealedStore(Protocol):
    """A store of values sealed with the ``TemplateCipher`` (templates, chat tokens, webhook secrets)."""

    async def reseal(self, *, dry_run: bool) -> Resealed:
        """Re-encrypt under the active key every value sealed under another key. Each value is
        replaced only if nobody changed it meanwhile (compare-and-set); a failure leaves it as it was."""
        ...
