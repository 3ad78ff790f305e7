"""Direction, duplicates, freshness, day summaries, lateness, time zones and corrections."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import (
    AttendanceEvent,
    CheckInPolicy,
    Direction,
    Requested,
    current,
    decide_direction,
    duplicate_of,
    is_stale,
    on_local_day,
    summarise_day,
)
from attendance.core.domain.model import WorkSchedule

BERLIN = "Europe/Berlin"
POLICY = CheckInPolicy()
SCHEDULE = WorkSchedule(start=time(9, 0), end=time(17, 0), grace_minutes=5)


def at(day: date, hh: int, mm: int, tz: str = BERLIN) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def ev(n: int, direction: Direction, when: datetime, tz: str = BERLIN, **kw: object) -> AttendanceEvent:
    return AttendanceEvent(
        id=f"e{n}",
        tenant_id="t",
        employee_id="ada",
        direction=direction,
        at=when,
        timezone=tz,
        channel="slack",
        job_id=f"j{n}",
        **kw,  # type: ignore[arg-type]
    )


MONDAY = date(2026, 11, 23)


def test_direction_auto_alternates_within_the_local_day() -> None:
    assert decide_direction(Requested.AUTO, []) is Direction.IN
    checked_in = [ev(1, Direction.IN, at(MONDAY, 9, 0))]
    assert decide_direction(Requested.AUTO, checked_in) is Direction.OUT
    back = [*checked_in, ev(2, Direction.OUT, at(MONDAY, 12, 0))]
    assert decide_direction(Requested.AUTO, back) is Direction.IN


def test_the_word_given_wins() -> None:
    checked_in = [ev(1, Direction.IN, at(MONDAY, 9, 0))]
    assert decide_direction(Requested.IN, checked_in) is Direction.IN
    assert decide_direction(Requested.OUT, []) is Direction.OUT


def test_local_day_not_utc_day() -> None:
    # 00:30 in Berlin on Tuesday is still Monday in UTC: it belongs to Tuesday for the person
    late_night = ev(1, Direction.IN, at(MONDAY + timedelta(days=1), 0, 30))
    assert late_night.at.date() == MONDAY
    assert on_local_day([late_night], MONDAY) == []
    assert on_local_day([late_night], MONDAY + timedelta(days=1)) == [late_night]
    # yesterday's forgotten check-out does not make today's first selfie a check-out
    assert decide_direction(Requested.AUTO, on_local_day([late_night], MONDAY + timedelta(days=2))) is Direction.IN


def test_duplicate_window() -> None:
    first = ev(1, Direction.IN, at(MONDAY, 9, 2))
    assert duplicate_of(Direction.IN, at(MONDAY, 9, 4), [first], POLICY) == first
    assert duplicate_of(Direction.IN, at(MONDAY, 9, 8), [first], POLICY) is None  # outside 5 min
    assert duplicate_of(Direction.OUT, at(MONDAY, 9, 4), [first], POLICY) is None  # other direction
    assert duplicate_of(Direction.IN, at(MONDAY, 9, 4), [first], CheckInPolicy(duplicate_window_minutes=0)) is None


def test_freshness_of_the_capture_time() -> None:
    now = at(MONDAY, 9, 0)
    assert not is_stale(None, now, BERLIN, POLICY)  # no EXIF: allowed
    assert not is_stale("2026:11:23 08:55:00", now, BERLIN, POLICY)  # 5 min old, local time
    assert is_stale("2026:11:23 08:45:00", now, BERLIN, POLICY)  # 15 min old
    assert is_stale("2026:11:23 07:45:00+00:00", now, BERLIN, POLICY)  # with an offset: 08:45 Berlin
    assert not is_stale("2026:11:23 07:58:00+00:00", now, BERLIN, POLICY)
    assert not is_stale("garbage", now, BERLIN, POLICY)
    assert not is_stale("2026:11:23 08:00:00", now, BERLIN, CheckInPolicy(freshness_minutes=0))


def test_day_summary_with_a_lunch_break_and_lateness() -> None:
    events = [
        ev(1, Direction.IN, at(MONDAY, 9, 12)),
        ev(2, Direction.OUT, at(MONDAY, 12, 30)),
        ev(3, Direction.IN, at(MONDAY, 13, 15)),
        ev(4, Direction.OUT, at(MONDAY, 17, 45)),
    ]
    s = summarise_day("ada", MONDAY, BERLIN, events, SCHEDULE)
    assert s.first_in == at(MONDAY, 9, 12) and s.last_out == at(MONDAY, 17, 45)
    assert s.worked == timedelta(hours=3, minutes=18) + timedelta(hours=4, minutes=30)
    assert s.worked_minutes == 468
    assert s.breaks == (timedelta(minutes=45),)
    assert s.late_by == timedelta(minutes=12)
    assert not s.missing_check_out


def test_within_grace_is_not_late_and_weekends_never_are() -> None:
    on_time = summarise_day("ada", MONDAY, BERLIN, [ev(1, Direction.IN, at(MONDAY, 9, 5))], SCHEDULE)
    assert on_time.late_by is None
    assert on_time.missing_check_out
    saturday = MONDAY + timedelta(days=5)
    weekend = summarise_day("ada", saturday, BERLIN, [ev(1, Direction.IN, at(saturday, 11, 0))], SCHEDULE)
    assert weekend.late_by is None


def test_a_day_that_crosses_a_dst_change() -> None:
    # 2026-10-25: Berlin leaves summer time at 03:00 -> 02:00; the day has 25 hours
    dst_day = date(2026, 10, 25)
    start = datetime(2026, 10, 25, 0, 30, tzinfo=ZoneInfo(BERLIN))  # CEST, UTC+2
    end = datetime(2026, 10, 25, 8, 30, tzinfo=ZoneInfo(BERLIN))  # CET, UTC+1
    events = [ev(1, Direction.IN, start.astimezone(UTC)), ev(2, Direction.OUT, end.astimezone(UTC))]
    s = summarise_day("ada", dst_day, BERLIN, events, WorkSchedule(weekdays=frozenset(range(7))))
    assert s.worked == timedelta(hours=9)  # wall clock says 8, the person worked 9
    assert s.late_by is None and not s.missing_check_out


def test_corrections_supersede_and_void() -> None:
    wrong = ev(1, Direction.IN, at(MONDAY, 10, 0))
    fixed = ev(2, Direction.IN, at(MONDAY, 9, 0), supersedes="e1", reason="forgot to check in")
    out = ev(3, Direction.OUT, at(MONDAY, 17, 0))
    mistaken = ev(4, Direction.IN, at(MONDAY, 17, 1))
    voided = ev(5, Direction.IN, at(MONDAY, 17, 1), supersedes="e4", void=True, reason="not me")
    events = [wrong, fixed, out, mistaken, voided]
    assert [e.id for e in current(events)] == ["e2", "e3"]
    s = summarise_day("ada", MONDAY, BERLIN, events, SCHEDULE)
    assert s.worked == timedelta(hours=8) and s.late_by is None and not s.missing_check_out


def test_stray_check_out_and_double_check_in() -> None:
    events = [
        ev(1, Direction.OUT, at(MONDAY, 8, 0)),  # nothing open: ignored for worked time
        ev(2, Direction.IN, at(MONDAY, 9, 0)),
        ev(3, Direction.IN, at(MONDAY, 9, 30)),  # already in: the first one counts
        ev(4, Direction.OUT, at(MONDAY, 12, 0)),
    ]
    s = summarise_day("ada", MONDAY, BERLIN, events, SCHEDULE)
    assert s.worked == timedelta(hours=3) and s.first_in == at(MONDAY, 9, 0)


def test_a_shift_checked_out_after_midnight_closes_on_the_day_it_began() -> None:
    """Checked in at 14:00, out at 00:30 (the forgot-to-check-out reminder's button, ten hours
    on): one 10.5-hour shift on Monday, nothing on Tuesday. A check-out too long after the
    check-in (the next afternoon, or the next morning after an evening check-in) stays on its
    own day: Monday's check-out is missing."""
    from attendance.core.domain.checkins import OVERNIGHT, summarise_days

    tuesday = MONDAY + timedelta(days=1)
    late = [ev(1, Direction.IN, at(MONDAY, 14, 0)), ev(2, Direction.OUT, at(tuesday, 0, 30))]
    monday, next_day = summarise_days("ada", MONDAY, tuesday, BERLIN, late, schedule=SCHEDULE)
    assert monday.worked == timedelta(hours=10, minutes=30) and not monday.missing_check_out
    assert monday.last_out == at(tuesday, 0, 30) and (next_day.events, next_day.last_out) == (0, None)
    assert summarise_day("ada", MONDAY, BERLIN, late, SCHEDULE) == monday  # one day at a time agrees
    assert summarise_day("ada", tuesday, BERLIN, late, SCHEDULE) == next_day
    evening = at(MONDAY, 18, 0)
    for out in (at(tuesday, 17, 0), evening + OVERNIGHT + timedelta(minutes=1)):
        events = [ev(1, Direction.IN, evening), ev(2, Direction.OUT, out)]
        monday, next_day = summarise_days("ada", MONDAY, tuesday, BERLIN, events, schedule=SCHEDULE)
        assert monday.missing_check_out and monday.worked == timedelta(0)
        assert next_day.events == 1 and next_day.last_out == out


def test_summarising_many_days_at_once_agrees_with_one_day_at_a_time() -> None:
    import random
    from datetime import UTC, date, datetime, timedelta

    from attendance.core.domain.checkins import AttendanceEvent, Direction, summarise_day, summarise_days
    from attendance.core.domain.model import WorkSchedule

    rng = random.Random(7)
    events: list[AttendanceEvent] = []
    at = datetime(2026, 11, 1, 6, tzinfo=UTC)
    for n in range(300):
        at += timedelta(minutes=rng.randint(20, 600))
        supersedes = rng.choice(events).id if events and rng.random() < 0.1 else None
        events.append(
            AttendanceEvent(
                id=f"e{n}",
                tenant_id="t",
                employee_id="p",
                direction=rng.choice(list(Direction)),
                at=at,
                timezone="America/New_York",
                channel="test",
                job_id=None,
                supersedes=supersedes,
                void=bool(supersedes) and rng.random() < 0.5,
            )
        )
    schedule = WorkSchedule()
    first, last = date(2026, 11, 1), date(2026, 12, 31)
    many = summarise_days("p", first, last, "America/New_York", events, schedule=schedule)
    one = [
        summarise_day("p", first + timedelta(days=i), "America/New_York", events, schedule)
        for i in range((last - first).days + 1)
    ]
    assert many == one
    assert sum(d.events for d in many) > 100


def test_a_memo_of_day_summaries_gives_the_same_days_and_is_used_again() -> None:
    from datetime import UTC, date, datetime, timedelta

    from attendance.core.domain.checkins import AttendanceEvent, Direction, summarise_days
    from attendance.core.domain.model import WorkSchedule

    start = datetime(2026, 11, 2, 7, tzinfo=UTC)
    events = [
        AttendanceEvent(
            id=f"e{n}",
            tenant_id="t",
            employee_id="p",
            direction=Direction.IN if n % 2 == 0 else Direction.OUT,
            at=start + timedelta(days=n // 2, hours=9 * (n % 2)),
            timezone="UTC",
            channel="test",
            job_id=None,
        )
        for n in range(20)
    ]
    memo: dict[object, object] = {}
    first, last = date(2026, 11, 1), date(2026, 11, 30)
    plain = summarise_days("p", first, last, "UTC", events, schedule=WorkSchedule())
    assert summarise_days("p", first, last, "UTC", events, schedule=WorkSchedule(), memo=memo) == plain  # type: ignore[arg-type]
    assert len(memo) == 30
    corrected = [
        *events,
        AttendanceEvent(
            id="fix",
            tenant_id="t",
            employee_id="p",
            direction=Direction.OUT,
            at=start + timedelta(hours=10),
            timezone="UTC",
            channel="correction",
            job_id=None,
            supersedes="e1",
        ),
    ]
    again = summarise_days("p", first, last, "UTC", corrected, schedule=WorkSchedule(), memo=memo)  # type: ignore[arg-type]
    assert len(memo) == 31  # only the corrected day was summarised again
    assert again[1].worked == timedelta(hours=10) and plain[1].worked == timedelta(hours=9)
