"""How we talk to Teams: the Bot Connector REST API over aiohttp, with the bot's token.

Every outbound call (answers, proactive messages from the worker, member look-ups, pasted-image
downloads) goes through ``BotConnector``, in the ``serve`` and ``worker`` processes alike. The
token comes from ``TeamsTokens``: none in anonymous mode (local development, the Agents
Playground), else an Entra client-credentials token for the Bot Framework scope, cached until
shortly before it expires and fetched again after a 401.

Only hosts in ``TeamsSettings.allowed_hosts`` are ever called: a forged ``serviceUrl`` gets no
request from us, and never the token.

Exception tree::

    TeamsUnavailable(transient)   the connector (or the token endpoint) did not take the call
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import aiohttp

from attendance.adapters.http.oauth import OAuthTokens, TokenError
from attendance.settings import TeamsSettings, required

log = logging.getLogger(__name__)

Activity = dict[str, Any]


class TeamsUnavailable(Exception):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class TeamsTokens(Protocol):
    async def token(self) -> str | None: ...
    def forget(self) -> None: ...


class AnonymousTeamsTokens:
    """No credentials: calls carry no token (as the Emulator and Agents Playground expect)."""

    async def token(self) -> str | None:
        return None

    def forget(self) -> None:
        return None


class EntraTeamsTokens:
    """The bot's app id and secret exchanged for a Bot Framework token (client credentials)."""

    def __init__(self, settings: TeamsSettings, oauth: OAuthTokens) -> None:
        required(settings.client_id, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID")
        required(settings.client_secret, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET")
        self._settings, self._oauth = settings, oauth
        self._key = f"teams:{settings.client_id}"

    async def token(self) -> str | None:
        s = self._settings
        secret = required(s.client_secret, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET")
        form = {
            "grant_type": "client_credentials",
            "client_id": s.client_id or "",
            "client_secret": secret.get_secret_value(),
            "scope": s.scope,
        }
        try:
            return await self._oauth.token(self._key, s.token_endpoint, form)
        except TokenError as exc:
            raise TeamsUnavailable(f"no Teams token: {exc}", transient=not exc.permanent) from exc

    def forget(self) -> None:
        self._oauth.forget(self._key)


def host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and any(host == h or host.endswith("." + h) for h in hosts)


def endpoint(service_url: str, path: str) -> str:
    """``serviceUrl`` + path. Real service URLs end in ``/``, the Playground's do not."""
    return service_url.rstrip("/") + "/" + path.lstrip("/")


class BotConnector:
    def __init__(
        self, http: aiohttp.ClientSession, tokens: TeamsTokens, hosts: tuple[str, ...], *, timeout_s: float = 10.0
    ) -> None:
        self._http, self._tokens, self._hosts = http, tokens, hosts
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    @property
    def tokens(self) -> TeamsTokens:
        return self._tokens

    def allowed(self, url: str) -> bool:
        return host_allowed(url, self._hosts)

    async def send(
        self, service_url: str, conversation_id: str, activity: Activity, reply_to: str | None = None
    ) -> str:
        """Post a message into the conversation (as a reply to ``reply_to`` when given); its id."""
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities"
        if reply_to:
            path += f"/{quote(reply_to, safe='')}"
        body = await self._call("POST", endpoint(service_url, path), activity)
        return str(body.get("id", "")) if isinstance(body, dict) else ""

    async def member(self, service_url: str, conversation_id: str, user_id: str) -> dict[str, Any] | None:
        """The conversation member's profile (``email``, ``userPrincipalName``, ``name``...)."""
        path = f"v3/conversations/{quote(conversation_id, safe='')}/members/{quote(user_id, safe='')}"
        try:
            body = await self._call("GET", endpoint(service_url, path), None)
        except TeamsUnavailable as exc:
            log.warning("teams member look-up failed: %s", exc)
            return None
        return body if isinstance(body, dict) else None

    async def _call(self, method: str, url: str, body: Activity | None) -> Any:
        if not self.allowed(url):
            raise TeamsUnavailable("the Teams service URL is not a Microsoft host", transient=False)
        for attempt in (1, 2):
            token = await self._tokens.token()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                async with self._http.request(
                    method, url, json=body, headers=headers, timeout=self._timeout, allow_redirects=False
                ) as resp:
                    if resp.status == 401 and token and attempt == 1:
                        self._tokens.forget()  # revoked or rotated: one more try with a fresh token
                        continue
                    if resp.status >= 500 or resp.status == 429:
                        raise TeamsUnavailable(f"Teams answered HTTP {resp.status}", transient=True)
                    if resp.status >= 300:
                        raise TeamsUnavailable(f"Teams refused the call with HTTP {resp.status}", transient=False)
                    log.info("teams %s %s", method, resp.status)
                    return await resp.json(content_type=None) if resp.content_length != 0 else None
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise TeamsUnavailable(f"Teams could not be reached ({type(exc).__name__})", transient=True) from exc
            except ValueError as exc:  # a 2xx whose body is not JSON: the call itself went through
                log.warning("teams answer was not JSON: %s", type(exc).__name__)
                return None
        raise TeamsUnavailable("Teams refused the bot's token", transient=False)
