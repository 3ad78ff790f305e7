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

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from attendance.adapters.slack import blocks as ui
from attendance.adapters.slack.replier import SlackPhotoSource
from attendance.core.domain.checkins import PhotoRef, Requested
from attendance.core.domain.model import ChatIdentity, DomainError, Employee, Tenant
from attendance.core.errors import ServiceError
from attendance.core.ports import Clock, PhotoUnavailable, TenantRepository
from attendance.services import chat
from attendance.services.background import Background
from attendance.services.checkin import CheckInDeps, RequestCheckIn, submit_check_in
from attendance.services.conversation import turns as talk
from attendance.services.conversation.answers import Answer, Dialect, ExportMonth, TellAdmins
from attendance.services.conversation.commands import ChatCommand, parse, slack_mention
from attendance.services.conversation.lines import enrollment_result, first_name
from attendance.services.directory import tenant_for
from attendance.services.replies import photo_problem

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


SLACK = Dialect(
    workspace="Slack workspace",
    account="your Slack profile",
    command="`/attendance {}`",
    bold="*{}*",
    quote="`{}`",
    person_hint="@person",
    manager_usage="@person @manager",
    forget="forget-me",
    marks=(":white_circle:", ":large_green_circle:", ":red_circle:"),
    celebrate=":tada:",
    warning=":warning:",
    search=":mag:",
    help_hint="Type `/attendance help` to see what I can do.",
    export_to="to our DM",
)
NOT_CONNECTED = talk.not_connected(SLACK)


def not_on_staff(tenant: Tenant) -> str:
    return talk.not_on_staff(SLACK, tenant)


def refusal(who: Who | None) -> str:
    """Why someone the app cannot serve is refused: no tenant for the workspace, or not on its staff."""
    return NOT_CONNECTED if who is None else not_on_staff(who.tenant)


class SlackHandlers:
    def __init__(
        self,
        *,
        chat_deps: chat.ChatDeps,
        checkin: CheckInDeps,
        tenants: TenantRepository,
        photos: SlackPhotoSource,
        notice_version: str,
        clock: Clock,
        background: Background,
    ) -> None:
        self._chat, self._checkin, self._tenants, self._photos = chat_deps, checkin, tenants, photos
        self._notice, self._clock, self._bg = notice_version, clock, background
        self._talk = talk.Conversation(chat_deps=chat_deps, clock=clock, dialect=SLACK)
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
        tenant = await tenant_for("slack", team_id, tenants=self._tenants, identities=self._chat.enrollment.identities)
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

        try:
            slack_user = ChatIdentity("slack", team_id or "", user_id)
        except DomainError:
            return Who(tenant, None, user_id, team_id or "")
        person = await chat.resolve_person(tenant, slack_user, email_of, deps=self._chat)
        return Who(tenant, person, user_id, team_id or "")

    def asker(self, who: Who, client: AsyncWebClient) -> talk.Asker:
        """The person as the conversation sees them; a ``<@U…>`` mention names a colleague."""
        assert who.person is not None

        async def mentioned(word: str) -> Employee | None:
            user_id = slack_mention(word)
            if user_id is None:
                return None
            other = await self.who(who.team_id, user_id, client)
            if other is None or other.person is None:
                raise ServiceError(f"{word} is not on the staff list.")
            return other.person

        return talk.Asker(who.tenant, who.person, mentioned)

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
                await say(
                    "Send me a selfie to check in or out (add `in` or `out` if you like). "
                    "Type `/attendance help` for everything else."
                )
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
        _, fresh = await submit_check_in(
            RequestCheckIn(
                tenant_id=tenant.id,
                channel="slack",
                identity_kind="slack",
                identity=user_id,
                photo=_photo_ref(photo),
                idempotency_key=_selfie_key(where, body, event),
                requested=requested,
                context={
                    "team": team_id,
                    "channel": channel,
                    "user": user_id,
                    "where": where,
                    "file": str(photo.get("id") or ""),
                },
            ),
            jobs=self._checkin.jobs,
            clock=self._clock,
        )
        log.info("slack selfie queued new=%s", fresh)

    # ------------------------------------------------------------ /checkin, /checkout

    async def on_checkin_command(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        direction = "out" if body.get("command") == "/checkout" else "in"
        who = await self.who(context.get("team_id"), str(body.get("user_id", "")), client)
        if who is None or who.person is None:
            await ack(text=refusal(who))
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
            await ack(response_action="update", view=ui.notice_view("Check-in", refusal(who)))
            return
        meta = json.loads(view.get("private_metadata") or "{}")
        file = await self._full_file(files[0], client)
        ctx = {
            "team": who.team_id,
            "user": user_id,
            "where": str(meta.get("w", "modal")),
            "channel": str(meta.get("c", "")),
            "file": str(file.get("id") or ""),
        }
        await submit_check_in(
            RequestCheckIn(
                tenant_id=who.tenant.id,
                channel="slack",
                identity_kind="slack",
                identity=user_id,
                photo=_photo_ref(file),
                idempotency_key=f"view:{view['id']}",
                requested=Requested(meta.get("d", "auto")),
                context=ctx,
            ),
            jobs=self._checkin.jobs,
            clock=self._clock,
        )
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
            await ack(response_action="update", view=ui.notice_view("Enrollment", refusal(who)))
            return
        await ack(
            response_action="update",
            view=ui.notice_view(
                "Enrollment",
                "Thanks! I'm checking your photos now; I'll tell you the result in our DM in a few seconds.",
            ),
        )
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
        report = await chat.enroll_with_consent(
            who.tenant, who.person, photos, notice_version=self._notice, deps=self._chat
        )
        text = enrollment_result(report, who.person.name, "•", "Try again with `/attendance enroll`.")
        await client.chat_postMessage(channel=who.user_id, text=text)

    # ------------------------------------------------------------ /attendance

    async def on_attendance(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        cmd = parse(str(body.get("text", "")))
        user_id = str(body.get("user_id", ""))
        if cmd.name == "help":
            await ack(blocks=ui.answer_blocks(talk.help_answer(SLACK), SLACK, command="help", page=1), text="Help")
            return
        if cmd.name == "unknown":
            await ack(text=talk.unknown_command(SLACK, cmd))
            return
        who = await self.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            await ack(text=refusal(who))
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
        answer = await self._talk.command(self.asker(who, client), cmd)
        self._follow_up(answer, who, client)
        return ui.answer_blocks(answer, SLACK, command=cmd.raw, page=page), answer.text

    def _follow_up(self, answer: Answer, who: Who, client: AsyncWebClient) -> None:
        match answer.follow_up:
            case ExportMonth() as job:
                self._bg.spawn(self._export(who, job, client), "slack-export")
            case TellAdmins() as tell:
                self._bg.spawn(self._tell_admins(who.tenant, tell, client, who.team_id), "slack-tell-admins")

    async def _export(self, who: Who, job: ExportMonth, client: AsyncWebClient) -> None:
        try:
            name, data, comment = await self._talk.export(self.asker(who, client), job)
        except ServiceError as exc:
            await client.chat_postMessage(channel=who.user_id, text=str(exc))
            return
        opened = await client.conversations_open(users=who.user_id)
        channel = str((opened.get("channel") or {}).get("id", ""))
        await client.files_upload_v2(channel=channel, filename=name, content=data, title=name, initial_comment=comment)

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
            text = "\n".join(talk.help_lines(SLACK))
            await client.views_open(trigger_id=body["trigger_id"], view=ui.notice_view("Help", text))
            await ack()
            return
        await ack()
        who = await self.who(context.get("team_id"), str(body["user"]["id"]), client)
        if who is None or who.person is None:
            await respond(text=refusal(who), replace_original=False)
            return
        try:
            text, replace = await self._button(action_id, value, who, client, respond)
        except (ServiceError, ValueError) as exc:
            text, replace = str(exc), False
        if text:
            await respond(text=text, replace_original=replace)

    async def _button(
        self, action_id: str, value: str, who: Who, client: AsyncWebClient, respond: Any
    ) -> tuple[str, bool]:
        if action_id == "page":
            spec = json.loads(value)
            blocks, text = await self.run_command(parse(str(spec["c"])), who, client, page=int(spec["p"]))
            await respond(blocks=blocks, text=text, replace_original=True)
            return "", True
        answer = await self._talk.button(self.asker(who, client), action_id, value)
        self._follow_up(answer, who, client)
        return answer.text, answer.replace

    async def _tell_admins(self, tenant: Tenant, tell: TellAdmins, client: AsyncWebClient, team_id: str) -> None:
        blocks = ui.review_blocks(tell.review, SLACK)
        chats = await self._chat.enrollment.identities.of_employees(tenant.id, [a.id for a in tell.admins])
        for admin in tell.admins:
            known = next((who.user for who in chats.get(admin.id, []) if who.platform == "slack"), None)
            user_id = known or await self._slack_id_by_email(tenant, admin, client, team_id)
            if user_id:
                await client.chat_postMessage(channel=user_id, text="A check-in to review", blocks=blocks)

    async def _slack_id_by_email(
        self, tenant: Tenant, person: Employee, client: AsyncWebClient, team_id: str
    ) -> str | None:
        """An admin who never wrote to the bot: found in the workspace by their email, then linked."""
        try:
            found = await client.users_lookupByEmail(email=person.email)
        except (SlackApiError, SlackClientError):
            return None
        user_id = str((found.get("user") or {}).get("id") or "")
        try:
            who = ChatIdentity("slack", team_id, user_id)
        except DomainError:
            return None
        if user_id and await self._chat.enrollment.identities.link_user(tenant.id, person.id, who):
            return user_id
        return None

    # ------------------------------------------------------------ App Home

    async def on_home_opened(self, event: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        who = await self.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            text = refusal(who)
            await client.views_publish(user_id=user_id, view={"type": "home", "blocks": [ui.section(text)]})
            return
        home = await self._talk.home(self.asker(who, client))
        view = ui.home_view(first_name(who.person.name), home.status, home.week, home.board, home.enrolled)
        await client.views_publish(user_id=user_id, view=view)


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
    return PhotoRef(
        kind="slack",
        ref=str(file.get("url_private_download") or file.get("url_private") or ""),
        size=int(size) if size is not None else None,
    )


def _files(view: dict[str, Any], block: str, action: str) -> list[dict[str, Any]]:
    value = view.get("state", {}).get("values", {}).get(block, {}).get(action, {})
    return list(value.get("files") or [])
