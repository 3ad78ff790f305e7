"""Check-ins and attendance: the rules, with no I/O.

* direction: the word the person gave, else ``in`` when not checked in on their local day;
* duplicate window: a second check-in in the same direction within minutes is not recorded;
* freshness: a photo whose capture time is older than the window is refused;
* day summaries: first in, last out, worked time, breaks, lateness, missing check-out;
* corrections are new events that supersede earlier ones, never edits.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Hashable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.model import CheckInPolicy, WorkSchedule
from attendance.core.domain.workdays import workday_of

__all__ = ["CheckInPolicy"]


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class Requested(enum.StrEnum):
    IN = "in"
    OUT = "out"
    AUTO = "auto"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class OutcomeKind(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # same direction again within the window: not recorded twice
    RETRY = "retry"
    OTHER_PERSON = "other_person"  # refused and flagged for review
    NOT_RECOGNISED = "not_recognised"
    NOT_ENROLLED = "not_enrolled"
    INACTIVE = "inactive"  # the person has left (deactivated): nothing recorded
    NO_USABLE_FACE = "no_usable_face"  # the pipeline's refusal, with its reason
    REPLAYED_PHOTO = "replayed_photo"
    STALE_PHOTO = "stale_photo"
    FAILED = "failed"  # transient failures exhausted the attempts
    POSE_ASKED = "pose_asked"  # the pose challenge: nothing recorded yet, ``detail`` is the pose asked for
    POSE_WRONG = "pose_wrong"  # the selfie after the challenge does not show that pose (``detail``)


# a check-in after one of these within RETRIED_WITHIN is "retried": it never adapts a template
REFUSED_MATCHES = (
    OutcomeKind.RETRY,
    OutcomeKind.OTHER_PERSON,
    OutcomeKind.NOT_RECOGNISED,
    OutcomeKind.REPLAYED_PHOTO,
    OutcomeKind.STALE_PHOTO,
)
RETRIED_WITHIN = timedelta(minutes=30)


@dataclass(frozen=True, slots=True, kw_only=True)
class AttendanceEvent:
    """Append-only. ``supersedes`` names the event a correction replaces; ``void`` removes it."""

    id: str
    tenant_id: str
    employee_id: str
    direction: Direction
    at: datetime  # aware, UTC
    timezone: str
    channel: str
    job_id: str | None
    decision: str = "accepted"
    distance: float | None = None
    margin: float | None = None
    supersedes: str | None = None
    void: bool = False
    reason: str | None = None
    recorded_by: str | None = None

    @property
    def local(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.timezone))

    @property
    def local_date(self) -> date:
        return self.local.date()


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    kind: OutcomeKind
    direction: Direction | None = None
    at: datetime | None = None  # when recorded (accepted) or of the earlier event (duplicate)
    timezone: str | None = None
    employee_id: str | None = None
    looks_like: str | None = None  # other_person: the colleague
    reason: str | None = None  # no_usable_face: the pipeline's reason code
    detail: str | None = None  # the pipeline's sentence, or what failed
    distance: float | None = None
    margin: float | None = None
    event_id: str | None = None
    name: str | None = None  # the person's name, for the answer


def current(events: Iterable[AttendanceEvent]) -> list[AttendanceEvent]:
    """The events in force: corrections applied, voided ones dropped, in time order."""
    events = list(events)
    replaced = {e.supersedes for e in events if e.supersedes}
    return sorted((e for e in events if e.id not in replaced and not e.void), key=lambda e: e.at)


def on_local_day(events: Iterable[AttendanceEvent], day: date) -> list[AttendanceEvent]:
    return [e for e in current(events) if e.local_date == day]


def decide_direction(requested: Requested, today: Sequence[AttendanceEvent]) -> Direction:
    """The word given wins; otherwise ``in`` unless the person is checked in on their local day."""
    if requested is not Requested.AUTO:
        return Direction(requested.value)
    if today and today[-1].direction is Direction.IN:
        return Direction.OUT
    return Direction.IN


def duplicate_of(
    direction: Direction, now: datetime, today: Sequence[AttendanceEvent], policy: CheckInPolicy
) -> AttendanceEvent | None:
    """The event this check-in repeats: the last one, same direction, within the window."""
    if not today or policy.duplicate_window_minutes <= 0:
        return None
    last = today[-1]
    window = timedelta(minutes=policy.duplicate_window_minutes)
    if last.direction is direction and timedelta(0) <= now - last.at <= window:
        return last
    return None


def capture_time(captured_at: str | None, timezone: str) -> datetime | None:
    """EXIF capture time (``YYYY:MM:DD HH:MM:SS`` with an optional ``+HH:MM`` offset; without one,
    in ``timezone``); None when absent or unreadable (an unreadable tag proves nothing)."""
    if not captured_at:
        return None
    text = captured_at.strip()
    try:
        when = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
        offset = text[19:].strip()
        return datetime.fromisoformat(when.isoformat() + offset) if offset else when.replace(tzinfo=ZoneInfo(timezone))
    except ValueError:
        return None


def is_stale(captured_at: str | None, now: datetime, timezone: str, policy: CheckInPolicy) -> bool:
    """EXIF capture time older than the window. No capture time is allowed (many apps strip
    EXIF); so is a clock a bit ahead."""
    when = capture_time(captured_at, timezone)
    if when is None or policy.freshness_minutes <= 0:
        return False
    return now - when > timedelta(minutes=policy.freshness_minutes)


@dataclass(frozen=True, slots=True, kw_only=True)
class DaySummary:
    employee_id: str
    day: date
    timezone: str
    first_in: datetime | None
    last_out: datetime | None
    worked: timedelta
    breaks: tuple[timedelta, ...]
    late_by: timedelta | None  # None: not late (or not a working day / no check-in)
    missing_check_out: bool
    events: int
    intervals: tuple[tuple[datetime, datetime | None], ...] = field(default=())

    @property
    def worked_minutes(self) -> int:
        return int(self.worked.total_seconds() // 60)


OVERNIGHT = timedelta(hours=14)  # a check-out this soon after a shift's check-in closes it across the day boundary


def _open_since(events: Sequence[AttendanceEvent]) -> datetime | None:
    """When the interval left open at the end of ``events`` (in time order) began, or None."""
    opened: datetime | None = None
    for e in events:
        if e.direction is Direction.IN and opened is None:
            opened = e.at
        elif e.direction is Direction.OUT:
            opened = None
    return opened


def by_workday(
    events: Iterable[AttendanceEvent], zone: ZoneInfo, schedule: WorkSchedule
) -> dict[date, list[AttendanceEvent]]:
    """The events in force grouped by workday (``workdays.workday_of``: a night shift's morning
    belongs to the evening it began), each in time order. A check-out that comes first in its
    workday while the workday before ended with a shift open less than ``OVERNIGHT`` before it
    belongs to that workday: it closes the shift that ran past the day boundary (checked in at
    14:00, out after midnight, as the forgot-to-check-out reminder's button does)."""
    groups: dict[date, list[AttendanceEvent]] = {}
    for e in current(events):
        groups.setdefault(workday_of(e.at.astimezone(zone), schedule), []).append(e)
    for day in sorted(groups):
        todays, before = groups[day], groups.get(day - timedelta(days=1))
        if before and todays and todays[0].direction is Direction.OUT:
            opened = _open_since(before)
            if opened is not None and todays[0].at - opened <= OVERNIGHT:
                before.append(todays.pop(0))
    return groups


def summarise_day(
    employee_id: str,
    day: date,
    timezone: str,
    events: Iterable[AttendanceEvent],
    schedule: WorkSchedule,
) -> DaySummary:
    """Pair the day's events in time order: IN opens an interval, OUT closes it. An OUT with no
    open interval is ignored for worked time; a second IN while open keeps the first. The day's
    events are those of its workday (``by_workday``: a night shift's morning belongs to the
    evening it began, and a shift's check-out soon after the day boundary to the day it began)."""
    todays = by_workday(events, ZoneInfo(timezone), schedule).get(day, [])
    return _summary(employee_id, day, timezone, todays, schedule)


def _summary(
    employee_id: str, day: date, timezone: str, todays: Sequence[AttendanceEvent], schedule: WorkSchedule
) -> DaySummary:
    """``summarise_day`` of the workday's events already grouped (``by_workday``), in time order."""
    zone = ZoneInfo(timezone)
    intervals: list[tuple[datetime, datetime | None]] = []
    opened: datetime | None = None
    for e in todays:
        if e.direction is Direction.IN and opened is None:
            opened = e.at
        elif e.direction is Direction.OUT and opened is not None:
            intervals.append((opened, e.at))
            opened = None
    if opened is not None:
        intervals.append((opened, None))
    worked = sum(((end - start) for start, end in intervals if end is not None), timedelta())
    breaks = tuple(nxt[0] - prev[1] for prev, nxt in itertools.pairwise(intervals) if prev[1] is not None)
    first_in = next((e.at for e in todays if e.direction is Direction.IN), None)
    last_out = next((e.at for e in reversed(todays) if e.direction is Direction.OUT), None)
    late_by = None
    if first_in is not None and day.weekday() in schedule.weekdays:
        start = datetime.combine(day, schedule.start, tzinfo=zone)
        lateness = first_in.astimezone(zone) - start
        if lateness > timedelta(minutes=schedule.grace_minutes):
            late_by = lateness
    return DaySummary(
        employee_id=employee_id,
        day=day,
        timezone=timezone,
        first_in=first_in,
        last_out=last_out,
        worked=worked,
        breaks=breaks,
        late_by=late_by,
        missing_check_out=opened is not None,
        events=len(todays),
        intervals=tuple(intervals),
    )


def summarise_days(
    employee_id: str,
    first: date,
    last: date,
    timezone: str,
    events: Iterable[AttendanceEvent],
    *,
    schedule: WorkSchedule,
    memo: MutableMapping[Hashable, DaySummary] | None = None,
) -> list[DaySummary]:
    """``summarise_day`` for each local day ``first``..``last``, in one pass over the events
    (corrections applied once, then grouped by local day). ``memo``: summaries already made,
    keyed by everything a summary depends on (the person, day, zone, schedule, and the ids of
    the day's events in force), so a day whose events did not change is not summarised again."""
    by_day = by_workday(events, ZoneInfo(timezone), schedule)
    out = []
    day = first
    while day <= last:
        todays = by_day.get(day, [])
        if memo is None:
            out.append(_summary(employee_id, day, timezone, todays, schedule))
        else:
            key = (employee_id, day, timezone, schedule, tuple(e.id for e in todays))
            found = memo.get(key)
            if found is None:
                found = memo[key] = _summary(employee_id, day, timezone, todays, schedule)
            out.append(found)
        day += timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotoRef:
    """Where a job's photo is: ``buffer`` (uploaded to us, kept until the job ends) or ``url``."""

    kind: str
    ref: str
    size: int | None = None  # announced by the channel, checked before downloading


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckInJob:
    id: str
    tenant_id: str
    channel: str  # slack | teams | kiosk | cli | bench ...
    identity_kind: str  # slack | teams | employee | none (no claimed identity: identify)
    identity: str | None
    photo: PhotoRef
    requested: Requested
    received_at: datetime
    idempotency_key: str
    reply_to: str | None = None
    context: dict[str, str] = field(default_factory=dict)  # the channel's address: team, channel, user...
    trace: str | None = None  # W3C traceparent of the request that queued it (tracing on): the worker continues it
    state: JobState = JobState.QUEUED
    attempts: int = 0
    outcome: Outcome | None = None


class ReviewKind(enum.StrEnum):
    OTHER_PERSON = "other_person"  # refused: the selfie looked like a colleague
    NOT_ME = "not_me"  # accepted, then the person said it was not them


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewItem:
    """Something an admin should decide. Approving an ``other_person`` attempt records it for the
    claimed person; approving a ``not_me`` report removes the event (a voiding correction)."""

    id: str
    tenant_id: str
    kind: ReviewKind
    at: datetime
    channel: str
    employee_id: str | None  # the claimed person / the event's person
    looks_like: str | None = None
    event_id: str | None = None
    job_id: str | None = None
    requested: Requested = Requested.AUTO
    attempted_at: datetime | None = None  # when the selfie was sent
    status: str = "open"
    reported_by: str | None = None
