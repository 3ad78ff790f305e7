"""Reading attendance: events of a period, day summaries, and corrections (new events)."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import AttendanceEvent, DaySummary, Direction, summarise_days
from attendance.core.domain.model import Employee, Tenant, new_id
from attendance.core.errors import NotFound, ServiceError
from attendance.core.ports import AttendanceStore, Clock, EmployeeRepository, SequenceTaken
from attendance.services.checkin import correction_rows


def aware(at: datetime) -> datetime:
    """A stored time as UTC-aware (older documents may hold naive UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


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
    tenant: Tenant,
    people: Sequence[Employee],
    first: date,
    last: date,
    events: Iterable[AttendanceEvent],
    *,
    memo: MutableMapping[Hashable, DaySummary] | None = None,
) -> list[PersonDays]:
    """Each person's local days ``first``..``last`` from the events read for them."""
    by_person: dict[str, list[AttendanceEvent]] = {}
    for e in events:
        by_person.setdefault(e.employee_id, []).append(e)
    return [
        PersonDays(
            p,
            summarise_days(
                p.id,
                first,
                last,
                p.effective_timezone(tenant),
                by_person.get(p.id, []),
                schedule=p.effective_schedule(tenant),
                memo=memo,
            ),
        )
        for p in people
    ]


async def summaries(
    tenant: Tenant, first: date, last: date, *, store: AttendanceStore, employees: EmployeeRepository
) -> list[PersonDays]:
    people = await employees.list(tenant.id)
    start, end = local_range(tenant, first, last)
    return days_of(tenant, people, first, last, await store.events(tenant.id, start, end))


def correction_id(tenant_id: str, what: str) -> str:
    """A correction's event id derived from what it answers (``supersedes:<event>``, ``request:<id>``):
    two writers of the same correction (a double click, two deciders at once, a retry) write one
    event, because the second insert meets the first one's id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"attendance:{tenant_id}:{what}").hex


async def correct_event(
    *,
    tenant: Tenant,
    employee: Employee,
    direction: Direction | None,
    at: datetime | None,
    supersedes: str | None,
    void: bool,
    reason: str,
    recorded_by: str,
    store: AttendanceStore,
    clock: Clock,
    answers: str | None = None,
) -> AttendanceEvent:
    """A correction is a new event: it adds a missing one, or replaces (or voids) an earlier one.

    An event is superseded at most once, so a superseding correction's id comes from the event it
    supersedes; ``answers`` names what else a correction answers (a request, a review item) and
    gives its id. Of two concurrent writers one event is stored; the other gets ``ServiceError``
    unless it wrote the very same correction (then it gets that event)."""
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
    if supersedes:
        event_id = correction_id(tenant.id, f"supersedes:{supersedes}")
    else:
        event_id = correction_id(tenant.id, answers) if answers else new_id()
    event = AttendanceEvent(
        id=event_id,
        tenant_id=tenant.id,
        employee_id=employee.id,
        direction=direction,
        at=at.astimezone(UTC),
        timezone=employee.effective_timezone(tenant),
        channel="correction",
        job_id=None,
        decision="correction",
        supersedes=supersedes,
        void=void,
        reason=reason.strip(),
        recorded_by=recorded_by,
    )
    rows = correction_rows(event, employee, clock.now())
    for _ in range(5):
        last_seq, _ = await store.day(tenant.id, employee.id, event.at, event.at)
        try:
            await store.append(event, last_seq + 1, rows, None)
        except SequenceTaken:
            continue
        stored = await store.event(tenant.id, event.id)
        if stored is None or (stored.recorded_by, stored.void, stored.reason, stored.supersedes) != (
            event.recorded_by,
            event.void,
            event.reason,
            event.supersedes,
        ):
            raise ServiceError("That check-in was corrected by someone else a moment ago. Reload to see it.")
        return stored
    raise ServiceError("the employee's attendance is changing right now; try the correction again")
