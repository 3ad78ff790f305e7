"""The one read side: what the dashboard, the REST API and the chat apps read. The board of a
day, a person's timeline and timesheets, a team's timesheet, charts, and exports. Every function
takes the ``Principal`` (a chat message acts as one too: ``access.chat_principal``) and never
returns anyone it may not see (``Principal.may_see``), nor anything of another tenant. Reading
needs only ``Reads``; the dashboard's deps carry more (reviews, corrections, messages).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from attendance.core.domain.access import Principal
from attendance.core.domain.checkins import AttendanceEvent, DaySummary, current, summarise_days
from attendance.core.domain.faces import FaceModelCard
from attendance.core.domain.model import Employee, Role, Tenant, WorkSchedule
from attendance.core.domain.workdays import DayStatus, DayVerdict, day_status, scheduled_time, weekly_overtime
from attendance.core.errors import NotAllowed, NotFound, ServiceError
from attendance.core.messages import EraseFaceData
from attendance.core.ports import (
    AttendanceStore,
    AuditLog,
    ChatMessages,
    Clock,
    CorrectionRequests,
    EmployeeRepository,
    HolidayCalendar,
    ReviewQueue,
    TenantRepository,
    TimeOffRepository,
)
from attendance.services.enrollment import EnrollmentDeps, erase_face_data
from attendance.services.reports import days_of, events_in, local_range
from attendance.services.workforce import day_contexts, weekly_limit

MAX_RANGE_DAYS = 93


class SummaryMemo(dict[Hashable, DaySummary]):
    """Day summaries already made (see ``summarise_days``), in this process; emptied when full."""

    def __init__(self, max_entries: int = 200_000) -> None:
        super().__init__()
        self.max_entries = max_entries

    def __setitem__(self, key: Hashable, value: DaySummary) -> None:
        if len(self) >= self.max_entries:
            self.clear()
        super().__setitem__(key, value)


class Reads(Protocol):
    """What reading attendance needs (``ReadDeps``, or the dashboard's deps)."""

    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def employees(self) -> EmployeeRepository: ...
    @property
    def store(self) -> AttendanceStore: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def time_off(self) -> TimeOffRepository: ...
    @property
    def holidays(self) -> HolidayCalendar: ...
    @property
    def memo(self) -> SummaryMemo | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDeps:
    tenants: TenantRepository
    employees: EmployeeRepository
    store: AttendanceStore
    audit: AuditLog
    clock: Clock
    time_off: TimeOffRepository
    holidays: HolidayCalendar
    memo: SummaryMemo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardDeps:
    tenants: TenantRepository
    employees: EmployeeRepository
    store: AttendanceStore
    reviews: ReviewQueue
    corrections: CorrectionRequests
    audit: AuditLog
    messages: ChatMessages
    clock: Clock
    model: FaceModelCard  # the face model in use: its calibrated thresholds for the settings page
    time_off: TimeOffRepository
    holidays: HolidayCalendar
    memo: SummaryMemo | None = None


async def tenant_of(principal: Principal, *, deps: Reads) -> Tenant:
    tenant = await deps.tenants.get(principal.tenant_id)
    if tenant is None:
        raise NotFound("Your organisation does not exist any more.")
    return tenant


async def visible(principal: Principal, *, deps: Reads) -> list[Employee]:
    """Everyone the principal may see, by name."""
    people = await deps.employees.list(principal.tenant_id)
    return sorted((p for p in people if principal.may_see(p)), key=lambda p: p.name.casefold())


async def team_view(principal: Principal, *, deps: Reads) -> list[Employee]:
    """The people a team view shows (everyone the principal may see, by name); ``NotAllowed``
    for someone who sees only themself (the chat's ``me`` is for that)."""
    people = await visible(principal, deps=deps)
    if principal.reads_all or Role.MANAGER in principal.roles or len(people) > 1:
        return people
    raise NotAllowed("Only managers and admins can see other people's attendance. Try `me` for your own.")


async def person(principal: Principal, employee_id: str, *, deps: Reads) -> Employee:
    """One person the principal may see; anyone else (or of another tenant) is simply not found."""
    found = await deps.employees.get(principal.tenant_id, employee_id)
    if found is None or not principal.may_see(found):
        raise NotFound("No such person among the people you can see.")
    return found


def check_range(first: date, last: date) -> None:
    if last < first:
        raise ServiceError("The range ends before it starts.")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise ServiceError(f"Ask for at most {MAX_RANGE_DAYS} days at a time.")


def scheduled(tenant: Tenant, day: date, schedule: WorkSchedule | None = None) -> timedelta:
    """The day's working hours (a person's own schedule, else the tenant's), in real time."""
    return scheduled_time(day, schedule or tenant.schedule, ZoneInfo(tenant.timezone))


# ---------------------------------------------------------------- today


@dataclass(frozen=True, slots=True)
class BoardRow:
    employee: Employee
    status: str  # in | out | absent | not yet | off | holiday | time_off
    day: DaySummary
    late_minutes: int
    open_yesterday: bool  # checked in yesterday and never out
    verdict: DayVerdict = field(default_factory=lambda: DayVerdict(None))  # the day's status, holiday, leave


# A board's word for a person not checked in, by their day's status (None: their day has not started).
BOARD_STATE: dict[DayStatus | None, str] = {
    None: "not yet",
    DayStatus.ABSENT: "absent",
    DayStatus.NOT_SCHEDULED: "off",
    DayStatus.HOLIDAY: "holiday",
    DayStatus.TIME_OFF: "time_off",
    DayStatus.INACTIVE: "off",
    DayStatus.PRESENT: "in",
    DayStatus.LATE: "in",
}


@dataclass(slots=True)
class Board:
    day: date
    generated_at: datetime
    teams: list[tuple[str, list[BoardRow]]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def rows(self) -> list[BoardRow]:
        """Everyone on the board, by name."""
        return sorted((r for _, rows in self.teams for r in rows), key=lambda r: r.employee.name.casefold())


async def today_board(principal: Principal, *, deps: Reads, team: str | None = None, day: date | None = None) -> Board:
    """Who is in, out, late, absent and not checked out, per team (grouped by manager), today
    (or on ``day``) in the tenant's time zone."""
    if not principal.reads_all and principal.employee_id is None:
        raise NotAllowed("This page is for people of the organisation. Sign in with your own account.")
    tenant = await tenant_of(principal, deps=deps)
    now = deps.clock.now()
    zone = ZoneInfo(tenant.timezone)
    today = day or now.astimezone(zone).date()
    people = await visible(principal, deps=deps)
    if team:
        people = [p for p in people if p.manager_id == team]
    names = (
        {p.id: p.name for p in await deps.employees.list(tenant.id)}
        if principal.reads_all
        else {p.id: p.name for p in people}
    )
    yesterday = today - timedelta(days=1)
    events = await events_in(tenant, yesterday, today, store=deps.store)
    by_person: dict[str, list[AttendanceEvent]] = {}
    for e in events:
        by_person.setdefault(e.employee_id, []).append(e)
    people = [p for p in people if p.active_on(today)]  # a leaver is on no board
    context = await day_contexts(tenant, people, today, today, time_off=deps.time_off, holidays=deps.holidays)
    board = Board(day=today, generated_at=now)
    groups: dict[str, list[BoardRow]] = {}
    for p in people:
        tz, schedule = p.effective_timezone(tenant), p.effective_schedule(tenant)
        mine = by_person.get(p.id, [])
        prev, d = summarise_days(p.id, yesterday, today, tz, mine, schedule=schedule, memo=deps.memo)
        verdict = day_status(today, d.first_in, context(p, today), now)
        checked_in = "in" if d.missing_check_out else "out"
        status = checked_in if d.first_in is not None else BOARD_STATE[verdict.status]
        row = BoardRow(p, status, d, verdict.late_minutes, prev.missing_check_out, verdict)
        late = verdict.late_minutes
        board.counts[status] += 1
        board.counts["late"] += 1 if late else 0
        board.counts["open_yesterday"] += 1 if row.open_yesterday else 0
        label = f"Team {names.get(p.manager_id, 'unknown')}" if p.manager_id else "No manager"
        groups.setdefault(label, []).append(row)
    board.teams = sorted(groups.items())
    return board


# ---------------------------------------------------------------- a person, a team


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    event: AttendanceEvent
    in_force: bool  # False: replaced or removed by a later correction


@dataclass(frozen=True, slots=True)
class Totals:
    worked: timedelta
    breaks: timedelta
    late_days: int
    late_minutes: int
    overtime: timedelta
    missing_check_outs: int
    days_present: int
    weekly_overtime: timedelta = timedelta(0)
    days_absent: int = 0
    days_off: int = 0  # days of approved time off
    holidays: int = 0


def totals(
    tenant: Tenant, days: Sequence[DaySummary], person: Employee | None = None, statuses: Sequence[DayVerdict] = ()
) -> Totals:
    """``overtime``: each day's time beyond its scheduled hours; ``weekly_overtime``: each week's
    beyond the weekly limit (the person's, else the tenant's), reported apart."""
    overtime = timedelta(0)
    schedule = person.effective_schedule(tenant) if person else tenant.schedule
    planned: dict[int, timedelta] = {}  # by weekday: the same for every Monday
    for d in days:
        if not d.events:
            continue
        wd = d.day.weekday()
        if wd not in planned:
            planned[wd] = scheduled(tenant, d.day, schedule)
        extra = d.worked - planned[wd]
        if extra > timedelta(0):
            overtime += extra
    limit = weekly_limit(tenant, person) if person else timedelta(hours=tenant.weekly_hours)
    counted = Counter(v.status for v in statuses)
    late = [d.late_by for d in days if d.late_by]
    return Totals(
        worked=sum((d.worked for d in days), timedelta()),
        breaks=sum((b for d in days for b in d.breaks), timedelta()),
        late_days=len(late),
        late_minutes=int(sum((x for x in late), timedelta()).total_seconds() // 60),
        overtime=overtime,
        missing_check_outs=sum(1 for d in days if d.missing_check_out),
        days_present=sum(1 for d in days if d.first_in is not None),
        weekly_overtime=weekly_overtime(((d.day, d.worked) for d in days), limit),
        days_absent=counted[DayStatus.ABSENT],
        days_off=counted[DayStatus.TIME_OFF],
        holidays=counted[DayStatus.HOLIDAY],
    )


@dataclass(frozen=True, slots=True)
class PersonView:
    employee: Employee
    timeline: list[TimelineEntry]
    days: list[DaySummary]
    totals: Totals
    statuses: list[DayVerdict] = field(default_factory=list)  # one per day, as ``days``


async def person_view(principal: Principal, employee_id: str, first: date, last: date, *, deps: Reads) -> PersonView:
    check_range(first, last)
    tenant = await tenant_of(principal, deps=deps)
    who = await person(principal, employee_id, deps=deps)
    events = await events_in(tenant, first, last, store=deps.store, employee_id=who.id)
    live = {e.id for e in current(events)}
    timeline = [TimelineEntry(e, e.id in live) for e in sorted(events, key=lambda e: e.at, reverse=True)]
    tz, schedule = who.effective_timezone(tenant), who.effective_schedule(tenant)
    days = summarise_days(who.id, first, last, tz, events, schedule=schedule)
    context = await day_contexts(tenant, [who], first, last, time_off=deps.time_off, holidays=deps.holidays)
    now = deps.clock.now()
    statuses = [day_status(d.day, d.first_in, context(who, d.day), now) for d in days]
    return PersonView(who, timeline, days, totals(tenant, days, who, statuses), statuses)


@dataclass(frozen=True, slots=True)
class SheetRow:
    employee: Employee
    days: list[DaySummary]
    totals: Totals
    statuses: list[DayVerdict] = field(default_factory=list)  # one per day, as ``days``


async def timesheet(
    principal: Principal,
    first: date,
    last: date,
    *,
    deps: Reads,
    team: str | None = None,
    employee_ids: Sequence[str] | None = None,
) -> tuple[Tenant, list[SheetRow]]:
    """Each visible person's days in the range with totals; ``team``: reports of that manager."""
    check_range(first, last)
    tenant = await tenant_of(principal, deps=deps)
    if employee_ids is not None:  # a page of people: no need to sort everyone by name
        wanted = set(employee_ids)
        staff = await deps.employees.list(principal.tenant_id)
        people = sorted((p for p in staff if p.id in wanted and principal.may_see(p)), key=lambda p: p.name.casefold())
    else:
        people = await visible(principal, deps=deps)
    if team:
        people = [p for p in people if team in (p.manager_id, p.id)]
    start, end = local_range(tenant, first, last)
    ids = [p.id for p in people]
    events = await deps.store.events_for(tenant.id, start, end, ids) if ids else []
    context = await day_contexts(tenant, people, first, last, time_off=deps.time_off, holidays=deps.holidays)
    now = deps.clock.now()
    rows = []
    for pd in days_of(tenant, people, first, last, events, memo=deps.memo):
        statuses = [day_status(d.day, d.first_in, context(pd.employee, d.day), now) for d in pd.days]
        rows.append(SheetRow(pd.employee, pd.days, totals(tenant, pd.days, pd.employee, statuses), statuses))
    return tenant, rows


async def erase_face_data_of(
    principal: Principal, employee_id: str, *, deps: DashboardDeps, enrollment: EnrollmentDeps
) -> int:
    """An admin erases a person's face templates (and their consent) on their request; audited."""
    if not principal.is_admin:
        raise NotAllowed("Only an admin can erase face data.")
    who = await person(principal, employee_id, deps=deps)
    erased = await erase_face_data(
        EraseFaceData(tenant_id=principal.tenant_id, employee_id=who.id, requested_by=principal.actor), deps=enrollment
    )
    return erased.templates_deleted


async def record_export(principal: Principal, what: str, *, deps: Reads) -> None:
    await deps.audit.record(
        tenant_id=principal.tenant_id,
        actor=principal.actor,
        action="export.timesheet",
        subject=what,
        at=deps.clock.now(),
    )


# ---------------------------------------------------------------- charts


@dataclass(frozen=True, slots=True)
class Charts:
    arrivals_per_hour: list[tuple[str, int]]  # today
    hours_per_week: list[tuple[str, float]]  # the last 8 weeks, Monday dates
    late_per_day: list[tuple[str, int]]  # the last 30 days


async def charts(principal: Principal, *, deps: Reads, weeks: int = 8) -> Charts:
    tenant = await tenant_of(principal, deps=deps)
    zone = ZoneInfo(tenant.timezone)
    today = deps.clock.now().astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    _, rows = await timesheet(principal, first, today, deps=deps)
    arrivals: Counter[int] = Counter()
    hours: dict[date, float] = {}
    late: Counter[date] = Counter()
    for row in rows:
        for d in row.days:
            week = d.day - timedelta(days=d.day.weekday())
            hours[week] = hours.get(week, 0.0) + d.worked.total_seconds() / 3600
            if d.late_by:
                late[d.day] += 1
            if d.day == today and d.first_in:
                arrivals[d.first_in.astimezone(zone).hour] += 1
    lo = min([*arrivals, tenant.schedule.start.hour - 2])
    hi = max([*arrivals, tenant.schedule.start.hour + 3])
    return Charts(
        arrivals_per_hour=[(f"{h:02d}:00", arrivals[h]) for h in range(max(lo, 0), min(hi, 23) + 1)],
        hours_per_week=[
            (w.strftime("%d %b"), round(hours.get(w, 0.0), 1))
            for w in (first + timedelta(weeks=i) for i in range(weeks))
        ],
        late_per_day=[
            ((today - timedelta(days=i)).strftime("%d %b"), late[today - timedelta(days=i)]) for i in range(29, -1, -1)
        ],
    )


def parse_day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ServiceError(f"{text!r} is not a date like 2026-12-03.") from exc


def week_bounds(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def local_time(at: datetime, tz: str) -> time:
    return at.astimezone(ZoneInfo(tz)).time()
