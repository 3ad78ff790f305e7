"""Signing in and out: "Sign in with Slack" and "Sign in with Microsoft" (OpenID Connect,
authorization code flow with state and nonce), and local accounts (email and password).

The flow sends PKCE (S256) always; the state is single use (marked used on the server). The
client secret goes by ``client_secret_basic`` or ``client_secret_post``, as the provider is
configured; with only an issuer, the endpoints come from OpenID discovery. The provider's ID
token is checked by ``oidc.OidcClient``: signature against the provider's published keys
(fetched over HTTP, cached by key id for an hour), audience (our client id), issuer, expiry,
nonce. Claims the ID token lacks (an email) are read from the userinfo endpoint, for the same
subject only.
The person is then found by ``access.external_sign_in``: by the provider's user id, else by
the email the provider vouches for.

Before sign-in a short-lived signed cookie (``attendance_pre``) carries the sign-in form's CSRF
value and the OIDC state and nonce; it is SameSite=Lax so the provider's redirect brings it back.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
from aiohttp import web

from attendance.adapters.web.app import SESSION, ApiError, read_capped
from attendance.adapters.web.limits import RateLimit, Throttle, retry_after
from attendance.adapters.web.oidc import ERROR_CODE, OidcClient, OidcError, identity_from, pkce_challenge
from attendance.adapters.web.render import Renderer
from attendance.adapters.web.sessions import PRE_COOKIE, SESSION_COOKIE, SessionCodec
from attendance.core.domain.access import Principal, PrincipalKind
from attendance.core.domain.model import MAX_EMAIL, DomainError, normalise_email
from attendance.core.ports import Clock
from attendance.services.access import (
    AccessDeps,
    SignInRefused,
    password_sign_in,
    subject_of,
)
from attendance.settings import OidcProvider, Settings

log = logging.getLogger(__name__)

PROVIDERS = ("slack", "entra")
LABELS = {"slack": "Sign in with Slack", "entra": "Sign in with Microsoft"}
MAX_FORM = 16 * 1024  # a sign-in or pairing form: an email, a password, a token


_ERROR_TEXT = re.compile(r"[^\x20-\x7e]")


class SignIn:
    def __init__(
        self,
        settings: Settings,
        access: AccessDeps,
        codec: SessionCodec,
        *,
        clock: Clock,
        http: aiohttp.ClientSession,
        renderer: Renderer,
    ) -> None:
        self.s, self.access, self.codec, self.clock, self.http, self.r = (
            settings,
            access,
            codec,
            clock,
            http,
            renderer,
        )
        self.oidc = OidcClient(http)
        self.throttle = Throttle()  # per email: password guessing
        self.per_address = RateLimit(rate=0.5, burst=20)  # sign-in attempts of one client address
        self.everyone = RateLimit(rate=20.0, burst=40)  # all password sign-ins: scrypt is CPU

    def provider(self, name: str) -> OidcProvider:
        if name not in PROVIDERS:
            raise web.HTTPNotFound(text="Unknown sign-in provider.")
        found: OidcProvider = getattr(self.s.web, name)
        if not found.enabled:
            raise web.HTTPNotFound(text="That sign-in is not configured here.")
        return found

    def base_url(self, request: web.Request) -> str:
        return (self.s.web.public_url or f"{request.scheme}://{request.host}").rstrip("/")

    def pre(self, request: web.Request) -> dict[str, object]:
        return self.codec.read_state(request.cookies.get(PRE_COOKIE), self.clock.now()) or {}

    def start_session(self, principal: Principal, target: str) -> web.Response:
        now = self.clock.now()
        token, age = self.codec.issue(
            principal.tenant_id, subject_of(principal), now, device=principal.kind is PrincipalKind.DEVICE
        )
        response = redirect(target if _local_path(target) else "/")
        self.codec.set_cookie(
            response,
            SESSION_COOKIE,
            token,
            age,
            same_site="Strict" if principal.kind is PrincipalKind.DEVICE else "Lax",
        )
        self.codec.clear(response, PRE_COOKIE)
        return response

    def form_page(self, request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
        """A sign-in (or pairing) form, with a fresh CSRF value in the pre-sign-in cookie."""
        csrf = secrets.token_urlsafe(24)
        response = self.r.page(request, template, status=status, csrf=csrf, **context)
        self.codec.set_cookie(response, PRE_COOKIE, self.codec.sign_state({"csrf": csrf}, self.clock.now()), 600)
        return response

    async def check_form(self, request: web.Request) -> dict[str, str]:
        """A public form's fields (a few KB at most: read before anything is checked), after its CSRF value."""
        try:
            raw = await read_capped(request, MAX_FORM, "This form is too large.")
        except ApiError:
            raise SignInRefused("This form is too large. Reload the page and try again.") from None
        try:
            form = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=20))
        except ValueError:  # more fields than any of our forms has
            raise SignInRefused("This form has expired. Reload the page and try again.") from None
        expected = str(self.pre(request).get("csrf", ""))
        if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
            raise SignInRefused("This form has expired. Reload the page and try again.")
        return form

    # ------------------------------------------------------------ handlers

    async def signin_page(self, request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
        choices = [(name, LABELS[name]) for name in PROVIDERS if getattr(self.s.web, name).enabled]
        return self.form_page(
            request, "signin.html", status=status, choices=choices, error=error, target=request.query.get("next", "/")
        )

    async def signin_password(self, request: web.Request) -> web.StreamResponse:
        wait = self.per_address.take(request.remote or "?") or self.everyone.take("*")
        if wait:
            response = await self.signin_page(
                request, "Too many sign-in attempts. Wait a minute and try again.", status=429
            )
            response.headers["Retry-After"] = retry_after(wait)
            return response
        try:
            form = await self.check_form(request)
            key = throttle_key(form.get("email", ""))
            if self.throttle.blocked(key):
                raise SignInRefused("Too many wrong passwords. Wait 15 minutes, or ask an admin.")
            try:
                principal = await password_sign_in(form.get("email", ""), form.get("password", ""), deps=self.access)
            except SignInRefused:
                self.throttle.failed(key)
                raise
        except SignInRefused as exc:
            return await self.signin_page(request, str(exc), status=400)
        return self.start_session(principal, form.get("next", "/"))

    async def signin_start(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["provider"]
        provider = self.provider(name)
        try:
            endpoints = await self.oidc.endpoints(provider)
        except OidcError as exc:
            return await self.signin_page(request, str(exc), status=502)
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": provider.client_id,
            "scope": "openid email profile",
            "redirect_uri": f"{self.base_url(request)}/signin/{name}/callback",
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),  # PKCE (RFC 7636), always
            "code_challenge_method": "S256",
        }
        response = redirect(f"{endpoints.authorize}?{urlencode(query)}")
        target = request.query.get("next", "/")
        pre: dict[str, object] = {"state": state, "nonce": nonce, "provider": name, "next": target, "pkce": verifier}
        self.codec.set_cookie(response, PRE_COOKIE, self.codec.sign_state(pre, self.clock.now()), 600)
        return response

    async def signin_callback(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["provider"]
        provider = self.provider(name)
        pre = self.pre(request)
        error = request.query.get("error", "")
        if error:
            what = ERROR_CODE.sub("", error)[:60]
            if what == "access_denied":
                return await self.signin_page(request, "Sign-in was cancelled.", status=400)
            log.warning(
                "sign-in with %s: the provider answered error=%s (%s)",
                name,
                what,
                _ERROR_TEXT.sub("", request.query.get("error_description", ""))[:200],
            )
            return await self.signin_page(
                request,
                f"The sign-in provider refused the sign-in ({what}). Try again, or ask an admin if it keeps happening.",
                status=400,
            )
        state = request.query.get("state", "")
        if pre.get("provider") != name or not state or not hmac.compare_digest(state, str(pre.get("state", ""))):
            return await self.signin_page(request, "This sign-in link has expired. Try again.", status=400)
        expires = datetime.fromtimestamp(int(str(pre.get("exp", 0))), UTC)
        if not await self.access.used.mark(f"oidc-state:{state}", expires):  # single use
            return await self.signin_page(request, "This sign-in link was used already. Try again.", status=400)
        try:
            claims = await self.oidc.exchange(
                name,
                provider,
                request.query.get("code", ""),
                redirect_uri=f"{self.base_url(request)}/signin/{name}/callback",
                nonce=str(pre["nonce"]),
                verifier=str(pre.get("pkce", "")),
            )
            principal = await self.map(name, claims)
        except (OidcError, SignInRefused) as exc:
            return await self.signin_page(request, str(exc), status=400)
        return self.start_session(principal, str(pre.get("next", "/")))

    async def map(self, name: str, claims: dict[str, Any]) -> Principal:
        from attendance.services.access import external_sign_in

        return await external_sign_in(identity_from(name, claims), deps=self.access)

    async def signout(self, request: web.Request) -> web.StreamResponse:
        session = request.get(SESSION)
        if session is not None:  # ended on the server: the cookie is worthless even if it was copied
            await self.access.used.mark(f"session:{session.sid}", datetime.fromtimestamp(session.expires, UTC))
        response = redirect("/signin?notice=signed-out")
        self.codec.clear(response, SESSION_COOKIE)
        return response


def throttle_key(email: str) -> str:
    """The email as the throttle counts it: bounded, normalised (case and spaces do not make a new key)."""
    try:
        return normalise_email(email)
    except DomainError:
        return email[:MAX_EMAIL].strip().lower()


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _local_path(target: str) -> bool:
    """Only our own paths are followed after sign-in (no open redirect): one leading ``/``, no
    control characters (browsers drop tabs and newlines, so ``/<TAB>/evil`` becomes ``//evil``),
    no backslash (read as ``/``), no scheme or host."""
    if not target.startswith("/") or target.startswith("//") or len(target) > 2048:
        return False
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
