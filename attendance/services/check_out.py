"""Checking out without a selfie, answering a "forgot to check out" reminder: *Check out now*,
*I'm still working* (asked again later) and ``left HH:MM`` for an earlier time. A check-out
is written through the correction path (a new event that names who recorded it and why, sent to
payroll like any other), once per open check-in however often it is asked."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import AttendanceEvent, Direction, summarise_day
from attendance.core.domain.model import Employee, Tenant
from attendance.core.domain.reminders import SNOOZE, ReminderKind, ReminderRef, parse_reminder_key, snoozed_key
from attendance.core.domain.workdays import workday_of
from attendance.core.errors import NotAllowed, ServiceError
from attendance.services.chat import ChatDeps
from attendance.services.reports import correct_event, events_in


async def open_since(tenant: Tenant, person: Employee, now: datetime, *, deps: ChatDeps) -> datetime | None:
    """When the person's open check-in began (today's workday, else yesterday's), or None."""
    zone, schedule = person.effective_timezone(tenant), person.effective_schedule(tenant)
    today = workday_of(now.astimezone(ZoneInfo(zone)), schedule)
    first = today - timedelta(days=1)
    events = await events_in(tenant, first, today + timedelta(days=1), store=deps.store, employee_id=person.id)
    for day in (today, first):
        summary = summarise_day(person.id, day, zone, events, schedule)
        if summary.missing_check_out and summary.intervals:
            return summary.intervals[-1][0]
    return None


async def check_out(
    tenant: Tenant, person: Employee, at: datetime | None, *, reason: str, deps: ChatDeps
) -> AttendanceEvent:
    """A check-out at ``at`` (None: now) closing the person's open check-in."""
    now = deps.enrollment.clock.now()
    since = await open_since(tenant, person, now, deps=deps)
    if since is None:
        raise ServiceError("You are not checked in, so there is nothing to check out of.")
    at = at or now
    zone = ZoneInfo(person.effective_timezone(tenant))
    if at > now and since <= at - timedelta(days=1):  # a night shift: that time yesterday
        at -= timedelta(days=1)
    if at > now:
        raise ServiceError(f"{at.astimezone(zone):%H:%M} is still to come. Give a time that has passed.")
    if at < since:
        raise ServiceError(f"You checked in at {since.astimezone(zone):%H:%M}: the time must be after that.")
    return await correct_event(
        tenant=tenant,
        employee=person,
        direction=Direction.OUT,
        at=at,
        supersedes=None,
        void=False,
        reason=reason,
        recorded_by=person.id,
        store=deps.store,
        clock=deps.enrollment.clock,
        answers=f"check-out:{person.id}:{since.isoformat()}",  # one check-out per open check-in
    )


def parse_left(words: tuple[str, ...], zone: str, now: datetime) -> datetime | None:
    """``left`` (now) or ``left HH:MM`` (today, in the person's zone)."""
    if not words or words[0].lower() == "now":
        return None
    try:
        hm = time.fromisoformat(words[0] if len(words[0]) > 2 else f"{int(words[0]):02d}:00")
    except ValueError:
        raise ServiceError(f"{words[0]!r} is not a time like 17:30.") from None
    return datetime.combine(now.astimezone(ZoneInfo(zone)).date(), hm, tzinfo=ZoneInfo(zone))


def _own_reminder(tenant: Tenant, person: Employee, key: str) -> ReminderRef:
    ref = parse_reminder_key(key)
    if ref is None or ref.kind is not ReminderKind.FORGOT_CHECK_OUT:
        raise ServiceError("That button has expired. To check out, send a selfie or write left 17:30.")
    if (ref.tenant_id, ref.recipient_id) != (tenant.id, person.id):
        raise NotAllowed("That reminder was for someone else.")
    return ref


async def check_out_from_reminder(tenant: Tenant, person: Employee, key: str, *, deps: ChatDeps) -> AttendanceEvent:
    """*Check out now*, for the day the reminder was about (a reminder from an earlier day does not
    close today's check-in)."""
    ref = _own_reminder(tenant, person, key)
    since = await open_since(tenant, person, deps.enrollment.clock.now(), deps=deps)
    if since is not None:
        zone = ZoneInfo(person.effective_timezone(tenant))
        if workday_of(since.astimezone(zone), person.effective_schedule(tenant)) != ref.day:
            raise ServiceError(
                "That reminder was about an earlier day, so I left today's check-in open. "
                "To fix that day, ask for a correction on your page of the dashboard, or ask your manager."
            )
    return await check_out(tenant, person, None, reason="checked out from a reminder in chat", deps=deps)


async def snooze(tenant: Tenant, person: Employee, key: str, *, deps: ChatDeps) -> datetime:
    """*I'm still working*: the reminder comes again ``SNOOZE`` later. Returns when."""
    _own_reminder(tenant, person, key)
    now = deps.enrollment.clock.now()
    sent = deps.workforce.sent
    if not await sent.claim(snoozed_key(key), now):
        now = (await sent.claimed([snoozed_key(key)])).get(snoozed_key(key), now)
    return now + SNOOZE
