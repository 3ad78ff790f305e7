"""The working day from the dashboard and the API, for a signed-in ``Principal``: time off
asked for, recorded and decided; a person's own schedule and calendar; leavers. The rules are
``workforce``'s (the same as the command line and chat); this module adds who may do what:

* anyone asks for their own time off; their manager (else the admins) is asked in chat, with
  the same *Approve* / *Reject* buttons as a request made in chat;
* an admin records time off for anyone (approved at once), sets schedules and deactivates;
* their manager or an admin decides a request, never their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from attendance.core.domain.access import Principal, deciders_of
from attendance.core.domain.model import Employee, Tenant
from attendance.core.domain.workdays import TimeOff
from attendance.core.errors import NotAllowed, ServiceError
from attendance.core.ports import ChatButton
from attendance.services import dashboard, workforce
from attendance.services.access import require_admin
from attendance.services.chat import ChatDeps


@dataclass(frozen=True, slots=True)
class TimeOffRow:
    time_off: TimeOff
    employee: Employee
    may_decide: bool


def describe(t: TimeOff) -> str:
    days = f"{t.first:%a %d %b}" + (f" to {t.last:%a %d %b}" if t.last != t.first else "")
    part = {"am": ", the morning", "pm": ", the afternoon"}.get(t.half_day.value if t.half_day else "", "")
    return f"{days}{part} ({t.kind.value})"


def decision_buttons(time_off_id: str) -> tuple[ChatButton, ChatButton]:
    return (
        ChatButton("Approve", "time_off_approve", time_off_id, "primary"),
        ChatButton("Reject", "time_off_reject", time_off_id, "danger"),
    )


async def time_off_list(
    principal: Principal, first: date, last: date, *, deps: ChatDeps, employee_id: str | None = None
) -> list[TimeOffRow]:
    """The time off (asked for, approved, rejected) of the people the principal sees, in a range."""
    dashboard.check_range(first, last)
    people = {p.id: p for p in await dashboard.visible(principal, deps=deps.reads)}
    if employee_id is not None:
        people = {employee_id: await dashboard.person(principal, employee_id, deps=deps.reads)}
    found = await deps.workforce.time_off.overlapping(principal.tenant_id, first, last, list(people))
    rows = [TimeOffRow(t, people[t.employee_id], principal.may_decide_for(people[t.employee_id])) for t in found]
    return sorted(rows, key=lambda r: (r.time_off.first, r.employee.name.casefold()))


async def waiting(principal: Principal, *, deps: ChatDeps) -> list[TimeOffRow]:
    """Requests still to decide that the principal may see, oldest first."""
    people = {p.id: p for p in await dashboard.visible(principal, deps=deps.reads)}
    pending = await deps.workforce.time_off.pending(principal.tenant_id)
    mine = [t for t in pending if t.employee_id in people]
    return [TimeOffRow(t, people[t.employee_id], principal.may_decide_for(people[t.employee_id])) for t in mine]


async def ask(
    principal: Principal,
    *,
    first: date,
    last: date,
    kind: str,
    half_day: str | None,
    note: str = "",
    employee_id: str | None = None,
    deps: ChatDeps,
) -> TimeOff:
    """One's own request (decided later), or an admin's record for someone (approved at once)."""
    tenant = await dashboard.tenant_of(principal, deps=deps.reads)
    w = deps.workforce
    if employee_id is not None and employee_id != principal.employee_id:
        require_admin(principal)
        person = await dashboard.person(principal, employee_id, deps=deps.reads)
        return await workforce.add_time_off(
            tenant,
            person,
            first,
            last,
            kind=kind,
            half_day=half_day,
            note=note,
            by=principal.actor,
            approved=True,
            deps=w,
        )
    if principal.employee_id is None:
        raise NotAllowed("Only employees ask for their own time off; an admin names the employee.")
    me = await dashboard.person(principal, principal.employee_id, deps=deps.reads)
    t = await workforce.add_time_off(
        tenant, me, first, last, kind=kind, half_day=half_day, note=note, by=me.id, approved=False, deps=w
    )
    deciders = deciders_of(me, await w.employees.list(tenant.id), first)
    await _tell(tenant, deciders, f"{me.name} asks for time off {describe(t)}.", decision_buttons(t.id), deps=deps)
    return t


async def _tell(
    tenant: Tenant, people: Sequence[Employee], text: str, buttons: Sequence[ChatButton], *, deps: ChatDeps
) -> None:
    try:  # the request stands even when a chat platform is down
        await deps.workforce.messages.tell(tenant, people, text, buttons)
    except Exception:
        workforce.log.warning("the deciders could not be told of a time off request in chat", exc_info=True)


async def decide(principal: Principal, time_off_id: str, approve: bool, *, deps: ChatDeps) -> TimeOff:
    decided, _ = await workforce.decide_time_off(principal, time_off_id, approve, deps=deps.workforce)
    return decided


def _text(body: Mapping[str, object], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ServiceError(f"{name!r} is text.")
    return value.strip()


def _number(body: Mapping[str, object], name: str) -> float | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ServiceError(f"{name!r} is a number.")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ServiceError(f"{name!r} is a number.") from None


SCHEDULE_FIELDS = {"days", "hours", "grace_minutes", "weekly_hours", "holidays", "reminders", "reset"}


async def set_schedule(
    principal: Principal, employee_id: str, body: Mapping[str, object], *, deps: ChatDeps
) -> Employee:
    """An admin sets a person's own working days and hours (``days`` ``mon,tue``, ``hours``
    ``09:00-13:00``, ``grace_minutes``), weekly limit, holiday calendar (``DE-BY``, ``none``, or
    ``company`` for the tenant's) and reminders (true/false); ``reset``: the tenant's schedule."""
    require_admin(principal)
    unknown = set(body) - SCHEDULE_FIELDS
    if unknown:
        raise ServiceError(f"unknown field {sorted(unknown)[0]!r}")
    tenant = await dashboard.tenant_of(principal, deps=deps.reads)
    person = await dashboard.person(principal, employee_id, deps=deps.reads)
    reset, reminders = body.get("reset", False), body.get("reminders")
    if not isinstance(reset, bool) or not isinstance(reminders, bool | None):
        raise ServiceError("'reset' and 'reminders' are true or false.")
    grace = _number(body, "grace_minutes")
    if grace is not None and grace != int(grace):
        raise ServiceError("'grace_minutes' is a whole number of minutes.")
    holidays = _text(body, "holidays")
    region = None
    if holidays is not None and holidays.lower() != "company":
        region = workforce.parse_region(holidays, deps.workforce.holidays) or "none"  # checked before writing
    w, by = deps.workforce, principal.actor
    days, hours, weekly = _text(body, "days"), _text(body, "hours"), _number(body, "weekly_hours")
    if reset or any(x is not None for x in (days, hours, grace, weekly)):
        await workforce.set_person_schedule(
            tenant,
            person,
            days=days,
            hours=hours,
            grace=None if grace is None else int(grace),
            weekly_hours=weekly,
            reset=reset,
            by=by,
            deps=w,
        )
    if holidays is not None:
        await w.employees.set_holidays(tenant.id, person.id, region)
        await w.audit.record(
            tenant_id=tenant.id, actor=by, action="employee.holidays_set", subject=person.id, at=w.clock.now()
        )
    if reminders is not None:
        await w.employees.set_reminders(tenant.id, person.id, reminders)
    return await dashboard.person(principal, employee_id, deps=deps.reads)


async def deactivate(principal: Principal, employee_id: str, on: str | None, *, deps: ChatDeps) -> Employee:
    require_admin(principal)
    tenant = await dashboard.tenant_of(principal, deps=deps.reads)
    person = await dashboard.person(principal, employee_id, deps=deps.reads)
    if person.id == principal.employee_id:
        raise ServiceError("You cannot deactivate yourself; ask another admin.")
    try:
        day = date.fromisoformat(on) if on else None
    except ValueError:
        raise ServiceError(f"{on!r} is not a day like 2026-12-31.") from None
    await workforce.deactivate(
        tenant, person, on=day, by=principal.actor, deps=deps.workforce, enrollment=deps.enrollment
    )
    return await dashboard.person(principal, employee_id, deps=deps.reads)


async def reactivate(principal: Principal, employee_id: str, *, deps: ChatDeps) -> Employee:
    require_admin(principal)
    tenant = await dashboard.tenant_of(principal, deps=deps.reads)
    person = await dashboard.person(principal, employee_id, deps=deps.reads)
    await workforce.reactivate(tenant, person, by=principal.actor, deps=deps.workforce)
    return await dashboard.person(principal, employee_id, deps=deps.reads)
