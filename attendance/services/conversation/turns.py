"""The conversation, decided once for every chat platform: a parsed command or a button press
goes in, an ``Answer`` comes out. The Slack and Teams adapters only parse their requests and
render the answer.

Errors: ``ServiceError`` and ``ValueError`` carry a sentence for the person; the adapters say
it as the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.access import Principal, deciders_of
from attendance.core.domain.checkins import DaySummary, ReviewItem, ReviewKind
from attendance.core.domain.model import Employee, Tenant
from attendance.core.domain.workdays import DayVerdict
from attendance.core.errors import ServiceError
from attendance.core.ports import Clock
from attendance.services import chat, check_out, dashboard, workforce, workforce_requests
from attendance.services.access import require_admin
from attendance.services.conversation.answers import (
    Answer,
    AskToDecide,
    Dialect,
    ExportMonth,
    ReviewShown,
    TellAdmins,
)
from attendance.services.conversation.commands import ChatCommand, parse_day, parse_month
from attendance.services.conversation.lines import board_line, day_line
from attendance.services.exports import month_csv

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


async def _no_mention(words: str) -> Employee | None:
    return None


@dataclass(frozen=True, slots=True)
class Home:
    status: str
    week: tuple[str, ...]
    board: tuple[str, ...] | None
    enrolled: bool


@dataclass(frozen=True, slots=True)
class Asker:
    """Who is asking, and how their platform names other people (a Slack ``<@U…>`` mention):
    ``mentioned`` returns the person a platform-specific mention names, or ``None`` when the
    words are not one (then they are looked up as a name or an email address)."""

    tenant: Tenant
    person: Employee
    mentioned: Callable[[str], Awaitable[Employee | None]] = field(default=_no_mention)

    @property
    def principal(self) -> Principal:
        """The person acting as a ``Principal``: they see and may change what the dashboard
        would let them (``services.dashboard``, ``services.access``)."""
        return chat.chat_principal(self.person)


def help_table(d: Dialect) -> list[tuple[str, str]]:
    """(usage, what it does) for every command."""
    return [
        ("me", "your attendance today and the last 7 days (also `status`)"),
        ("enroll", "set up selfie check-in: read what is stored, agree, then add up to 3 selfies"),
        (d.forget, "erase your face data now"),
        ("today", "managers: who is in, out or not in yet in your team"),
        (f"week [{d.person_hint}]", "managers: a person's week (yours without a name)"),
        ("late [YYYY-MM-DD]", "managers: who was late (today without a date)"),
        ("absent [YYYY-MM-DD]", "managers: who did not check in on a working day"),
        ("export YYYY-MM", f"managers: the month as a CSV file, sent {d.export_to}"),
        ("off YYYY-MM-DD[..YYYY-MM-DD] [vacation|sick|other] [am|pm]", "ask for time off; your manager decides"),
        ("left [HH:MM]", "check out without a selfie when you forgot to (now, or at the time you left)"),
        (f"admin manager {d.manager_usage}", "admins: set who manages whom (`none` for no manager)"),
        ("admin timezone Area/City", "admins: the company's time zone"),
        ("admin schedule 09:00-17:00 [mon-fri] [grace 5]", "admins: the working day"),
        ("admin review", "admins: flagged check-ins, with approve and reject"),
        ("help", "this list"),
    ]


def help_lines(d: Dialect, *, admin_only: bool = False) -> list[str]:
    return [f"{d.cmd(usage)} — {what}" for usage, what in help_table(d) if not admin_only or usage.startswith("admin")]


def help_answer(d: Dialect) -> Answer:
    """``help``: it needs nobody's records, so it is also the answer to people not on the staff list."""
    return Answer(text="What I can do", lines=tuple(help_lines(d)))


def not_connected(d: Dialect) -> str:
    return f"This {d.workspace} is not connected to an attendance account yet. Ask your admin to set it up."


def not_on_staff(d: Dialect, tenant: Tenant) -> str:
    return (
        f"I can't find you on {tenant.name}'s staff list, so I can't record your time. "
        f"Ask your admin to add you with the email address of {d.account}."
    )


def unknown_command(d: Dialect, cmd: ChatCommand) -> str:
    return f"I don't know {d.quote.format(cmd.raw[:40])}. {d.help_hint}"


def review_text(d: Dialect, shown: ReviewShown, escape: Callable[[str], str]) -> str:
    """What an admin reads on a check-in to review; ``escape`` keeps people's names from being
    read as the platform's markup."""
    who = d.strong(escape(shown.who))
    if shown.item.kind is ReviewKind.NOT_ME:
        return (
            f"{d.warning} {who} says the check-in at {shown.when} was not them. "
            f"{d.strong('Approve')} removes it; {d.strong('Reject')} keeps it."
        )
    other = f", but it looked like {d.strong(escape(shown.looks_like))}" if shown.looks_like else ""
    return (
        f"{d.search} A selfie from {who}'s account at {shown.when} was refused{other}. "
        f"{d.strong('Approve')} records the check-in for them; {d.strong('Reject')} leaves it refused."
    )


def _local(at: datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%H:%M}"


class Conversation:
    """Answers commands and buttons for one platform's dialect."""

    def __init__(self, *, chat_deps: chat.ChatDeps, clock: Clock, dialect: Dialect) -> None:
        self._chat, self._clock, self.dialect = chat_deps, clock, dialect

    # ------------------------------------------------------------ commands

    async def command(self, asker: Asker, cmd: ChatCommand) -> Answer:
        """The answer to a command. ``enroll`` is each platform's own flow (Slack's form, Teams'
        consent card), started before the conversation is asked."""
        tenant, person, d, now = asker.tenant, asker.person, self.dialect, self._clock.now()
        match cmd.name:
            case "help":
                return help_answer(d)
            case "me":
                days = await self.own_week(asker)
                lines = [
                    day_line(s, "Today" if i == 0 else s.day.strftime("%a %d %b"), v) for i, (s, v) in enumerate(days)
                ]
                return Answer(text="Your attendance", lines=tuple(lines))
            case "forget-me":
                deleted = await chat.forget_me(tenant, person, deps=self._chat)
                return Answer(
                    text=f"Done: I erased your face data ({deleted} face template{'s' if deleted != 1 else ''}) "
                    "and withdrew your consent. Your past check-in times stay on record for payroll. "
                    f"To use selfie check-in again, type {d.cmd('enroll')}."
                )
            case "today":
                board = await self.board(asker)
                return Answer(
                    text=f"Today, {board.day:%a %d %b}", lines=tuple(board_line(r, d.marks) for r in board.rows())
                )
            case "week":
                if cmd.args:  # someone else's week: for those with a team view
                    await dashboard.team_view(asker.principal, deps=self._chat.reads)
                target = await self.person_named(asker, " ".join(cmd.args)) if cmd.args else person
                if target.id != person.id and not asker.principal.may_see(target):
                    raise chat.NotAllowed(
                        f"You can only see the attendance of people who report to you; {target.name} does not."
                    )
                today = chat.today_of(tenant, target, now)
                monday = today - timedelta(days=today.weekday())
                seen = await dashboard.person_view(asker.principal, target.id, monday, today, deps=self._chat.reads)
                someone, week = seen.employee, seen.days
                lines = [day_line(s, s.day.strftime("%a %d %b"), v) for s, v in zip(week, seen.statuses, strict=True)]
                total = sum(s.worked_minutes for s in week)
                lines.append(d.strong(f"Total: {total // 60}h{total % 60:02d}"))
                return Answer(text=f"{someone.name}, this week", lines=tuple(lines))
            case "late" | "absent":
                day = parse_day(cmd.args, chat.today_of(tenant, None, now))
                rows = (await self.board(asker, day)).rows()
                if cmd.name == "late":
                    lines = [f"{r.employee.name}: {r.late_minutes} min late" for r in rows if r.late_minutes]
                else:
                    lines = [r.employee.name for r in rows if r.status == "absent"]
                title = f"{'Late' if cmd.name == 'late' else 'Absent'} on {day:%a %d %b}"
                return Answer(text=title, lines=tuple(lines))
            case "export":
                year, month = parse_month(cmd.args)
                await dashboard.team_view(asker.principal, deps=self._chat.reads)  # refuse at once if not allowed
                return Answer(
                    text=f"Preparing {year:04d}-{month:02d}; I'll send the CSV {d.export_to} in a moment.",
                    follow_up=ExportMonth(year, month),
                )
            case "off":
                return await self._time_off(asker, cmd)
            case "left":
                at = check_out.parse_left(cmd.args, person.effective_timezone(tenant), now)
                out = await check_out.check_out(tenant, person, at, reason="checked out in chat", deps=self._chat)
                return Answer(text=f"Checked out at {_local(out.at, out.timezone)}. Have a good evening!")
            case "admin":
                return await self._admin(asker, cmd)
        return Answer(text=unknown_command(d, cmd))

    async def _admin(self, asker: Asker, cmd: ChatCommand) -> Answer:
        tenant, d = asker.tenant, self._chat
        sub, args = (cmd.args[0].lower(), cmd.args[1:]) if cmd.args else ("", ())
        principal = asker.principal
        require_admin(principal)
        if sub == "manager" and len(args) == 2:
            target = await self.person_named(asker, args[0])
            manager = None if args[1].lower() == "none" else await self.person_named(asker, args[1])
            await chat.set_manager(tenant, principal, target, manager, deps=d)
            if manager is None:
                return Answer(text=f"{target.name} has no manager now.")
            return Answer(text=f"{target.name} now reports to {manager.name}.")
        if sub == "timezone" and len(args) == 1:
            name = await chat.set_timezone(tenant, principal, args[0], deps=d)
            return Answer(text=f"The company's time zone is now {name}.")
        if sub == "schedule" and args:
            s = await chat.set_schedule(tenant, principal, " ".join(args), deps=d)
            days = ", ".join(WEEKDAYS[i] for i in sorted(s.weekdays))
            return Answer(
                text=f"The working day is now {s.start:%H:%M}–{s.end:%H:%M} on {days}, "
                f"with {s.grace_minutes} minutes' grace."
            )
        if sub == "review":
            items = await chat.review_items(tenant, principal, deps=d)
            if not items:
                return Answer(text=f"Nothing to review. {self.dialect.celebrate}")
            shown = tuple([await self.review_shown(tenant, item) for item in items])
            return Answer(text=f"{len(items)} item(s) to review", reviews=shown)
        return Answer(text="Admin commands", lines=tuple(help_lines(self.dialect, admin_only=True)))

    async def _time_off(self, asker: Asker, cmd: ChatCommand) -> Answer:
        """Ask for time off: the person's manager decides (the admins when they have none)."""
        d = self.dialect
        words = [w.lower() for w in cmd.args]
        if not words:
            return Answer(text=f"Write the days, e.g. {d.cmd('off 2026-12-24..2026-12-31 vacation')}.")
        first, last = workforce.parse_period(words[0])
        kind = next((w for w in words[1:] if w in ("vacation", "sick", "other")), "vacation")
        half = next((w for w in words[1:] if w in ("am", "pm")), None)
        person = asker.person
        w = self._chat.workforce
        t = await workforce.add_time_off(
            asker.tenant, person, first, last, kind=kind, half_day=half, by=person.id, approved=False, deps=w
        )
        deciders = tuple(deciders_of(person, await w.employees.list(asker.tenant.id), first))
        what = workforce_requests.describe(t)
        return Answer(
            text=f"Asked: time off {what}. "
            + ("Your manager will decide." if person.manager_id else "An admin will decide."),
            follow_up=AskToDecide(
                title="Time off to decide",
                text=f"{person.name} asks for time off {what}.",
                approve="time_off_approve",
                reject="time_off_reject",
                value=t.id,
                deciders=deciders,
            ),
        )

    async def person_named(self, asker: Asker, words: str) -> Employee:
        """Someone named in a command: a platform mention, an email address or (part of) a name of
        someone the asker may see."""
        mentioned = await asker.mentioned(words.strip())
        if mentioned is not None:
            return mentioned
        wanted = words.strip().casefold()
        people = await dashboard.visible(asker.principal, deps=self._chat.reads)
        exact = [p for p in people if wanted in (p.email.casefold(), p.name.casefold())]
        found = exact or [p for p in people if wanted in p.name.casefold()]
        if len({p.id for p in found}) == 1:
            return found[0]
        if not found:
            raise ServiceError(f"I can't find {words!r} among the people you can see. Try their email address.")
        names = ", ".join(sorted({p.name for p in found})[:5])
        raise ServiceError(f"{words!r} could be {names}. Write more of the name, or the email address.")

    # ------------------------------------------------------------ reading

    async def own_week(self, asker: Asker) -> list[tuple[DaySummary, DayVerdict]]:
        """The asker's today first, then the 7 days before it (in their time zone)."""
        today = chat.today_of(asker.tenant, asker.person, self._clock.now())
        first = today - timedelta(days=7)
        seen = await dashboard.person_view(asker.principal, asker.person.id, first, today, deps=self._chat.reads)
        return list(reversed(list(zip(seen.days, seen.statuses, strict=True))))

    async def board(self, asker: Asker, day: date | None = None) -> dashboard.Board:
        """The board of the people the asker's team view shows (``NotAllowed`` for those who see
        only themself), today or on ``day``: the dashboard's board."""
        await dashboard.team_view(asker.principal, deps=self._chat.reads)
        return await dashboard.today_board(asker.principal, deps=self._chat.reads, day=day)

    async def home(self, asker: Asker) -> Home:
        """What a chat app's home page shows the asker: where they stand today, their week,
        their team's board (None when they see only themself) and whether they are enrolled."""
        days = await self.own_week(asker)
        today = days[0][0]
        if today.first_in is None:
            status = "You haven't checked in today."
        elif today.missing_check_out:
            status = f"You're checked in since {today.first_in.astimezone(ZoneInfo(today.timezone)):%H:%M}."
        else:
            status = "You're checked out for today."
        week = tuple(day_line(s, "Today" if i == 0 else s.day.strftime("%a %d %b"), v) for i, (s, v) in enumerate(days))
        try:
            board: tuple[str, ...] | None = tuple(
                board_line(r, self.dialect.marks) for r in (await self.board(asker)).rows()
            )
        except chat.NotAllowed:
            board = None
        enrolled = await chat.is_enrolled(asker.tenant, asker.person, deps=self._chat)
        return Home(status, week, board, enrolled)

    # ------------------------------------------------------------ buttons

    async def button(self, asker: Asker, action: str, value: str) -> Answer:
        """The answer to a button on a check-in or a review item (``value``: the event or item id)."""
        tenant, person, d = asker.tenant, asker.person, self._chat
        if action == "undo":
            undone = await chat.undo(tenant, person, value, deps=d)
            local = undone.at.astimezone(ZoneInfo(undone.timezone))
            return Answer(text=f"Undone: your check-{undone.direction.value} at {local:%H:%M} was removed.")
        if action == "not_me":
            item, admins = await chat.report_not_me(tenant, person, value, deps=d)
            return Answer(
                text="Thanks for telling me. Your admins will review this check-in; "
                "until then it stays on record, marked as reported.",
                follow_up=TellAdmins(await self.review_shown(tenant, item), tuple(admins)),
            )
        if action == "reminder_checkout":
            out = await check_out.check_out_from_reminder(tenant, person, value, deps=d)
            return Answer(text=f"Checked out at {_local(out.at, out.timezone)}. Have a good evening!")
        if action == "reminder_snooze":
            again = await check_out.snooze(tenant, person, value, deps=d)
            zone = person.effective_timezone(tenant)
            return Answer(text=f"OK, keep going. I'll ask again around {_local(again, zone)}.")
        if action in ("time_off_approve", "time_off_reject"):
            approve = action == "time_off_approve"
            t, person = await workforce.decide_time_off(asker.principal, value, approve, deps=self._chat.workforce)
            days = f"{t.first:%d %b}" + (f"–{t.last:%d %b}" if t.last != t.first else "")
            if approve:
                return Answer(text=f"Approved: {person.name}'s time off {days} ({t.kind.value}). Payroll is told.")
            return Answer(text=f"Rejected: {person.name}'s time off {days} was not approved.")
        if action in ("review_approve", "review_reject"):
            approve = action == "review_approve"
            _, event = await chat.decide_review(tenant, asker.principal, value, approve, deps=d)
            if not approve:
                return Answer(text="Rejected: nothing was changed.")
            if event is None:
                return Answer(text="Approved; there was nothing left to change.")
            done = "the check-in was removed" if event.void else f"check-{event.direction.value} recorded"
            return Answer(text=f"Approved: {done}.")
        return Answer(text="That button has expired. Try the command again.", replace=False)

    # ------------------------------------------------------------ follow-ups

    async def review_shown(self, tenant: Tenant, item: ReviewItem) -> ReviewShown:
        return ReviewShown(item, *await chat.describe_review(tenant, item, deps=self._chat))

    async def export(self, asker: Asker, job: ExportMonth) -> tuple[str, bytes, str]:
        """The month's CSV: (file name, data, a sentence to go with it)."""
        name, data, rows = await month_csv(asker.principal, job.year, job.month, deps=self._chat.reads)
        return name, data, f"Attendance for {job.year:04d}-{job.month:02d}: {rows} person-days."
