"""The Slack app: Bolt's ``AsyncApp`` with our listeners, mounted on the service's aiohttp
application at one path, ``/slack/events`` (events, slash commands and interactivity), plus
``/slack/install`` and ``/slack/oauth_redirect`` for multi-workspace installs.

Bolt verifies each request's signature over the raw body (bad or stale: 401). A workspace
installed by OAuth gets a tenant (named after the workspace) with the installer as its admin.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from attendance.adapters.slack.listeners import SlackHandlers
from attendance.adapters.slack.tokens import web_client
from attendance.core.messages import WorkspaceInstalled
from attendance.services.background import Background
from attendance.settings import ConfigurationError, SlackSettings, required

log = logging.getLogger(__name__)

BOT_SCOPES = [  # exactly infra/slack/manifest.yaml's (a test checks); no channel history: mentions only
    "app_mentions:read",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "im:history",
    "im:write",
    "users:read",
    "users:read.email",
]
COMMANDS = ["/checkin", "/checkout", "/attendance"]


ACTIONS = (
    r"^(not_me|undo|enroll_open|home_checkin|home_help|review_approve|review_reject"
    r"|time_off_approve|time_off_reject|reminder_checkout|reminder_snooze|page)$"
)
MAX_EVENT_BYTES = 1024 * 1024  # far above any real event, command or interaction payload


class BodyTooLarge(Exception):
    """More than ``MAX_EVENT_BYTES`` before the signature is checked."""


class TeamNotAllowed(BoltError):
    """The workspace is not on ``SLACK_ALLOWED_TEAMS``: its installation is not stored."""


class AllowListOAuthFlow(AsyncOAuthFlow):
    """Bolt's OAuth flow, refusing to store an installation of a workspace not on the allow-list."""

    def __init__(self, *, slack: SlackSettings, settings: AsyncOAuthSettings, client: AsyncWebClient) -> None:
        super().__init__(client=client, settings=settings, logger=log)
        self._slack = slack

    async def store_installation(self, request: AsyncBoltRequest, installation: Installation) -> None:
        if not self._slack.may_install(installation.team_id or ""):
            log.warning("slack install refused: team %s is not in SLACK_ALLOWED_TEAMS", installation.team_id)
            raise TeamNotAllowed(str(installation.team_id))
        await super().store_installation(request, installation)


class SlackBot:
    def __init__(
        self,
        settings: SlackSettings,
        handlers: SlackHandlers,
        background: Background,
        *,
        installation_store: AsyncInstallationStore | None = None,
        state_store: AsyncOAuthStateStore | None = None,
        on_installed: Callable[[WorkspaceInstalled], Awaitable[None]] | None = None,
    ) -> None:
        if settings.socket_mode and settings.oauth:
            raise ConfigurationError(
                "Slack's Socket Mode (SLACK_APP_TOKEN) serves one workspace: set SLACK_BOT_TOKEN, not the OAuth client"
            )
        self._settings = settings
        self._http = settings.signing_secret is not None  # else Socket Mode only: no /slack/events
        signing_secret = (
            required(settings.signing_secret, "SLACK_SIGNING_SECRET").get_secret_value()
            if self._http or not settings.socket_mode
            else ""
        )
        self._socket: AsyncSocketModeHandler | None = None
        self._bg = background
        self._on_installed = on_installed
        client = web_client(settings)
        if settings.oauth:
            if installation_store is None or state_store is None:
                raise ConfigurationError("Slack's OAuth mode needs an installation store and a state store")
            oauth = AsyncOAuthSettings(
                client_id=settings.client_id,
                client_secret=required(settings.client_secret, "SLACK_CLIENT_SECRET").get_secret_value(),
                scopes=BOT_SCOPES,
                redirect_uri=settings.redirect_uri,
                installation_store=installation_store,
                installation_store_bot_only=True,
                state_store=state_store,
                callback_options=AsyncCallbackOptions(success=self._installed, failure=self._install_failed),
            )
            authorize = AsyncInstallationStoreAuthorize(
                logger=log,
                installation_store=installation_store,
                client_id=settings.client_id,
                client_secret=oauth.client_secret,
                bot_only=True,
                cache_enabled=True,
                client=client,
            )
            self.app = AsyncApp(  # an AsyncAuthorize instance is accepted beside OAuth settings
                signing_secret=signing_secret,
                client=client,
                oauth_flow=AllowListOAuthFlow(slack=settings, settings=oauth, client=client),
                authorize=authorize,  # type: ignore[arg-type]
                process_before_response=True,
                logger=log,
            )
            self.app.enable_token_revocation_listeners()
        else:
            token = required(settings.bot_token, "SLACK_BOT_TOKEN").get_secret_value()
            self.app = AsyncApp(
                signing_secret=signing_secret,
                # Socket Mode's events come over the WebSocket the service opened with the app
                # token: nothing to sign. HTTP requests are verified whenever they are served.
                request_verification_enabled=self._http,
                client=web_client(settings, token),
                process_before_response=True,
                logger=log,
            )
        self._register(handlers)

    def _register(self, h: SlackHandlers) -> None:
        app = self.app
        app.event("message")(h.selfies.on_message)
        app.event("app_mention")(h.selfies.on_mention)
        app.event("app_home_opened")(h.on_home_opened)
        app.command("/checkin")(h.selfies.on_checkin_command)
        app.command("/checkout")(h.selfies.on_checkin_command)
        app.command("/attendance")(h.on_attendance)
        app.view("checkin_modal")(h.selfies.on_checkin_submit)
        app.view("enroll_modal")(h.enrollment.on_enroll_submit)
        app.action(re.compile(ACTIONS))(h.on_action)

    def mount(self, web_app: web.Application) -> None:
        if not self._http:  # Socket Mode only
            return
        web_app.router.add_post("/slack/events", self._events)
        if self.app.oauth_flow is not None:
            web_app.router.add_get("/slack/install", self._install)
            web_app.router.add_get("/slack/oauth_redirect", self._redirect)

    async def start_socket_mode(self) -> None:
        """Open the WebSocket to Slack (``apps.connections.open`` with the app token); events,
        commands and interactions then arrive on it and are acknowledged on it. Reconnects by itself."""
        app_token = required(self._settings.app_token, "SLACK_APP_TOKEN").get_secret_value()
        self._socket = AsyncSocketModeHandler(self.app, app_token, logger=log, web_client=self.app.client)
        await self._socket.connect_async()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        await self._bg.close()

    @staticmethod
    async def _bolt_request(request: web.Request) -> AsyncBoltRequest:
        """The request for Bolt, whose signature check is over the raw body: read it whole, but no
        more than ``MAX_EVENT_BYTES`` before that check (``BodyTooLarge``)."""
        if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
            raise BodyTooLarge
        chunks, size = [], 0
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > MAX_EVENT_BYTES:
                raise BodyTooLarge
            chunks.append(chunk)
        return AsyncBoltRequest(
            body=b"".join(chunks).decode("utf-8", errors="replace"),
            query=request.query_string,
            headers={k: v for k, v in request.headers.items()},
        )

    async def _via_bolt(
        self, request: web.Request, handle: Callable[[AsyncBoltRequest], Awaitable[BoltResponse]]
    ) -> web.Response:
        try:
            bolt_request = await self._bolt_request(request)
        except BodyTooLarge:
            return web.Response(status=413, text="A Slack request is never this large.")
        return await to_aiohttp_response(await handle(bolt_request))

    async def _events(self, request: web.Request) -> web.Response:
        return await self._via_bolt(request, self.app.async_dispatch)

    async def _install(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        return await self._via_bolt(request, self.app.oauth_flow.handle_installation)

    async def _redirect(self, request: web.Request) -> web.Response:
        assert self.app.oauth_flow is not None
        return await self._via_bolt(request, self.app.oauth_flow.handle_callback)

    async def _installed(self, args: AsyncSuccessArgs) -> BoltResponse:
        inst = args.installation
        email = name = None
        if inst.bot_token and inst.user_id:
            try:
                info = await self.app.client.users_info(token=inst.bot_token, user=inst.user_id)
                profile = (info.get("user") or {}).get("profile") or {}
                email, name = profile.get("email"), profile.get("real_name")
            except Exception as exc:  # the install worked; the installer can be added later
                log.warning("could not read the installer's profile: %s", type(exc).__name__)
        if self._on_installed is not None:
            await self._on_installed(
                WorkspaceInstalled(
                    team_id=inst.team_id or "",
                    team_name=inst.team_name or inst.team_id or "Slack workspace",
                    installer_user_id=inst.user_id,
                    installer_email=email,
                    installer_name=name,
                )
            )
        return await args.default.success(args)

    async def _install_failed(self, args: AsyncFailureArgs) -> BoltResponse:
        if isinstance(args.error, TeamNotAllowed):
            return BoltResponse(
                status=403,
                headers={"Content-Type": "text/plain; charset=utf-8"},
                body="This attendance server does not take installs from your Slack workspace. "
                "Ask the people who run it to add your workspace's team id "
                f"({args.error}) to SLACK_ALLOWED_TEAMS.",
            )
        log.warning("slack install failed: %s", args.reason)
        return await args.default.failure(args)
