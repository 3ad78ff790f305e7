"""The Teams app: the Microsoft 365 Agents SDK's ``CloudAdapter`` and ``AgentApplication`` on
``POST /api/messages``, with the SDK's JWT validation run inside that one route (on the whole
application it would guard Slack's routes and the health checks too).

With bot credentials, a request without a valid Bot Framework token is refused with 401 before
anything is read, and an activity from a channel other than ``msteams`` is ignored.
Without credentials every request is refused with 401, unless anonymous mode was asked for by
name (``TEAMS_ALLOW_ANONYMOUS=1``, as the Agents Playground needs; ``serve`` then binds only
loopback). ``GET /teams/downloads/{token}`` serves the exports offered as links.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    MemoryStorage,
    TurnContext,
    TurnState,
)
from pydantic import ValidationError

from attendance.adapters.teams.activities import turn_of
from attendance.adapters.teams.handlers import TeamsHandlers
from attendance.core.ports import Clock, DownloadLinks
from attendance.services.background import Background
from attendance.settings import TeamsSettings, required

log = logging.getLogger(__name__)

CONNECTION = "SERVICE_CONNECTION"


TEAMS_CHANNEL = "msteams"
QUIET_ACTIVITIES = ("installationUpdate", "messageReaction", "messageUpdate", "messageDelete", "typing", "event")
APP_ID_WARNING_LOGGER = "microsoft_agents.hosting.core.connector.client.user_token_client"


class _NoAppIdWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("App ID is not provided")


MAX_ACTIVITY_BYTES = 1024 * 1024  # activities carry links to files, not the files


def auth_configuration(settings: TeamsSettings) -> AgentAuthConfiguration:
    if not settings.has_credentials:
        return AgentAuthConfiguration(anonymous_allowed=settings.anonymous)
    secret = required(settings.client_secret, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET")
    return AgentAuthConfiguration(
        client_id=settings.client_id,
        tenant_id=settings.tenant_id,
        client_secret=secret.get_secret_value(),
    )


class TeamsBot:
    def __init__(
        self,
        settings: TeamsSettings,
        handlers: TeamsHandlers,
        background: Background,
        links: DownloadLinks,
        clock: Clock,
    ) -> None:
        self._settings, self._handlers, self._bg = settings, handlers, background
        self._links, self._clock = links, clock
        self._auth = auth_configuration(settings)
        connections = MsalConnectionManager(connections_configurations={CONNECTION: self._auth})
        self._adapter = CloudAdapter(connection_manager=connections)
        self._adapter.on_turn_error = None  # a failed turn answers 500, so Teams sends the activity again
        self._agent: AgentApplication[TurnState] = AgentApplication[TurnState](
            storage=MemoryStorage(),
            connection_manager=connections,
            start_typing_timer=False,
            remove_recipient_mention=False,
        )
        self._agent.activity("message")(self._on_activity)
        self._agent.activity("conversationUpdate")(self._on_activity)
        for kind in QUIET_ACTIVITIES:  # nothing to do; without a route the SDK logs each one, with its text
            self._agent.activity(kind)(self._ignore)

    @property
    def anonymous(self) -> bool:
        return self._settings.anonymous

    @staticmethod
    async def _ignore(_: TurnContext, __: TurnState) -> None:
        return None

    def mount(self, web_app: web.Application) -> None:
        # the SDK keeps its configuration and claims under plain string keys (aiohttp would warn per request)
        warnings.filterwarnings("ignore", category=NotAppKeyWarning, module="microsoft_agents")
        sub = web.Application()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotAppKeyWarning)
            sub["agent_configuration"] = self._auth
        if self._settings.has_credentials or self.anonymous:
            sub.router.add_post("", jwt_authorization_decorator(self._messages))  # type: ignore[no-untyped-call]
        else:
            sub.router.add_post("", self._closed)
        web_app.add_subapp("/api/messages", sub)
        web_app.router.add_get("/teams/downloads/{token}", self._download)
        if self.anonymous:
            log.warning(
                "teams: TEAMS_ALLOW_ANONYMOUS=1 and no bot credentials; /api/messages accepts UNSIGNED "
                "activities, for local tools only"
            )
            # said once here; the SDK would say it again on every turn
            sdk_log = logging.getLogger(APP_ID_WARNING_LOGGER)
            if not any(isinstance(f, _NoAppIdWarning) for f in sdk_log.filters):
                sdk_log.addFilter(_NoAppIdWarning())
        elif self._settings.has_credentials:
            log.info("teams: /api/messages accepts Bot Framework tokens for app %s", self._settings.client_id)
        else:
            log.info(
                "teams is not configured (set CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID and "
                "__CLIENTSECRET); /api/messages refuses every request"
            )

    @staticmethod
    async def _closed(_: web.Request) -> web.Response:
        return web.json_response({"error": "This server has no Teams bot configured."}, status=401)

    async def close(self) -> None:
        await self._bg.close()

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:  # aiohttp keeps the body read here for the SDK
            if request.content_length is not None and request.content_length > MAX_ACTIVITY_BYTES:
                return web.json_response({"error": "That activity is too large."}, status=413)
            body = await request.json()
        except (ValueError, UnicodeDecodeError, RecursionError):
            return web.json_response({"error": "That is not a Bot Framework activity."}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return web.json_response({"error": "That is not a Bot Framework activity."}, status=400)
        channel = body.get("channelId")
        if channel != TEAMS_CHANNEL:
            # a Bot Framework token is valid for every channel of the bot (Web Chat, Direct Line...),
            # whose users and tenant ids are not Teams' (the Agents Playground says msteams too)
            log.info("teams: ignored an activity from channel %r", str(channel)[:40])
            return web.Response(status=202)
        try:
            response = await start_agent_process(request, self._agent, self._adapter)
        except ValidationError:
            return web.json_response({"error": "That is not a Bot Framework activity."}, status=400)
        except Exception as exc:  # nothing was acknowledged: the person's message is not lost
            log.error("teams turn failed: %s", type(exc).__name__, exc_info=exc)
            return web.json_response({"error": "The message could not be handled; please send it again."}, status=500)
        return response if response is not None else web.Response(status=202)

    async def _on_activity(self, context: TurnContext, _: TurnState) -> None:
        activity: dict[str, Any] = context.activity.model_dump(by_alias=True, exclude_none=True, mode="json")
        await self._handlers.on_turn(turn_of(activity))

    async def _download(self, request: web.Request) -> web.Response:
        found = await self._links.get(request.match_info["token"], self._clock.now())
        if found is None:
            return web.Response(
                status=404, text="This download link has expired or never existed. Ask the bot for the export again."
            )
        name, data = found
        return web.Response(
            body=data,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )
