"""An OpenID Connect provider on loopback (the far side of "Sign in with Slack / Microsoft"):
an authorize endpoint that plays the user consenting, a token endpoint that returns an RS256 ID
token with the claims a test sets, and the provider's published keys."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.receivers import Server


class FakeOidcProvider(Server):
    def __init__(self, client_id: str = "client-1", client_secret: str = "secret-1") -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.claims: dict[str, Any] = {}  # what the next ID token says (besides aud, iat, exp, nonce)
        self.tamper: dict[str, Any] = {}  # claims to override after the usual ones (aud, nonce...)
        self.sign_with: rsa.RSAPrivateKey | None = None  # another key: a forged token
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, str] = {}  # code -> nonce

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_get("/jwks", self.jwks)
        return app

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code" or "openid" not in q.get(
                "scope", ""):  # fmt: skip
            return web.Response(status=400, text="bad authorization request")
        code = secrets.token_urlsafe(16)
        self._codes[code] = q.get("nonce", "")
        return web.Response(status=302, headers={
            "Location": f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"})  # fmt: skip

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        nonce = self._codes.pop(form.get("code", ""), None)
        if nonce is None:
            return web.json_response({"error": "invalid_grant"}, status=400)
        now = int(time.time())
        claims = {"sub": "someone", "aud": self.client_id, "iat": now, "exp": now + 300, "nonce": nonce,
                  **self.claims, **self.tamper}  # fmt: skip
        token = jwt.encode(claims, self.sign_with or self.key, algorithm="RS256", headers={"kid": self.kid})
        return web.json_response({"ok": True, "access_token": "at", "id_token": token})

    async def jwks(self, _: web.Request) -> web.Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]})
