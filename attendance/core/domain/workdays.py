"""What a day is for a person: scheduled or not, a public holiday, time off, still employed. Pure.

Every report, board, export and chat answer gives a day one status (``DayStatus``):

* ``inactive``: the person had left (deactivated) by that day;
* ``present`` / ``late``: they checked in (late: after their start plus grace); a check-in
  counts even on a holiday or a day off;
* ``holiday``: a public holiday of their calendar;
* ``time_off``: approved time off for the whole day;
* ``not_scheduled``: not one of their working days;
* ``absent``: a working day with no check-in, once its start (plus grace) has passed.

A working day whose start has not come yet has no status (``None``): it is neither absent nor
anything else yet. A half day off moves the start to the middle of the working hours (morning
off) or ends the day there (afternoon off). A schedule whose end is before its start crosses
midnight: its shift belongs to the day it starts on (``workday_of``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.model import DomainError, WorkSchedule

MAX_TIME_OFF_DAYS = 366


class DayStatus(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    LATE = "late"
    HOLIDAY = "holiday"
    TIME_OFF = "time_off"
    NOT_SCHEDULED = "not_scheduled"
    INACTIVE = "inactive"


class TimeOffKind(enum.StrEnum):
    VACATION = "vacation"
    SICK = "sick"
    OTHER = "other"


class HalfDay(enum.StrEnum):
    AM = "am"  # the morning off
    PM = "pm"  # the afternoon off


class TimeOffStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeOff:
    """Days off, ``first``..``last`` inclusive; a half day is one day."""

    id: str
    tenant_id: str
    employee_id: str
    first: date
    last: date
    kind: TimeOffKind
    status: TimeOffStatus
    requested_by: str
    created_at: datetime
    half_day: HalfDay | None = None
    note: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise DomainError("time off must end on or after the day it starts")
        if (self.last - self.first).days >= MAX_TIME_OFF_DAYS:
            raise DomainError(f"time off is at most {MAX_TIME_OFF_DAYS} days at once")
        if self.half_day is not None and self.first != self.last:
            raise DomainError("a half day off is one day: give the same day twice")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def covers(self, day: date) -> bool:
        """Approved, and ``day`` is one of its days."""
        return self.status is TimeOffStatus.APPROVED and self.first <= day <= self.last


def crosses_midnight(schedule: WorkSchedule) -> bool:
    return schedule.end <= schedule.start


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def day_boundary(schedule: WorkSchedule) -> time:
    """When one workday ends and the next begins, in local time: midnight, or for a schedule
    crossing midnight the middle of its time off (22:00-06:00: 14:00)."""
    if not crosses_midnight(schedule):
        return time(0, 0)
    gap_start, gap_end = _minutes(schedule.end), _minutes(schedule.start)
    middle = (gap_start + gap_end) // 2
    return time(middle // 60, middle % 60)


def workday_of(local: datetime, schedule: WorkSchedule) -> date:
    """The workday a local moment belongs to (a night shift's morning belongs to the evening before)."""
    boundary = day_boundary(schedule)
    if boundary == time(0, 0) or local.time() >= boundary:
        return local.date()
    return local.date() - timedelta(days=1)


def working_hours(
    day: date, schedule: WorkSchedule, zone: ZoneInfo, half_day: HalfDay | None = None
) -> tuple[datetime, datetime]:
    """The start and end of the working hours of ``day`` (aware, in ``zone``), a half day off taken
    out: the morning off starts the day at its middle, the afternoon off ends it there."""
    start = datetime.combine(day, schedule.start, tzinfo=zone)
    end_day = day + timedelta(days=1) if crosses_midnight(schedule) else day
    end = datetime.combine(end_day, schedule.end, tzinfo=zone)
    if half_day is not None:
        middle = (start.astimezone(UTC) + (end.astimezone(UTC) - start.astimezone(UTC)) / 2).astimezone(zone)
        start, end = (middle, end) if half_day is HalfDay.AM else (start, middle)
    return start, end


def scheduled_time(day: date, schedule: WorkSchedule, zone: ZoneInfo, half_day: HalfDay | None = None) -> timedelta:
    """How long ``day``'s working hours are, in real time (a DST night shift is an hour longer or shorter)."""
    if day.weekday() not in schedule.weekdays:
        return timedelta(0)
    start, end = working_hours(day, schedule, zone, half_day)
    return end.astimezone(UTC) - start.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class DayContext:
    """What a day is for one person, besides their check-ins."""

    schedule: WorkSchedule
    timezone: str
    holiday: str | None = None  # the public holiday's name
    time_off: TimeOff | None = None  # approved, covering the day
    inactive: bool = False


@dataclass(frozen=True, slots=True)
class DayVerdict:
    status: DayStatus | None  # None: a working day whose start has not come yet
    late_minutes: int = 0
    holiday_name: str | None = None
    time_off_kind: TimeOffKind | None = None


def day_status(day: date, first_in: datetime | None, ctx: DayContext, now: datetime) -> DayVerdict:
    """The day's status (see the module's docstring) from its first check-in and its context."""
    if ctx.inactive:
        return DayVerdict(DayStatus.INACTIVE)
    zone = ZoneInfo(ctx.timezone)
    off = ctx.time_off if ctx.time_off is not None and ctx.time_off.covers(day) else None
    half = off.half_day if off is not None else None
    working = day.weekday() in ctx.schedule.weekdays
    if first_in is not None:
        late = 0
        if working and ctx.holiday is None and (off is None or half is not None):
            start, _ = working_hours(day, ctx.schedule, zone, half)
            lateness = first_in.astimezone(UTC) - start.astimezone(UTC)
            if lateness > timedelta(minutes=ctx.schedule.grace_minutes):
                late = int(lateness.total_seconds() // 60)
        return DayVerdict(DayStatus.LATE if late else DayStatus.PRESENT, late_minutes=late)
    if ctx.holiday is not None:
        return DayVerdict(DayStatus.HOLIDAY, holiday_name=ctx.holiday)
    if off is not None and half is None:
        return DayVerdict(DayStatus.TIME_OFF, time_off_kind=off.kind)
    if not working:
        return DayVerdict(DayStatus.NOT_SCHEDULED)
    start, _ = working_hours(day, ctx.schedule, zone, half)
    if now < start + timedelta(minutes=ctx.schedule.grace_minutes):
        return DayVerdict(None, time_off_kind=off.kind if off else None)
    return DayVerdict(DayStatus.ABSENT, time_off_kind=off.kind if off else None)


def weekly_overtime(worked_by_day: Iterable[tuple[date, timedelta]], limit: timedelta) -> timedelta:
    """Hours beyond ``limit`` in each ISO week (Monday to Sunday), added up over the weeks given."""
    weeks: dict[tuple[int, int], timedelta] = {}
    for day, worked in worked_by_day:
        year, week, _ = day.isocalendar()
        weeks[year, week] = weeks.get((year, week), timedelta(0)) + worked
    return sum((max(timedelta(0), total - limit) for total in weeks.values()), timedelta(0))


def covering(time_off: Sequence[TimeOff], day: date) -> TimeOff | None:
    """The approved time off covering ``day``, a whole day before a half one."""
    found = [t for t in time_off if t.covers(day)]
    return min(found, key=lambda t: t.half_day is not None) if found else None
