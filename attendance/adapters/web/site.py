"""The web side as one mountable piece: handlers, guard and routes (see ``routes.py``)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from attendance.adapters.web.api import ApiHandlers
from attendance.adapters.web.app import Guard, mount_routes
from attendance.adapters.web.deps import WebDeps
from attendance.adapters.web.kiosk import Kiosk
from attendance.adapters.web.limits import RateLimit
from attendance.adapters.web.pages import PageHandlers
from attendance.adapters.web.render import Renderer
from attendance.adapters.web.sessions import SessionCodec
from attendance.adapters.web.signin import SignIn
from attendance.core.ports import Clock


class WebSite:
    def __init__(
        self, deps: WebDeps, http: aiohttp.ClientSession, clock: Clock, session_keys: tuple[str, dict[str, bytes]]
    ) -> None:
        kid, keys = session_keys
        self.codec = SessionCodec(deps.settings.web, kid, keys)
        self.renderer = Renderer()
        self.signin = SignIn(deps.settings, deps.access, self.codec, clock=clock, http=http, renderer=self.renderer)
        web = deps.settings.web
        self.guard = Guard(
            deps.access,
            self.codec,
            clock,
            self.renderer.error,
            per_token=RateLimit(rate=web.token_rate_per_s, burst=web.token_burst),
        )
        self.handlers = [ApiHandlers(deps), PageHandlers(deps, self.renderer), self.signin, Kiosk(deps, self.signin)]

    def mount(self, web_app: web.Application) -> None:
        mount_routes(web_app, self.guard, self.handlers)
