"""Signing in and out: "Sign in with Slack" and "Sign in with Microsoft" (OpenID Connect,
authorization code flow with state and nonce), and local accounts (email and password).

The provider's ID token is checked here: signature against the provider's published keys
(fetched over HTTP and cached by key id), audience (our client id), issuer, expiry, nonce.
The person is then found by ``access.external_sign_in``: by the provider's user id, else by
the email the provider vouches for.

Before sign-in a short-lived signed cookie (``attendance_pre``) carries the sign-in form's CSRF
value and the OIDC state and nonce; it is SameSite=Lax so the provider's redirect brings it back.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import jwt
from aiohttp import web

from attendance.domain.access import Principal, PrincipalKind
from attendance.domain.model import MAX_EMAIL, DomainError, normalise_email
from attendance.ports import Clock
from attendance.services.access import (
    AccessDeps,
    ExternalIdentity,
    SignInRefused,
    password_sign_in,
    subject_of,
)
from attendance.settings import OidcProvider, Settings
from bot.web.app import ApiError, read_capped
from bot.web.limits import RateLimit, Throttle, retry_after
from bot.web.render import Renderer
from bot.web.sessions import PRE_COOKIE, SESSION_COOKIE, SessionCodec

log = logging.getLogger(__name__)

PROVIDERS = ("slack", "entra")
LABELS = {"slack": "Sign in with Slack", "entra": "Sign in with Microsoft"}
_GUID = re.compile(r"^[0-9a-fA-F-]{36}$")
MAX_FORM = 16 * 1024  # a sign-in or pairing form: an email, a password, a token


class OidcError(Exception):
    """The provider's answer could not be trusted or used; the message is for the person."""


class JwksCache:
    """The provider's signing keys, fetched again when a token names a key we do not have
    (at most once a minute, so a flood of bad tokens cannot make us hammer the provider)."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def key(self, url: str, kid: str) -> jwt.PyJWK:
        found = self._keys.get(url, {}).get(kid)
        if found is not None:
            return found
        async with self._lock:
            if kid not in self._keys.get(url, {}) and time.monotonic() - self._fetched.get(url, -1e9) > 60:
                self._fetched[url] = time.monotonic()
                try:
                    async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
                        response.raise_for_status()
                        data = await response.json(content_type=None)
                    keys = jwt.PyJWKSet.from_dict(data).keys
                except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
                    log.warning("signing keys could not be fetched from %s: %s", url, type(exc).__name__)
                    raise OidcError("The sign-in provider could not be reached. Try again in a minute.") from exc
                self._keys[url] = {str(k.key_id): k for k in keys if k.key_id}
        found = self._keys.get(url, {}).get(kid)
        if found is None:
            raise OidcError("Sign-in could not be verified. Please try again.")
        return found


def identity_from(provider: str, claims: dict[str, Any]) -> ExternalIdentity:
    if provider == "slack":
        team, user = claims.get("https://slack.com/team_id"), claims.get("https://slack.com/user_id")
        email = claims.get("email") if claims.get("email_verified") is True else None
        if not isinstance(team, str) or not isinstance(user, str):
            raise OidcError("Slack did not say which workspace and user you are.")
        return ExternalIdentity(provider="slack", org_id=team, user_id=user, email=email)
    tid, oid = claims.get("tid"), claims.get("oid")
    if not isinstance(tid, str) or not isinstance(oid, str):
        raise OidcError("Microsoft did not say which organisation and user you are.")
    # The email comes from the organisation's own directory (its tid must be a tenant we know),
    # not from whichever directory a user might create, so it is trusted for that organisation.
    email = claims.get("email") or claims.get("preferred_username")
    return ExternalIdentity(provider="entra", org_id=tid, user_id=oid, email=email if isinstance(email, str) else None)


class SignIn:
    def __init__(self, settings: Settings, access: AccessDeps, codec: SessionCodec, *, clock: Clock,
                 http: aiohttp.ClientSession, renderer: Renderer) -> None:  # fmt: skip
        self.s, self.access, self.codec, self.clock, self.http, self.r = (
            settings, access, codec, clock, http, renderer)  # fmt: skip
        self.jwks = JwksCache(http)
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
        token, age = self.codec.issue(principal.tenant_id, subject_of(principal), now,
                                      device=principal.kind is PrincipalKind.DEVICE)  # fmt: skip
        response = redirect(target if _local_path(target) else "/")
        self.codec.set_cookie(response, SESSION_COOKIE, token, age,
                              same_site="Strict" if principal.kind is PrincipalKind.DEVICE else "Lax")  # fmt: skip
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
        return self.form_page(request, "signin.html", status=status, choices=choices, error=error,
                              target=request.query.get("next", "/"))  # fmt: skip

    async def signin_password(self, request: web.Request) -> web.StreamResponse:
        wait = self.per_address.take(request.remote or "?") or self.everyone.take("*")
        if wait:
            response = await self.signin_page(request, "Too many sign-in attempts. Wait a minute and try again.",
                                              status=429)  # fmt: skip
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
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        query = {
            "response_type": "code",
            "client_id": provider.client_id,
            "scope": "openid email profile",
            "redirect_uri": f"{self.base_url(request)}/signin/{name}/callback",
            "state": state,
            "nonce": nonce,
        }
        response = redirect(f"{provider.authorize_url}?{urlencode(query)}")
        target = request.query.get("next", "/")
        pre: dict[str, object] = {"state": state, "nonce": nonce, "provider": name, "next": target}
        self.codec.set_cookie(response, PRE_COOKIE, self.codec.sign_state(pre, self.clock.now()), 600)
        return response

    async def signin_callback(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["provider"]
        provider = self.provider(name)
        pre = self.pre(request)
        if request.query.get("error"):
            return await self.signin_page(request, "Sign-in was cancelled.", status=400)
        state = request.query.get("state", "")
        if pre.get("provider") != name or not state or not hmac.compare_digest(state, str(pre.get("state", ""))):
            return await self.signin_page(request, "This sign-in link has expired. Try again.", status=400)
        try:
            claims = await self.exchange(request, name, provider, request.query.get("code", ""), str(pre["nonce"]))
            principal = await self.map(name, claims)
        except (OidcError, SignInRefused) as exc:
            return await self.signin_page(request, str(exc), status=400)
        return self.start_session(principal, str(pre.get("next", "/")))

    async def map(self, name: str, claims: dict[str, Any]) -> Principal:
        from attendance.services.access import external_sign_in

        return await external_sign_in(identity_from(name, claims), deps=self.access)

    async def exchange(self, request: web.Request, name: str, provider: OidcProvider, code: str,
                       nonce: str) -> dict[str, Any]:  # fmt: skip
        if not code or len(code) > 2048:
            raise OidcError("The sign-in provider did not send a code.")
        secret = provider.client_secret.get_secret_value() if provider.client_secret else ""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": provider.client_id or "",
            "client_secret": secret,
            "redirect_uri": f"{self.base_url(request)}/signin/{name}/callback",
        }
        try:
            async with self.http.post(provider.token_url, data=form,
                                      timeout=aiohttp.ClientTimeout(total=15)) as response:  # fmt: skip
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("the %s token endpoint failed: %s", name, type(exc).__name__)
            raise OidcError("The sign-in provider could not be reached. Try again in a minute.") from exc
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str):
            log.warning("the %s token endpoint gave no id_token (status %s)", name, response.status)
            raise OidcError("The sign-in provider refused the sign-in. Try again.")
        try:
            header = jwt.get_unverified_header(id_token)
            key = await self.jwks.key(provider.jwks_url, str(header.get("kid", "")))
            claims: dict[str, Any] = jwt.decode(
                id_token, key.key, algorithms=["RS256"], audience=provider.client_id,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_iss": False}, leeway=60,
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise OidcError("Sign-in could not be verified. Please try again.") from exc
        tid = claims.get("tid", "")
        if "{tid}" in provider.issuer and not (isinstance(tid, str) and _GUID.match(tid)):
            raise OidcError("Sign-in could not be verified. Please try again.")
        if claims.get("iss") != provider.issuer.replace("{tid}", str(tid)):
            raise OidcError("Sign-in could not be verified. Please try again.")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("This sign-in link has expired. Try again.")
        return claims

    async def signout(self, request: web.Request) -> web.StreamResponse:
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
