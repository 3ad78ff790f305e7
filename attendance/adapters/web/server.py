"""The aiohttp application factory: every HTTP route of ``attendance serve``.

The health checks, ``/healthz`` (the process is up) and ``/readyz`` (the database answers),
and whatever the chat channels mount (``/slack/events``, ...).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from attendance.logs import log_context

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
MAX_BODY_BYTES = 16 * 1024 * 1024


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    rid = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
    with log_context(request_id=rid):
        response = await handler(request)
    response.headers["X-Request-Id"] = rid
    return response


Mount = Callable[[web.Application], None]


def route_name(request: web.Request) -> str:
    """The name a request is counted and traced under: its route's name (or its resource's
    pattern), never the raw path; ``unmatched`` when no route took it."""
    if request.match_info.http_exception is not None:
        return "unmatched"
    route = request.match_info.route
    return str(route.name or getattr(route.resource, "canonical", None) or "unmatched")


Middleware = Callable[..., Awaitable[web.StreamResponse]]


def create_app(
    *, database_ready: ReadinessCheck, mounts: Sequence[Mount] = (), middlewares: Sequence[Middleware] = ()
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[*middlewares, request_id_middleware])

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if await database_ready():
            return web.json_response({"status": "ready", "database": "ok"})
        log.warning("readiness check failed: the database does not answer")
        return web.json_response({"status": "not ready", "database": "unreachable"}, status=503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for mount in mounts:
        mount(app)
    return app
