"""``SlackReplier`` (the ``Replier`` port) and ``SlackPhotoSource`` (the ``PhotoSource`` port):
how the worker reaches Slack. The job's ``context`` says where the person asked: ``im`` (answer
in the DM), ``channel`` (an ephemeral message there) or ``modal`` (a DM to the person)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from attendance.adapters.http.photos import HttpPhotoSource
from attendance.adapters.slack.blocks import actions, button, escape, outcome_blocks, section
from attendance.adapters.slack.tokens import SlackTokens, web_client
from attendance.core.domain.checkins import CheckInJob, Outcome
from attendance.core.domain.model import Employee, Tenant
from attendance.core.errors import ReplyFailed
from attendance.core.ports import ChatButton, ChatIdentityRepository, PhotoUnavailable
from attendance.settings import SlackSettings

log = logging.getLogger(__name__)


class SlackReplier:
    def __init__(self, settings: SlackSettings, tokens: SlackTokens, identities: ChatIdentityRepository) -> None:
        self._settings, self._tokens, self._identities = settings, tokens, identities
        self._clients: dict[str, AsyncWebClient] = {}

    async def client(self, team_id: str) -> AsyncWebClient:
        token = await self._tokens.bot_token(team_id)
        if token is None:
            raise ReplyFailed("the Slack workspace is not connected any more")
        if token not in self._clients:
            self._clients[token] = web_client(self._settings, token)
        return self._clients[token]

    async def reply(self, job: CheckInJob, outcome: Outcome, text: str) -> None:
        ctx = job.context
        client = await self.client(ctx.get("team", ""))
        blocks = outcome_blocks(outcome, text)
        try:
            if ctx.get("where") == "channel":
                try:
                    await client.chat_postEphemeral(channel=ctx["channel"], user=ctx["user"], text=text, blocks=blocks)
                except SlackApiError:  # the bot is not in that channel (any more): answer in the DM
                    await client.chat_postMessage(channel=ctx["user"], text=text, blocks=blocks)
            elif ctx.get("where") == "im":
                await client.chat_postMessage(channel=ctx["channel"], text=text, blocks=blocks)
            else:
                await client.chat_postMessage(channel=ctx["user"], text=text, blocks=blocks)
        except (SlackApiError, SlackClientError) as exc:
            raise ReplyFailed(f"Slack refused the answer: {type(exc).__name__}") from exc
        log.info("slack answer sent outcome=%s", outcome.kind.value)

    async def tell_admins(
        self, tenant: Tenant, admins: Sequence[Employee], text: str, buttons: Sequence[ChatButton] = ()
    ) -> set[str]:
        """A DM to each admin with a Slack id (the dispatcher's alerts)."""
        return await self.tell(tenant, admins, f":warning: {text}", buttons)  # the emoji code survives escaping

    async def tell(
        self, tenant: Tenant, people: Sequence[Employee], text: str, buttons: Sequence[ChatButton] = ()
    ) -> set[str]:
        """A DM to each person with a Slack id, with ``buttons`` under it. ``text`` is plain text (it
        may hold a person's words or a receiver's error): it is escaped, never read as markup.
        Returns the ids of the people it was sent to."""
        text = escape(text)
        blocks = None
        if buttons:
            row = [button(b.label, b.action, b.value, style=b.style) for b in buttons]
            blocks = [section(text), actions(*row)]
        chats = await self._identities.of_employees(tenant.id, [p.id for p in people])
        reachable = [(p.id, who) for p in people for who in chats.get(p.id, []) if who.platform == "slack"]
        if not reachable:
            return set()
        workspaces = [ws.workspace for ws in await self._identities.workspaces(tenant.id) if ws.platform == "slack"]
        sent: set[str] = set()
        for employee_id, who in reachable:
            team = who.workspace or (workspaces[0] if workspaces else "")
            if team:
                client = await self.client(team)
                await client.chat_postMessage(channel=who.user, text=text, blocks=blocks)
                sent.add(employee_id)
        return sent


class SlackPhotoSource:
    """The file's ``url_private_download`` with the workspace's bot token, from Slack's hosts only."""

    def __init__(self, http: HttpPhotoSource, tokens: SlackTokens, settings: SlackSettings) -> None:
        self._http, self._tokens, self._settings = http, tokens, settings

    async def fetch(self, job: CheckInJob) -> bytes:
        return await self.download(job.context.get("team", ""), job.photo.ref, job.photo.size)

    async def discard(self, job: CheckInJob) -> None:
        """``files.delete`` with the bot token (``files:write``). Slack lets an app delete a member's
        file only where the workspace allows it; otherwise the file stays and this is logged."""
        file_id, team_id = job.context.get("file", ""), job.context.get("team", "")
        token = await self._tokens.bot_token(team_id) if file_id else None
        if token is None:
            return
        try:
            await web_client(self._settings, token).files_delete(file=file_id)
            log.info("slack photo deleted after the check-in")
        except SlackApiError as exc:
            log.info("slack kept the photo: %s", exc.response.get("error", "error"))

    async def download(self, team_id: str, url: str, size: int | None) -> bytes:
        token = await self._tokens.bot_token(team_id)
        if token is None:
            raise PhotoUnavailable("the Slack workspace is not connected any more", transient=False)
        return await self._http.download(url, headers={"Authorization": f"Bearer {token}"}, size=size)
