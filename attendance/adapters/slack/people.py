"""Who is writing to the Slack app: the workspace's tenant (cached briefly for the selfie path),
the employee behind the Slack user, and how the conversation sees them; the Slack dialect; and
the Slack file helpers the listeners share."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from attendance.core.domain.checkins import PhotoRef
from attendance.core.domain.model import ChatIdentity, DomainError, Employee, Tenant
from attendance.core.errors import ServiceError
from attendance.core.ports import TenantRepository
from attendance.services import chat
from attendance.services.conversation import turns as talk
from attendance.services.conversation.answers import Dialect
from attendance.services.conversation.commands import slack_mention
from attendance.services.directory import tenant_for

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[None]]
Block = dict[str, Any]
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


class SlackPeople:
    def __init__(self, *, chat_deps: chat.ChatDeps, tenants: TenantRepository) -> None:
        self._chat, self._tenants = chat_deps, tenants
        self._team_tenant: dict[str, tuple[Tenant, float]] = {}

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


async def full_file(file: dict[str, Any], client: AsyncWebClient) -> dict[str, Any]:
    """The file object with its download address (a modal's upload carries only the id)."""
    if file.get("url_private_download") or file.get("url_private"):
        return file
    info = await client.files_info(file=str(file["id"]))
    return dict(info.get("file") or {})


def photo_ref(file: dict[str, Any]) -> PhotoRef:
    """A Slack file object as the job's photo: its private download URL and announced size."""
    size = file.get("size")
    return PhotoRef(
        kind="slack",
        ref=str(file.get("url_private_download") or file.get("url_private") or ""),
        size=int(size) if size is not None else None,
    )


def files_of(view: dict[str, Any], block: str, action: str) -> list[dict[str, Any]]:
    value = view.get("state", {}).get("values", {}).get(block, {}).get(action, {})
    return list(value.get("files") or [])
