"""`attendance timeoff ...` and `attendance employees schedule|deactivate|reactivate`: the working
day's rules from the command line (``services.workforce``)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from attendance.core.domain.model import Employee, Tenant
from attendance.core.errors import NotFound, ServiceError
from attendance.entrypoints.bootstrap import Container
from attendance.entrypoints.cli.context import for_tenant
from attendance.services import workforce
from attendance.settings import Settings

BY = "admin-cli"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-24") from exc


def add_commands(sub: Any) -> None:
    timeoff = sub.add_parser("timeoff", help="time off: add (approved), list, remove").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = timeoff.add_parser("add", help="record approved time off for a person")
    p.add_argument("--tenant", required=True)
    p.add_argument("--employee", required=True, metavar="EMAIL")
    p.add_argument("--from", dest="first", type=_date, required=True)
    p.add_argument("--to", dest="last", type=_date, help="last day (default: --from)")
    p.add_argument("--kind", choices=["vacation", "sick", "other"], default="vacation")
    p.add_argument("--half-day", choices=["am", "pm"], help="the morning (am) or the afternoon (pm) off")
    p.add_argument("--note", default="")
    p.set_defaults(handler=timeoff_add)
    p = timeoff.add_parser("list", help="a tenant's time off in a period (every status)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--employee", metavar="EMAIL")
    p.add_argument("--from", dest="first", type=_date, required=True)
    p.add_argument("--to", dest="last", type=_date)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=timeoff_list)
    reminders = sub.add_parser("reminders", help="reminders and digests").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = reminders.add_parser("preview", help="what would be sent at a time, without sending anything")
    p.add_argument("--tenant", required=True)
    p.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'", help="the tenant's local time (default now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=reminders_preview)
    p = timeoff.add_parser("remove", help="delete a time off record")
    p.add_argument("id")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=timeoff_remove)


def add_employee_commands(employees: Any) -> None:
    p = employees.add_parser("schedule", help="a person's own working days, hours, weekly limit and holidays")
    p.add_argument("email")
    p.add_argument("--tenant", required=True)
    p.add_argument("--days", help="working days, e.g. mon,tue,wed or mon-fri")
    p.add_argument("--hours", help="working hours, e.g. 09:00-13:00 (22:00-06:00 crosses midnight)")
    p.add_argument("--grace", type=int, metavar="MINUTES", help="late only after this many minutes")
    p.add_argument("--weekly-hours", type=float, help="weekly limit before weekly overtime")
    p.add_argument("--holidays", metavar="REGION", help="their own public holidays, e.g. US-CA, or none")
    p.add_argument("--reset", action="store_true", help="back to the tenant's schedule and limit")
    p.add_argument("--reminders", choices=["on", "off"], help="off: this person gets no reminder or digest")
    p.set_defaults(handler=employees_schedule)
    p = employees.add_parser("deactivate", help="the person left: off every board and reminder, face data erased")
    p.add_argument("email")
    p.add_argument("--tenant", required=True)
    p.add_argument("--on", type=_date, help="first day they are gone (default today)")
    p.set_defaults(handler=employees_deactivate)
    p = employees.add_parser("reactivate", help="the person is back (they enroll their face again)")
    p.add_argument("email")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=employees_reactivate)


async def _person(c: Container, tenant: Tenant, email: str) -> Employee:
    person = await c.deps.employees.by_email(tenant.id, email.strip().lower())
    if person is None:
        raise NotFound(f"no employee with email {email!r} in {tenant.name!r}")
    return person


async def timeoff_add(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        person = await _person(c, tenant, args.employee)
        t = await workforce.add_time_off(
            tenant,
            person,
            args.first,
            args.last or args.first,
            kind=args.kind,
            half_day=args.half_day,
            note=args.note,
            by=BY,
            approved=True,
            deps=c.workforce,
        )
    half = f" ({t.half_day.value} off)" if t.half_day else ""
    print(f"time off {t.id}: {person.name}, {t.first}..{t.last}{half}, {t.kind.value}, approved")
    return 0


async def timeoff_list(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        people = {p.id: p for p in await c.deps.employees.list(tenant.id)}
        only = [(await _person(c, tenant, args.employee)).id] if args.employee else None
        found = await c.workforce.time_off.overlapping(tenant.id, args.first, args.last or args.first, only)
    rows = [
        {
            "id": t.id,
            "employee": people[t.employee_id].email if t.employee_id in people else t.employee_id,
            "from": t.first.isoformat(),
            "to": t.last.isoformat(),
            "half_day": t.half_day.value if t.half_day else None,
            "kind": t.kind.value,
            "status": t.status.value,
        }
        for t in found
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            half = f" {r['half_day']}" if r["half_day"] else ""
            print(f"{r['id']}\t{r['employee']}\t{r['from']}..{r['to']}{half}\t{r['kind']}\t{r['status']}")
    return 0


async def timeoff_remove(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        await workforce.remove_time_off(tenant, args.id, by=BY, deps=c.workforce)
    print(f"removed time off {args.id}")
    return 0


async def employees_schedule(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        person = await _person(c, tenant, args.email)
        if args.reset or any(x is not None for x in (args.days, args.hours, args.grace, args.weekly_hours)):
            await workforce.set_person_schedule(
                tenant,
                person,
                days=None if args.reset else args.days,
                hours=None if args.reset else args.hours,
                grace=None if args.reset else args.grace,
                weekly_hours=None if args.reset else args.weekly_hours,
                reset=args.reset,
                by=BY,
                deps=c.workforce,
            )
        if args.holidays is not None:
            await workforce.set_person_holidays(tenant, person, args.holidays, by=BY, deps=c.workforce)
        if args.reminders is not None:
            await c.deps.employees.set_reminders(tenant.id, person.id, args.reminders == "on")
        person = await _person(c, tenant, args.email)
    s = person.effective_schedule(tenant)
    days = ",".join(workforce.DAYS[d] for d in sorted(s.weekdays))
    print(
        json.dumps(
            {
                "employee": person.email,
                "own_schedule": person.schedule is not None,
                "days": days,
                "hours": f"{s.start:%H:%M}-{s.end:%H:%M}",
                "grace_minutes": s.grace_minutes,
                "weekly_hours": person.weekly_hours if person.weekly_hours is not None else tenant.weekly_hours,
                "holidays": person.effective_holidays(tenant),
                "reminders": person.reminders,
            },
            indent=2,
        )
    )
    return 0


async def employees_deactivate(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        person = await _person(c, tenant, args.email)
        day, erased = await workforce.deactivate(tenant, person, on=args.on, by=BY, deps=c.workforce, enrollment=c.deps)
    print(f"{person.name} is inactive from {day}; {erased} face template(s) erased; their attendance history stays")
    return 0


async def employees_reactivate(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        person = await _person(c, tenant, args.email)
        await workforce.reactivate(tenant, person, by=BY, deps=c.workforce)
    print(f"{person.name} is active again; they enroll their face again to use selfie check-in")
    return 0


async def reminders_preview(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.entrypoints.bootstrap.apps import reminder_deps
    from attendance.services.reminders import due

    async with for_tenant(settings, args.tenant) as (c, tenant):
        zone = ZoneInfo(tenant.timezone)
        try:
            at = datetime.fromisoformat(args.at).replace(tzinfo=zone) if args.at else c.deps.clock.now()
        except ValueError as exc:
            raise ServiceError(f"--at {args.at!r} is not a time like '2026-12-24 17:45'") from exc
        deps = reminder_deps(c)
        found = await due(tenant, at.astimezone(UTC), deps=deps)
        people = {p.id: p for p in await c.deps.employees.list(tenant.id)}
        chats = await c.deps.identities.of_employees(tenant.id, [r.recipient_id for r in found])
        sent = await deps.sent.claimed([r.key for r in found])
    rows: list[dict[str, Any]] = [
        {
            "person": people[r.recipient_id].email,
            "kind": r.kind.value,
            "channels": sorted({who.platform for who in chats.get(r.recipient_id, [])}),
            "already_sent": r.key in sent,
            "text": r.text,
        }
        for r in found
    ]
    if args.json:
        print(json.dumps({"at": at.astimezone(zone).isoformat(), "reminders": rows}, indent=2))
        return 0
    print(f"{tenant.name} at {at.astimezone(zone):%Y-%m-%d %H:%M} ({tenant.timezone}): {len(rows)} due")
    for r in rows:
        where = ",".join(r["channels"]) or "no chat linked"
        print(f"  {r['person']}  {r['kind']}  [{where}]{'  (sent)' if r['already_sent'] else ''}")
        print("    " + str(r["text"]).replace("\n", "\n    "))
    return 0
