"""The Slack listeners: parse what Slack sent, call a service, render the answer.

The app runs with ``process_before_response=True``: a listener's own work (a few database
reads, storing a check-in job) is done before Slack gets its 200, so an acknowledged selfie is
never lost; anything slower (enrollment, the CSV export, telling admins) runs as a background
task after the answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from attendance.domain.checkins import PhotoRef, Requested
from attendance.domain.model import Employee, Tenant
from attendance.ports import Clock, PhotoUnavailable, TenantRepository
from attendance.services import chat
from attendance.services.checkin import CheckInDeps, RequestCheckIn, submit_check_in
from attendance.services.errors import ServiceError
from attendance.services.replies import photo_problem
from bot.background import Background
from bot.commands import ChatCommand, help_lines, parse, parse_day, parse_month, slack_mention
from bot.lines import board_line, day_line, enrollment_result, first_name
from bot.slack import blocks as ui
from bot.slack.replier import SlackPhotoSource

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[None]]
Block = dict[str, Any]
MAX_ENROLL_FILES = 3
TENANT_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class Who:
    tenant: Tenant
    person: Employee | None
    user_id: str
    team_id: str


NOT_CONNECTED = "This Slack workspace is not connected to an attendance account yet. Ask your admin to set it up."


def not_on_staff(tenant: Tenant) -> str:
    return (
        f"I can't find you on {tenant.name}'s staff list, so I can't record your time. "
        "Ask your admin to add you with the email address of your Slack profile."
    )


class SlackHandlers:
    def __init__(
        self, *, chat_deps: chat.ChatDeps, checkin: CheckInDeps, tenants: TenantRepository, photos: SlackPhotoSource,
        notice_version: str, clock: Clock, background: Background,
    ) -> None:  # fmt: skip
        self._chat, self._checkin, self._tenants, self._photos = chat_deps, checkin, tenants, photos
        self._notice, self._clock, self._bg = notice_version, clock, background
        self._team_tenant: dict[str, tuple[Tenant, float]] = {}
        self._linked: set[tuple[str, str]] = set()  # (tenant id, Slack user) known to be an employee

    # ------------------------------------------------------------ who

    async def tenant(self, team_id: str | None, *, cached: bool = False) -> Tenant | None:
        """The workspace's tenant. ``cached``: the selfie path, which needs only its id, may use a
        copy up to ``TENANT_TTL_S`` old (one database read fewer before Slack's 200)."""
        if not team_id:
            return None
        hit = self._team_tenant.get(team_id)
        now = time.monotonic()
        if cached and hit is not None and hit[1] > now:
            return hit[0]
        tenant = await self._tenants.by_slack_team(team_id)
        if tenant is None:
            self._team_tenant.pop(team_id, None)
        else:
            self._team_tenant[team_id] = (tenant, now + TENANT_TTL_S)
        return tenant

    async def who(self, team_id: str | None, user_id: str, client: AsyncWebClient) -> Who | None:
        tenant = await self.tenant(team_id)
        if tenant is None:
            return None

        async def email_of() -> str | None:
            try:
                info = await client.users_info(user=user_id)
            except (SlackApiError, SlackClientError) as exc:
                log.warning("users.info failed: %s", type(exc).__name__)
                return None
            profile = (info.get("user") or {}).get("profile") or {}
            email = profile.get("email")
            return str(email) if email else None

        person = await chat.resolve_person(tenant, "slack", user_id, email_of, deps=self._chat)
        return Who(tenant, person, user_id, team_id or "")

    async def _person_by_mention(self, who: Who, word: str, client: AsyncWebClient) -> Employee:
        user_id = slack_mention(word)
        if user_id is None:
            raise ServiceError(f"I can't tell who {word!r} is. Mention them with @, like @jane.")
        other = await self.who(who.team_id, user_id, client)
        if other is None or other.person is None:
            raise ServiceError(f"{word} is not on the staff list.")
        return other.person

    # ------------------------------------------------------------ selfies

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient
    ) -> None:
        """A message in the DM with the bot. (Channel posts come as ``app_mention``: the app does not
        read channels; an install made with an older manifest still sends them, and they are ignored.)"""
        if event.get("channel_type") != "im":
            return
        await self._selfie(event, body, context, client, "im")

    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient
    ) -> None:
        """``@attendance`` in a channel, with or without a selfie (the event carries its files)."""
        await self._selfie(event, body, context, client, "channel")

    async def _selfie(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient, where: str
    ) -> None:
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return
        text = str(event.get("text") or "")
        user_id, channel = str(event.get("user", "")), str(event.get("channel", ""))
        files = [f for f in event.get("files") or [] if str(f.get("mimetype", "")).startswith("image/")]

        async def say(message: str) -> None:
            if where == "im":
                await client.chat_postMessage(channel=channel, text=message)
            else:
                await client.chat_postEphemeral(channel=channel, user=user_id, text=message)

        if not files:
            if event.get("files"):
                await say("That file isn't a photo. Send a selfie (JPEG, PNG, HEIC or WebP) to check in or out.")
            elif where == "im":
                await say("Send me a selfie to check in or out (add `in` or `out` if you like). "
                          "Type `/attendance help` for everything else.")  # fmt: skip
            return
        team_id = str(context.get("team_id") or "")
        tenant = await self.tenant(team_id, cached=True)
        if tenant is None:
            await say(NOT_CONNECTED)
            return
        if (tenant.id, user_id) not in self._linked:  # once per person: the worker resolves them again
            who = await self.who(team_id, user_id, client)
            if who is None or who.person is None:
                await say(not_on_staff(tenant))
                return
            self._linked.add((tenant.id, user_id))
        words = {w.strip(".,!").lower() for w in text.split()}
        requested = Requested.OUT if "out" in words else Requested.IN if "in" in words else Requested.AUTO
        photo = files[0]
        _, fresh = await submit_check_in(RequestCheckIn(
            tenant_id=tenant.id, channel="slack", identity_kind="slack", identity=user_id,
            photo=_photo_ref(photo), idempotency_key=_selfie_key(where, body, event),
            requested=requested,
            context={"team": team_id, "channel": channel, "user": user_id, "where": where,
                     "file": str(photo.get("id") or "")},
        ), jobs=self._checkin.jobs, clock=self._clock)  # fmt: skip
        log.info("slack selfie queued new=%s", fresh)

    # ------------------------------------------------------------ /checkin, /checkout

    async def on_checkin_command(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        direction = "out" if body.get("command") == "/checkout" else "in"
        who = await self.who(context.get("team_id"), str(body.get("user_id", "")), client)
        if who is None or who.person is None:
            await ack(text=NOT_CONNECTED if who is None else not_on_staff(who.tenant))
            return
        # from the DM with the app: the answer goes to the person's id (Slack delivers it there)
        where = "modal" if body.get("channel_name") == "directmessage" else "channel"
        meta = json.dumps({"d": direction, "c": body.get("channel_id", ""), "w": where})
        await client.views_open(trigger_id=body["trigger_id"], view=ui.checkin_modal(direction, meta))
        await ack()

    async def open_checkin_modal(self, ack: Ack, body: dict[str, Any], client: AsyncWebClient, direction: str) -> None:
        meta = json.dumps({"d": direction, "c": "", "w": "modal"})
        await client.views_open(trigger_id=body["trigger_id"], view=ui.checkin_modal(direction, meta))
        await ack()

    async def on_checkin_submit(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        view = body["view"]
        files = _files(view, "photo", "file")
        if not files:
            await ack(response_action="errors", errors={"photo": "Please add a selfie."})
            return
        user_id = str(body["user"]["id"])
        who = await self.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            await ack(
                response_action="update",
                view=ui.notice_view("Check-in", NOT_CONNECTED if who is None else not_on_staff(who.tenant)),
            )
            return  # fmt: skip
        meta = json.loads(view.get("private_metadata") or "{}")
        file = await self._full_file(files[0], client)
        ctx = {"team": who.team_id, "user": user_id, "where": str(meta.get("w", "modal")),
               "channel": str(meta.get("c", "")), "file": str(file.get("id") or "")}  # fmt: skip
        await submit_check_in(RequestCheckIn(
            tenant_id=who.tenant.id, channel="slack", identity_kind="slack", identity=user_id,
            photo=_photo_ref(file), idempotency_key=f"view:{view['id']}", requested=Requested(meta.get("d", "auto")),
            context=ctx,
        ), jobs=self._checkin.jobs, clock=self._clock)  # fmt: skip
        await ack()

    async def _full_file(self, file: dict[str, Any], client: AsyncWebClient) -> dict[str, Any]:
        if file.get("url_private_download") or file.get("url_private"):
            return file
        info = await client.files_info(file=str(file["id"]))
        return dict(info.get("file") or {})

    # ------------------------------------------------------------ enrollment

    async def open_enroll_modal(self, ack: Ack, body: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_open(trigger_id=body["trigger_id"], view=ui.enroll_modal())
        await ack()

    async def on_enroll_submit(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        view = body["view"]
        state = view.get("state", {}).get("values", {})
        agreed = [o.get("value") for o in state.get("consent", {}).get("agree", {}).get("selected_options") or []]
        files = _files(view, "photos", "files")
        errors = {}
        if "agree" not in agreed:
            errors["consent"] = "Please tick the box to agree, or press Cancel."
        if not 1 <= len(files) <= MAX_ENROLL_FILES:
            errors["photos"] = "Please add 1 to 3 selfies."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        user_id = str(body["user"]["id"])
        who = await self.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            await ack(
                response_action="update",
                view=ui.notice_view("Enrollment", NOT_CONNECTED if who is None else not_on_staff(who.tenant)),
            )
            return  # fmt: skip
        await ack(response_action="update", view=ui.notice_view(
            "Enrollment", "Thanks! I'm checking your photos now; I'll tell you the result in our DM in a few seconds."
        ))  # fmt: skip
        self._bg.spawn(self._enroll(who, files, client), "slack-enroll")

    async def _enroll(self, who: Who, files: list[dict[str, Any]], client: AsyncWebClient) -> None:
        assert who.person is not None
        photos: list[bytes | str] = []
        for f in files:
            try:
                ref = _photo_ref(await self._full_file(f, client))
                photos.append(await self._photos.download(who.team_id, ref.ref, ref.size))
            except PhotoUnavailable as exc:
                photos.append(photo_problem(str(exc)))
        report = await chat.enroll_with_consent(who.tenant, who.person, photos, notice_version=self._notice,
                                                deps=self._chat)  # fmt: skip
        text = enrollment_result(report, who.person.name, "•", "Try again with `/attendance enroll`.")
        await client.chat_postMessage(channel=who.user_id, text=text)

    # ------------------------------------------------------------ /attendance

    async def on_attendance(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        cmd = parse(str(body.get("text", "")))
        user_id = str(body.get("user_id", ""))
        if cmd.name == "help":
            await ack(blocks=ui.paged(help_lines("/attendance "), title="What I can do", page=1, command="help",
                                      per_page=50), text="Help")  # fmt: skip
            return
        if cmd.name == "unknown":
            await ack(text=f"I don't know `{cmd.raw[:40]}`. Type `/attendance help` to see what I can do.")
            return
        who = await self.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            await ack(text=NOT_CONNECTED if who is None else not_on_staff(who.tenant))
            return
        if cmd.name == "enroll":
            await self.open_enroll_modal(ack, body, client)
            return
        try:
            blocks, text = await self.run_command(cmd, who, client, page=1)
        except (ServiceError, ValueError) as exc:
            await ack(text=str(exc))
            return
        await ack(blocks=blocks, text=text) if blocks else await ack(text=text)

    async def run_command(
        self, cmd: ChatCommand, who: Who, client: AsyncWebClient, page: int
    ) -> tuple[list[Block], str]:
        """The answer to a command that needs the person: (blocks, fallback text)."""
        tenant, person = who.tenant, who.person
        assert person is not None
        now = self._clock.now()
        d = self._chat
        match cmd.name:
            case "me":
                days = await chat.own_week(tenant, person, now, deps=d)
                lines = [day_line(s, "Today" if i == 0 else s.day.strftime("%a %d %b")) for i, s in enumerate(days)]
                return ui.paged(lines, title="Your attendance", page=page, command="me"), "Your attendance"
            case "forget-me":
                deleted = await chat.forget_me(tenant, person, deps=d)
                return [], (f"Done: I erased your face data ({deleted} photo template{'s' if deleted != 1 else ''}) "
                            "and withdrew your consent. Your past check-in times stay on record for payroll. "
                            "To use selfie check-in again, run `/attendance enroll`.")  # fmt: skip
            case "today":
                today = chat.today_of(tenant, None, now)
                rows = await chat.team_day(tenant, person, today, deps=d)
                return ui.paged([_board_line(r) for r in rows], title=f"Today, {today:%a %d %b}", page=page,
                                command="today"), "Today"  # fmt: skip
            case "week":
                target = await self._person_by_mention(who, cmd.args[0], client) if cmd.args else None
                someone, days = await chat.week_of(tenant, person, target, now, deps=d)
                lines = [day_line(s, s.day.strftime("%a %d %b")) for s in days]
                total = sum(s.worked_minutes for s in days)
                lines.append(f"*Total: {total // 60}h{total % 60:02d}*")
                return ui.paged(lines, title=f"{someone.name}, this week", page=page, command=cmd.raw), "Week"
            case "late" | "absent":
                day = parse_day(cmd.args, chat.today_of(tenant, None, now))
                rows = await chat.team_day(tenant, person, day, deps=d)
                if cmd.name == "late":
                    chosen = chat.late_rows(rows)
                    lines = [f"{r.employee.name}: {int(r.day.late_by.total_seconds() // 60)} min late"
                             for r in chosen if r.day.late_by]  # fmt: skip
                else:
                    lines = [r.employee.name for r in chat.absent_rows(tenant, rows, day, now)]
                title = f"{'Late' if cmd.name == 'late' else 'Absent'} on {day:%a %d %b}"
                return ui.paged(lines, title=title, page=page, command=cmd.raw), title
            case "export":
                year, month = parse_month(cmd.args)
                await chat.visible_people(tenant, person, deps=d)  # refuse at once if not allowed
                self._bg.spawn(self._export(who, year, month, client), "slack-export")
                return [], f"Preparing {year:04d}-{month:02d}; I'll send the CSV to our DM in a moment."
            case "admin":
                return await self._admin(cmd, who, client)
        return [], "Type `/attendance help` to see what I can do."

    async def _export(self, who: Who, year: int, month: int, client: AsyncWebClient) -> None:
        assert who.person is not None
        try:
            name, data, rows = await chat.month_csv(who.tenant, who.person, year, month, deps=self._chat)
        except ServiceError as exc:
            await client.chat_postMessage(channel=who.user_id, text=str(exc))
            return
        opened = await client.conversations_open(users=who.user_id)
        channel = str((opened.get("channel") or {}).get("id", ""))
        comment = f"Attendance for {year:04d}-{month:02d}: {rows} person-days."
        await client.files_upload_v2(channel=channel, filename=name, content=data, title=name, initial_comment=comment)

    async def _admin(self, cmd: ChatCommand, who: Who, client: AsyncWebClient) -> tuple[list[Block], str]:
        assert who.person is not None
        tenant, person, d = who.tenant, who.person, self._chat
        sub, args = (cmd.args[0].lower(), cmd.args[1:]) if cmd.args else ("", ())
        chat.require_admin(person)
        if sub == "manager" and len(args) == 2:
            target = await self._person_by_mention(who, args[0], client)
            manager = None if args[1].lower() == "none" else await self._person_by_mention(who, args[1], client)
            await chat.set_manager(tenant, person, target, manager, deps=d)
            return [], (f"{target.name} now reports to {manager.name}." if manager
                        else f"{target.name} has no manager now.")  # fmt: skip
        if sub == "timezone" and len(args) == 1:
            name = await chat.set_timezone(tenant, person, args[0], deps=d)
            return [], f"The company's time zone is now {name}."
        if sub == "schedule" and args:
            s = await chat.set_schedule(tenant, person, " ".join(args), deps=d)
            days = ", ".join(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i] for i in sorted(s.weekdays))
            return [], (f"The working day is now {s.start:%H:%M}–{s.end:%H:%M} on {days}, "
                        f"with {s.grace_minutes} minutes' grace.")  # fmt: skip
        if sub == "review":
            items = await chat.review_items(tenant, person, deps=d)
            if not items:
                return [], "Nothing to review. :tada:"
            out: list[Block] = [ui.section(f"*{len(items)} item(s) to review*")]
            for item in items[:12]:
                out += await self._review_item_blocks(tenant, item)
            return out[:50], "Review queue"
        admin = [line for line in help_lines("/attendance ") if "admin" in line]
        return [], "Admin commands:\n" + "\n".join(admin)

    async def _review_item_blocks(self, tenant: Tenant, item: Any) -> list[Block]:
        return ui.review_blocks(item, *await chat.describe_review(tenant, item, deps=self._chat))

    # ------------------------------------------------------------ buttons

    async def on_action(  # noqa: PLR0917  (Bolt matches listener arguments by name, positional ones only)
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], context: Any, client: AsyncWebClient, respond: Any
    ) -> None:
        action_id, value = str(action.get("action_id")), str(action.get("value", ""))
        if action_id == "enroll_open":
            await self.open_enroll_modal(ack, body, client)
            return
        if action_id == "home_checkin":
            await self.open_checkin_modal(ack, body, client, value if value in ("in", "out") else "in")
            return
        if action_id == "home_help":
            text = "\n".join(help_lines("/attendance "))
            await client.views_open(trigger_id=body["trigger_id"], view=ui.notice_view("Help", text))
            await ack()
            return
        await ack()
        who = await self.who(context.get("team_id"), str(body["user"]["id"]), client)
        if who is None or who.person is None:
            await respond(text=NOT_CONNECTED if who is None else not_on_staff(who.tenant), replace_original=False)
            return
        try:
            text, replace = await self._button(action_id, value, who, client, respond)
        except (ServiceError, ValueError) as exc:
            text, replace = str(exc), False
        if text:
            await respond(text=text, replace_original=replace)

    async def _button(self, action_id: str, value: str, who: Who, client: AsyncWebClient,
                      respond: Any) -> tuple[str, bool]:  # fmt: skip
        tenant, person = who.tenant, who.person
        assert person is not None
        if action_id == "undo":
            undone = await chat.undo(tenant, person, value, deps=self._chat)
            local = undone.at.astimezone(ZoneInfo(undone.timezone))
            return f"Undone: your check-{undone.direction.value} at {local:%H:%M} was removed.", True
        if action_id == "not_me":
            item, admins = await chat.report_not_me(tenant, person, value, deps=self._chat)
            self._bg.spawn(self._tell_admins(tenant, item, admins, client), "slack-tell-admins")
            return ("Thanks for telling me. Your admins will review this check-in; "
                    "until then it stays on record, marked as reported."), True  # fmt: skip
        if action_id in ("review_approve", "review_reject"):
            approve = action_id == "review_approve"
            item, event = await chat.decide_review(tenant, person, value, approve, deps=self._chat)
            if not approve:
                return "Rejected: nothing was changed.", True
            if event is None:
                return "Approved; there was nothing left to change.", True
            return ("Approved: the check-in was removed." if event.void else
                    f"Approved: check-{event.direction.value} recorded."), True  # fmt: skip
        if action_id == "page":
            spec = json.loads(value)
            blocks, text = await self.run_command(parse(str(spec["c"])), who, client, page=int(spec["p"]))
            await respond(blocks=blocks, text=text, replace_original=True)
            return "", True
        return "That button has expired. Try the command again.", False

    async def _tell_admins(self, tenant: Tenant, item: Any, admins: list[Employee], client: AsyncWebClient) -> None:
        blocks = await self._review_item_blocks(tenant, item)
        for admin in admins:
            user_id = admin.slack_user_id or await self._slack_id_by_email(tenant, admin, client)
            if user_id:
                await client.chat_postMessage(channel=user_id, text="A check-in to review", blocks=blocks)

    async def _slack_id_by_email(self, tenant: Tenant, person: Employee, client: AsyncWebClient) -> str | None:
        """An admin who never wrote to the bot: found in the workspace by their email, then linked."""
        try:
            found = await client.users_lookupByEmail(email=person.email)
        except (SlackApiError, SlackClientError):
            return None
        user_id = str((found.get("user") or {}).get("id") or "")
        if user_id and await self._chat.enrollment.employees.link_chat_identity(tenant.id, person.id, "slack", user_id):
            return user_id
        return None

    # ------------------------------------------------------------ App Home

    async def on_home_opened(self, event: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        who = await self.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            text = NOT_CONNECTED if who is None else not_on_staff(who.tenant)
            await client.views_publish(user_id=user_id, view={"type": "home", "blocks": [ui.section(text)]})
            return
        tenant, person, now = who.tenant, who.person, self._clock.now()
        days = await chat.own_week(tenant, person, now, deps=self._chat)
        today = days[0]
        if today.first_in is None:
            status = "You haven't checked in today."
        elif today.missing_check_out:
            status = f"You're checked in since {today.first_in.astimezone(ZoneInfo(today.timezone)):%H:%M}."
        else:
            status = "You're checked out for today."
        week = [day_line(s, "Today" if i == 0 else s.day.strftime("%a %d %b")) for i, s in enumerate(days)]
        board = None
        try:
            rows = await chat.team_day(tenant, person, chat.today_of(tenant, None, now), deps=self._chat)
            board = [_board_line(r) for r in rows]
        except chat.NotAllowed:
            pass
        enrolled = await chat.is_enrolled(tenant, person, deps=self._chat)
        await client.views_publish(
            user_id=user_id, view=ui.home_view(first_name(person.name), status, week, board, enrolled)
        )


def _selfie_key(where: str, body: dict[str, Any], event: dict[str, Any]) -> str:
    """One job per post: in a DM the event id (Slack's retries repeat it); in a channel the post's own
    address, so that an install still subscribed to channel messages makes one job of the message and
    its mention."""
    if where == "channel" or not body.get("event_id"):
        return f"{event.get('channel')}:{event.get('ts')}"
    return str(body["event_id"])


def _photo_ref(file: dict[str, Any]) -> PhotoRef:
    """A Slack file object as the job's photo: its private download URL and announced size."""
    size = file.get("size")
    return PhotoRef(kind="slack", ref=str(file.get("url_private_download") or file.get("url_private") or ""),
                    size=int(size) if size is not None else None)  # fmt: skip


def _files(view: dict[str, Any], block: str, action: str) -> list[dict[str, Any]]:
    value = view.get("state", {}).get("values", {}).get(block, {}).get(action, {})
    return list(value.get("files") or [])


def _board_line(row: chat.Row) -> str:
    return board_line(row, (":white_circle:", ":large_green_circle:", ":red_circle:"))
