"""What a day is: every status word, half days, a night shift, a DST day, weekly overtime."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from attendance.core.domain.checkins import AttendanceEvent, Direction, summarise_day, summarise_days
from attendance.core.domain.model import DomainError, WorkSchedule
from attendance.core.domain.workdays import (
    DayContext,
    DayStatus,
    HalfDay,
    TimeOff,
    TimeOffKind,
    TimeOffStatus,
    day_status,
    scheduled_time,
    weekly_overtime,
    workday_of,
)

BERLIN = "Europe/Berlin"
ZONE = ZoneInfo(BERLIN)
WED = date(2026, 12, 9)
OFFICE = WorkSchedule(start=time(9, 0), end=time(17, 0), grace_minutes=5)
NIGHT = WorkSchedule(start=time(22, 0), end=time(6, 0), weekdays=frozenset(range(7)), grace_minutes=5)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE)


def off(first: date, last: date | None = None, *, half: HalfDay | None = None, status: str = "approved") -> TimeOff:
    return TimeOff(
        id="t1",
        tenant_id="t",
        employee_id="e",
        first=first,
        last=last or first,
        kind=TimeOffKind.VACATION,
        status=TimeOffStatus(status),
        requested_by="e",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        half_day=half,
    )


def event(at: datetime, direction: Direction, n: int) -> AttendanceEvent:
    return AttendanceEvent(
        id=f"ev{n}",
        tenant_id="t",
        employee_id="e",
        direction=direction,
        at=at.astimezone(UTC),
        timezone=BERLIN,
        channel="test",
        job_id=None,
    )


def ctx(**kw: object) -> DayContext:
    return DayContext(schedule=kw.pop("schedule", OFFICE), timezone=BERLIN, **kw)  # type: ignore[arg-type]


EVENING = local(WED, 20)


def test_every_status_word() -> None:
    assert day_status(WED, local(WED, 9, 3), ctx(), EVENING).status is DayStatus.PRESENT
    late = day_status(WED, local(WED, 9, 40), ctx(), EVENING)
    assert late.status is DayStatus.LATE and late.late_minutes == 40
    assert day_status(WED, None, ctx(), EVENING).status is DayStatus.ABSENT
    holiday = day_status(WED, None, ctx(holiday="Christmas Day"), EVENING)
    assert holiday.status is DayStatus.HOLIDAY and holiday.holiday_name == "Christmas Day"
    leave = day_status(WED, None, ctx(time_off=off(WED, WED + timedelta(days=2))), EVENING)
    assert leave.status is DayStatus.TIME_OFF and leave.time_off_kind is TimeOffKind.VACATION
    saturday = WED + timedelta(days=3)
    assert day_status(saturday, None, ctx(), local(saturday, 20)).status is DayStatus.NOT_SCHEDULED
    assert day_status(WED, local(WED, 9), ctx(inactive=True), EVENING).status is DayStatus.INACTIVE
    assert sorted(s.value for s in DayStatus) == sorted(
        ["present", "absent", "late", "holiday", "time_off", "not_scheduled", "inactive"]
    )


def test_absent_only_once_the_start_and_grace_have_passed() -> None:
    assert day_status(WED, None, ctx(), local(WED, 9, 4)).status is None  # not started yet
    assert day_status(WED, None, ctx(), local(WED, 9, 6)).status is DayStatus.ABSENT


def test_time_off_not_approved_counts_for_nothing_and_work_on_a_day_off_is_present() -> None:
    assert day_status(WED, None, ctx(time_off=off(WED, status="requested")), EVENING).status is DayStatus.ABSENT
    assert day_status(WED, None, ctx(time_off=off(WED, status="rejected")), EVENING).status is DayStatus.ABSENT
    worked = day_status(WED, local(WED, 11), ctx(holiday="Christmas Day"), EVENING)
    assert worked.status is DayStatus.PRESENT and worked.late_minutes == 0  # nobody is late on a holiday


def test_half_days_move_the_start_or_end() -> None:
    morning_off = ctx(time_off=off(WED, half=HalfDay.AM))
    assert day_status(WED, local(WED, 13, 2), morning_off, EVENING).status is DayStatus.PRESENT  # starts 13:00
    assert day_status(WED, local(WED, 13, 30), morning_off, EVENING).late_minutes == 30
    assert day_status(WED, None, morning_off, local(WED, 12)).status is None  # not yet: the day starts at 13:00
    assert day_status(WED, None, morning_off, EVENING).status is DayStatus.ABSENT
    afternoon_off = ctx(time_off=off(WED, half=HalfDay.PM))
    assert day_status(WED, local(WED, 9, 1), afternoon_off, EVENING).status is DayStatus.PRESENT
    assert scheduled_time(WED, OFFICE, ZONE, HalfDay.PM) == timedelta(hours=4)
    with pytest.raises(DomainError, match="one day"):
        off(WED, WED + timedelta(days=1), half=HalfDay.AM)
    with pytest.raises(DomainError, match="end on or after"):
        off(WED, WED - timedelta(days=1))


def test_a_night_shift_belongs_to_the_evening_it_starts() -> None:
    assert workday_of(local(WED, 23), NIGHT) == WED
    assert workday_of(local(WED + timedelta(days=1), 5, 50), NIGHT) == WED
    assert workday_of(local(WED + timedelta(days=1), 15), NIGHT) == WED + timedelta(days=1)
    assert workday_of(local(WED, 1), OFFICE) == WED  # an office day ends at midnight
    events = [event(local(WED, 22, 10), Direction.IN, 1), event(local(WED + timedelta(days=1), 6, 5), Direction.OUT, 2)]
    summary = summarise_day("e", WED, BERLIN, events, NIGHT)
    assert summary.worked == timedelta(hours=7, minutes=55) and not summary.missing_check_out
    assert summary.late_by == timedelta(minutes=10)
    days = summarise_days("e", WED, WED + timedelta(days=1), BERLIN, events, schedule=NIGHT)
    assert [d.events for d in days] == [2, 0]  # the morning's check-out is the evening's shift
    late = day_status(WED, summary.first_in, ctx(schedule=NIGHT), local(WED + timedelta(days=1), 12))
    assert late.status is DayStatus.LATE and late.late_minutes == 10
    assert scheduled_time(WED, NIGHT, ZONE) == timedelta(hours=8)


def test_a_dst_night_is_an_hour_longer_and_lateness_counts_real_minutes() -> None:
    autumn = date(2026, 10, 24)  # Berlin's clocks go back in the night to Sunday 25 October
    assert scheduled_time(autumn, NIGHT, ZONE) == timedelta(hours=9)
    spring = date(2026, 3, 28)  # and forward in the night to Sunday 29 March
    assert scheduled_time(spring, NIGHT, ZONE) == timedelta(hours=7)
    sunday = date(2026, 3, 29)
    office_every_day = WorkSchedule(start=time(9, 0), end=time(17, 0), weekdays=frozenset(range(7)))
    verdict = day_status(sunday, local(sunday, 9, 20), ctx(schedule=office_every_day), local(sunday, 20))
    assert verdict.status is DayStatus.LATE and verdict.late_minutes == 20


def test_weekly_overtime_is_counted_per_iso_week() -> None:
    monday = date(2026, 12, 7)
    nine_hours = [(monday + timedelta(days=i), timedelta(hours=9)) for i in range(5)]  # 45 h
    assert weekly_overtime(nine_hours, timedelta(hours=40)) == timedelta(hours=5)
    next_week = [(monday + timedelta(days=7), timedelta(hours=8))]
    assert weekly_overtime(nine_hours + next_week, timedelta(hours=40)) == timedelta(hours=5)
    assert weekly_overtime(next_week, timedelta(hours=40)) == timedelta(0)


def test_a_snoozed_reminder_comes_back_after_the_snooze_and_at_most_three_times() -> None:
    from attendance.core.domain.reminders import ROUNDS, SNOOZE, current_round

    t0 = local(WED, 17, 40)
    assert current_round({}, t0 + timedelta(hours=5)) == 0  # never snoozed: only the first
    assert current_round({0: t0}, t0 + SNOOZE - timedelta(minutes=1)) == 0
    assert current_round({0: t0}, t0 + SNOOZE) == 1
    assert current_round({0: t0, 1: t0 + SNOOZE}, t0 + 2 * SNOOZE) == 2
    every = {n: t0 + n * SNOOZE for n in range(10)}
    assert current_round(every, t0 + timedelta(days=1)) == ROUNDS - 1


def test_a_reminder_key_names_its_person_day_kind_and_round() -> None:
    from attendance.core.domain.reminders import ReminderKind, parse_reminder_key, reminder_key, round_key

    key = reminder_key("t1", "e1", WED, ReminderKind.FORGOT_CHECK_OUT)
    ref = parse_reminder_key(round_key(key, 2))
    assert ref is not None and (ref.tenant_id, ref.recipient_id, ref.day, ref.round) == ("t1", "e1", WED, 2)
    assert ref.kind is ReminderKind.FORGOT_CHECK_OUT and parse_reminder_key(key) == ref.__class__(
        "t1", "e1", WED, ReminderKind.FORGOT_CHECK_OUT, 0
    )
    for bad in ("", "a:b:c", "t1:e1:2026-13-01:forgot_check_out", "t1:e1:2026-12-09:coffee", f"{key}#x"):
        assert parse_reminder_key(bad) is None, bad


def test_left_reads_a_time_of_today_in_the_persons_zone() -> None:
    from attendance.core.errors import ServiceError
    from attendance.services.check_out import parse_left

    now = local(WED, 18, 0).astimezone(UTC)
    assert parse_left((), BERLIN, now) is None and parse_left(("now",), BERLIN, now) is None
    assert parse_left(("17:30",), BERLIN, now) == local(WED, 17, 30)
    assert parse_left(("17",), BERLIN, now) == local(WED, 17, 0)
    with pytest.raises(ServiceError, match="not a time like 17:30"):
        parse_left(("half past five",), BERLIN, now)
