"""An OpenID Connect provider on loopback (the far side of "Sign in with Slack / Microsoft"):
an authorize endpoint that plays the user consenting, a token endpoint that returns an RS256 ID
token with the claims a test sets, and the provider's published keys."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import unquote_plus, urlencode

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
        self.auth_methods: list[str] = []  # client_secret_basic / client_secret_post, per token request
        self.require_pkce = False  # as a provider that requires PKCE for every client
        self.issuer = ""  # what the discovery document names (a test sets it)
        self.userinfo_claims: dict[str, Any] = {}  # what the userinfo endpoint says (besides sub)
        self.userinfo_sub: str | None = None  # another subject than the ID token's: a mix-up
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (nonce, PKCE challenge)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/userinfo", self.userinfo)
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        return app

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if (
            q.get("client_id") != self.client_id
            or q.get("response_type") != "code"
            or "openid" not in q.get("scope", "")
        ):
            return web.Response(status=400, text="bad authorization request")
        back = q["redirect_uri"]
        if self.require_pkce and (not q.get("code_challenge") or q.get("code_challenge_method") != "S256"):
            error = {"error": "invalid_request", "error_description": "PKCE is required", "state": q.get("state", "")}
            return web.Response(status=302, headers={"Location": f"{back}?{urlencode(error)}"})
        code = secrets.token_urlsafe(16)
        self._codes[code] = (q.get("nonce", ""), q.get("code_challenge", ""))
        return web.Response(
            status=302, headers={"Location": f"{back}?{urlencode({'code': code, 'state': q.get('state', '')})}"}
        )

    def _client(self, request: web.Request, form: dict[str, str]) -> tuple[str, str]:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            self.auth_methods.append("client_secret_basic")
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return unquote_plus(user), unquote_plus(password)
        self.auth_methods.append("client_secret_post")
        return form.get("client_id", ""), form.get("client_secret", "")

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        if self._client(request, form) != (self.client_id, self.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        found = self._codes.pop(form.get("code", ""), None)
        if found is None:
            return web.json_response({"error": "invalid_grant"}, status=400)
        nonce, challenge = found
        verifier = form.get("code_verifier", "")
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (challenge or self.require_pkce) and expected != challenge:
            return web.json_response({"error": "invalid_grant", "error_description": "PKCE mismatch"}, status=400)
        now = int(time.time())
        claims = {
            "sub": "someone",
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.claims,
            **self.tamper,
        }
        token = jwt.encode(claims, self.sign_with or self.key, algorithm="RS256", headers={"kid": self.kid})
        return web.json_response({"ok": True, "access_token": "at", "id_token": token})

    async def userinfo(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer at":
            return web.json_response({"error": "invalid_token"}, status=401)
        sub = self.userinfo_sub or str(self.claims.get("sub", "someone"))
        return web.json_response({"sub": sub, **self.userinfo_claims})

    async def discovery(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "jwks_uri": f"{self.base}/jwks",
                "userinfo_endpoint": f"{self.base}/userinfo",
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    async def jwks(self, _: web.Request) -> web.Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]})
