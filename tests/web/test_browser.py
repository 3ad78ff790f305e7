"""The dashboard and the kiosk in a real headless Chromium (Debian's package) driven by Playwright:
each role signs in and sees only what it may; the today board refreshes in place; an admin
approves a flagged check-in; a correction is requested and approved; a CSV export is downloaded
and parsed; the kiosk checks a person in from Chromium's fake camera playing a face photo.

Set ``ATTENDANCE_SCREENSHOTS=docs/screenshots`` to keep screenshots of the main pages
(``make screenshots``)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import Employee, Role, new_id
from attendance.core.messages import EnrollPhoto, RecordConsent
from attendance.entrypoints.bootstrap import Container, access_deps
from attendance.services.access import create_local_user
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.settings import Settings
from tests.web.camera import y4m_from_photo
from tests.web.conftest import Web, started
from tests.web.world import PASSWORD, make_things

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SHOTS = os.environ.get("ATTENDANCE_SCREENSHOTS")
NAV = {  # what each role's menu offers, and nothing more
    "admin": {
        "Today",
        "My attendance",
        "Timesheets",
        "Review",
        "Requests",
        "Settings",
        "Integrations",
        "Access",
        "Audit log",
        "API",
    },
    "manager": {"Today", "My attendance", "Timesheets", "Requests", "API"},
    "payroll": {
        "Today",
        "My attendance",
        "Timesheets",
        "Review",
        "Requests",
        "Settings",
        "Integrations",
        "Audit log",
        "API",
    },
    "employee": {"My attendance", "Requests", "API"},
}
FORBIDDEN = {
    "manager": ["/review", "/settings", "/access", "/audit", "/integrations"],
    "payroll": ["/access"],
    "employee": ["/today", "/timesheets", "/review", "/settings", "/access", "/audit", "/integrations"],
}


def chromium_missing() -> str:
    return f"Chromium is not installed at {CHROMIUM}: run `make setup` (it installs Debian's chromium package)"


@pytest.fixture
async def browser(tmp_path: Path, photo: Callable[[str], bytes]) -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(chromium_missing())
    camera = y4m_from_photo(photo("Serena_Williams/2.jpg"), tmp_path / "camera.y4m")
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                *FLAGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}",
            ],
        )
        yield b
        await b.close()


@pytest.fixture
async def w(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, photo: Callable[[str], bytes]
) -> AsyncIterator[Web]:
    async with started(settings, mongo_server.uri, engine, worker=True) as site:
        for person in site.a.people.values():  # local accounts, linked to the employees by email
            await create_local_user(site.a.name, person.email, PASSWORD, [], deps=access_deps(site.c))
        yield site


async def sign_in(browser: Browser, w: Web, role: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    await page.goto(f"{w.url}/")
    await expect(page).to_have_url(re.compile(r"/signin\?next="))
    await page.get_by_label("Email").fill(w.a.people[role].email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def test_each_role_signs_in_and_sees_only_what_it_may(browser: Browser, w: Web) -> None:
    for role, links in NAV.items():
        page = await sign_in(browser, w, role)
        menu = page.get_by_role("navigation", name="Main")
        assert set(await menu.get_by_role("link").all_inner_texts()) == links, role
        for path in FORBIDDEN.get(role, []):
            response = await page.goto(f"{w.url}{path}")
            assert response is not None and response.status == 403, (role, path)
            await expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
        if role == "admin":
            for name in ("settings", "integrations", "access", "audit", "api"):
                await page.goto(f"{w.url}/{name}")
                await shot(page, name)
        other = w.b.people["employee"].id
        response = await page.goto(f"{w.url}/people/{other}")
        assert response is not None and response.status == 404
        if role == "employee":
            response = await page.goto(f"{w.url}/people/{w.a.people['outsider'].id}")
            assert response is not None and response.status == 404
        await page.context.close()


async def test_the_today_board_shows_the_team_and_refreshes_in_place(browser: Browser, w: Web) -> None:
    page = await sign_in(browser, w, "manager")
    await page.goto(f"{w.url}/today")
    board = page.locator("#board")
    employee = board.get_by_role("row", name=re.compile("Acme Employee"))
    await expect(employee).to_be_visible()
    await expect(board.get_by_role("row", name=re.compile("Acme Outsider"))).to_have_count(0)
    await expect(employee.locator(".pill")).not_to_have_text("in")
    emp = w.a.people["employee"]
    seq, _ = await w.c.store.day(w.a.id, emp.id, datetime.now(UTC), datetime.now(UTC))
    await w.c.store.append(
        AttendanceEvent(
            id=new_id(),
            tenant_id=w.a.id,
            employee_id=emp.id,
            direction=Direction.IN,
            at=datetime.now(UTC) - timedelta(seconds=5),
            timezone="Europe/Berlin",
            channel="slack",
            job_id=None,
        ),
        seq + 1,
        [],
        None,
    )
    await page.evaluate("document.getElementById('board').refreshNow()")
    await expect(employee.locator(".pill")).to_have_text("in")
    assert await page.evaluate("document.getElementById('board').dataset.refreshed") == "1"
    await expect(page.get_by_role("region", name="Charts")).to_have_attribute("aria-busy", "false")
    await shot(page, "today")
    await page.context.close()


async def test_an_admin_approves_a_flagged_check_in(browser: Browser, w: Web) -> None:
    things = await make_things(w.c, w.a)
    page = await sign_in(browser, w, "admin")
    await page.goto(f"{w.url}/review")
    card = page.get_by_role("article", name=re.compile("Acme Employee's selfie looked like Acme Outsider"))
    await expect(card).to_be_visible()
    await shot(page, "review")
    await card.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_have_text("Approved.")
    await expect(page.get_by_text("Nothing to review.")).to_be_visible()
    item = await w.c.chat.reviews.get(w.a.id, things.review_item)
    assert item is not None and item.status == "approved"
    await page.context.close()


async def test_a_correction_is_requested_by_the_employee_and_approved_by_their_manager(
    browser: Browser, w: Web
) -> None:
    emp = w.a.people["employee"]
    page = await sign_in(browser, w, "employee")
    await page.goto(f"{w.url}/people/{emp.id}")
    await shot(page, "person")
    form = page.get_by_role("form", name="Ask for a correction")
    day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    await form.get_by_label("Direction").select_option("out")
    await form.get_by_label(re.compile("^Time")).fill(f"{day}T19:15")
    await form.get_by_label("Reason").fill("Stayed for the release, forgot to check out")
    await form.get_by_role("button", name="Send the request").click()
    await expect(page.get_by_role("status")).to_have_text("Your request was sent to your manager.")
    await page.context.close()

    page = await sign_in(browser, w, "manager")
    await page.goto(f"{w.url}/corrections")
    request = page.get_by_role("article", name=re.compile("Acme Employee: add a missed check-out"))
    await expect(request).to_be_visible()
    await shot(page, "corrections")
    await request.get_by_label("Note (optional)").fill("Thanks for telling me")
    await request.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_have_text("Approved.")
    await page.goto(f"{w.url}/people/{emp.id}?date={day}")  # the week of that day (on a Monday, last week)
    await expect(page.get_by_role("listitem").filter(has_text="via correction").first).to_contain_text("19:15")
    await page.context.close()


async def test_a_manager_downloads_the_timesheet_as_csv(browser: Browser, w: Web) -> None:
    page = await sign_in(browser, w, "manager")
    await page.goto(f"{w.url}/timesheets?period=month")
    await expect(page.get_by_role("table")).to_contain_text("Acme Employee")
    await shot(page, "timesheets")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="CSV").click()
    download = await info.value
    text = Path(await download.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["email"] for r in rows} <= {"manager@acme.example", "employee@acme.example"}
    assert all(r["first_in"] and r["last_out"] and int(r["worked_minutes"]) == 490 for r in rows)
    await page.context.close()


async def enroll(c: Container, person: Employee, photo: bytes) -> None:
    await record_consent(
        RecordConsent(
            tenant_id=person.tenant_id,
            employee_id=person.id,
            notice_version="2026-11",
            recorded_by=person.email,
            method="chat",
        ),
        deps=c.deps,
    )
    await enroll_photo(EnrollPhoto(tenant_id=person.tenant_id, employee_id=person.id, photo=photo), deps=c.deps)


async def test_the_kiosk_checks_a_person_in_from_the_camera(
    browser: Browser, w: Web, photo: Callable[[str], bytes]
) -> None:
    serena = await w.c.deps.employees.upsert(
        Employee(id=new_id(), tenant_id=w.a.id, name="Serena Williams", email="serena@acme.example")
    )
    await enroll(w.c, w.a.people["outsider"], photo("Queen_Rania/1.jpg"))
    admin = await sign_in(browser, w, "admin")
    await admin.goto(f"{w.url}/people/{serena.id}")
    await admin.get_by_role("button", name="Enroll at a kiosk: a one-time code").click()
    code = await admin.locator("#enrollment-code .code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    await admin.goto(f"{w.url}/access")
    await admin.get_by_label("Name").fill("Front door tablet")
    await admin.get_by_label("Kind").select_option("device")
    await admin.get_by_role("button", name="Create").click()
    secret = await admin.locator("#new-secret").inner_text()
    assert secret.startswith("attd_")
    await admin.context.close()

    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    await context.grant_permissions(["camera"], origin=w.url)
    kiosk = await context.new_page()
    await kiosk.goto(f"{w.url}/kiosk")
    await kiosk.get_by_label("Device token").fill(secret)
    await kiosk.get_by_role("button", name="Set up").click()
    tap = kiosk.get_by_role("button", name="Tap to check in or out")
    await expect(tap).to_be_enabled(timeout=20_000)
    # Serena enrolls herself: the code, the notice, her agreement, the camera's photos
    await kiosk.get_by_role("button", name="Enroll me (with a code from your admin)").click()
    await kiosk.get_by_label("Your enrollment code").fill(code.lower().replace("-", " "))
    await kiosk.get_by_role("button", name="Next").click()
    await expect(kiosk.locator("#hello")).to_have_text("Hello Serena. Please read this first:")
    take = kiosk.get_by_role("button", name="Take the photos")
    await expect(take).to_be_disabled()
    await kiosk.get_by_label(re.compile("^I agree")).check()
    await kiosk.evaluate("document.querySelector('video').style.filter = 'blur(28px)'")  # no face set photo in docs
    await shot(kiosk, "kiosk-enroll")
    await kiosk.evaluate("document.querySelector('video').style.filter = ''")
    await take.click()
    await expect(kiosk.get_by_role("status")).to_have_text(
        re.compile(r"^You're enrolled, Serena \(1 of 3"), timeout=60_000
    )
    consent = await w.c.deps.consents.active(w.a.id, serena.id)
    assert consent is not None and consent.method == "kiosk"  # (three frames of one still image: two duplicates)
    await expect(tap).to_be_enabled(timeout=10_000)
    await tap.click()
    await expect(kiosk.get_by_role("status")).to_have_text(
        re.compile(r"^Welcome, Serena! Checked in at \d\d:\d\d\.$"), timeout=60_000
    )
    await kiosk.evaluate("document.querySelector('video').style.filter = 'blur(28px)'")  # no face set photo in docs
    await shot(kiosk, "kiosk")
    events = await w.c.store.events(w.a.id, datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC), serena.id)
    assert [(e.channel, e.direction) for e in events] == [("kiosk", Direction.IN)]
    job = await w.c.checkin.jobs.get(events[0].job_id or "")
    assert job is not None and job.identity_kind == "none"  # identified, no claimed identity
    await context.close()
    assert Role.EMPLOYEE in serena.roles


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, button, a')]
  .filter(el => !(el.labels && el.labels.length) && !(el.getAttribute('aria-label')) && !el.textContent.trim())
  .map(el => el.outerHTML.slice(0, 80))"""


async def test_pages_fit_a_phone_are_keyboard_reachable_and_labelled(browser: Browser, w: Web) -> None:
    page = await sign_in(browser, w, "admin")
    await page.set_viewport_size({"width": 390, "height": 844})
    for path in (
        "/today",
        f"/people/{w.a.people['employee'].id}",
        "/timesheets",
        "/settings",
        "/access",
        "/corrections",
    ):
        await page.goto(f"{w.url}{path}")
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
        assert await page.evaluate(UNLABELLED) == [], path
        if path == "/today":
            await shot(page, "today-phone")
    await page.goto(f"{w.url}/today")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.closest('main') !== null")
    assert focused, "after 'Skip to content' the next Tab stays in the page's content"
    await page.context.close()


async def test_the_today_page_draws_its_charts_after_the_board(browser: Browser, w: Web) -> None:
    page = await sign_in(browser, w, "payroll")
    await page.goto(f"{w.url}/today")
    charts = page.get_by_role("region", name="Charts")
    await expect(charts).to_have_attribute("aria-busy", "false")
    for title in ("Arrivals per hour today", "Hours worked per week", "People late per day, last 30 days"):
        await expect(charts.get_by_role("img", name=re.compile(title))).to_be_visible()
    await page.context.close()
