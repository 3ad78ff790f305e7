"""Reminders and digests: when each is due, and the key that makes it sent once. Pure.

* forgot to check out: still checked in ``check_out_after_minutes`` after the scheduled end, or
  ``max_shift_hours`` after the check-in, whichever comes first;
* not checked in: an ``absent`` day (``workdays``: a working day, no holiday, no time off, not
  inactive) ``check_in_after_minutes`` after the start plus grace;
* the manager's digest: their team's day at ``digest_at``; on Mondays also last week's totals.

All in the person's (or the manager's) time zone, on their working days only: quiet on days off
and holidays. The key names the tenant, the person, the day and the kind: a second scheduler, a
restart or a redelivery finds it taken and sends nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import DaySummary
from attendance.core.domain.model import ReminderPolicy
from attendance.core.domain.workdays import DayContext, DayStatus, DayVerdict, working_hours


class ReminderKind(enum.StrEnum):
    FORGOT_CHECK_OUT = "forgot_check_out"
    NOT_CHECKED_IN = "not_checked_in"
    MANAGER_DIGEST = "manager_digest"
    WEEKLY_DIGEST = "weekly_digest"
    UNREACHABLE = "unreachable"  # the admins told, once a week, that a person's reminders reach no chat


SNOOZE = timedelta(hours=2)  # "I'm still working": asked again this much later
ROUNDS = 3  # the first "forgot to check out" and at most two more after snoozing


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    key: str  # sent once per key
    tenant_id: str
    recipient_id: str
    kind: ReminderKind
    day: date
    text: str


def reminder_key(tenant_id: str, recipient_id: str, day: date, kind: ReminderKind) -> str:
    return f"{tenant_id}:{recipient_id}:{day.isoformat()}:{kind.value}"


def round_key(key: str, n: int) -> str:
    """The key of the ``n``-th "forgot to check out" of a day (0: the first)."""
    return key if n == 0 else f"{key}#{n}"


def snoozed_key(key: str) -> str:
    """Claimed when the person answers the reminder ``key`` with *I'm still working*."""
    return f"{key}:snoozed"


def current_round(snoozed_at: Mapping[int, datetime], now: datetime) -> int:
    """Which "forgot to check out" is due: the next one once the previous was snoozed ``SNOOZE``
    ago (``snoozed_at``: round -> when it was snoozed), at most ``ROUNDS``."""
    n = 0
    while n + 1 < ROUNDS and n in snoozed_at and now >= snoozed_at[n] + SNOOZE:
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class ReminderRef:
    """What a reminder's key names (its buttons carry the key)."""

    tenant_id: str
    recipient_id: str
    day: date
    kind: ReminderKind
    round: int


def parse_reminder_key(key: str) -> ReminderRef | None:
    """``None`` for anything that is not a reminder key."""
    base, _, n = key.partition("#")
    parts = base.split(":")
    if len(parts) != 4 or not (n == "" or n.isdigit()):
        return None
    tenant_id, recipient_id, day, kind = parts
    try:
        return ReminderRef(tenant_id, recipient_id, date.fromisoformat(day), ReminderKind(kind), int(n or 0))
    except ValueError:
        return None


def quiet(day: date, ctx: DayContext) -> bool:
    """No reminder on a day off, a holiday, time off (a whole day) or once the person has left."""
    off = ctx.time_off is not None and ctx.time_off.covers(day) and ctx.time_off.half_day is None
    return ctx.inactive or ctx.holiday is not None or off or day.weekday() not in ctx.schedule.weekdays


def forgot_check_out_due(summary: DaySummary, ctx: DayContext, policy: ReminderPolicy, now: datetime) -> bool:
    if not summary.missing_check_out or summary.first_in is None or quiet(summary.day, ctx):
        return False
    half = ctx.time_off.half_day if ctx.time_off is not None and ctx.time_off.covers(summary.day) else None
    _, end = working_hours(summary.day, ctx.schedule, ZoneInfo(ctx.timezone), half)
    after_end = end + timedelta(minutes=policy.check_out_after_minutes)
    after_shift = summary.first_in + timedelta(hours=policy.max_shift_hours)
    return now >= min(after_end, after_shift)


def not_checked_in_due(day: date, verdict: DayVerdict, ctx: DayContext, policy: ReminderPolicy, now: datetime) -> bool:
    if verdict.status is not DayStatus.ABSENT or quiet(day, ctx):
        return False
    half = ctx.time_off.half_day if ctx.time_off is not None and ctx.time_off.covers(day) else None
    start, _ = working_hours(day, ctx.schedule, ZoneInfo(ctx.timezone), half)
    return now >= start + timedelta(minutes=ctx.schedule.grace_minutes + policy.check_in_after_minutes)


def digest_due(day: date, ctx: DayContext, policy: ReminderPolicy, now: datetime) -> bool:
    """The manager's own working day has reached ``digest_at`` (in their zone)."""
    if quiet(day, ctx):
        return False
    return now >= datetime.combine(day, policy.digest_at, tzinfo=ZoneInfo(ctx.timezone))
