"""The working day's rules as use cases: public holiday calendars, personal schedules, time off
(asked for, decided, or recorded by an admin), leavers; and ``day_contexts``, what the read side
needs to give each day its status (``core.domain.workdays``).

Refusals are ``ServiceError``s with a sentence for the person; ``NotAllowed`` for roles.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.access import Principal
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.model import (
    DomainError,
    Employee,
    Tenant,
    WorkSchedule,
    check_region,
    new_id,
)
from attendance.core.domain.workdays import (
    DayContext,
    HalfDay,
    TimeOff,
    TimeOffKind,
    TimeOffStatus,
    covering,
)
from attendance.core.errors import NotAllowed, NotFound, ServiceError
from attendance.core.messages import EraseFaceData
from attendance.core.ports import (
    AuditLog,
    ChatMessages,
    Clock,
    DeliveryRepository,
    EmployeeRepository,
    HolidayCalendar,
    SentLog,
    TenantRepository,
    TimeOffRepository,
)
from attendance.services.enrollment import EnrollmentDeps, erase_face_data

log = logging.getLogger(__name__)

TIME_OFF_APPROVED = "attendance.time_off.approved"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkforceDeps:
    tenants: TenantRepository
    employees: EmployeeRepository
    time_off: TimeOffRepository
    holidays: HolidayCalendar
    outbox: DeliveryRepository
    audit: AuditLog
    messages: ChatMessages
    sent: SentLog
    clock: Clock


# ---------------------------------------------------------------- parsing what people write


def parse_region(text: str, holidays: HolidayCalendar) -> str | None:
    """``DE-BY``, ``us-ca`` or ``none`` (no holidays); refused when no calendar knows it."""
    try:
        region = check_region(text)
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    if region is not None and not holidays.known(region):
        raise ServiceError(
            f"There is no public holiday calendar for {region} (use a country code such as DE or DE-BY)."
        )
    return region


def parse_days(text: str) -> frozenset[int]:
    """``mon,tue,wed`` or ``mon-fri``."""
    words = [w for w in text.lower().replace(" ", "").split(",") if w]
    days: set[int] = set()
    for word in words:
        first, _, last = word.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ServiceError(f"{word!r} is not a day: write mon, tue, wed, thu, fri, sat, sun (or mon-fri).")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise ServiceError(f"{word!r}: the days run backwards")
        days.update(range(a, b + 1))
    if not days:
        raise ServiceError("Give at least one working day, e.g. mon,tue,wed.")
    return frozenset(days)


def parse_hours(text: str) -> tuple[time, time]:
    """``09:00-13:00``; ``22:00-06:00`` crosses midnight."""
    start_s, sep, end_s = text.strip().partition("-")
    try:
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
    except ValueError as exc:
        raise ServiceError(f"{text.strip()[:20]!r} is not a time range like 09:00-17:00") from exc
    if not sep or start == end:
        raise ServiceError(f"{text.strip()[:20]!r} is not a time range like 09:00-17:00")
    return start, end


def parse_period(text: str) -> tuple[date, date]:
    """``2026-12-24`` or ``2026-12-24..2026-12-31``."""
    first_s, _, last_s = text.strip().partition("..")
    try:
        first = date.fromisoformat(first_s.strip())
        last = date.fromisoformat(last_s.strip()) if last_s else first
    except ValueError as exc:
        raise ServiceError(
            f"{text.strip()[:30]!r} is not a day like 2026-12-24 or a range 2026-12-24..2026-12-31"
        ) from exc
    return first, last


# ---------------------------------------------------------------- calendars, schedules


async def set_tenant_holidays(tenant: Tenant, text: str, *, by: str, deps: WorkforceDeps) -> str | None:
    region = parse_region(text, deps.holidays)
    await deps.tenants.set_holidays(tenant.id, region)
    await deps.audit.record(
        tenant_id=tenant.id, actor=by, action="tenant.holidays_set", subject=region or "none", at=deps.clock.now()
    )
    return region


async def set_weekly_hours(tenant: Tenant, hours: float, *, by: str, deps: WorkforceDeps) -> float:
    if not 1 <= hours <= 168:
        raise ServiceError("The weekly limit is between 1 and 168 hours.")
    await deps.tenants.set_weekly_hours(tenant.id, hours)
    await deps.audit.record(
        tenant_id=tenant.id, actor=by, action="tenant.weekly_hours_set", subject=str(hours), at=deps.clock.now()
    )
    return hours


async def set_person_schedule(
    tenant: Tenant,
    person: Employee,
    *,
    days: str | None,
    hours: str | None,
    grace: int | None,
    weekly_hours: float | None,
    by: str,
    deps: WorkforceDeps,
    reset: bool = False,
) -> WorkSchedule | None:
    """The person's own working days and hours (each part given overrides the tenant's or their
    own); ``reset``: back to the tenant's schedule and weekly limit."""
    if reset:
        schedule, weekly_hours = None, None
    elif days is None and hours is None and grace is None:
        schedule = person.schedule
    else:
        base = person.schedule or tenant.schedule
        start, end = parse_hours(hours) if hours else (base.start, base.end)
        if grace is not None and not 0 <= grace <= 240:
            raise ServiceError("The grace is 0 to 240 minutes.")
        schedule = dataclasses.replace(
            base,
            start=start,
            end=end,
            weekdays=parse_days(days) if days else base.weekdays,
            grace_minutes=base.grace_minutes if grace is None else grace,
        )
    if weekly_hours is not None and not 1 <= weekly_hours <= 168:
        raise ServiceError("The weekly limit is between 1 and 168 hours.")
    if not reset and weekly_hours is None:
        weekly_hours = person.weekly_hours
    await deps.employees.set_schedule(tenant.id, person.id, schedule, weekly_hours)
    await deps.audit.record(
        tenant_id=tenant.id, actor=by, action="employee.schedule_set", subject=person.id, at=deps.clock.now()
    )
    return schedule


async def set_person_holidays(tenant: Tenant, person: Employee, text: str, *, by: str, deps: WorkforceDeps) -> None:
    """A person's own calendar (a remote worker in another country); ``none``: no holidays."""
    region = parse_region(text, deps.holidays) or "none"
    await deps.employees.set_holidays(tenant.id, person.id, region)
    await deps.audit.record(
        tenant_id=tenant.id, actor=by, action="employee.holidays_set", subject=person.id, at=deps.clock.now()
    )


# ---------------------------------------------------------------- time off


async def add_time_off(
    tenant: Tenant,
    person: Employee,
    first: date,
    last: date,
    *,
    kind: str = "vacation",
    half_day: str | None = None,
    note: str = "",
    by: str,
    approved: bool,
    deps: WorkforceDeps,
) -> TimeOff:
    """Time off for ``person``: recorded as approved (an admin) or asked for (the person)."""
    try:
        time_off = TimeOff(
            id=new_id(),
            tenant_id=tenant.id,
            employee_id=person.id,
            first=first,
            last=last,
            kind=TimeOffKind(kind.lower()),
            status=TimeOffStatus.APPROVED if approved else TimeOffStatus.REQUESTED,
            half_day=HalfDay(half_day.lower()) if half_day else None,
            note=note.strip()[:200],
            requested_by=by,
            created_at=deps.clock.now(),
            decided_by=by if approved else None,
            decided_at=deps.clock.now() if approved else None,
        )
    except DomainError as exc:
        raise ServiceError(str(exc).capitalize() + ".") from exc
    except ValueError as exc:
        raise ServiceError("Time off is vacation, sick or other; a half day is am or pm.") from exc
    clash = [
        t
        for t in await deps.time_off.overlapping(tenant.id, first, last, [person.id])
        if t.status in (TimeOffStatus.APPROVED, TimeOffStatus.REQUESTED)
    ]
    if clash:
        c = clash[0]
        raise ServiceError(f"{person.name} already has time off {c.first}..{c.last} ({c.status.value}) in those days.")
    await deps.time_off.add(time_off)
    await deps.audit.record(
        tenant_id=tenant.id,
        actor=by,
        action="time_off.approved" if approved else "time_off.requested",
        subject=time_off.id,
        at=time_off.created_at,
    )
    if approved:
        await deps.outbox.add_outbox([time_off_row(time_off, person, time_off.created_at)])
    return time_off


async def decide_time_off(
    principal: Principal, time_off_id: str, approve: bool, *, deps: WorkforceDeps
) -> tuple[TimeOff, Employee]:
    """The person's manager or an admin approves or rejects a request (never their own)."""
    found = await deps.time_off.get(principal.tenant_id, time_off_id)
    person = await deps.employees.get(principal.tenant_id, found.employee_id) if found else None
    if found is None or person is None:
        raise NotFound("That time off request does not exist any more.")
    if not principal.may_decide_for(person):
        raise NotAllowed("Only their manager or an admin can decide on this request.")
    now = deps.clock.now()
    status = TimeOffStatus.APPROVED if approve else TimeOffStatus.REJECTED
    decided = await deps.time_off.decide(principal.tenant_id, time_off_id, status, principal.actor, now)
    if decided is None:
        raise ServiceError(f"That request was already {found.status.value}.")
    await deps.audit.record(
        tenant_id=principal.tenant_id,
        actor=principal.actor,
        action=f"time_off.{status.value}",
        subject=found.id,
        at=now,
    )
    if approve:
        await deps.outbox.add_outbox([time_off_row(decided, person, now)])
    days = f"{decided.first:%a %d %b}" + (f" to {decided.last:%a %d %b}" if decided.last != decided.first else "")
    verdict = "approved" if approve else "not approved; ask your manager if you would like to talk about it"
    tenant = await deps.tenants.get(principal.tenant_id)
    try:  # the decision stands even when a chat platform is down
        if tenant is not None:
            await deps.messages.tell(tenant, [person], f"Your time off {days} ({decided.kind.value}) was {verdict}.")
    except Exception:
        log.warning("the person could not be told of a time off decision in chat", exc_info=True)
    return decided, person


def time_off_row(t: TimeOff, person: Employee, created_at: datetime) -> OutboxMessage:
    """``attendance.time_off.approved`` for payroll (docs/schemas), one per time off."""
    payload: dict[str, object] = {
        "type": TIME_OFF_APPROVED,
        "version": 1,
        "event_id": t.id,
        "tenant_id": t.tenant_id,
        "employee": {"id": person.id, "email": person.email, "name": person.name, "worker_id": person.worker_id},
        "first_date": t.first.isoformat(),
        "last_date": t.last.isoformat(),
        "days": t.days if t.half_day is None else 0.5,
        "half_day": t.half_day.value if t.half_day else None,
        "kind": t.kind.value,
        "approved_by": t.decided_by,
        "approved_at": (t.decided_at or created_at).astimezone(UTC).isoformat(),
    }
    return OutboxMessage(
        id=f"{t.id}:{TIME_OFF_APPROVED}",
        tenant_id=t.tenant_id,
        employee_id=t.employee_id,
        event_id=t.id,
        type=TIME_OFF_APPROVED,
        occurred_at=t.decided_at or created_at,
        payload=payload,
        created_at=created_at,
    )


async def remove_time_off(tenant: Tenant, time_off_id: str, *, by: str, deps: WorkforceDeps) -> None:
    if not await deps.time_off.remove(tenant.id, time_off_id):
        raise NotFound(f"No time off {time_off_id!r} in {tenant.name}.")
    await deps.audit.record(
        tenant_id=tenant.id, actor=by, action="time_off.removed", subject=time_off_id, at=deps.clock.now()
    )


# ---------------------------------------------------------------- leavers


async def deactivate(
    tenant: Tenant, person: Employee, *, on: date | None, by: str, deps: WorkforceDeps, enrollment: EnrollmentDeps
) -> tuple[date, int]:
    """From ``on`` (default today in their zone) the person is in no board, report or reminder and
    cannot check in; their face data is erased now; their attendance history stays."""
    day = on or deps.clock.now().astimezone(ZoneInfo(person.effective_timezone(tenant))).date()
    await deps.employees.set_inactive_from(tenant.id, person.id, day)
    erased = await erase_face_data(
        EraseFaceData(tenant_id=tenant.id, employee_id=person.id, requested_by=by), deps=enrollment
    )
    await deps.audit.record(
        tenant_id=tenant.id, actor=by, action="employee.deactivated", subject=person.id, at=deps.clock.now()
    )
    return day, erased.templates_deleted


async def reactivate(tenant: Tenant, person: Employee, *, by: str, deps: WorkforceDeps) -> None:
    """Active again (the face data erased at deactivation stays erased: they enroll again)."""
    await deps.employees.set_inactive_from(tenant.id, person.id, None)
    await deps.audit.record(
        tenant_id=tenant.id, actor=by, action="employee.reactivated", subject=person.id, at=deps.clock.now()
    )


# ---------------------------------------------------------------- for the read side

ContextOf = Callable[[Employee, date], DayContext]


async def day_contexts(
    tenant: Tenant,
    people: Sequence[Employee],
    first: date,
    last: date,
    *,
    time_off: TimeOffRepository,
    holidays: HolidayCalendar,
) -> ContextOf:
    """What each day ``first``..``last`` is for each of ``people`` (one read of their time off)."""
    offs: dict[str, list[TimeOff]] = {}
    if people:
        for t in await time_off.overlapping(tenant.id, first, last, [p.id for p in people]):
            offs.setdefault(t.employee_id, []).append(t)

    def context(person: Employee, day: date) -> DayContext:
        region = person.effective_holidays(tenant)
        return DayContext(
            schedule=person.effective_schedule(tenant),
            timezone=person.effective_timezone(tenant),
            holiday=holidays.holiday(region, day) if region else None,
            time_off=covering(offs.get(person.id, []), day),
            inactive=not person.active_on(day),
        )

    return context


def weekly_limit(tenant: Tenant, person: Employee) -> timedelta:
    return timedelta(hours=person.weekly_hours if person.weekly_hours is not None else tenant.weekly_hours)
