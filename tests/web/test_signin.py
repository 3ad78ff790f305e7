"""Signing in: with Slack and Microsoft (OpenID Connect against a stand-in provider over HTTP),
with a local account's password; sessions, CSRF, key rotation, and the audit log."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.model import ChatIdentity, Employee, Role, new_id
from attendance.settings import OidcProvider, Settings, WebSettings
from tests.fakes.oidc import FakeOidcProvider
from tests.web.conftest import Web, started
from tests.web.world import PASSWORD, local_admin


@pytest.fixture
async def providers() -> AsyncIterator[dict[str, FakeOidcProvider]]:
    found = {"slack": FakeOidcProvider(), "entra": FakeOidcProvider()}
    for p in found.values():
        await p.start()
    yield found
    for p in found.values():
        await p.stop()


def provider_settings(p: FakeOidcProvider, issuer: str) -> OidcProvider:
    return OidcProvider(
        client_id=p.client_id,
        client_secret=p.client_secret,
        authorize_url=f"{p.base}/authorize",  # type: ignore[arg-type]
        token_url=f"{p.base}/token",
        jwks_url=f"{p.base}/jwks",
        issuer=issuer,
    )


@pytest.fixture
async def w(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, providers: dict[str, FakeOidcProvider]
) -> AsyncIterator[Web]:
    # aiohttp's cookie jar keeps Secure cookies from plain-http test servers only when told
    # they are not Secure; the browser tests run with Secure cookies.
    entra_issuer = "https://login.microsoftonline.com/{tid}/v2.0"
    web_settings = WebSettings(
        cookie_secure=False,
        slack=provider_settings(providers["slack"], "https://slack.com"),
        entra=provider_settings(providers["entra"], entra_issuer),
    )
    async with started(
        settings.model_copy(update={"web": web_settings}), mongo_server.uri, engine, jar=aiohttp.CookieJar(unsafe=True)
    ) as site:
        yield site


async def sign_in_with(w: Web, provider: str) -> aiohttp.ClientResponse:
    """Follow the redirects as a browser does: to the provider, back to us, then to the page."""
    return await w.http.get(f"{w.url}/signin/{provider}?next=/api/v1/me", allow_redirects=True)


def slack_claims(w: Web, person: Employee, **extra: Any) -> dict[str, Any]:
    return {
        "iss": "https://slack.com",
        "https://slack.com/user_id": w.a.slack_ids[person.id],
        "https://slack.com/team_id": "",
        "email": person.email,
        "email_verified": True,
        **extra,
    }


async def team_of(w: Web) -> str:
    assert await w.c.deps.identities.tenant_of("slack", w.a.slack_team) == w.a.id
    return w.a.slack_team


async def test_sign_in_with_slack_finds_the_person_by_their_slack_id_and_audits_it(
    w: Web, providers: dict[str, FakeOidcProvider]
) -> None:
    manager = w.a.people["manager"]
    providers["slack"].claims = {**slack_claims(w, manager), "https://slack.com/team_id": await team_of(w)}
    r = await sign_in_with(w, "slack")
    assert r.status == 200, await r.text()
    me = await r.json()
    assert me["employee_id"] == manager.id and "manager" in me["roles"] and me["kind"] == "session"
    assert providers["slack"].token_requests[0]["redirect_uri"].endswith("/signin/slack/callback")
    audit = await (await w.call("GET", "/api/v1/audit", w.a.tokens["admin"])).json()
    assert any(e["action"] == "signin.slack" and e["actor"] == manager.id for e in audit["items"])


async def test_a_first_sign_in_links_the_person_by_verified_email_and_an_unverified_one_is_refused(
    w: Web, providers: dict[str, FakeOidcProvider]
) -> None:
    team = await team_of(w)
    newcomer = await w.c.deps.employees.upsert(
        Employee(id=new_id(), tenant_id=w.a.id, name="New Person", email="new@acme.example")
    )
    providers["slack"].claims = {
        "iss": "https://slack.com",
        "https://slack.com/user_id": "UNEW1",
        "https://slack.com/team_id": team,
        "email": "new@acme.example",
        "email_verified": False,
    }
    r = await sign_in_with(w, "slack")
    assert r.status == 400 and "not on the staff list" in await r.text()
    providers["slack"].claims["email_verified"] = True
    r = await sign_in_with(w, "slack")
    assert (await r.json())["employee_id"] == newcomer.id
    linked = await w.c.deps.identities.of_employees(w.a.id, [newcomer.id])
    assert linked[newcomer.id] == [ChatIdentity("slack", team, "UNEW1")]


async def test_sign_in_with_microsoft_maps_the_entra_user_and_refuses_other_directories(
    w: Web, providers: dict[str, FakeOidcProvider]
) -> None:
    tid = w.a.teams_tenant
    payroll = w.a.people["payroll"]
    providers["entra"].claims = {
        "iss": f"https://login.microsoftonline.com/{tid}/v2.0",
        "tid": tid,
        "oid": str(uuid.uuid4()),
        "preferred_username": payroll.email,
    }
    r = await sign_in_with(w, "entra")
    me = await r.json()
    assert me["employee_id"] == payroll.id and me["roles"] == ["employee", "payroll"]
    stranger = str(uuid.uuid4())
    providers["entra"].claims.update(tid=stranger, iss=f"https://login.microsoftonline.com/{stranger}/v2.0")
    w.http.cookie_jar.clear()
    r = await sign_in_with(w, "entra")
    assert r.status == 400 and "does not use attendance" in await r.text()


@pytest.mark.parametrize("forgery", ["audience", "nonce", "issuer", "key", "expired"])
async def test_an_id_token_that_does_not_check_out_signs_nobody_in(
    w: Web, providers: dict[str, FakeOidcProvider], forgery: str
) -> None:
    slack = providers["slack"]
    slack.claims = {**slack_claims(w, w.a.people["admin"]), "https://slack.com/team_id": await team_of(w)}
    slack.tamper = {
        "audience": {"aud": "someone-else"},
        "nonce": {"nonce": "replayed"},
        "issuer": {"iss": "https://evil.example"},
        "key": {},
        "expired": {"exp": 1_000_000},
    }[forgery]
    if forgery == "key":
        slack.sign_with = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = await sign_in_with(w, "slack")
    assert r.status == 400
    assert "attendance_session" not in {c.key for c in w.http.cookie_jar}
    assert (await w.call("GET", "/api/v1/me")).status == 401


async def test_a_callback_without_the_state_we_issued_is_refused(
    w: Web, providers: dict[str, FakeOidcProvider]
) -> None:
    providers["slack"].claims = {**slack_claims(w, w.a.people["admin"]), "https://slack.com/team_id": await team_of(w)}
    r = await w.http.get(f"{w.url}/signin/slack/callback?code=abc&state=forged", allow_redirects=False)
    assert r.status == 400 and "expired" in await r.text()
    assert providers["slack"].token_requests == []


async def test_password_sign_in_csrf_and_sign_out(w: Web) -> None:
    email = await local_admin(w.c, w.a)
    page = await w.http.get(f"{w.url}/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
    r = await w.http.post(f"{w.url}/signin", data={"email": email, "password": "wrong password!", "csrf": csrf})
    assert r.status == 400 and "do not match" in await r.text()
    r = await w.http.post(f"{w.url}/signin", data={"email": email, "password": PASSWORD, "csrf": "forged"})
    assert r.status == 400 and "expired" in await r.text()
    page = await w.http.get(f"{w.url}/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
    r = await w.http.post(
        f"{w.url}/signin",
        data={"email": email, "password": PASSWORD, "csrf": csrf, "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == "/"
    me = await (await w.http.get(f"{w.url}/api/v1/me")).json()
    assert me["roles"] == ["admin", "employee"] and me["kind"] == "session"
    # a state-changing request with the session cookie needs the CSRF value of the session
    r = await w.http.patch(f"{w.url}/api/v1/settings", json={"timezone": "Europe/Paris"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf"
    page = await w.http.get(f"{w.url}/settings")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
    r = await w.http.patch(
        f"{w.url}/api/v1/settings", json={"timezone": "Europe/Paris"}, headers={"X-CSRF-Token": token}
    )
    assert r.status == 200 and (await r.json())["timezone"] == "Europe/Paris"
    r = await w.http.post(f"{w.url}/signout", data={"csrf": token}, allow_redirects=False)
    assert r.status == 303
    assert (await w.http.get(f"{w.url}/api/v1/me")).status == 401
    actions = [e["action"] for e in (await (await w.call("GET", "/api/v1/audit", w.a.tokens["admin"])).json())["items"]]
    assert {"signin.failed", "signin.password", "settings.changed"} <= set(actions)


async def test_the_session_cookie_is_httponly_secure_samesite_and_short_lived(web: Web) -> None:
    email = await local_admin(web.c, web.a)
    page = await web.http.get(f"{web.url}/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
    pre = page.cookies["attendance_pre"].value
    r = await web.http.post(
        f"{web.url}/signin",
        data={"email": email, "password": PASSWORD, "csrf": csrf},
        headers={"Cookie": f"attendance_pre={pre}"},
        allow_redirects=False,
    )
    morsel = r.cookies["attendance_session"]
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Lax"
    assert int(morsel["max-age"]) == 3600


async def test_a_session_signed_with_a_retired_key_still_works_until_the_key_is_dropped(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any
) -> None:
    from attendance.adapters.web.sessions import SessionCodec

    old, new = "o" * 40, "n" * 40
    codec = SessionCodec(WebSettings(), "old", {"old": old.encode()})
    rotated = settings.model_copy(
        update={
            "web": WebSettings(
                session_key=new,
                session_key_id="new",  # type: ignore[arg-type]
                old_session_keys={"old": old},
            )
        }
    )  # type: ignore[dict-item]
    async with started(rotated, mongo_server.uri, engine) as w:
        admin = w.a.people["admin"]
        token, _ = codec.issue(w.a.id, f"employee:{admin.id}", w.c.deps.clock.now())
        r = await w.call("GET", "/api/v1/me", headers={"Cookie": f"attendance_session={token}"})
        assert (await r.json())["employee_id"] == admin.id
        stale, _ = codec.issue(w.a.id, f"employee:{admin.id}", w.c.deps.clock.now() - timedelta(hours=2))
        r = await w.call("GET", "/api/v1/me", headers={"Cookie": f"attendance_session={stale}"})
        assert r.status == 401
    dropped = settings.model_copy(update={"web": WebSettings(session_key=new, session_key_id="new")})  # type: ignore[arg-type]
    async with started(dropped, mongo_server.uri, engine) as w:
        admin = w.a.people["admin"]
        token, _ = codec.issue(w.a.id, f"employee:{admin.id}", w.c.deps.clock.now())
        r = await w.call("GET", "/api/v1/me", headers={"Cookie": f"attendance_session={token}"})
        assert r.status == 401


async def test_a_role_taken_away_counts_at_once_for_a_signed_in_session(w: Web) -> None:
    from dataclasses import replace

    manager = w.a.people["manager"]
    r = await w.call("GET", "/api/v1/today", w.a.tokens["manager"])
    assert r.status == 200
    await w.c.deps.employees.upsert(replace(manager, roles=frozenset({Role.EMPLOYEE})))
    r = await w.call("GET", "/today", w.a.tokens["manager"])
    assert r.status == 403


async def test_password_guessing_is_stopped_after_five_failures(w: Web) -> None:
    email = await local_admin(w.c, w.a)

    async def attempt(password: str) -> aiohttp.ClientResponse:
        page = await w.http.get(f"{w.url}/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
        return await w.http.post(
            f"{w.url}/signin", data={"email": email, "password": password, "csrf": csrf}, allow_redirects=False
        )

    for n in range(5):
        r = await attempt(f"guess number {n}")
        assert r.status == 400 and "do not match" in await r.text()
    r = await attempt(PASSWORD)
    assert r.status == 400 and "Too many wrong passwords" in await r.text()
    assert (await w.http.get(f"{w.url}/api/v1/me")).status == 401


# ---------------------------------------------------------------- conformance with certified providers


async def admin_claims(w: Web) -> dict[str, Any]:
    return {**slack_claims(w, w.a.people["admin"]), "https://slack.com/team_id": await team_of(w)}


async def test_pkce_is_always_sent_and_a_provider_that_requires_it_signs_people_in(
    w: Web, providers: dict[str, FakeOidcProvider]
) -> None:
    import base64
    import hashlib

    slack = providers["slack"]
    slack.require_pkce = True
    slack.claims = await admin_claims(w)
    r = await sign_in_with(w, "slack")
    assert r.status == 200 and (await r.json())["employee_id"] == w.a.people["admin"].id
    verifier = slack.token_requests[0]["code_verifier"]
    assert 43 <= len(verifier) <= 128 and "client_secret" not in slack.token_requests[0]  # Basic by default
    assert slack.auth_methods == ["client_secret_basic"]
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")


async def test_the_client_secret_goes_in_the_body_when_the_provider_is_set_to_client_secret_post(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, providers: dict[str, FakeOidcProvider]
) -> None:
    slack = providers["slack"]
    chosen = provider_settings(slack, "https://slack.com").model_copy(update={"token_auth": "client_secret_post"})
    web_settings = WebSettings(cookie_secure=False, slack=chosen)
    async with started(
        settings.model_copy(update={"web": web_settings}), mongo_server.uri, engine, jar=aiohttp.CookieJar(unsafe=True)
    ) as w:
        slack.claims = await admin_claims(w)
        assert (await sign_in_with(w, "slack")).status == 200
    assert slack.auth_methods == ["client_secret_post"] and slack.token_requests[0]["client_secret"]


async def test_with_only_an_issuer_the_endpoints_come_from_discovery_and_email_from_userinfo(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, providers: dict[str, FakeOidcProvider]
) -> None:
    entra = providers["entra"]
    entra.issuer = entra.base  # a standard provider whose issuer is its own address
    discovered = OidcProvider(
        client_id=entra.client_id,
        client_secret=entra.client_secret,  # type: ignore[arg-type]
        issuer=entra.base,
    )
    web_settings = WebSettings(cookie_secure=False, entra=discovered)
    async with started(
        settings.model_copy(update={"web": web_settings}), mongo_server.uri, engine, jar=aiohttp.CookieJar(unsafe=True)
    ) as w:
        tid, payroll = w.a.teams_tenant, w.a.people["payroll"]
        oid = str(uuid.uuid4())
        # the ID token names the person but carries no email; userinfo has it
        entra.claims = {"iss": entra.base, "tid": tid, "oid": oid, "sub": oid}
        entra.userinfo_claims = {"email": payroll.email}
        r = await sign_in_with(w, "entra")
        assert r.status == 200, await r.text()
        assert (await r.json())["employee_id"] == payroll.id
        # a userinfo answer about another subject is ignored
        w.http.cookie_jar.clear()
        entra.claims = {"iss": entra.base, "tid": tid, "oid": str(uuid.uuid4()), "sub": "other"}
        entra.userinfo_sub = "someone-else"
        r = await sign_in_with(w, "entra")
        assert r.status == 400


async def test_the_state_is_single_use_and_a_providers_error_is_shown_and_logged(
    w: Web, providers: dict[str, FakeOidcProvider], caplog: pytest.LogCaptureFixture
) -> None:
    slack = providers["slack"]
    slack.claims = await admin_claims(w)
    start = await w.http.get(f"{w.url}/signin/slack", allow_redirects=False)
    pre = start.cookies["attendance_pre"].value
    back = await w.http.get(start.headers["Location"], allow_redirects=False)
    callback = back.headers["Location"]
    first = await w.http.get(callback, allow_redirects=False, headers={"Cookie": f"attendance_pre={pre}"})
    assert first.status == 303
    # the same state again, with the same pre-sign-in cookie (a replayed or leaked callback)
    again = await w.http.get(callback, allow_redirects=False, headers={"Cookie": f"attendance_pre={pre}"})
    assert again.status == 400 and "used already" in await again.text()
    assert len(slack.token_requests) == 1
    # a provider's error is an error, not a cancel
    slack.require_pkce = True
    w.http.cookie_jar.clear()
    caplog.set_level("WARNING", logger="attendance.adapters.web.signin")
    r = await w.http.get(
        f"{w.url}/signin/slack/callback?error=server_error&error_description=down", allow_redirects=False
    )
    text = await r.text()
    assert r.status == 400 and "refused the sign-in (server_error)" in text and "cancelled" not in text
    assert any("error=server_error" in m for m in caplog.messages)
    r = await w.http.get(f"{w.url}/signin/slack/callback?error=access_denied", allow_redirects=False)
    assert "Sign-in was cancelled." in await r.text()


async def test_signing_out_ends_the_session_on_the_server_so_a_copied_cookie_is_refused(w: Web) -> None:
    email = await local_admin(w.c, w.a)
    page = await w.http.get(f"{w.url}/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
    r = await w.http.post(
        f"{w.url}/signin", data={"email": email, "password": PASSWORD, "csrf": csrf}, allow_redirects=False
    )
    copied = r.cookies["attendance_session"].value
    assert (await w.call("GET", "/api/v1/me", headers={"Cookie": f"attendance_session={copied}"})).status == 200
    page = await w.http.get(f"{w.url}/settings")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
    assert (await w.http.post(f"{w.url}/signout", data={"csrf": token}, allow_redirects=False)).status == 303
    assert (await w.call("GET", "/api/v1/me", headers={"Cookie": f"attendance_session={copied}"})).status == 401


async def test_the_providers_keys_are_fetched_for_an_unknown_kid_and_expire_from_the_cache(
    providers: dict[str, FakeOidcProvider],
) -> None:
    from attendance.adapters.web.oidc import JwksCache, OidcError

    p = providers["slack"]
    clock = [0.0]
    async with aiohttp.ClientSession() as http:
        cache = JwksCache(http, ttl_s=3600, now=lambda: clock[0])
        assert (await cache.key(f"{p.base}/jwks", "k1")).key_id == "k1"
        p.key, p.kid = rsa.generate_private_key(public_exponent=65537, key_size=2048), "k2"  # the provider rotates
        clock[0] = 30
        assert (await cache.key(f"{p.base}/jwks", "k1")).key_id == "k1"  # still within the cache's hour
        clock[0] = 3601
        with pytest.raises(OidcError):  # the hour is over: fetched again, and k1 was withdrawn
            await cache.key(f"{p.base}/jwks", "k1")
        clock[0] = 3700
        assert (await cache.key(f"{p.base}/jwks", "k2")).key_id == "k2"
