"""Reading attendance: events of a period, day summaries, and corrections (new events)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.domain.checkins import AttendanceEvent, DaySummary, Direction, summarise_days
from attendance.domain.model import Employee, Tenant, new_id
from attendance.ports import AttendanceStore, Clock, EmployeeRepository, SequenceTaken
from attendance.services.checkin import correction_rows
from attendance.services.errors import NotFound, ServiceError


def local_range(tenant: Tenant, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC bounds of local days ``first``..``last``, padded a day for people in other zones."""
    zone = ZoneInfo(tenant.timezone)
    start = datetime.combine(first - timedelta(days=1), datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=2), datetime.min.time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def events_in(
    tenant: Tenant, first: date, last: date, *, store: AttendanceStore, employee_id: str | None = None
) -> list[AttendanceEvent]:
    """Every stored event (corrections included) whose local day is within ``first``..``last``."""
    start, end = local_range(tenant, first, last)
    events = await store.events(tenant.id, start, end, employee_id)
    return [e for e in events if first <= e.local_date <= last]


@dataclass(frozen=True, slots=True)
class PersonDays:
    employee: Employee
    days: list[DaySummary]


def days_of(
    tenant: Tenant, people: Sequence[Employee], first: date, last: date, events: Iterable[AttendanceEvent], *,
    memo: MutableMapping[Hashable, DaySummary] | None = None,
) -> list[PersonDays]:  # fmt: skip
    """Each person's local days ``first``..``last`` from the events read for them."""
    by_person: dict[str, list[AttendanceEvent]] = {}
    for e in events:
        by_person.setdefault(e.employee_id, []).append(e)
    return [PersonDays(p, summarise_days(p.id, first, last, p.effective_timezone(tenant), by_person.get(p.id, []),
                                         schedule=tenant.schedule, memo=memo)) for p in people]  # fmt: skip


async def summaries(
    tenant: Tenant, first: date, last: date, *, store: AttendanceStore, employees: EmployeeRepository
) -> list[PersonDays]:
    people = await employees.list(tenant.id)
    start, end = local_range(tenant, first, last)
    return days_of(tenant, people, first, last, await store.events(tenant.id, start, end))


async def correct_event(
    *, tenant: Tenant, employee: Employee, direction: Direction | None, at: datetime | None,
    supersedes: str | None, void: bool, reason: str, recorded_by: str,
    store: AttendanceStore, clock: Clock,
) -> AttendanceEvent:  # fmt: skip
    """A correction is a new event: it adds a missing one, or replaces (or voids) an earlier one."""
    if not reason.strip():
        raise ServiceError("a correction needs a reason")
    previous = None
    if supersedes:
        previous = await store.event(tenant.id, supersedes)
        if previous is None or previous.employee_id != employee.id:
            raise NotFound(f"no event {supersedes} of {employee.email}")
        if await store.is_superseded(tenant.id, supersedes):
            raise ServiceError(f"event {supersedes} was already corrected; correct the newest version")
    elif void:
        raise ServiceError("--void needs the event it removes (--supersedes)")
    direction = direction or (previous.direction if previous else None)
    at = at or (previous.at if previous else None)
    if direction is None or at is None:
        raise ServiceError("a new event needs a direction and a time")
    event = AttendanceEvent(
        id=new_id(), tenant_id=tenant.id, employee_id=employee.id, direction=direction, at=at.astimezone(UTC),
        timezone=employee.effective_timezone(tenant), channel="correction", job_id=None, decision="correction",
        supersedes=supersedes, void=void, reason=reason.strip(), recorded_by=recorded_by,
    )  # fmt: skip
    rows = correction_rows(event, employee, clock.now())
    for _ in range(5):
        last_seq, _ = await store.day(tenant.id, employee.id, event.at, event.at)
        try:
            await store.append(event, last_seq + 1, rows, None)
            return event
        except SequenceTaken:
            continue
    raise ServiceError("the employee's attendance is changing right now; try the correction again")
