"""The Teams handlers: parse what Teams sent, call a chat service, answer with text or a card.

They run inside the Agents SDK's turn, before Teams gets its 202: a few database reads and, for
a selfie, storing the check-in job (so an acknowledged selfie is never lost). The worker answers
the check-in later as a proactive message; enrollment and exports run as background tasks and
answer the same way. Everything is said through ``BotConnector``.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from attendance.domain.checkins import PhotoRef, Requested, ReviewItem
from attendance.domain.model import Employee, Tenant
from attendance.ports import Clock, PhotoUnavailable, TenantRepository
from attendance.services import chat
from attendance.services.checkin import CheckInDeps, RequestCheckIn, submit_check_in
from attendance.services.errors import ServiceError
from attendance.services.replies import photo_problem
from attendance.storage.mongo_teams import MongoDownloadLinks, MongoTeamsAddresses, TeamsAddress
from bot.background import Background
from bot.commands import ChatCommand, parse, parse_day, parse_month
from bot.lines import board_line, day_line, enrollment_result
from bot.teams import cards
from bot.teams.activities import IncomingPhoto, Turn
from bot.teams.connector import BotConnector
from bot.teams.replier import TeamsAdminMessages, TeamsPhotoSource

log = logging.getLogger(__name__)

MAX_ENROLL_PHOTOS = 3
NOT_CONNECTED = "This Microsoft Teams organisation is not connected to an attendance account yet. Ask your admin."
IN_PERSONAL_CHAT = ("Check-ins happen in our personal chat, so your selfie stays between us. "
                    "Open a chat with me and send your selfie there.")  # fmt: skip
WELCOME = ("Hi! Send me a selfie here to check in or out (add *in* or *out* if you like). "
           "New here? Type **enroll**. Type **help** for everything else.")  # fmt: skip
HELP = [
    ("a selfie", "check in or out (add `in` or `out` to choose)"),
    ("enroll", "set up selfie check-in: read what is stored, agree, then send 1-3 selfies"),
    ("forget me", "erase your face data now"),
    ("status", "your attendance today and the last 7 days (also `me`)"),
    ("today", "managers: who is in, out or not in yet in your team"),
    ("week [name or email]", "managers: a person's week (yours without a name)"),
    ("late [YYYY-MM-DD]", "managers: who was late"),
    ("absent [YYYY-MM-DD]", "managers: who did not check in on a working day"),
    ("export YYYY-MM", "managers: the month as a CSV file (a download link)"),
    ("admin review", "admins: flagged check-ins, with approve and reject"),
    ("admin timezone Area/City", "admins: the company's time zone"),
    ("admin schedule 09:00-17:00 [mon-fri] [grace 5]", "admins: the working day"),
    ("admin manager EMAIL MANAGER-EMAIL", "admins: set who manages whom (`none` to clear)"),
]
BOARD_MARKS = ("⚪", "🟢", "🔴")


def not_on_staff(tenant: Tenant) -> str:
    return (f"I can't find you on {tenant.name}'s staff list, so I can't record your time. "
            "Ask your admin to add you with the email address of your Microsoft account.")  # fmt: skip


class TeamsHandlers:
    def __init__(
        self, *, chat_deps: chat.ChatDeps, checkin: CheckInDeps, tenants: TenantRepository, connector: BotConnector,
        photos: TeamsPhotoSource, addresses: MongoTeamsAddresses, admins: TeamsAdminMessages,
        links: MongoDownloadLinks, notice_version: str,
        clock: Clock, background: Background, public_url: str,
    ) -> None:  # fmt: skip
        self._chat, self._checkin, self._tenants, self._connector = chat_deps, checkin, tenants, connector
        self._photos, self._addresses, self._admins, self._links = photos, addresses, admins, links
        self._notice, self._clock, self._bg, self._public = notice_version, clock, background, public_url.rstrip("/")
        self._known: set[tuple[str, str, str]] = set()  # (tenant, person, conversation) with a stored address

    # ------------------------------------------------------------ entry

    async def on_turn(self, turn: Turn) -> None:
        if not self._connector.allowed(turn.service_url):
            log.warning("teams activity with a service URL outside the allowed hosts; ignored")
            return
        if turn.kind == "conversationUpdate":
            if turn.bot_added and turn.personal:
                await self.say(turn, WELCOME)
            return
        if turn.kind != "message":
            return
        if not turn.personal:
            await self.say(turn, IN_PERSONAL_CHAT)
            return
        tenant = await self._tenants.by_teams_tenant(turn.teams_tenant) if turn.teams_tenant else None
        if tenant is None:
            await self.say(turn, NOT_CONNECTED)
            return
        person = await chat.resolve_person(tenant, "teams", turn.user_id, lambda: self._email_of(turn),
                                           deps=self._chat)  # fmt: skip
        if person is None:
            await self.say(turn, not_on_staff(tenant))
            return
        await self._remember(tenant, person, turn)
        try:
            if turn.value is not None:
                await self._button(turn, tenant, person, turn.value)
            elif turn.photos:
                await self._photos_sent(turn, tenant, person)
            elif turn.other_files:
                await self.say(turn, "That file isn't a photo. Send a selfie (JPEG, PNG, HEIC or WebP) to check in.")
            else:
                await self._command(turn, tenant, person, parse(turn.text))
        except (ServiceError, ValueError) as exc:
            await self.say(turn, str(exc))

    async def say(self, turn: Turn, text: str, *attachments: cards.Card) -> None:
        await self._connector.send(turn.service_url, turn.conversation_id, cards.message(text, *attachments),
                                   reply_to=turn.activity_id or None)  # fmt: skip

    async def _email_of(self, turn: Turn) -> str | None:
        member = await self._connector.member(turn.service_url, turn.conversation_id, turn.from_id)
        email = (member or {}).get("email") or (member or {}).get("userPrincipalName")
        return str(email) if email else None

    async def _remember(self, tenant: Tenant, person: Employee, turn: Turn) -> None:
        key = (tenant.id, person.id, turn.conversation_id)
        if key not in self._known:
            address = TeamsAddress(turn.service_url, turn.conversation_id, turn.user_id)
            await self._addresses.remember(tenant.id, person.id, address, self._clock.now())
            self._known.add(key)

    # ------------------------------------------------------------ selfies

    async def _photos_sent(self, turn: Turn, tenant: Tenant, person: Employee) -> None:
        consented = await self._chat.enrollment.consents.active(tenant.id, person.id) is not None
        enrolled = await chat.is_enrolled(tenant, person, deps=self._chat)
        if "enroll" in turn.words or (consented and not enrolled):
            if not consented:
                await self.say(turn, "First read what is stored and agree; then send your selfies again.",
                               cards.consent_card())  # fmt: skip
                return
            await self.say(turn, "Thanks! I'm checking your photos now; I'll tell you the result here in a moment.")
            self._bg.spawn(self._enroll(turn, tenant, person, turn.photos[:MAX_ENROLL_PHOTOS]), "teams-enroll")
            return
        words = turn.words
        requested = Requested.OUT if "out" in words else Requested.IN if "in" in words else Requested.AUTO
        photo = turn.photos[0]
        _, fresh = await submit_check_in(RequestCheckIn(
            tenant_id=tenant.id, channel="teams", identity_kind="teams", identity=turn.user_id,
            photo=PhotoRef(kind="teams", ref=photo.url), requested=requested,
            idempotency_key=f"teams:{turn.conversation_id}:{turn.activity_id}",
            context={"service_url": turn.service_url, "conversation": turn.conversation_id, "fetch": photo.fetch},
        ), jobs=self._checkin.jobs, clock=self._clock)  # fmt: skip
        log.info("teams selfie queued new=%s", fresh)

    async def _enroll(self, turn: Turn, tenant: Tenant, person: Employee, photos: tuple[IncomingPhoto, ...]) -> None:
        fetched: list[bytes | str] = []
        for p in photos:
            try:
                fetched.append(await self._photos.download(p.url, p.fetch, turn.service_url, None))
            except PhotoUnavailable as exc:
                fetched.append(photo_problem(str(exc)))
        report = await chat.enroll_with_consent(tenant, person, fetched, notice_version=self._notice,
                                                deps=self._chat)  # fmt: skip
        text = enrollment_result(report, person.name, "-", "Send 1-3 new selfies.")
        await self.say(turn, text)

    # ------------------------------------------------------------ buttons

    async def _button(self, turn: Turn, tenant: Tenant, person: Employee, value: dict[str, Any]) -> None:
        action, item_id = str(value.get("action")), str(value.get("id") or "")
        d = self._chat
        match action:
            case "enroll":
                await self._command(turn, tenant, person, parse("enroll"))
            case "consent" if str(value.get("agree")).lower() == "true":
                await chat.give_consent(tenant, person, notice_version=self._notice, deps=d)
                await self.say(turn, "Thank you. Now send me 1 to 3 selfies in one message: just you, facing the "
                                     "camera, in good light; different days or light help.")  # fmt: skip
            case "consent":
                await self.say(turn, "Please tick the box to agree, or choose *No, thanks*.")
            case "consent_declined":
                await self.say(turn, "OK, nothing was stored. Ask your manager how else to record your time.")
            case "undo":
                undone = await chat.undo(tenant, person, item_id, deps=d)
                local = undone.at.astimezone(ZoneInfo(undone.timezone))
                await self.say(turn, f"Undone: your check-{undone.direction.value} at {local:%H:%M} was removed.")
            case "not_me":
                item, admins = await chat.report_not_me(tenant, person, item_id, deps=d)
                self._bg.spawn(self._tell_admins(tenant, item, admins), "teams-tell-admins")
                await self.say(turn, "Thanks for telling me. Your admins will review this check-in; "
                                     "until then it stays on record, marked as reported.")  # fmt: skip
            case "review_approve" | "review_reject":
                approve = action == "review_approve"
                _, event = await chat.decide_review(tenant, person, item_id, approve, deps=d)
                if not approve:
                    await self.say(turn, "Rejected: nothing was changed.")
                elif event is None:
                    await self.say(turn, "Approved; there was nothing left to change.")
                else:
                    done = "the check-in was removed" if event.void else f"check-{event.direction.value} recorded"
                    await self.say(turn, f"Approved: {done}.")
            case _:
                await self.say(turn, "That button has expired. Try the command again.")

    async def _review_card(self, tenant: Tenant, item: ReviewItem) -> cards.Card:
        return cards.review_card(item, *await chat.describe_review(tenant, item, deps=self._chat))

    async def _tell_admins(self, tenant: Tenant, item: ReviewItem, admins: list[Employee]) -> None:
        await self._admins.tell(
            tenant, admins, cards.message("A check-in to review", await self._review_card(tenant, item))
        )

    # ------------------------------------------------------------ text commands

    async def _command(self, turn: Turn, tenant: Tenant, person: Employee, cmd: ChatCommand) -> None:
        now, d = self._clock.now(), self._chat
        match cmd.name:
            case "help":
                lines = [f"**{usage}** — {what}" for usage, what in HELP]
                await self.say(turn, "What I can do", cards.list_card("What I can do", lines))
            case "enroll":
                if await d.enrollment.consents.active(tenant.id, person.id) is not None:
                    await self.say(turn, "Send me 1 to 3 selfies in one message, with the word *enroll*. "
                                         "Just you, facing the camera, in good light.")  # fmt: skip
                else:
                    await self.say(turn, "Selfie check-in", cards.consent_card())
            case "me":
                days = await chat.own_week(tenant, person, now, deps=d)
                lines = [day_line(s, "Today" if i == 0 else s.day.strftime("%a %d %b")) for i, s in enumerate(days)]
                await self.say(turn, "Your attendance", cards.list_card("Your attendance", lines))
            case "forget-me":
                deleted = await chat.forget_me(tenant, person, deps=d)
                await self.say(
                    turn,
                    f"Done: I erased your face data ({deleted} photo template"
                    f"{'s' if deleted != 1 else ''}) and withdrew your consent. Your past check-in "
                    "times stay on record for payroll. To use selfie check-in again, type **enroll**.",
                )
            case "today":
                today = chat.today_of(tenant, None, now)
                rows = await chat.team_day(tenant, person, today, deps=d)
                title = f"Today, {today:%a %d %b}"
                await self.say(turn, title, cards.list_card(title, [board_line(r, BOARD_MARKS) for r in rows]))
            case "week":
                target = await self._person_named(tenant, person, " ".join(cmd.args)) if cmd.args else None
                someone, days = await chat.week_of(tenant, person, target, now, deps=d)
                lines = [day_line(s, s.day.strftime("%a %d %b")) for s in days]
                total = sum(s.worked_minutes for s in days)
                lines.append(f"**Total: {total // 60}h{total % 60:02d}**")
                title = f"{someone.name}, this week"
                await self.say(turn, title, cards.list_card(title, lines))
            case "late" | "absent":
                day = parse_day(cmd.args, chat.today_of(tenant, None, now))
                rows = await chat.team_day(tenant, person, day, deps=d)
                if cmd.name == "late":
                    lines = [f"{r.employee.name}: {int(r.day.late_by.total_seconds() // 60)} min late"
                             for r in chat.late_rows(rows) if r.day.late_by]  # fmt: skip
                else:
                    lines = [r.employee.name for r in chat.absent_rows(tenant, rows, day, now)]
                title = f"{'Late' if cmd.name == 'late' else 'Absent'} on {day:%a %d %b}"
                await self.say(turn, title, cards.list_card(title, lines))
            case "export":
                year, month = parse_month(cmd.args)
                await chat.visible_people(tenant, person, deps=d)  # refuse at once if not allowed
                await self.say(turn, f"Preparing {year:04d}-{month:02d}; the file follows in a moment.")
                self._bg.spawn(self._export(turn, tenant, person, year, month), "teams-export")
            case "admin":
                await self._admin(turn, tenant, person, cmd)
            case _ if turn.words & {"in", "out"}:
                await self.say(turn, "Attach a selfie to that message, then I can check you in or out.")
            case _:
                await self.say(turn, f"I don't know *{cmd.raw[:40]}*. Send a selfie to check in or out, or type "
                                     "**help** to see what I can do.")  # fmt: skip

    async def _person_named(self, tenant: Tenant, viewer: Employee, words: str) -> Employee:
        """Someone the viewer may see, by email or by (part of) their name."""
        wanted = words.strip().casefold()
        people = [viewer, *await chat.visible_people(tenant, viewer, deps=self._chat)]
        exact = [p for p in people if wanted in (p.email.casefold(), p.name.casefold())]
        found = exact or [p for p in people if wanted in p.name.casefold()]
        if len({p.id for p in found}) == 1:
            return found[0]
        if not found:
            raise ServiceError(f"I can't find {words!r} among the people you can see. Try their email address.")
        names = ", ".join(sorted({p.name for p in found})[:5])
        raise ServiceError(f"{words!r} could be {names}. Write more of the name, or the email address.")

    async def _export(self, turn: Turn, tenant: Tenant, person: Employee, year: int, month: int) -> None:
        try:
            name, data, rows = await chat.month_csv(tenant, person, year, month, deps=self._chat)
        except ServiceError as exc:
            await self.say(turn, str(exc))
            return
        token = await self._links.put(tenant.id, person.id, name, data, self._clock.now())
        url = f"{self._public}/teams/downloads/{token}"
        comment = f"Attendance for {year:04d}-{month:02d}: {rows} person-days."
        await self.say(turn, comment, cards.file_card(name, url, comment))

    async def _admin(self, turn: Turn, tenant: Tenant, person: Employee, cmd: ChatCommand) -> None:
        d = self._chat
        sub, args = (cmd.args[0].lower(), cmd.args[1:]) if cmd.args else ("", ())
        chat.require_admin(person)
        if sub == "review":
            items = await chat.review_items(tenant, person, deps=d)
            if not items:
                await self.say(turn, "Nothing to review. 🎉")
                return
            review = [await self._review_card(tenant, item) for item in items[:10]]
            await self.say(turn, f"{len(items)} item(s) to review", *review)
        elif sub == "timezone" and len(args) == 1:
            name = await chat.set_timezone(tenant, person, args[0], deps=d)
            await self.say(turn, f"The company's time zone is now {name}.")
        elif sub == "schedule" and args:
            s = await chat.set_schedule(tenant, person, " ".join(args), deps=d)
            days = ", ".join(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i] for i in sorted(s.weekdays))
            await self.say(turn, f"The working day is now {s.start:%H:%M}–{s.end:%H:%M} on {days}, "
                                 f"with {s.grace_minutes} minutes' grace.")  # fmt: skip
        elif sub == "manager" and len(args) == 2:
            employees = d.enrollment.employees
            target = await employees.by_email(tenant.id, args[0])
            manager = None if args[1].lower() == "none" else await employees.by_email(tenant.id, args[1])
            if target is None or (manager is None and args[1].lower() != "none"):
                raise ServiceError("Name both people by their email address, e.g. admin manager jane@… boss@…")
            await chat.set_manager(tenant, person, target, manager, deps=d)
            await self.say(turn, f"{target.name} now reports to {manager.name}." if manager
                           else f"{target.name} has no manager now.")  # fmt: skip
        else:
            lines = [f"**{usage}** — {what}" for usage, what in HELP if usage.startswith("admin")]
            await self.say(turn, "Admin commands", cards.list_card("Admin commands", lines))
