"""Who may see and change what in the dashboard and the API. No I/O.

A ``Principal`` is whoever makes a request: a signed-in person (session), an API token
(personal: acts as its employee; integration: carries fixed roles), or a kiosk device.
Its tenant is fixed when it is authenticated; nothing it asks for leaves that tenant.

* employee: their own records;
* manager: their own and those of the people who report to them;
* admin: the whole tenant, and the only role that changes settings;
* payroll: reads and exports the whole tenant, changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from attendance.core.domain.model import Employee, Role

READ_ALL = frozenset({Role.ADMIN, Role.PAYROLL})


class PrincipalKind(enum.StrEnum):
    SESSION = "session"
    TOKEN = "token"  # noqa: S105  (a kind of principal, not a secret)
    DEVICE = "device"
    CHAT = "chat"  # a person writing to a chat app (Slack, Teams)


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    tenant_id: str
    kind: PrincipalKind
    actor: str  # what the audit log names: an employee id, "user:<id>", "token:<id>", "device:<id>"
    name: str
    roles: frozenset[Role]
    employee_id: str | None = None
    csrf: str | None = None  # sessions only: the value state-changing requests must echo

    @property
    def reads_all(self) -> bool:
        return bool(READ_ALL & self.roles)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def may_see(self, person: Employee) -> bool:
        """Own records; one's reports (whoever has reports is their manager); everyone for admin/payroll."""
        if person.tenant_id != self.tenant_id:
            return False
        if self.reads_all:
            return True
        if self.employee_id is None:
            return False
        return self.employee_id in (person.id, person.manager_id)

    def may_decide_for(self, person: Employee) -> bool:
        """Approve or reject someone's correction: their manager or an admin, never oneself."""
        if person.tenant_id != self.tenant_id or person.id == self.employee_id:
            return False
        return self.is_admin or (self.employee_id is not None and person.manager_id == self.employee_id)


class TokenKind(enum.StrEnum):
    PERSONAL = "personal"  # acts as one employee, with that employee's roles of the moment
    INTEGRATION = "integration"  # a system (payroll, BI) with fixed roles
    DEVICE = "device"  # a kiosk: may only submit check-ins and read their results


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """Only a SHA-256 of the secret is stored; the secret is shown once, when created."""

    id: str
    tenant_id: str
    name: str
    kind: TokenKind
    secret_hash: str
    created_by: str
    created_at: datetime
    roles: frozenset[Role] = frozenset()
    employee_id: str | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalUser:
    """A dashboard account for self-hosters without Slack or Entra sign-in."""

    id: str
    tenant_id: str
    email: str
    password_hash: str
    roles: frozenset[Role]
    created_at: datetime
    employee_id: str | None = None


# ---------------------------------------------------------------- enrollment codes for the kiosk

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen, typed on a tablet
CODE_LENGTH = 8  # 40 bits, and the kiosk allows a few wrong tries an hour


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentCode:
    """Lets one person enroll their face at a kiosk, once, before ``expires_at``. An admin issues it
    for that person; only a SHA-256 of the code is stored."""

    tenant_id: str
    employee_id: str
    code_hash: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime


def format_code(raw: str) -> str:
    """``ABCD2345`` as people read it: ``ABCD-2345``."""
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(typed: str) -> str | None:
    """What a person typed (any case, spaces or dashes) as the code's characters; None if it cannot be one."""
    raw = "".join(typed[:40].split()).replace("-", "").upper()
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return raw


def deciders_of(person: Employee, staff: Sequence[Employee], day: date) -> list[Employee]:
    """Who decides a person's requests (time off, corrections): their manager while active on
    ``day``, else the active admins; never the person."""
    manager = [p for p in staff if p.id == person.manager_id and p.active_on(day)]
    return manager or [p for p in staff if Role.ADMIN in p.roles and p.id != person.id and p.active_on(day)]
