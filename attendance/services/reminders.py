"""Reminders and digests in chat: what is due at a moment (``due``, also the admin's preview),
and sending each once (``send_due``, run by the scheduler). The rules are the domain's
(``core.domain.reminders``); the day's status is the one every report uses (``workdays``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import AttendanceEvent, summarise_day, summarise_days
from attendance.core.domain.model import Employee, Role, Tenant
from attendance.core.domain.reminders import (
    ROUNDS,
    Reminder,
    ReminderKind,
    current_round,
    digest_due,
    forgot_check_out_due,
    not_checked_in_due,
    reminder_key,
    round_key,
    snoozed_key,
)
from attendance.core.domain.workdays import DayStatus, day_status, workday_of
from attendance.core.ports import (
    AttendanceStore,
    ChatButton,
    ChatMessages,
    Clock,
    EmployeeRepository,
    HolidayCalendar,
    SentLog,
    TenantRepository,
    TimeOffRepository,
)
from attendance.services.reports import events_in
from attendance.services.workforce import ContextOf, day_contexts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderDeps:
    tenants: TenantRepository
    employees: EmployeeRepository
    store: AttendanceStore
    time_off: TimeOffRepository
    holidays: HolidayCalendar
    sent: SentLog
    messages: ChatMessages
    clock: Clock


def _hm(at: datetime | None, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M") if at else "?"


async def due(tenant: Tenant, now: datetime, *, deps: ReminderDeps) -> list[Reminder]:
    """Every reminder and digest due for the tenant at ``now``, sent or not."""
    policy = tenant.reminders
    if not policy.enabled:
        return []
    staff = list(await deps.employees.list(tenant.id))
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    first, last = today - timedelta(days=8), today + timedelta(days=1)  # every zone's today, last week
    events = await events_in(tenant, first, last, store=deps.store)
    context = await day_contexts(tenant, staff, first, last, time_off=deps.time_off, holidays=deps.holidays)
    mine: dict[str, list[AttendanceEvent]] = {}
    for e in events:
        mine.setdefault(e.employee_id, []).append(e)
    out: list[Reminder] = []
    for person in staff:
        if not person.reminders:
            continue
        out += _personal(tenant, person, mine.get(person.id, []), context, now)
    managers = {p.manager_id for p in staff if p.manager_id}
    for manager in (p for p in staff if p.id in managers and p.reminders):
        team = [p for p in staff if p.manager_id == manager.id]
        out += _digests(tenant, manager, team=team, events=mine, context=context, now=now)
    return await _snoozed_rounds(out, now, deps=deps)


async def _snoozed_rounds(found: list[Reminder], now: datetime, *, deps: ReminderDeps) -> list[Reminder]:
    """A "forgot to check out" answered with *I'm still working* comes again ``SNOOZE`` later
    (as a new round, with a key of its own), at most ``ROUNDS`` times a day."""
    forgot = [r for r in found if r.kind is ReminderKind.FORGOT_CHECK_OUT]
    if not forgot:
        return found
    keys = {r.key: [snoozed_key(round_key(r.key, n)) for n in range(ROUNDS)] for r in forgot}
    snoozed = await deps.sent.claimed([k for ks in keys.values() for k in ks])
    out = []
    for r in found:
        if r.kind is not ReminderKind.FORGOT_CHECK_OUT:
            out.append(r)
            continue
        at = {n: snoozed[k] for n, k in enumerate(keys[r.key]) if k in snoozed}
        out.append(replace(r, key=round_key(r.key, current_round(at, now))))
    return out


def buttons_of(r: Reminder) -> tuple[ChatButton, ...]:
    """*Check out now* and *I'm still working* under a "forgot to check out" (the key as value)."""
    if r.kind is not ReminderKind.FORGOT_CHECK_OUT:
        return ()
    return (
        ChatButton("Check out now", "reminder_checkout", r.key, "primary"),
        ChatButton("I'm still working", "reminder_snooze", r.key),
    )


def _personal(
    tenant: Tenant, person: Employee, events: list[AttendanceEvent], context: ContextOf, now: datetime
) -> list[Reminder]:
    zone, schedule = person.effective_timezone(tenant), person.effective_schedule(tenant)
    day = workday_of(now.astimezone(ZoneInfo(zone)), schedule)
    ctx = context(person, day)
    summary = summarise_day(person.id, day, zone, events, schedule)
    policy = tenant.reminders
    found = []
    if forgot_check_out_due(summary, ctx, policy, now):
        since = summary.intervals[-1][0] if summary.intervals else summary.first_in
        text = (
            f"You are still checked in since {_hm(since, zone)}. Check out now, or tell me you are "
            "still working. Left earlier? Write left and the time, e.g. left 17:30 "
            "(in Slack: /attendance left 17:30)."
        )
        found.append(_reminder(tenant, person, day, ReminderKind.FORGOT_CHECK_OUT, text))
    verdict = day_status(day, summary.first_in, ctx, now)
    if not_checked_in_due(day, verdict, ctx, policy, now):
        text = "You have not checked in today. Send a selfie when you start, or tell your manager if you are off."
        found.append(_reminder(tenant, person, day, ReminderKind.NOT_CHECKED_IN, text))
    return found


def _digests(
    tenant: Tenant,
    manager: Employee,
    *,
    team: Sequence[Employee],
    events: dict[str, list[AttendanceEvent]],
    context: ContextOf,
    now: datetime,
) -> list[Reminder]:
    zone = manager.effective_timezone(tenant)
    day = now.astimezone(ZoneInfo(zone)).date()
    if not team or not digest_due(day, context(manager, day), tenant.reminders, now):
        return []
    groups: dict[str, list[str]] = {}
    for p in sorted(team, key=lambda p: p.name.casefold()):
        tz, schedule = p.effective_timezone(tenant), p.effective_schedule(tenant)
        s = summarise_day(p.id, day, tz, events.get(p.id, []), schedule)
        v = day_status(day, s.first_in, context(p, day), now)
        if v.status is DayStatus.INACTIVE:
            continue
        label = {
            DayStatus.PRESENT: "in",
            DayStatus.LATE: "late",
            DayStatus.ABSENT: "absent",
            DayStatus.HOLIDAY: "on holiday",
            DayStatus.TIME_OFF: "on leave",
            DayStatus.NOT_SCHEDULED: "not scheduled",
            None: "not started yet",
        }[v.status]
        detail = {
            "in": f" {_hm(s.first_in, tz)}",
            "late": f" {_hm(s.first_in, tz)}, {v.late_minutes} min late",
            "on leave": f" ({v.time_off_kind.value})" if v.time_off_kind else "",
        }.get(label, "")
        groups.setdefault(label, []).append(f"{p.name}{detail}")
    order = ("in", "late", "absent", "on leave", "on holiday", "not scheduled", "not started yet")
    lines = [f"{label} ({len(groups[label])}): {', '.join(groups[label])}" for label in order if label in groups]
    found = [
        _reminder(
            tenant, manager, day, ReminderKind.MANAGER_DIGEST, f"Your team on {day:%a %d %b}:\n" + "\n".join(lines)
        )
    ]
    if day.weekday() == 0 and tenant.reminders.weekly_digest:
        found.append(_weekly(tenant, manager, team, events, day))
    return found


def _weekly(
    tenant: Tenant, manager: Employee, team: Sequence[Employee], events: dict[str, list[AttendanceEvent]], monday: date
) -> Reminder:
    first, last = monday - timedelta(days=7), monday - timedelta(days=1)
    lines = []
    for p in sorted(team, key=lambda p: p.name.casefold()):
        tz, schedule = p.effective_timezone(tenant), p.effective_schedule(tenant)
        days = summarise_days(p.id, first, last, tz, events.get(p.id, []), schedule=schedule)
        worked = sum(d.worked_minutes for d in days)
        late = sum(1 for d in days if d.late_by)
        lines.append(f"{p.name}: {worked // 60}h{worked % 60:02d}" + (f", late {late} day(s)" if late else ""))
    text = f"Last week ({first:%d %b}–{last:%d %b}):\n" + "\n".join(lines)
    return _reminder(tenant, manager, monday, ReminderKind.WEEKLY_DIGEST, text)


def _reminder(tenant: Tenant, recipient: Employee, day: date, kind: ReminderKind, text: str) -> Reminder:
    key = reminder_key(tenant.id, recipient.id, day, kind)
    return Reminder(key=key, tenant_id=tenant.id, recipient_id=recipient.id, kind=kind, day=day, text=text)


async def send_due(now: datetime, *, deps: ReminderDeps) -> int:
    """Send what is due and not sent yet, each once (its key claimed first; given back if the
    message could not go out, so a later run tries again). Returns how many were sent.

    A reminder that reached nobody (a Teams person who never had the bot, a Slack person not
    linked) is not tried again; the tenant's admins get those names, each at most once a week."""
    sent = 0
    for tenant in await deps.tenants.list():
        reminders = await due(tenant, now, deps=deps)
        if not reminders:
            continue
        people = {p.id: p for p in await deps.employees.list(tenant.id)}
        unreachable: list[Employee] = []
        for r in reminders:
            if not await deps.sent.claim(r.key, now):
                continue
            try:
                reached = await deps.messages.tell(tenant, [people[r.recipient_id]], r.text, buttons_of(r))
            except Exception:
                log.warning("a %s reminder could not be sent; it will be tried again", r.kind.value, exc_info=True)
                await deps.sent.release(r.key)
                continue
            if r.recipient_id in reached:
                sent += 1
            else:
                unreachable.append(people[r.recipient_id])
        if unreachable:
            await _tell_admins_unreachable(tenant, unreachable, list(people.values()), now, deps=deps)
    return sent


async def _tell_admins_unreachable(
    tenant: Tenant, unreachable: list[Employee], staff: list[Employee], now: datetime, *, deps: ReminderDeps
) -> None:
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    monday = today - timedelta(days=today.weekday())
    new = []
    for p in {p.id: p for p in unreachable}.values():
        if await deps.sent.claim(reminder_key(tenant.id, p.id, monday, ReminderKind.UNREACHABLE), now):
            new.append(p)
    admins = [p for p in staff if Role.ADMIN in p.roles and p.active_on(today)]
    if not new or not admins:
        return
    names = ", ".join(sorted(f"{p.name} ({p.email})" for p in new))
    text = (
        f"Reminders could not reach {len(new)} person(s) in chat: {names}. The bot can only message "
        "someone who has it: in Teams, install the app for them (or ask them to write to the bot "
        "once); in Slack, link their account. You are told once a week per person."
    )
    try:
        await deps.messages.tell(tenant, admins, text)
    except Exception:
        log.warning("the admins could not be told about unreachable people", exc_info=True)
