"""A demo company to look around in without Slack or Teams (``attendance demo``): a dozen people in
two teams, a month of attendance with what real months have (late mornings, a forgotten check-out,
a correction, a check-in flagged for review), and a local admin account.

Running it again adds nothing twice: people are matched by email, every event and item has an id
derived from what it is, and the account is created once (its password is printed that time only).
Nobody has face data: a person trying the demo enrolls at the kiosk and checks in there. The
demo pairs a kiosk once (its device token printed that time only) and on every run issues a fresh
one-time enrollment code for Amara Okafor, the demo's admin, whom the person trying it plays.

With ``playground=True`` the demo company also answers the Microsoft 365 Agents Playground (a local
Teams client): its Microsoft 365 organisation is linked to the company and its default user, Alex
Wilber, is one of the people, a manager and admin, so every chat command can be tried.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.access import Principal, PrincipalKind, TokenKind
from attendance.core.domain.checkins import (
    AttendanceEvent,
    CheckInJob,
    Direction,
    Outcome,
    OutcomeKind,
    PhotoRef,
    Requested,
)
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.model import ChatIdentity, Employee, Role, Tenant
from attendance.core.errors import NotFound
from attendance.core.messages import CreateTenant
from attendance.core.ports import (
    AttendanceStore,
    ChatIdentityRepository,
    EmployeeRepository,
    EnrollmentCodes,
    ReviewQueue,
    TenantRepository,
)
from attendance.services.access import AccessDeps, create_local_user, create_token
from attendance.services.chat import ChatDeps
from attendance.services.checkin import outbox_rows
from attendance.services.kiosk_enrollment import IssuedCode, issue_enrollment_code
from attendance.services.reports import correct_event
from attendance.services.tenants import create_tenant, link_workspace

NAME = "Demo Company"
ZONE = "Europe/Berlin"
ADMIN_EMAIL = "admin@demo.example"
DAYS = 30
# (name, email local part, roles, manager's local part)
PEOPLE: tuple[tuple[str, str, frozenset[Role], str | None], ...] = (
    ("Amara Okafor", "amara", frozenset({Role.ADMIN}), None),
    ("Lena Fischer", "lena", frozenset({Role.MANAGER}), None),
    ("Tomás Rivera", "tomas", frozenset({Role.MANAGER}), None),
    ("Priya Nair", "priya", frozenset({Role.PAYROLL}), None),
    ("Jonas Weber", "jonas", frozenset(), "lena"),
    ("Sofia Rossi", "sofia", frozenset(), "lena"),
    ("Kenji Sato", "kenji", frozenset(), "lena"),
    ("Maya Cohen", "maya", frozenset(), "lena"),
    ("Lucas Martin", "lucas", frozenset(), "tomas"),
    ("Aisha Khan", "aisha", frozenset(), "tomas"),
    ("Erik Larsen", "erik", frozenset(), "tomas"),
    ("Noor Haddad", "noor", frozenset(), "tomas"),
)


# The Agents Playground's default organisation and user (npm @microsoft/m365agentsplayground)
PLAYGROUND_TENANT = "00000000-0000-0000-0000-0000000000001"
PLAYGROUND_USER = ("Alex Wilber", "alexw@example.com")


@dataclass(frozen=True, slots=True)
class DemoResult:
    tenant: Tenant
    people: int
    events: int
    admin_email: str
    admin_password: str | None  # None: the account existed already


def _id(tenant_id: str, what: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"attendance-demo:{tenant_id}:{what}").hex


def _minutes(seed: str, spread: int) -> int:
    """A stable pseudo-random number of minutes in ``0..spread`` (the same on every run)."""
    return uuid.uuid5(uuid.NAMESPACE_OID, seed).int % (spread + 1)


def _day_plan(person: str, day: date) -> tuple[time, time | None]:
    """When the person came and left: most at 08:40-09:10, one late morning in nine, one forgotten
    check-out in twenty-five, leaving 8-9 hours later."""
    key = f"{person}:{day.isoformat()}"
    start = datetime.combine(day, time(8, 40)) + timedelta(minutes=_minutes(key, 30))
    if _minutes(key + ":late", 8) == 0:
        start += timedelta(minutes=25 + _minutes(key + ":by", 50))
    end = start + timedelta(hours=8, minutes=_minutes(key + ":out", 60))
    return start.time(), None if _minutes(key + ":forgot", 24) == 0 else end.time()


async def seed_demo(
    *,
    tenants: TenantRepository,
    employees: EmployeeRepository,
    store: AttendanceStore,
    reviews: ReviewQueue,
    access: AccessDeps,
    today: date | None = None,
    playground: bool = False,
) -> DemoResult:
    now = access.clock.now()
    zone = ZoneInfo(ZONE)
    today = today or now.astimezone(zone).date()
    tenant = await tenants.by_name(NAME) or await create_tenant(CreateTenant(name=NAME, timezone=ZONE), tenants=tenants)
    people: dict[str, Employee] = {}
    for name, local, roles, _ in PEOPLE:
        email = f"{local}@demo.example"
        found = await employees.by_email(tenant.id, email)
        people[local] = found or await employees.upsert(
            Employee(
                id=_id(tenant.id, email),
                tenant_id=tenant.id,
                name=name,
                email=email,
                roles=frozenset({Role.EMPLOYEE, *roles}),
            )
        )
    if playground:
        await _playground_user(tenant, employees=employees, identities=access.identities)
    for _, local, _, manager in PEOPLE:
        if manager and people[local].manager_id != people[manager].id:
            await employees.set_manager(tenant.id, people[local].id, people[manager].id)
            people[local] = dataclasses.replace(people[local], manager_id=people[manager].id)
    written = 0
    forgotten: list[tuple[str, date, time]] = []  # (person, day, came) of days without a check-out
    for local, person in people.items():
        for back in range(DAYS, 0, -1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            came, left = _day_plan(local, day)
            if left is None:
                forgotten.append((local, day, came))
            for direction, at in ((Direction.IN, came), (Direction.OUT, left)):
                if at is None:
                    continue
                event = AttendanceEvent(
                    id=_id(tenant.id, f"{local}:{day}:{direction.value}"),
                    tenant_id=tenant.id,
                    employee_id=person.id,
                    direction=direction,
                    at=datetime.combine(day, at, tzinfo=zone).astimezone(UTC),
                    timezone=ZONE,
                    channel="slack" if back % 3 else "teams",
                    job_id=None,
                    distance=0.35 + _minutes(f"{local}:{day}:distance", 15) / 100,
                )
                written += await _append_once(store, event, outbox_rows(event, person, now))
    await _correction_and_flag(tenant, people, forgotten, today, store=store, reviews=reviews, access=access)
    password = None
    if await access.users.by_email(ADMIN_EMAIL) is None:
        password = secrets.token_urlsafe(12)
        await create_local_user(NAME, ADMIN_EMAIL, password, [Role.ADMIN], deps=access)
    return DemoResult(tenant, len(people), written, ADMIN_EMAIL, password)


KIOSK_NAME = "Demo kiosk"
YOU = "amara@demo.example"  # whom the person trying the demo enrolls as


@dataclass(frozen=True, slots=True)
class DemoKiosk:
    device_secret: str | None  # None: paired before
    code: IssuedCode


async def demo_kiosk(tenant: Tenant, *, access: AccessDeps, chat: ChatDeps, codes: EnrollmentCodes) -> DemoKiosk:
    """A kiosk device token (once) and a fresh enrollment code for the demo's admin."""
    admin = Principal(
        tenant_id=tenant.id, kind=PrincipalKind.SESSION, actor="demo", name="demo", roles=frozenset({Role.ADMIN})
    )
    secret = None
    if not any(t.name == KIOSK_NAME and t.active for t in await access.tokens.list(tenant.id)):
        _, secret = await create_token(admin, name=KIOSK_NAME, kind=TokenKind.DEVICE, deps=access)
    you = await access.employees.by_email(tenant.id, YOU)
    if you is None:
        raise NotFound(f"{YOU} is not in {tenant.name}: run seed_demo first")
    code = await issue_enrollment_code(tenant, you.id, issued_by="demo", deps=chat, codes=codes)
    return DemoKiosk(secret, code)


async def _playground_user(
    tenant: Tenant, *, employees: EmployeeRepository, identities: ChatIdentityRepository
) -> None:
    await link_workspace(tenant, ChatIdentity("teams", PLAYGROUND_TENANT), identities=identities)
    name, email = PLAYGROUND_USER
    if await employees.by_email(tenant.id, email) is None:
        await employees.upsert(
            Employee(
                id=_id(tenant.id, email),
                tenant_id=tenant.id,
                name=name,
                email=email,
                roles=frozenset({Role.EMPLOYEE, Role.MANAGER, Role.ADMIN}),
            )
        )


async def _append_once(store: AttendanceStore, event: AttendanceEvent, outbox: list[OutboxMessage]) -> int:
    """1 when the event was added, 0 when an earlier run had added it."""
    if await store.event(event.tenant_id, event.id) is not None:
        return 0
    last, _ = await store.day(event.tenant_id, event.employee_id, event.at, event.at)
    await store.append(event, last + 1, outbox, None)
    return 1


async def _correction_and_flag(
    tenant: Tenant,
    people: dict[str, Employee],
    forgotten: list[tuple[str, date, time]],
    today: date,
    *,
    store: AttendanceStore,
    reviews: ReviewQueue,
    access: AccessDeps,
) -> None:
    """The earliest forgotten check-out was added by the person's manager; a selfie from Erik's
    account showed someone else's face and waits in the review queue."""
    zone = ZoneInfo(ZONE)
    if forgotten:
        local, day, came = min(forgotten, key=lambda f: (f[1], f[0]))
        person = people[local]
        manager = next((p for p in people.values() if p.id == person.manager_id), people["amara"])
        left = datetime.combine(day, came, tzinfo=zone) + timedelta(hours=8, minutes=30)
        await correct_event(
            tenant=tenant,
            employee=person,
            direction=Direction.OUT,
            at=left,
            supersedes=None,
            void=False,
            reason=f"forgot to check out; confirmed by {manager.name}",
            recorded_by=manager.id,
            store=store,
            clock=access.clock,
            answers=f"demo:forgotten:{local}:{day}",
        )
    attempt = datetime.combine(today, time(8, 52), tzinfo=zone).astimezone(UTC)
    job = CheckInJob(
        id=_id(tenant.id, "flagged"),
        tenant_id=tenant.id,
        channel="slack",
        identity_kind="slack",
        identity=None,
        photo=PhotoRef(kind="url", ref=""),
        requested=Requested.AUTO,
        received_at=attempt,
        idempotency_key=_id(tenant.id, "flagged"),
    )
    await reviews.flag(
        job,
        Outcome(
            kind=OutcomeKind.OTHER_PERSON, employee_id=people["erik"].id, looks_like=people["lucas"].id, distance=0.48
        ),
        access.clock.now(),
    )
