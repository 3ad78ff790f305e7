"""Two organisations with people in every role, their API tokens, and a month of attendance:
the set-up the dashboard, API and browser tests share."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.access import Principal, PrincipalKind, TokenKind
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import ChatIdentity, Employee, Role, new_id
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import Container, access_deps, web_site
from attendance.services.access import create_local_user, create_token
from attendance.services.tenants import create_tenant
from tests.e2e.serving import serving

ROLES_OF = {
    "admin": {Role.ADMIN},
    "manager": {Role.MANAGER},
    "employee": set(),  # reports to the manager
    "outsider": set(),  # reports to nobody: another team
    "payroll": {Role.PAYROLL},
}
PASSWORD = "correct horse battery staple"


@dataclass
class Org:
    id: str
    name: str
    people: dict[str, Employee]
    slack_team: str = ""
    teams_tenant: str = ""
    slack_ids: dict[str, str] = field(default_factory=dict)  # employee id -> Slack user id
    tokens: dict[str, str] = field(default_factory=dict)  # role -> personal API token


async def make_org(c: Container, label: str, *, days: int = 10) -> Org:
    slack_team, teams_tenant = f"T{new_id()[:8].upper()}", str(uuid.uuid4())
    tenant = await create_tenant(
        CreateTenant(
            name=f"{label} {new_id()[:6]}",
            timezone="Europe/Berlin",
            chats=(ChatIdentity("slack", slack_team), ChatIdentity("teams", teams_tenant)),
        ),
        tenants=c.deps.tenants,
        identities=c.deps.identities,
    )
    people: dict[str, Employee] = {}
    slack_ids: dict[str, str] = {}
    for role, extra in ROLES_OF.items():
        people[role] = await c.deps.employees.upsert(
            Employee(
                id=new_id(),
                tenant_id=tenant.id,
                name=f"{label} {role.title()}",
                email=f"{role}@{label.lower()}.example",
                roles=frozenset({Role.EMPLOYEE, *extra}),
            )
        )
        slack_ids[people[role].id] = f"U{role.upper()}{label.upper()}"
        slack_user = ChatIdentity("slack", slack_team, slack_ids[people[role].id])
        await c.deps.identities.link_user(tenant.id, people[role].id, slack_user)
    await c.deps.employees.set_manager(tenant.id, people["employee"].id, people["manager"].id)
    people["employee"] = await c.deps.employees.get(tenant.id, people["employee"].id)  # type: ignore[assignment]
    org = Org(tenant.id, tenant.name, people, slack_team, teams_tenant, slack_ids)
    admin = Principal(
        tenant_id=tenant.id,
        kind=PrincipalKind.SESSION,
        actor=people["admin"].id,
        name="setup",
        roles=frozenset({Role.ADMIN}),
        employee_id=people["admin"].id,
    )
    for role, person in people.items():
        _, secret = await create_token(
            admin, name=f"{role} token", kind=TokenKind.PERSONAL, employee_id=person.id, deps=access_deps(c)
        )
        org.tokens[role] = secret
    await seed_days(c, org, days)
    return org


async def seed_days(c: Container, org: Org, days: int) -> None:
    """Working days before today: in at 08:50-09:20, out at 17:00-17:30 (events as the worker writes them)."""
    zone = ZoneInfo("Europe/Berlin")
    today = c.deps.clock.now().astimezone(zone).date()
    for n, person in enumerate(org.people.values()):
        seq = 0
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            start = datetime.combine(day, time(8, 50), tzinfo=zone) + timedelta(minutes=(n * 7 + back) % 30)
            for direction, at in ((Direction.IN, start), (Direction.OUT, start + timedelta(hours=8, minutes=10))):
                seq += 1
                event = AttendanceEvent(
                    id=new_id(),
                    tenant_id=org.id,
                    employee_id=person.id,
                    direction=direction,
                    at=at.astimezone(UTC),
                    timezone="Europe/Berlin",
                    channel="slack",
                    job_id=None,
                    distance=0.4,
                )
                await c.store.append(event, seq, [], None)


async def local_admin(c: Container, org: Org, email: str = "boss@local.example") -> str:
    await create_local_user(org.name, email, PASSWORD, [Role.ADMIN], deps=access_deps(c))
    return email


@contextlib.asynccontextmanager
async def web_server(c: Container, *, worker: bool = False) -> AsyncIterator[str]:
    """The dashboard, API and kiosk on a loopback port; ``worker``: a check-in worker beside it."""
    async with serving(c, web_site(c).mount, worker=worker) as url:
        yield url


def today_in(c: Container) -> date:
    return c.deps.clock.now().astimezone(ZoneInfo("Europe/Berlin")).date()


@dataclass
class Things:
    """One of each object a route can name, in one organisation."""

    review_item: str
    correction_of_employee: str
    correction_of_outsider: str
    time_off_of_employee: str
    time_off_of_outsider: str
    subscription: str
    dead_delivery: str
    spare_token: str


async def make_things(c: Container, org: Org) -> Things:
    from attendance.core.domain.checkins import CheckInJob, Outcome, OutcomeKind, PhotoRef, Requested
    from attendance.core.domain.deliveries import Attempt, DeliveryState, ResultKind
    from attendance.entrypoints.bootstrap import dashboard_deps
    from attendance.services import webhooks, workforce
    from attendance.services.access import employee_principal
    from attendance.services.checkin import outbox_rows
    from attendance.services.corrections import request_correction

    now = c.deps.clock.now()
    emp, outsider = org.people["employee"], org.people["outsider"]
    job = CheckInJob(
        id=new_id(),
        tenant_id=org.id,
        channel="slack",
        identity_kind="slack",
        identity=org.slack_ids[emp.id],
        photo=PhotoRef(kind="url", ref="http://x/y"),
        requested=Requested.AUTO,
        received_at=now,
        idempotency_key=new_id(),
    )
    await c.chat.reviews.flag(
        job, Outcome(kind=OutcomeKind.OTHER_PERSON, employee_id=emp.id, looks_like=outsider.id, distance=0.5), now
    )
    dash = dashboard_deps(c)
    corrections = []
    for who in (emp, outsider):
        made = await request_correction(
            employee_principal(who, kind=PrincipalKind.SESSION),
            direction="in",
            at=(now - timedelta(days=1)).astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%dT08:30"),
            supersedes=None,
            void=False,
            reason="forgot my phone",
            deps=dash,
        )
        corrections.append(made.id)
    tenant = await c.deps.tenants.get(org.id)
    assert tenant is not None
    leave = []
    for n, who in enumerate((emp, outsider)):
        day = date(2030, 2, 4 + n)
        asked = await workforce.add_time_off(tenant, who, day, day, by=who.id, approved=False, deps=c.workforce)
        leave.append(asked.id)
    sub, _ = await webhooks.add_subscription(
        tenant,
        "http://127.0.0.1:9/hook",
        [],
        by="test",
        subscriptions=c.subscriptions,
        audit=c.deps.audit,
        clock=c.deps.clock,
        destinations=c.destinations,
    )
    event = AttendanceEvent(
        id=new_id(),
        tenant_id=org.id,
        employee_id=emp.id,
        direction=Direction.IN,
        at=now - timedelta(days=20),
        timezone="Europe/Berlin",
        channel="slack",
        job_id=None,
    )
    await c.deliveries.add_outbox(outbox_rows(event, emp, now))
    rows = await c.deliveries.pending_outbox(100)
    mine = [r for r in rows if r.tenant_id == org.id]
    await c.deliveries.fan_out([(r, [sub]) for r in mine], now)
    claimed = [
        d
        for chain in await c.deliveries.claim("test", now + timedelta(seconds=1), timedelta(seconds=30), 50)
        for d in chain
        if d.tenant_id == org.id
    ]
    assert claimed, "the test delivery was not claimable"
    failed = Attempt(at=now, result=ResultKind.REJECTED, status=None, detail="refused", ms=1.0)
    await c.deliveries.finish(
        claimed[0], state=DeliveryState.DEAD, next_attempt_at=None, attempt=failed, followup=None, now=now
    )
    admin = Principal(
        tenant_id=org.id,
        kind=PrincipalKind.SESSION,
        actor=org.people["admin"].id,
        name="setup",
        roles=frozenset({Role.ADMIN}),
        employee_id=org.people["admin"].id,
    )
    spare, _ = await create_token(
        admin, name="spare", kind=TokenKind.INTEGRATION, roles=[Role.PAYROLL], deps=access_deps(c)
    )
    return Things(
        review_item=job.id,
        correction_of_employee=corrections[0],
        correction_of_outsider=corrections[1],
        time_off_of_employee=leave[0],
        time_off_of_outsider=leave[1],
        subscription=sub.id,
        dead_delivery=claimed[0].id,
        spare_token=spare.id,
    )
