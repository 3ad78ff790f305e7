"""OAuth2 access tokens for connectors: fetched with a grant (client credentials, or a refresh
token), cached per subscription until shortly before they expire, fetched again after a 401."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from dataclasses import dataclass

import aiohttp

from attendance.adapters.http.status import NETWORK_ERRORS, read_some

_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")


def oauth_error_code(text: str) -> str | None:
    """RFC 6749's ``error`` code of a refusal (``invalid_client``...), never the rest of the body."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and _ERROR_CODE.match(code) else None


EARLY_S = 60.0  # renew this long before the token says it expires


class TokenError(Exception):
    """No token. ``permanent``: the credentials themselves were refused (no use retrying soon)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(slots=True)
class _Token:
    value: str
    expires: float


class OAuthTokens:
    def __init__(self, http: aiohttp.ClientSession, *, timeout_s: float = 15.0) -> None:
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetched = 0  # how many tokens were fetched (a cache that works keeps this low)

    def forget(self, key: str) -> None:
        self._tokens.pop(key, None)

    async def token(
        self,
        key: str,
        url: str,
        form: dict[str, str],
        *,
        basic: tuple[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> str:
        cached = self._tokens.get(key)
        if cached is not None and cached.expires > time.monotonic():
            return cached.value
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and cached.expires > time.monotonic():
                return cached.value
            headers = {"Authorization": aiohttp.BasicAuth(*basic).encode()} if basic else {}
            try:
                # never redirected: the body carries the client secret
                async with self._http.post(
                    url,
                    data=form,
                    headers=headers,
                    ssl=ssl_context if ssl_context else True,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as resp:
                    if resp.status in (400, 401, 403):
                        code = oauth_error_code(await read_some(resp, 2000))
                        raise TokenError(
                            f"the token endpoint refused the credentials (HTTP {resp.status}"
                            f"{': ' + code if code else ''})",
                            permanent=True,
                        )
                    if resp.status != 200:
                        raise TokenError(f"the token endpoint answered HTTP {resp.status}", permanent=False)
                    body = await resp.json(content_type=None)
            except NETWORK_ERRORS as exc:
                raise TokenError(
                    f"the token endpoint could not be reached ({type(exc).__name__})", permanent=False
                ) from exc
            except ValueError as exc:
                raise TokenError("the token endpoint's answer is not JSON", permanent=False) from exc
            value = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(value, str) or not value:
                raise TokenError("the token endpoint's answer has no access_token", permanent=False)
            lifetime = float(body.get("expires_in", 3600) or 3600)
            self._tokens[key] = _Token(value, time.monotonic() + max(lifetime - EARLY_S, lifetime / 2))
            self.fetched += 1
            return value
