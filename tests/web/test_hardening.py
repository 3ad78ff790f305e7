"""What an attacker tries against the public web side, over real HTTP: open redirects after
sign-in, large or deeply nested bodies before any check, floods of sign-ins, kiosk uploads and
API calls (429 with Retry-After), markup in chat messages, and formulas in the exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.settings import Settings, SlackSettings
from tests.fakes.slack import FakeSlack
from tests.web.conftest import Web, started
from tests.web.world import PASSWORD, local_admin, today_in


@pytest.fixture
async def w(settings: Settings, mongo_server: EmbeddedMongo, engine: Any, slack: FakeSlack) -> AsyncIterator[Web]:
    chat = SlackSettings(signing_secret=slack.signing_secret, api_url=slack.api_url, bot_token=slack.bot_token)  # type: ignore[arg-type]
    # aiohttp's jar keeps cookies from a plain-http test server only when they are not Secure
    web_settings = settings.web.model_copy(update={"cookie_secure": False})
    async with started(
        settings.model_copy(update={"slack": chat, "web": web_settings}),
        mongo_server.uri,
        engine,
        jar=aiohttp.CookieJar(unsafe=True),
    ) as site:
        yield site


async def csrf_of(w: Web, path: str = "/signin") -> str:
    page = await w.http.get(f"{w.url}{path}")
    found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/",
        "/%09/evil.example",
        "/\\evil.example",
        "//evil.example",
        "https://evil.example/",
        "/\r\n/evil.example",
    ],
)
async def test_no_next_address_leads_off_site_after_signing_in(w: Web, target: str) -> None:
    email = await local_admin(w.c, w.a)
    from urllib.parse import unquote

    form = {"email": email, "password": PASSWORD, "csrf": await csrf_of(w), "next": unquote(target)}
    r = await w.http.post(f"{w.url}/signin", allow_redirects=False, data=form)
    assert r.status == 303 and r.headers["Location"] == "/"


async def test_a_public_form_larger_than_a_few_kb_is_refused_before_its_csrf_check(w: Web) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    big = b"email=a%40b.example&csrf=x&password=" + b"x" * 2_000_000
    r = await w.http.post(f"{w.url}/signin", data=io.BytesIO(big), headers=form)
    assert r.status == 400 and "too large" in await r.text()
    r = await w.http.post(f"{w.url}/kiosk/pair", data=io.BytesIO(b"csrf=x&token=" + b"t" * 100_000), headers=form)
    assert r.status == 400 and "too large" in await r.text()


async def test_a_deeply_nested_json_body_is_a_400_not_a_500(w: Web) -> None:
    r = await w.call(
        "POST",
        "/api/v1/corrections",
        w.a.tokens["employee"],
        data="[" * 50_000,
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 400 and "nested" in (await r.json())["error"]["message"]


async def test_a_spray_of_password_sign_ins_from_one_address_gets_429_with_retry_after(w: Web) -> None:
    csrf = await csrf_of(w)
    statuses = []
    for n in range(30):
        r = await w.http.post(
            f"{w.url}/signin",
            data={"email": f"random{n}@spray.example", "password": "guess", "csrf": csrf},
            allow_redirects=False,
        )
        statuses.append(r.status)
        if r.status == 429:
            assert int(r.headers["Retry-After"]) >= 1 and "Too many sign-in attempts" in await r.text()
    assert statuses[:20] == [400] * 20 and set(statuses[20:]) == {429}


async def test_api_tokens_are_rate_limited_per_token(w: Web) -> None:
    answers = [await w.call("GET", "/api/v1/me", w.a.tokens["employee"]) for _ in range(130)]
    statuses = [a.status for a in answers]
    assert statuses[:120] == [200] * 120 and 429 in statuses[120:]
    # the refused answer itself (another call after it may already find a refilled token on a slow machine)
    limited = next(a for a in answers if a.status == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await limited.json())["error"]["code"] == "rate_limited"
    assert (await w.call("GET", "/api/v1/me", w.a.tokens["manager"])).status == 200  # another token is not


async def test_a_paired_kiosk_is_rate_limited(w: Web) -> None:
    from attendance.core.domain.access import Principal, PrincipalKind, TokenKind
    from attendance.core.domain.model import Role
    from attendance.entrypoints.bootstrap import access_deps
    from attendance.services.access import create_token

    admin = w.a.people["admin"]
    boss = Principal(
        tenant_id=w.a.id,
        kind=PrincipalKind.SESSION,
        actor=admin.id,
        name="Admin",
        roles=frozenset({Role.ADMIN}),
        employee_id=admin.id,
    )
    _, device = await create_token(boss, name="door", kind=TokenKind.DEVICE, deps=access_deps(w.c))
    statuses = []
    for n in range(40):
        r = await w.call(
            "POST",
            "/kiosk/check-ins",
            device,
            data=io.BytesIO(b"\xff\xd8 not really a photo"),
            headers={"Content-Type": "image/jpeg", "Idempotency-Key": f"key-{n:08d}"},
        )
        statuses.append(r.status)
        if r.status == 429:
            assert int(r.headers["Retry-After"]) >= 1
    assert statuses[:30] == [202] * 30 and statuses[-1] == 429


async def test_a_correction_reason_is_shown_in_chat_as_text_not_as_a_link(w: Web, slack: FakeSlack) -> None:
    manager = w.a.people["manager"]
    yesterday = today_in(w.c) - timedelta(days=1)
    hostile = "<https://evil.example/approve|Approve> and <!channel>"
    r = await w.call(
        "POST",
        "/api/v1/corrections",
        w.a.tokens["employee"],
        json={"direction": "out", "at": f"{yesterday}T18:05", "reason": hostile},
    )
    assert r.status == 201
    await slack.wait_for(lambda: slack.messages_to(w.a.slack_ids[manager.id]))
    text = slack.messages_to(w.a.slack_ids[manager.id])[0]["text"]
    assert "&lt;https://evil.example/approve|Approve&gt; and &lt;!channel&gt;" in text
    assert "<https://evil" not in text and "<!channel>" not in text


async def test_the_chat_month_export_is_the_web_export_with_formulas_guarded(w: Web) -> None:
    from dataclasses import replace

    from attendance.services.chat import chat_principal
    from attendance.services.exports import HEADER, month_csv

    emp = w.a.people["employee"]
    await w.c.deps.employees.upsert(replace(emp, name='=HYPERLINK("https://evil.example","pay")'))
    yesterday = today_in(w.c) - timedelta(days=1)
    admin = w.a.people["admin"]
    _, chat_bytes, count = await month_csv(chat_principal(admin), yesterday.year, yesterday.month, deps=w.c.chat.reads)
    chat_rows = list(csv.reader(io.StringIO(chat_bytes.decode())))
    r = await w.call(
        "GET", f"/api/v1/timesheets/export?from={yesterday.replace(day=1)}&to={yesterday}", w.a.tokens["admin"]
    )
    web_rows = list(csv.reader(io.StringIO(await r.text())))
    assert chat_rows[0] == web_rows[0] == HEADER and count == len(chat_rows) - 1 > 0
    assert chat_rows == web_rows  # one read side: the same people, days and cells
    names = {row[1] for row in chat_rows[1:]}
    assert '\'=HYPERLINK("https://evil.example","pay")' in names
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in chat_rows[1:] for cell in row[1:3])


async def test_the_privacy_and_terms_pages_are_public_and_an_operator_can_replace_them(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, tmp_path: Any
) -> None:
    async with started(settings, mongo_server.uri, engine) as w:
        privacy = await w.call("GET", "/privacy")
        text = await privacy.text()
        assert privacy.status == 200 and "What is stored" in text and "OneDrive" in text and "forget me" in text
        terms = await w.call("GET", "/terms")
        assert terms.status == 200 and "Terms of use" in await terms.text()
    own = tmp_path / "privacy.txt"
    own.write_text("Our own policy.\n\nContact <dpo@example.com>.", encoding="utf-8")
    replaced = settings.model_copy(update={"web": settings.web.model_copy(update={"privacy_file": own})})
    async with started(replaced, mongo_server.uri, engine) as w:
        text = await (await w.call("GET", "/privacy")).text()
        assert "<p>Our own policy.</p>" in text and "&lt;dpo@example.com&gt;" in text and "OneDrive" not in text
