"""Signing in and out: "Sign in with Slack" and "Sign in with Microsoft" (OpenID Connect,
authorization code flow with state and nonce), and local accounts (email and password).

The flow sends PKCE (S256) always; the state is single use (marked used on the server). The
client secret goes by ``client_secret_basic`` or ``client_secret_post``, as the provider is
configured; with only an issuer, the endpoints come from OpenID discovery. The provider's ID
token is checked here: signature against the provider's published keys (fetched over HTTP,
cached by key id for an hour), audience (our client id), issuer, expiry, nonce. Claims the ID
token lacks (an email) are read from the userinfo endpoint, for the same subject only.
The person is then found by ``access.external_sign_in``: by the provider's user id, else by
the email the provider vouches for.

Before sign-in a short-lived signed cookie (``attendance_pre``) carries the sign-in form's CSRF
value and the OIDC state and nonce; it is SameSite=Lax so the provider's redirect brings it back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import aiohttp
import jwt
from aiohttp import web

from attendance.adapters.web.app import SESSION, ApiError, read_capped
from attendance.adapters.web.limits import RateLimit, Throttle, retry_after
from attendance.adapters.web.render import Renderer
from attendance.adapters.web.sessions import PRE_COOKIE, SESSION_COOKIE, SessionCodec
from attendance.core.domain.access import Principal, PrincipalKind
from attendance.core.domain.model import MAX_EMAIL, DomainError, normalise_email
from attendance.core.ports import Clock
from attendance.services.access import (
    AccessDeps,
    ExternalIdentity,
    SignInRefused,
    password_sign_in,
    subject_of,
)
from attendance.settings import OidcProvider, Settings

log = logging.getLogger(__name__)

PROVIDERS = ("slack", "entra")
LABELS = {"slack": "Sign in with Slack", "entra": "Sign in with Microsoft"}
_GUID = re.compile(r"^[0-9a-fA-F-]{36}$")
MAX_FORM = 16 * 1024  # a sign-in or pairing form: an email, a password, a token


_ERROR_CODE = re.compile(r"[^A-Za-z0-9_.-]")
_ERROR_TEXT = re.compile(r"[^\x20-\x7e]")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256: base64url of the verifier's SHA-256, without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorize: str
    token: str
    jwks: str
    userinfo: str | None


class OidcError(Exception):
    """The provider's answer could not be trusted or used; the message is for the person."""


class JwksCache:
    """The provider's signing keys. Fetched again when a token names a key we do not have (at most
    once a minute, so a flood of bad tokens cannot make us hammer the provider), and after
    ``ttl_s`` in any case: a key the provider withdrew stops being accepted."""

    def __init__(
        self, http: aiohttp.ClientSession, *, ttl_s: float = 3600.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._http, self._ttl, self._now = http, ttl_s, now
        self._keys: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}  # url -> (fetched at, kid -> key)
        self._tried: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def _fresh(self, url: str, kid: str) -> jwt.PyJWK | None:
        fetched, keys = self._keys.get(url, (-1e18, {}))
        return keys.get(kid) if self._now() - fetched < self._ttl else None

    async def key(self, url: str, kid: str) -> jwt.PyJWK:
        found = self._fresh(url, kid)
        if found is not None:
            return found
        async with self._lock:
            expired = self._now() - self._keys.get(url, (-1e18, {}))[0] >= self._ttl
            if self._fresh(url, kid) is None and (expired or self._now() - self._tried.get(url, -1e18) > 60):
                self._tried[url] = self._now()
                try:
                    async with self._http.get(
                        url, timeout=aiohttp.ClientTimeout(total=10), allow_redirects=False
                    ) as response:
                        response.raise_for_status()
                        data = await response.json(content_type=None)
                    keys = jwt.PyJWKSet.from_dict(data).keys
                except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
                    log.warning("signing keys could not be fetched from %s: %s", url, type(exc).__name__)
                    raise OidcError("The sign-in provider could not be reached. Try again in a minute.") from exc
                self._keys[url] = (self._now(), {str(k.key_id): k for k in keys if k.key_id})
        found = self._fresh(url, kid)
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
        self.jwks = JwksCache(http)
        self._discovered: dict[str, Endpoints] = {}
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
            endpoints = await self.endpoints(provider)
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
            what = _ERROR_CODE.sub("", error)[:60]
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
            claims = await self.exchange(
                request,
                name,
                provider,
                request.query.get("code", ""),
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

    async def endpoints(self, provider: OidcProvider) -> Endpoints:
        """The provider's endpoints as configured, or from its discovery document (fetched once)."""
        if provider.authorize_url and provider.token_url and provider.jwks_url:
            return Endpoints(provider.authorize_url, provider.token_url, provider.jwks_url, provider.userinfo_url)
        found = self._discovered.get(provider.issuer)
        if found is not None:
            return found
        url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=10), allow_redirects=False) as response:
                response.raise_for_status()
                doc = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("OpenID discovery failed at %s: %s", url, type(exc).__name__)
            raise OidcError("The sign-in provider could not be reached. Try again in a minute.") from exc
        fields = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if (
            not isinstance(doc, dict)
            or doc.get("issuer") != provider.issuer
            or not all(isinstance(doc.get(f), str) for f in fields)
        ):
            log.warning("OpenID discovery at %s: not a document for issuer %s", url, provider.issuer)
            raise OidcError("The sign-in provider is not set up correctly. Ask an admin.")
        userinfo = doc.get("userinfo_endpoint")
        found = Endpoints(
            provider.authorize_url or doc["authorization_endpoint"],
            provider.token_url or doc["token_endpoint"],
            provider.jwks_url or doc["jwks_uri"],
            provider.userinfo_url or (userinfo if isinstance(userinfo, str) else None),
        )
        self._discovered[provider.issuer] = found
        return found

    async def exchange(
        self, request: web.Request, name: str, provider: OidcProvider, code: str, *, nonce: str, verifier: str
    ) -> dict[str, Any]:
        if not code or len(code) > 2048:
            raise OidcError("The sign-in provider did not send a code.")
        endpoints = await self.endpoints(provider)
        secret = provider.client_secret.get_secret_value() if provider.client_secret else ""
        client_id = provider.client_id or ""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": f"{self.base_url(request)}/signin/{name}/callback",
            "code_verifier": verifier,
        }
        headers: dict[str, str] = {}
        if provider.token_auth == "client_secret_basic":  # noqa: S105  RFC 6749 2.3.1: form-encoded, then Basic
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form |= {"client_id": client_id, "client_secret": secret}
        try:  # never redirected: the request carries the client secret
            async with self.http.post(
                endpoints.token,
                data=form,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=15),
            ) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("the %s token endpoint failed: %s", name, type(exc).__name__)
            raise OidcError("The sign-in provider could not be reached. Try again in a minute.") from exc
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str):
            code_text = body.get("error") if isinstance(body, dict) else None
            log.warning(
                "the %s token endpoint gave no id_token (status %s, error %s)",
                name,
                response.status,
                _ERROR_CODE.sub("", str(code_text))[:60],
            )
            raise OidcError("The sign-in provider refused the sign-in. Try again.")
        try:
            header = jwt.get_unverified_header(id_token)
            key = await self.jwks.key(endpoints.jwks, str(header.get("kid", "")))
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256"],
                audience=provider.client_id,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_iss": False},
                leeway=60,
            )
        except jwt.PyJWTError as exc:
            raise OidcError("Sign-in could not be verified. Please try again.") from exc
        tid = claims.get("tid", "")
        if "{tid}" in provider.issuer and not (isinstance(tid, str) and _GUID.match(tid)):
            raise OidcError("Sign-in could not be verified. Please try again.")
        if claims.get("iss") != provider.issuer.replace("{tid}", str(tid)):
            raise OidcError("Sign-in could not be verified. Please try again.")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("This sign-in link has expired. Try again.")
        access_token = body.get("access_token")
        if "email" not in claims and endpoints.userinfo and isinstance(access_token, str):
            claims = {**await self.userinfo(name, endpoints.userinfo, access_token, str(claims["sub"])), **claims}
        return claims

    async def userinfo(self, name: str, url: str, access_token: str, sub: str) -> dict[str, Any]:
        """The claims of the userinfo endpoint (OpenID Connect Core 5.3), when they are the same person's."""
        try:
            async with self.http.get(
                url,
                headers={"Authorization": f"Bearer {access_token}"},
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                body = await response.json(content_type=None) if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("the %s userinfo endpoint failed: %s", name, type(exc).__name__)
            return {}
        if not isinstance(body, dict) or body.get("sub") != sub:  # 5.3.2: must be the ID token's subject
            log.warning("the %s userinfo answer was not for the signed-in subject; ignored", name)
            return {}
        return body

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
