"""The web side mounted on the project's aiohttp application: each route of ``routes.ROUTES``
is registered here, behind the guard that authenticates the request and enforces the route's
``allow``, checks CSRF on state-changing requests made with a cookie, and turns service errors
into one error shape (JSON for the API, a page for browsers).

Exception mapping::

    NotFound              404  not_found
    NotAllowed            403  forbidden
    ServiceError          400  invalid
    (no principal)        401  unauthenticated   (pages: to /signin)
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from attendance.adapters.web.limits import RateLimit, retry_after
from attendance.adapters.web.routes import DEVICE, PUBLIC, ROUTES, SIGNED_IN, STATIC_PREFIX, Route
from attendance.adapters.web.sessions import SESSION_COOKIE, Session, SessionCodec
from attendance.core.domain.access import Principal, PrincipalKind
from attendance.core.errors import NotAllowed, NotFound, ServiceError
from attendance.core.ports import Clock
from attendance.services.access import AccessDeps, session_principal, subject_of, token_principal

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATIC = Path(__file__).parent / "static"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PRINCIPAL = web.RequestKey("principal", Principal)
SESSION = web.RequestKey("session", Session)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


async def read_capped(request: web.Request, cap: int, too_large: str) -> bytes:
    """The whole body, or ``ApiError`` 413 as soon as it passes ``cap`` bytes (read in chunks:
    one ``read(n)`` returns only what has arrived so far)."""
    if request.content_length is not None and request.content_length > cap:
        raise ApiError(413, "too_large", too_large)
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise ApiError(413, "too_large", too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def error_json(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def principal_of(request: web.Request) -> Principal:
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None:
        raise ApiError(401, "unauthenticated", "Sign in first, or send an API token as 'Authorization: Bearer ...'.")
    return principal


@dataclass(frozen=True, slots=True)
class Guard:
    access: AccessDeps
    codec: SessionCodec
    clock: Clock
    render_error: Callable[[web.Request, int, str], web.StreamResponse]
    per_token: RateLimit = field(default_factory=lambda: RateLimit(rate=5.0, burst=120))  # API tokens (settings)
    per_kiosk: RateLimit = field(default_factory=lambda: RateLimit(rate=0.5, burst=30))  # photos of one device

    def limit(self, route: Route, principal: Principal) -> None:
        """429 (with Retry-After) for an API token or a kiosk past its rate; sign-ins have their own."""
        wait = 0.0
        if principal.kind is PrincipalKind.TOKEN:
            wait = self.per_token.take(principal.actor)
        elif principal.kind is PrincipalKind.DEVICE and route.name == "kiosk_check_in":
            wait = self.per_kiosk.take(principal.actor)
        if wait:
            raise ApiError(429, "rate_limited", "Too many requests. Wait a moment and try again.", retry_after=wait)

    async def authenticate(self, request: web.Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise ApiError(401, "unauthenticated", "Use 'Authorization: Bearer <token>'.")
            principal = await token_principal(secret.strip(), deps=self.access)
            if principal is None:
                raise ApiError(401, "unauthenticated", "That token is unknown or was revoked.")
            return principal
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        session = self.codec.read(cookie, self.clock.now())
        if session is None or await self.access.used.marked(f"session:{session.sid}"):
            return None
        request[SESSION] = session
        return await session_principal(session.tenant_id, session.subject, session.csrf, deps=self.access)

    def wrap(self, route: Route, handler: Handler) -> Handler:
        api = route.path.startswith("/api/")

        async def guarded(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            try:
                principal = await self.authenticate(request)
                if principal is not None:
                    request[PRINCIPAL] = principal
                    self.limit(route, principal)
                self.check(route, request, principal)
                if request.method not in SAFE_METHODS and principal is not None and principal.csrf is not None:
                    await self.check_csrf(request, principal)
                response = await handler(request)
            except ApiError as exc:
                response = self.failure(request, api, exc)
            except NotFound as exc:
                response = self.failure(request, api, ApiError(404, "not_found", str(exc)))
            except NotAllowed as exc:
                response = self.failure(request, api, ApiError(403, "forbidden", str(exc)))
            except ServiceError as exc:
                response = self.failure(request, api, ApiError(400, "invalid", str(exc)))
            self.refresh(request, response)
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            if not api:
                response.headers.setdefault("X-Frame-Options", "DENY")
                response.headers.setdefault(
                    "Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
                    "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
                )
            return response

        return guarded

    def check(self, route: Route, request: web.Request, principal: Principal | None) -> None:
        if route.allow == PUBLIC:
            return
        if principal is None:
            raise ApiError(401, "unauthenticated", "Sign in first.")
        if route.allow == DEVICE:
            if principal.kind is not PrincipalKind.DEVICE:
                raise ApiError(403, "forbidden", "Only a paired kiosk can do that.")
            return
        if principal.kind is PrincipalKind.DEVICE:
            raise ApiError(403, "forbidden", "A kiosk can only check people in and out.")
        if route.allow == SIGNED_IN:
            return
        assert isinstance(route.allow, frozenset)
        if not principal.roles & route.allow:
            raise ApiError(
                403, "forbidden", "Your role does not allow this. Ask an admin of your organisation if you need it."
            )

    async def check_csrf(self, request: web.Request, principal: Principal) -> None:
        given = request.headers.get("X-CSRF-Token", "")
        if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            given = str(form.get("csrf", ""))
        if not given or not hmac.compare_digest(given, principal.csrf or ""):
            raise ApiError(403, "csrf", "This form has expired. Reload the page and try again.")

    def failure(self, request: web.Request, api: bool, exc: ApiError) -> web.StreamResponse:
        if exc.retry_after is not None:
            response = error_json(exc.status, exc.code, exc.message)
            response.headers["Retry-After"] = retry_after(exc.retry_after)
            return response
        if api or request.path.startswith("/kiosk/"):
            return error_json(exc.status, exc.code, exc.message)
        if exc.status == 401:
            raise web.HTTPSeeOther(f"/signin?next={quote(request.path_qs, safe='')}")
        return self.render_error(request, exc.status, exc.message)

    def refresh(self, request: web.Request, response: web.StreamResponse) -> None:
        """A session past half its life gets a fresh cookie (up to its maximum since sign-in)."""
        session = request.get(SESSION)
        principal = request.get(PRINCIPAL)
        if session is None or principal is None or "Set-Cookie" in response.headers:
            return
        now = self.clock.now()
        if principal.kind is PrincipalKind.SESSION and self.codec.needs_refresh(session, now):
            token, age = self.codec.issue(
                principal.tenant_id,
                subject_of(principal),
                now,
                auth_time=session.auth_time,
                csrf=session.csrf,
                sid=session.sid,
            )
            if age > 0:
                self.codec.set_cookie(response, SESSION_COOKIE, token, age)


def mount_routes(app: web.Application, guard: Guard, handlers: list[Any]) -> None:
    """Register every route of the table (and nothing else), each behind the guard."""
    for route in ROUTES:
        owner = next((h for h in handlers if hasattr(h, route.name)), None)
        if owner is None:
            raise RuntimeError(f"no handler for route {route.name}")
        app.router.add_route(route.method, route.path, guard.wrap(route, getattr(owner, route.name)), name=route.name)
    app.router.add_static(STATIC_PREFIX, STATIC, name="static", append_version=True)
