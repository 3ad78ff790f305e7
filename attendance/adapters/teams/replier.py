"""``TeamsReplier`` (the ``Replier`` port) and ``TeamsPhotoSource`` (the ``PhotoSource`` port):
how the worker reaches Teams. The job's ``context`` holds the conversation's address
(``service_url``, ``conversation``) and how to fetch its photo (``fetch``):

* ``download``: an uploaded file's ``downloadUrl``, short-lived and pre-authorised, fetched
  **without** the bot's token (it must never leave for a file host);
* ``connector``: a pasted image's ``contentUrl`` on the connector, fetched **with** the bot's
  token, and only when it is on the conversation's own connector host.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from attendance.adapters.http.photos import HttpPhotoSource
from attendance.adapters.teams.cards import buttons_card, message, outcome_message, plain
from attendance.adapters.teams.connector import BotConnector, TeamsUnavailable, host_allowed
from attendance.core.domain.checkins import CheckInJob, Outcome
from attendance.core.domain.model import Employee, Tenant
from attendance.core.errors import ReplyFailed
from attendance.core.ports import ChatButton, PhotoUnavailable, TeamsAddresses

log = logging.getLogger(__name__)

FETCH_DOWNLOAD = "download"
FETCH_CONNECTOR = "connector"


class TeamsReplier:
    def __init__(self, connector: BotConnector) -> None:
        self._connector = connector

    async def reply(self, job: CheckInJob, outcome: Outcome, text: str) -> None:
        ctx = job.context
        try:
            await self._connector.send(ctx["service_url"], ctx["conversation"], outcome_message(outcome, text))
        except TeamsUnavailable as exc:
            raise ReplyFailed(f"Teams refused the answer: {exc}") from exc
        log.info("teams answer sent outcome=%s", outcome.kind.value)


class TeamsAdminMessages:
    """Messages to a tenant's admins in their personal chat with the bot, for those who have
    written to it (Teams needs a conversation before a bot can message someone)."""

    def __init__(self, connector: BotConnector, addresses: TeamsAddresses) -> None:
        self._connector, self._addresses = connector, addresses

    async def tell(self, tenant: Tenant, people: Sequence[Employee], activity: dict[str, Any]) -> set[str]:
        """Sends ``activity`` to each person's personal chat; returns the ids of those reached."""
        told: set[str] = set()
        for person in people:  # only those who wrote to the bot have an address
            address = await self._addresses.of(tenant.id, person.id)
            if address is None:
                log.info("employee=%s has never written to the Teams bot; not told there", person.id)
                continue
            try:
                await self._connector.send(address.service_url, address.conversation_id, activity)
                told.add(person.id)
            except TeamsUnavailable as exc:
                log.warning("could not tell someone in Teams: %s", exc)
        return told

    async def tell_admins(
        self, tenant: Tenant, admins: Sequence[Employee], text: str, buttons: Sequence[ChatButton] = ()
    ) -> set[str]:
        """The dispatcher's alerts (``SendToAdmins``)."""
        return await self.tell_text(tenant, admins, f"⚠️ {text}", buttons)

    async def tell_text(
        self, tenant: Tenant, people: Sequence[Employee], text: str, buttons: Sequence[ChatButton] = ()
    ) -> set[str]:
        """``text`` is plain text (a person's words, a receiver's error): never read as markup."""
        activity = message(text, buttons_card(text, buttons)) if buttons else plain(text)
        return await self.tell(tenant, people, activity)


class TeamsPhotoSource:
    """Redirects: a download only to Microsoft's hosts; a token-bearing fetch only within its connector host."""

    def __init__(
        self, session: aiohttp.ClientSession, connector: BotConnector, *, max_bytes: int, hosts: tuple[str, ...]
    ) -> None:
        self._session, self._connector, self._max, self._hosts = session, connector, max_bytes, hosts
        self._files = HttpPhotoSource(session, max_bytes=max_bytes, allowed_hosts=frozenset(hosts))

    async def fetch(self, job: CheckInJob) -> bytes:
        return await self.download(
            job.photo.ref, job.context.get("fetch", ""), job.context.get("service_url", ""), job.photo.size
        )

    async def discard(self, job: CheckInJob) -> None:
        return None  # an uploaded file is in the sender's OneDrive, a pasted image in the chat: not the bot's to delete

    async def download(self, url: str, fetch: str, service_url: str, size: int | None) -> bytes:
        if not host_allowed(url, self._hosts):
            raise PhotoUnavailable("the photo link does not point at Microsoft's file hosts", transient=False)
        if fetch == FETCH_DOWNLOAD:  # pre-authorised: no token, and every redirect hop on Microsoft's hosts
            return await self._files.download(url, size=size)
        if fetch != FETCH_CONNECTOR:
            raise PhotoUnavailable("the photo came in a shape I can't read", transient=False)
        host = urlsplit(url).hostname
        if not host or host != urlsplit(service_url).hostname or not self._connector.allowed(url):
            raise PhotoUnavailable("the pasted image is not on the conversation's Teams service", transient=False)
        try:
            token = await self._connector.tokens.token()
        except TeamsUnavailable as exc:
            raise PhotoUnavailable(str(exc), transient=exc.transient) from exc
        connector_only = HttpPhotoSource(self._session, max_bytes=self._max, allowed_hosts=frozenset({host}))
        return await connector_only.download(
            url, headers={"Authorization": f"Bearer {token}"} if token else None, size=size
        )
