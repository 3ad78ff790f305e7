"""The OpenID Connect relying party behind "Sign in with Slack" and "Sign in with Microsoft":
the provider's endpoints (configured or discovered), the code exchange with PKCE and the client
secret as the provider wants it, the ID token's checks (signature against the provider's keys,
audience, issuer, expiry, nonce), the userinfo claims of the same subject, and the identity the
claims name. No aiohttp.web here: ``signin`` holds the pages and the session."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import jwt

from attendance.services.access import ExternalIdentity
from attendance.settings import OidcProvider

log = logging.getLogger(__name__)

_GUID = re.compile(r"^[0-9a-fA-F-]{36}$")
ERROR_CODE = re.compile(r"[^A-Za-z0-9_.-]")


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


class OidcClient:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.jwks = JwksCache(http)
        self._discovered: dict[str, Endpoints] = {}

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
        self, name: str, provider: OidcProvider, code: str, *, redirect_uri: str, nonce: str, verifier: str
    ) -> dict[str, Any]:
        """The ID token's claims for ``code``, every check made (and the userinfo's, when the
        token lacks the email); ``OidcError`` with a sentence for the person otherwise."""
        if not code or len(code) > 2048:
            raise OidcError("The sign-in provider did not send a code.")
        endpoints = await self.endpoints(provider)
        secret = provider.client_secret.get_secret_value() if provider.client_secret else ""
        client_id = provider.client_id or ""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
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
                ERROR_CODE.sub("", str(code_text))[:60],
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
