"""The web side as one mountable piece: handlers, guard and routes (see ``routes.py``)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from attendance.ports import Clock
from bot.web.api import ApiHandlers
from bot.web.app import Guard, mount_routes
from bot.web.deps import WebDeps
from bot.web.kiosk import Kiosk
from bot.web.limits import RateLimit
from bot.web.pages import PageHandlers
from bot.web.render import Renderer
from bot.web.sessions import SessionCodec, session_keys
from bot.web.signin import SignIn


class WebSite:
    def __init__(self, deps: WebDeps, http: aiohttp.ClientSession, clock: Clock) -> None:
        kid, keys = session_keys(deps.settings)
        self.codec = SessionCodec(deps.settings.web, kid, keys)
        self.renderer = Renderer()
        self.signin = SignIn(deps.settings, deps.access, self.codec, clock=clock, http=http, renderer=self.renderer)
        web = deps.settings.web
        self.guard = Guard(deps.access, self.codec, clock, self.renderer.error,
                           per_token=RateLimit(rate=web.token_rate_per_s, burst=web.token_burst))  # fmt: skip
        self.handlers = [ApiHandlers(deps), PageHandlers(deps, self.renderer), self.signin, Kiosk(deps, self.signin)]

    def mount(self, web_app: web.Application) -> None:
        mount_routes(web_app, self.guard, self.handlers)
