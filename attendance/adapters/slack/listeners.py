"""The Slack listeners: parse what Slack sent, call a service, render the answer.

The app runs with ``process_before_response=True``: a listener's own work (a few database
reads, storing a check-in job) is done before Slack gets its 200, so an acknowledged selfie is
never lost; anything slower (enrollment, the CSV export, telling admins) runs as a background
task after the answer.

``SlackHandlers`` puts the parts together: who is writing (``people``), selfies and the
check-in forms (``selfies``), enrollment (``enrollment``), and here the conversation: the
``/attendance`` commands, the buttons and App Home, each answered by the one conversation layer
(``services.conversation``) and rendered as Block Kit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from attendance.adapters.slack import blocks as ui
from attendance.adapters.slack.enrollment import SlackEnrollment
from attendance.adapters.slack.people import SLACK, Ack, Block, SlackPeople, Who, refusal
from attendance.adapters.slack.replier import SlackPhotoSource
from attendance.adapters.slack.selfies import SlackSelfies
from attendance.core.domain.model import ChatIdentity, DomainError, Employee, Tenant
from attendance.core.errors import ServiceError
from attendance.core.ports import Clock, TenantRepository
from attendance.services import chat
from attendance.services.background import Background
from attendance.services.checkin import CheckInDeps
from attendance.services.conversation import turns as talk
from attendance.services.conversation.answers import Answer, AskToDecide, ExportMonth, TellAdmins
from attendance.services.conversation.commands import ChatCommand, parse
from attendance.services.conversation.lines import first_name

log = logging.getLogger(__name__)

__all__ = ["SLACK", "SlackHandlers"]


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
        self._chat, self._bg = chat_deps, background
        self._talk = talk.Conversation(chat_deps=chat_deps, clock=clock, dialect=SLACK)
        self.people = SlackPeople(chat_deps=chat_deps, tenants=tenants)
        self.selfies = SlackSelfies(people=self.people, checkin=checkin, clock=clock)
        self.enrollment = SlackEnrollment(
            people=self.people, chat_deps=chat_deps, photos=photos, notice_version=notice_version, background=background
        )

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
        who = await self.people.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            await ack(text=refusal(who))
            return
        if cmd.name == "enroll":
            await self.enrollment.open_enroll_modal(ack, body, client)
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
        answer = await self._talk.command(self.people.asker(who, client), cmd)
        self._follow_up(answer, who, client)
        return ui.answer_blocks(answer, SLACK, command=cmd.raw, page=page), answer.text

    def _follow_up(self, answer: Answer, who: Who, client: AsyncWebClient) -> None:
        match answer.follow_up:
            case ExportMonth() as job:
                self._bg.spawn(self._export(who, job, client), "slack-export")
            case TellAdmins() as tell:
                blocks = ui.review_blocks(tell.review, SLACK)
                self._bg.spawn(
                    self._dm(who.tenant, tell.admins, "A check-in to review", blocks, client, who.team_id),
                    "slack-tell-admins",
                )
            case AskToDecide() as ask:
                blocks = ui.decision_blocks(ask)
                self._bg.spawn(self._dm(who.tenant, ask.deciders, ask.title, blocks, client, who.team_id), "slack-ask")

    async def _export(self, who: Who, job: ExportMonth, client: AsyncWebClient) -> None:
        try:
            name, data, comment = await self._talk.export(self.people.asker(who, client), job)
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
            await self.enrollment.open_enroll_modal(ack, body, client)
            return
        if action_id == "home_checkin":
            await self.selfies.open_checkin_modal(ack, body, client, value if value in ("in", "out") else "in")
            return
        if action_id == "home_help":
            text = "\n".join(talk.help_lines(SLACK))
            await client.views_open(trigger_id=body["trigger_id"], view=ui.notice_view("Help", text))
            await ack()
            return
        await ack()
        who = await self.people.who(context.get("team_id"), str(body["user"]["id"]), client)
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
        answer = await self._talk.button(self.people.asker(who, client), action_id, value)
        self._follow_up(answer, who, client)
        return answer.text, answer.replace

    async def _dm(  # noqa: PLR0917
        self,
        tenant: Tenant,
        people: Sequence[Employee],
        text: str,
        blocks: list[Block],
        client: AsyncWebClient,
        team_id: str,
    ) -> None:
        """A DM to each person (found by their linked Slack id, else by their email in the workspace)."""
        chats = await self._chat.enrollment.identities.of_employees(tenant.id, [a.id for a in people])
        for admin in people:
            known = next((who.user for who in chats.get(admin.id, []) if who.platform == "slack"), None)
            user_id = known or await self._slack_id_by_email(tenant, admin, client, team_id)
            if user_id:
                await client.chat_postMessage(channel=user_id, text=text, blocks=blocks)

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
        who = await self.people.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            text = refusal(who)
            await client.views_publish(user_id=user_id, view={"type": "home", "blocks": [ui.section(text)]})
            return
        home = await self._talk.home(self.people.asker(who, client))
        view = ui.home_view(first_name(who.person.name), home.status, home.week, home.board, home.enrolled)
        await client.views_publish(user_id=user_id, view=view)
