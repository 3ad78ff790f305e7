"""Check-in and attendance commands: checkin submit, events list|correct, report day|week,
tenants policy."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import AttendanceEvent, DaySummary, Direction, PhotoRef, Requested
from attendance.core.domain.model import DomainError, Employee, ReminderPolicy, Tenant, new_id
from attendance.core.domain.workdays import DayStatus, DayVerdict, day_status
from attendance.core.errors import NotFound, ServiceError
from attendance.entrypoints.bootstrap import Container, build
from attendance.entrypoints.cli.context import for_tenant
from attendance.services.checkin import RequestCheckIn, submit_check_in
from attendance.services.replies import reply_text
from attendance.services.reports import correct_event, events_in, summaries
from attendance.services.tenants import tenant_by_name
from attendance.services.workforce import day_contexts, set_tenant_holidays, set_weekly_hours
from attendance.settings import Settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-24") from exc


def add_commands(sub: Any) -> None:
    checkin = sub.add_parser("checkin", help="submit a check-in photo").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = checkin.add_parser("submit", help="check an employee in or out with a photo file")
    p.add_argument("photo", type=Path)
    p.add_argument("--tenant", required=True)
    p.add_argument("--employee", required=True, metavar="EMAIL")
    p.add_argument("--direction", choices=[r.value for r in Requested], default="auto")
    p.add_argument("--key", help="idempotency key (default: a new one)")
    p.add_argument("--no-wait", action="store_true", help="return once queued")
    p.set_defaults(handler=checkin_submit)

    events = sub.add_parser("events", help="attendance events").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = events.add_parser("list", help="events of a day or a period (local days of the tenant)")
    p.add_argument("--tenant", required=True)
    _period(p)
    p.add_argument("--employee", metavar="EMAIL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=events_list)
    p = events.add_parser("correct", help="add, replace or void an event (a new event, never an edit)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--employee", required=True, metavar="EMAIL")
    p.add_argument("--direction", choices=["in", "out"])
    p.add_argument("--at", help="local time, e.g. '2026-11-24 09:00'")
    p.add_argument("--supersedes", metavar="EVENT_ID")
    p.add_argument("--void", action="store_true")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", default="admin-cli", metavar="WHO")
    p.set_defaults(handler=events_correct)

    report = sub.add_parser("report", help="day and week summaries").add_subparsers(
        dest="action", required=True, metavar="PERIOD"
    )
    p = report.add_parser("day", help="first in, last out, worked, breaks, late, missing check-out")
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", type=_date)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=report_day)
    p = report.add_parser("week", help="the week (Monday to Sunday) containing --date")
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", type=_date)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=report_week)


def add_tenant_policy(tenants: Any) -> None:
    p = tenants.add_parser("policy", help="show or change a tenant's check-in rules")
    p.add_argument("name")
    p.add_argument("--duplicate-window", type=int, metavar="MINUTES")
    p.add_argument("--replay-check", choices=["on", "off"])
    p.add_argument("--freshness", type=int, metavar="MINUTES", help="0 switches the check off")
    p.add_argument(
        "--holidays", metavar="REGION", help="public holidays of COUNTRY[-SUBDIVISION], e.g. DE-BY; none: off"
    )
    p.add_argument("--weekly-hours", type=float, help="weekly limit before weekly overtime (default 40)")
    p.add_argument("--reminders", choices=["on", "off"], help="reminders and digests in chat (default on)")
    p.add_argument("--check-out-after", type=int, metavar="MINUTES", help="after the scheduled end (default 30)")
    p.add_argument("--max-shift", type=float, metavar="HOURS", help="or after this long checked in (default 10)")
    p.add_argument("--check-in-after", type=int, metavar="MINUTES", help="after the start plus grace (default 30)")
    p.add_argument("--digest-at", metavar="HH:MM", help="the managers' daily digest (default 09:45)")
    p.set_defaults(handler=tenants_policy)


def _period(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=_date, help="one day (default today)")
    p.add_argument("--from", dest="first", type=_date)
    p.add_argument("--to", dest="last", type=_date)


def _today(tenant: Tenant) -> date:
    return datetime.now(ZoneInfo(tenant.timezone)).date()


async def _person(c: Container, tenant: Tenant, email: str) -> Employee:
    employee = await c.deps.employees.by_email(tenant.id, email)
    if employee is None:
        raise NotFound(f"no employee with email {email!r} in {tenant.name!r}")
    return employee


async def checkin_submit(args: argparse.Namespace, settings: Settings) -> int:
    data = await asyncio.to_thread(args.photo.read_bytes)
    async with for_tenant(settings, args.tenant) as (c, tenant):
        employee = await _person(c, tenant, args.employee)
        ref = await c.buffer.put(tenant.id, data)
        job, created = await submit_check_in(
            RequestCheckIn(
                tenant_id=tenant.id,
                channel="cli",
                identity_kind="employee",
                identity=employee.id,
                photo=PhotoRef(kind="buffer", ref=ref, size=len(data)),
                idempotency_key=args.key or new_id(),
                requested=Requested(args.direction),
            ),
            jobs=c.checkin.jobs,
            clock=c.checkin.clock,
        )
        if not created:
            await c.buffer.delete(ref)
        print(f"job {job.id} {'queued' if created else 'already submitted with that key'}")
        if args.no_wait:
            return 0
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:
            current = await c.checkin.jobs.get(job.id)
            if current is not None and current.outcome is not None:
                print(reply_text(current.outcome))
                return 0 if current.outcome.kind.value == "accepted" else 4
            await asyncio.sleep(0.2)
    raise ServiceError("no worker decided the check-in within 60 s; is `attendance worker` (or `run`) running?")


def _event_row(e: AttendanceEvent, emails: dict[str, str]) -> dict[str, Any]:
    return {
        "id": e.id,
        "employee": emails.get(e.employee_id, e.employee_id),
        "direction": e.direction.value,
        "local": e.local.isoformat(timespec="seconds"),
        "utc": e.at.isoformat(timespec="seconds"),
        "timezone": e.timezone,
        "channel": e.channel,
        "supersedes": e.supersedes,
        "void": e.void,
        "reason": e.reason,
    }


async def events_list(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        first = args.first or args.date or _today(tenant)
        last = args.last or (args.date or first if not args.first else _today(tenant))
        if last < first:
            raise ServiceError("--to is before --from")
        person = await _person(c, tenant, args.employee) if args.employee else None
        events = await events_in(tenant, first, last, store=c.store, employee_id=person.id if person else None)
        emails = {e.id: e.email for e in await c.deps.employees.list(tenant.id)}
    rows = [_event_row(e, emails) for e in events]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        extra = f" corrects {r['supersedes']}" if r["supersedes"] else ""
        extra += " (void)" if r["void"] else ""
        print(
            f"{r['local'][:16].replace('T', ' ')}  {r['employee']:<28} {r['direction']:<3}  {r['channel']:<10}"
            f" {r['id']}{extra}"
        )
    print(f"{len(rows)} events, {first} to {last}")
    return 0


async def events_correct(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        employee = await _person(c, tenant, args.employee)
        at = None
        if args.at:
            try:
                at = datetime.fromisoformat(args.at).replace(tzinfo=ZoneInfo(employee.effective_timezone(tenant)))
            except ValueError as exc:
                raise ServiceError(f"--at {args.at!r} is not a time like '2026-11-24 09:00'") from exc
        event = await correct_event(
            tenant=tenant,
            employee=employee,
            direction=Direction(args.direction) if args.direction else None,
            at=at,
            supersedes=args.supersedes,
            void=args.void,
            reason=args.reason,
            recorded_by=args.by,
            store=c.store,
            clock=c.checkin.clock,
        )
    print(f"recorded correction {event.id}")
    return 0


def _minutes(td: timedelta | None) -> int | None:
    return None if td is None else int(td.total_seconds() // 60)


def _summary_row(s: DaySummary, v: DayVerdict) -> dict[str, Any]:
    zone = ZoneInfo(s.timezone)
    return {
        "day": s.day.isoformat(),
        "status": v.status.value if v.status else None,  # None: the working day has not started yet
        "holiday_name": v.holiday_name,
        "time_off_kind": v.time_off_kind.value if v.time_off_kind else None,
        "first_in": s.first_in.astimezone(zone).strftime("%H:%M") if s.first_in else None,
        "last_out": s.last_out.astimezone(zone).strftime("%H:%M") if s.last_out else None,
        "worked_minutes": s.worked_minutes,
        "break_minutes": [_minutes(b) for b in s.breaks],
        "late_minutes": v.late_minutes if v.status is DayStatus.LATE else None,
        "missing_check_out": s.missing_check_out,
    }


async def _report(args: argparse.Namespace, settings: Settings, week: bool) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        day = args.date or _today(tenant)
        first = day - timedelta(days=day.weekday()) if week else day
        last = first + timedelta(days=6) if week else day
        people = await summaries(tenant, first, last, store=c.store, employees=c.deps.employees)
        staff = [p.employee for p in people]
        w = c.workforce
        context = await day_contexts(tenant, staff, first, last, time_off=w.time_off, holidays=w.holidays)
        now = c.deps.clock.now()
    rows: list[dict[str, Any]] = [
        {
            "employee": p.employee.email,
            "name": p.employee.name,
            "days": [_summary_row(d, day_status(d.day, d.first_in, context(p.employee, d.day), now)) for d in p.days],
            "worked_minutes": sum(d.worked_minutes for d in p.days),
        }
        for p in people
    ]
    if args.json:
        print(
            json.dumps(
                {"tenant": tenant.name, "from": first.isoformat(), "to": last.isoformat(), "people": rows}, indent=2
            )
        )
        return 0
    print(f"{tenant.name}: {first}" + (f" to {last}" if week else "") + f" ({tenant.timezone})")
    for r in rows:
        if week:
            late = sum(1 for d in r["days"] if d["late_minutes"])
            open_days = sum(1 for d in r["days"] if d["missing_check_out"])
            print(
                f"  {r['employee']:<28} worked {r['worked_minutes'] // 60}h{r['worked_minutes'] % 60:02d}"
                f"  late {late} days  missing check-out {open_days} days"
            )
            continue
        d = r["days"][0]
        why = d["holiday_name"] or d["time_off_kind"]
        said = (d["status"] or "not started yet") + (f" ({why})" if why else "")
        state = said if d["first_in"] is None else f"in {d['first_in']} out {d['last_out'] or '-'}"
        flags = (f" late {d['late_minutes']} min" if d["late_minutes"] else "") + (
            " no check-out" if d["missing_check_out"] else ""
        )
        print(
            f"  {r['employee']:<28} {state:<20} worked {d['worked_minutes'] // 60}h{d['worked_minutes'] % 60:02d}"
            f"{flags}"
        )
    return 0


async def report_day(args: argparse.Namespace, settings: Settings) -> int:
    return await _report(args, settings, week=False)


async def report_week(args: argparse.Namespace, settings: Settings) -> int:
    return await _report(args, settings, week=True)


async def _reminders(args: argparse.Namespace, tenant: Tenant, c: Container) -> ReminderPolicy:
    changes: dict[str, Any] = {}
    if args.reminders is not None:
        changes["enabled"] = args.reminders == "on"
    for name in ("check_out_after", "max_shift", "check_in_after"):
        value = getattr(args, name)
        if value is not None:
            changes[{"max_shift": "max_shift_hours"}.get(name, f"{name}_minutes")] = value
    if args.digest_at is not None:
        try:
            changes["digest_at"] = time.fromisoformat(args.digest_at)
        except ValueError as exc:
            raise ServiceError(f"--digest-at {args.digest_at!r} is not a time like 09:45") from exc
    if not changes:
        return tenant.reminders
    try:
        policy = dataclasses.replace(tenant.reminders, **changes)
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    await c.deps.tenants.set_reminders(tenant.id, policy)
    return policy


async def tenants_policy(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant = await tenant_by_name(args.name, tenants=c.deps.tenants)
        changes: dict[str, Any] = {}
        if args.duplicate_window is not None:
            changes["duplicate_window_minutes"] = max(0, args.duplicate_window)
        if args.replay_check is not None:
            changes["replay_check"] = args.replay_check == "on"
        if args.freshness is not None:
            changes["freshness_minutes"] = max(0, args.freshness)
        policy = dataclasses.replace(tenant.policy, **changes)
        if changes:
            await c.deps.tenants.set_policy(tenant.id, policy)
        holidays, weekly = tenant.holidays, tenant.weekly_hours
        if args.holidays is not None:
            holidays = await set_tenant_holidays(tenant, args.holidays, by="admin-cli", deps=c.workforce)
        if args.weekly_hours is not None:
            weekly = await set_weekly_hours(tenant, args.weekly_hours, by="admin-cli", deps=c.workforce)
        reminders = await _reminders(args, tenant, c)
    shown = {**dataclasses.asdict(reminders), "digest_at": reminders.digest_at.strftime("%H:%M")}
    print(
        json.dumps(
            {**dataclasses.asdict(policy), "holidays": holidays, "weekly_hours": weekly, "reminders": shown}, indent=2
        )
    )
    return 0
