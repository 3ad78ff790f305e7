"""Session cookies: short-lived HS256 JWTs (PyJWT) naming the tenant and the subject, with a
CSRF value that state-changing requests must echo (form field or ``X-CSRF-Token`` header).

Keys are looked up by the token's ``kid``: the current key signs, older keys still verify, so
a key is rotated by moving it to ``old_session_keys``. A session is re-issued when half its
lifetime is gone, up to ``session_max_hours`` after sign-in; then the person signs in again.
Each session has an id (``sid``), kept across renewals; signing out revokes it on the server
(``UsedKeys``), so a copied cookie stops working too. ``typ`` tells a session from
the pre-sign-in state.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from aiohttp import web

from attendance.settings import WebSettings

SESSION_COOKIE = "attendance_session"
PRE_COOKIE = "attendance_pre"  # before sign-in: CSRF of the sign-in forms, OIDC state and nonce
DEVICE_DAYS = 365
_ALGORITHM = "HS256"
SESSION_TYP, PRE_TYP = "session", "pre"  # a token of one kind is never taken for the other


@dataclass(frozen=True, slots=True)
class Session:
    tenant_id: str
    subject: str
    csrf: str
    auth_time: int
    expires: int
    issued: int
    sid: str  # the session's id: kept when the cookie is renewed, revoked at sign-out


class SessionCodec:
    def __init__(self, settings: WebSettings, key_id: str, keys: dict[str, bytes]) -> None:
        if len(keys[key_id]) < 32:
            raise ValueError("the session key must be at least 32 characters long")
        self._s, self._kid, self._keys = settings, key_id, keys

    def issue(
        self,
        tenant_id: str,
        subject: str,
        now: datetime,
        *,
        auth_time: int | None = None,
        csrf: str | None = None,
        device: bool = False,
        sid: str | None = None,
    ) -> tuple[str, int]:
        """(token, max-age in seconds)."""
        iat = int(now.timestamp())
        life = timedelta(days=DEVICE_DAYS) if device else timedelta(minutes=self._s.session_minutes)
        exp = iat + int(life.total_seconds())
        auth = auth_time or iat
        if not device:
            exp = min(exp, auth + self._s.session_max_hours * 3600)
        claims = {
            "tid": tenant_id,
            "sub": subject,
            "csrf": csrf or secrets.token_urlsafe(24),
            "iat": iat,
            "exp": exp,
            "auth": auth,
            "dev": device,
            "sid": sid or secrets.token_urlsafe(18),
            "typ": SESSION_TYP,
        }
        return jwt.encode(claims, self._keys[self._kid], algorithm=_ALGORITHM, headers={"kid": self._kid}), exp - iat

    def read(self, token: str, now: datetime) -> Session | None:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(str(kid))
            if key is None:
                return None
            # expiry is checked below against the service's clock (the one that issued it)
            claims = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("typ") != SESSION_TYP or not isinstance(claims.get("sid"), str):  # not a pre-sign-in state
            return None
        if not isinstance(claims.get("tid"), str) or not isinstance(claims.get("csrf"), str):
            return None
        if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
            return None
        return Session(
            claims["tid"],
            str(claims["sub"]),
            claims["csrf"],
            int(claims.get("auth", claims["iat"])),
            int(claims["exp"]),
            int(claims["iat"]),
            claims["sid"],
        )

    def needs_refresh(self, session: Session, now: datetime) -> bool:
        return session.expires - now.timestamp() < (session.expires - session.issued) / 2

    def sign_state(self, claims: dict[str, object], now: datetime, minutes: int = 10) -> str:
        body = {**claims, "exp": int(now.timestamp()) + minutes * 60, "typ": PRE_TYP}
        return jwt.encode(body, self._keys[self._kid], algorithm=_ALGORITHM, headers={"kid": self._kid})

    def read_state(self, token: str | None, now: datetime) -> dict[str, object] | None:
        if not token:
            return None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(str(kid))
            if key is None:
                return None
            claims: dict[str, object] = jwt.decode(
                token, key, algorithms=[_ALGORITHM], options={"require": ["exp"], "verify_exp": False}
            )
        except jwt.PyJWTError:
            return None
        exp = claims.get("exp")
        if claims.get("typ") != PRE_TYP or not isinstance(exp, int) or exp <= now.timestamp():
            return None
        return claims

    def set_cookie(
        self, response: web.StreamResponse, name: str, value: str, max_age: int, *, same_site: str = "Lax"
    ) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, secure=self._s.cookie_secure, samesite=same_site, path="/"
        )

    def clear(self, response: web.StreamResponse, name: str) -> None:
        response.del_cookie(name, path="/")
