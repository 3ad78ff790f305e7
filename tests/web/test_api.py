"""REST API behaviour: pagination, error bodies, tokens shown once and stored hashed, corrections
and review decisions (new events, chat messages, audit), settings, exports, the today board."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import new_id
from attendance.services.access import hash_secret
from attendance.settings import Settings, SlackSettings
from tests.fakes.clock import FixedClock
from tests.fakes.slack import FakeSlack
from tests.web.conftest import Web, started
from tests.web.world import make_things, today_in


@pytest.fixture
async def w(settings: Settings, mongo_server: EmbeddedMongo, engine: Any, slack: FakeSlack) -> AsyncIterator[Web]:
    chat = SlackSettings(signing_secret=slack.signing_secret, api_url=slack.api_url, bot_token=slack.bot_token)  # type: ignore[arg-type]
    async with started(settings.model_copy(update={"slack": chat}), mongo_server.uri, engine) as site:
        yield site


async def all_pages(w: Web, path: str, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        sep = "&" if "?" in path else "?"
        r = await w.call("GET", path + (f"{sep}cursor={cursor}" if cursor else ""), token)
        assert r.status == 200, await r.text()
        body = await r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


async def test_cursor_pages_give_every_event_once_and_only_the_viewers(w: Web) -> None:
    today = today_in(w.c)
    first = today - timedelta(days=14)
    query = f"/api/v1/events?from={first}&to={today}&limit=7"
    everything = await all_pages(w, query, w.a.tokens["admin"])
    stored = await w.c.store.events(w.a.id, datetime.now(UTC) - timedelta(days=20), datetime.now(UTC))
    assert sorted(e["id"] for e in everything) == sorted(e.id for e in stored)
    assert len(everything) == len({e["id"] for e in everything}) > 20
    mine = await all_pages(w, query, w.a.tokens["manager"])
    assert {e["employee_id"] for e in mine} == {w.a.people["manager"].id, w.a.people["employee"].id}
    own = await all_pages(w, query, w.a.tokens["outsider"])
    assert {e["employee_id"] for e in own} == {w.a.people["outsider"].id}
    people = await all_pages(w, "/api/v1/employees?limit=2", w.a.tokens["payroll"])
    assert len(people) == 5 and all(p["email"].endswith("@acme.example") for p in people)


async def test_errors_have_one_shape_and_say_what_is_wrong(w: Web) -> None:
    admin = w.a.tokens["admin"]
    cases = [
        ("GET", "/api/v1/employees/nobody", {}, 404, "not_found"),
        ("GET", "/api/v1/events?from=yesterday", {}, 400, "invalid"),
        ("GET", "/api/v1/events?from=2026-01-01&to=2026-12-01", {}, 400, "invalid"),
        ("GET", "/api/v1/events?cursor=bm9wZQ", {}, 400, "invalid"),
        ("GET", "/api/v1/employees?limit=5000", {}, 400, "invalid"),
        (
            "PATCH",
            "/api/v1/settings",
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "invalid",
        ),
        ("PATCH", "/api/v1/settings", {"json": ["a list"]}, 400, "invalid"),
        ("PATCH", "/api/v1/settings", {"data": b"{" + b" " * 70_000 + b"}"}, 413, "too_large"),
        ("PATCH", "/api/v1/settings", {"json": {"timezone": "Mars/Olympus"}}, 400, "invalid"),
        ("PATCH", "/api/v1/settings", {"json": {"thresholds": {"verify": 2}}}, 400, "invalid"),
        ("PATCH", "/api/v1/settings", {"json": {"colour": "red"}}, 400, "invalid"),
        ("GET", "/api/v1/me", {"headers": {"Authorization": "Basic YTpi"}}, 401, "unauthenticated"),
    ]
    for method, path, kw, status, code in cases:
        r = await w.call(method, path, None if "Authorization" in kw.get("headers", {}) else admin, **kw)
        body = await r.json()
        assert (r.status, body["error"]["code"]) == (status, code), (path, body)
        assert len(body["error"]["message"]) > 10 and set(body) == {"error"}
    r = await w.call("PATCH", "/api/v1/settings", admin, json={"timezone": "Mars/Olympus"})
    assert "IANA" in (await r.json())["error"]["message"]


async def test_a_token_is_shown_once_stored_hashed_listed_and_revoked(w: Web) -> None:
    admin = w.a.tokens["admin"]
    r = await w.call(
        "POST", "/api/v1/tokens", admin, json={"name": "Payroll export", "kind": "integration", "roles": ["payroll"]}
    )
    assert r.status == 201
    made = await r.json()
    secret = made["secret"]
    stored = await w.c.db["api_tokens"].find_one({"_id": made["id"]})
    assert stored is not None and stored["secret_hash"] == hash_secret(secret)
    assert secret not in str(stored)
    listed = await (await w.call("GET", "/api/v1/tokens", admin)).json()
    assert secret not in str(listed) and any(t["id"] == made["id"] for t in listed["items"])
    # the payroll integration reads and exports everything and changes nothing
    assert (await w.call("GET", "/api/v1/timesheets", secret)).status == 200
    assert (await w.call("GET", "/api/v1/timesheets/export", secret)).status == 200
    assert (await w.call("PATCH", "/api/v1/settings", secret, json={"timezone": "UTC"})).status == 403
    assert (await w.call("POST", "/api/v1/tokens", secret, json={"name": "x", "kind": "device"})).status == 403
    assert (await w.call("DELETE", f"/api/v1/tokens/{made['id']}", admin)).status == 200
    r = await w.call("GET", "/api/v1/timesheets", secret)
    assert r.status == 401 and "revoked" in (await r.json())["error"]["message"]
    audit = [e["action"] for e in (await (await w.call("GET", "/api/v1/audit", admin)).json())["items"]]
    assert {"token.created.integration", "token.revoked", "export.timesheet"} <= set(audit)


async def test_a_correction_is_requested_approved_as_a_new_event_and_both_are_told_in_chat(
    w: Web, slack: FakeSlack
) -> None:
    emp, manager = w.a.people["employee"], w.a.people["manager"]
    yesterday = today_in(w.c) - timedelta(days=1)
    fix = {"direction": "out", "at": f"{yesterday}T18:05", "reason": "I left late, forgot to check out"}
    r = await w.call("POST", "/api/v1/corrections", w.a.tokens["employee"], json=fix)
    assert r.status == 201, await r.text()
    request = await r.json()
    assert request["status"] == "open" and request["employee_id"] == emp.id
    await slack.wait_for(lambda: slack.messages_to(w.a.slack_ids[manager.id]))
    assert "forgot to check out" in slack.messages_to(w.a.slack_ids[manager.id])[0]["text"]
    # the employee cannot decide their own request; an outsider cannot see it
    r = await w.call(
        "POST", f"/api/v1/corrections/{request['id']}/decision", w.a.tokens["employee"], json={"decision": "approve"}
    )
    assert r.status == 403
    r = await w.call(
        "POST",
        f"/api/v1/corrections/{request['id']}/decision",
        w.a.tokens["manager"],
        json={"decision": "approve", "note": "ok"},
    )
    decided = await r.json()
    assert r.status == 200 and decided["status"] == "approved" and decided["event_id"]
    event = await w.c.store.event(w.a.id, decided["event_id"])
    assert event is not None and event.channel == "correction" and event.direction is Direction.OUT
    assert event.at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "18:05"
    await slack.wait_for(lambda: slack.messages_to(w.a.slack_ids[emp.id]))
    assert "approved" in slack.messages_to(w.a.slack_ids[emp.id])[0]["text"]
    r = await w.call(
        "POST", f"/api/v1/corrections/{request['id']}/decision", w.a.tokens["admin"], json={"decision": "reject"}
    )
    assert r.status == 400 and "already approved" in (await r.json())["error"]["message"]
    audit = [e["action"] for e in (await (await w.call("GET", "/api/v1/audit", w.a.tokens["admin"])).json())["items"]]
    assert {"correction.requested", "correction.approved"} <= set(audit)


async def test_approving_a_flagged_check_in_records_it_for_the_person_who_sent_it(w: Web) -> None:
    things = await make_things(w.c, w.a)
    before = await w.c.store.events(w.a.id, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(1))
    r = await w.call("GET", "/api/v1/review", w.a.tokens["payroll"])
    assert [i["id"] for i in (await r.json())["items"]] == [things.review_item]
    r = await w.call(
        "POST", f"/api/v1/review/{things.review_item}/decision", w.a.tokens["admin"], json={"decision": "approve"}
    )
    assert r.status == 200 and (await r.json())["status"] == "approved"
    after = await w.c.store.events(w.a.id, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(1))
    added = [e for e in after if e.id not in {b.id for b in before}]
    assert [e.employee_id for e in added] == [w.a.people["employee"].id]
    assert (await (await w.call("GET", "/api/v1/review", w.a.tokens["admin"])).json())["items"] == []


async def test_exports_parse_as_csv_and_xlsx_with_every_day_of_the_people_seen(w: Web) -> None:
    today = today_in(w.c)
    first = today - timedelta(days=14)
    r = await w.call("GET", f"/api/v1/timesheets/export?format=csv&from={first}&to={today}", w.a.tokens["manager"])
    assert r.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert {row["email"] for row in rows} == {"manager@acme.example", "employee@acme.example"}
    assert all(int(row["worked_minutes"]) == 490 for row in rows)
    r = await w.call("GET", f"/api/v1/timesheets/export?format=xlsx&from={first}&to={today}", w.a.tokens["admin"])
    book = zipfile.ZipFile(io.BytesIO(await r.read()))
    assert "xl/worksheets/sheet1.xml" in book.namelist()
    strings = book.read("xl/sharedStrings.xml").decode()
    assert "outsider@acme.example" in strings and "globex" not in strings.lower()


async def test_the_today_board_says_who_is_in_late_absent_and_not_checked_out(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any
) -> None:
    zone = ZoneInfo("Europe/Berlin")
    wednesday = datetime(2026, 12, 2, 11, 0, tzinfo=zone)  # the working day began at 09:00 (grace 5 min)
    async with started(settings, mongo_server.uri, engine, clock=FixedClock(wednesday.astimezone(UTC))) as w:
        emp, outsider, payroll = w.a.people["employee"], w.a.people["outsider"], w.a.people["payroll"]
        todays = [
            (emp, "08:58", Direction.IN),
            (outsider, "09:40", Direction.IN),
            (outsider, "10:30", Direction.OUT),
            (payroll, "08:30", Direction.IN),
        ]
        for seq, (who, hhmm, direction) in enumerate(todays, start=100):
            at = datetime.combine(wednesday.date(), datetime.strptime(hhmm, "%H:%M").time(), tzinfo=zone)
            await w.c.store.append(
                AttendanceEvent(
                    id=new_id(),
                    tenant_id=w.a.id,
                    employee_id=who.id,
                    direction=direction,
                    at=at.astimezone(UTC),
                    timezone="Europe/Berlin",
                    channel="kiosk",
                    job_id=None,
                ),
                seq,
                [],
                None,
            )
        board = await (await w.call("GET", "/api/v1/today", w.a.tokens["admin"])).json()
        rows = {p["name"]: p for team in board["teams"] for p in team["people"]}
        assert rows["Acme Employee"]["status"] == "in" and rows["Acme Employee"]["late_minutes"] == 0
        assert rows["Acme Outsider"]["status"] == "out" and rows["Acme Outsider"]["late_minutes"] == 40
        assert rows["Acme Manager"]["status"] == "absent" and rows["Acme Admin"]["status"] == "absent"
        assert board["counts"] == {
            "in": 2,
            "out": 1,
            "absent": 2,
            "not yet": 0,
            "off": 0,
            "holiday": 0,
            "time_off": 0,
            "late": 1,
            "open_yesterday": 0,
        }
        managed = await (await w.call("GET", "/api/v1/today", w.a.tokens["manager"])).json()
        assert {p["name"] for t in managed["teams"] for p in t["people"]} == {"Acme Manager", "Acme Employee"}
        # chat reads the same board: the same people and states for the same roles
        from attendance.adapters.slack.listeners import SLACK
        from attendance.services.conversation.commands import parse
        from attendance.services.conversation.turns import Asker, Conversation

        tenant = await w.c.deps.tenants.get(w.a.id)
        assert tenant is not None
        talk = Conversation(chat_deps=w.c.chat, clock=w.c.deps.clock, dialect=SLACK)
        in_chat = (await talk.board(Asker(tenant, w.a.people["admin"]))).rows()
        assert {r.employee.name: r.status for r in in_chat} == {name: p["status"] for name, p in rows.items()}
        in_chat = (await talk.board(Asker(tenant, w.a.people["manager"]))).rows()
        assert [r.employee.name for r in in_chat] == ["Acme Employee", "Acme Manager"]
        late = await talk.command(Asker(tenant, w.a.people["admin"]), parse("late"))
        assert late.lines == ("Acme Outsider: 40 min late",)
        page = await (await w.call("GET", "/today", w.a.tokens["manager"])).text()
        assert "Acme Employee" in page and "Acme Outsider" not in page
        charts = await (await w.call("GET", "/today/charts", w.a.tokens["manager"])).text()
        assert "Arrivals per hour today" in charts and "<svg" in charts
        arrivals = charts.split('id="arrivals"')[1].split("</figure>")[0]
        assert "<th scope='row'>08:00</th><td>1</td>" in arrivals  # the employee, at 08:58


async def test_the_kiosk_takes_a_whole_photo_once_per_key_and_refuses_bad_uploads(w: Web) -> None:
    import os

    r = await w.call("POST", "/api/v1/tokens", w.a.tokens["admin"], json={"name": "door", "kind": "device"})
    device = (await r.json())["secret"]
    photo = b"\xff\xd8\xff\xe0" + os.urandom(700_000)  # larger than one network read
    headers = {"Content-Type": "image/jpeg", "Idempotency-Key": "frame-0001"}
    first = await w.call("POST", "/kiosk/check-ins", device, data=io.BytesIO(photo), headers=headers)
    again = await w.call("POST", "/kiosk/check-ins", device, data=io.BytesIO(photo), headers=headers)
    assert first.status == again.status == 202
    job_id = (await first.json())["job_id"]
    assert (await again.json())["job_id"] == job_id
    job = await w.c.checkin.jobs.get(job_id)
    assert job is not None and job.identity_kind == "none" and job.channel == "kiosk"
    assert await w.c.buffer.get(job.photo.ref) == photo
    r = await w.call("GET", f"/kiosk/check-ins/{job_id}", device)
    assert (await r.json()) == {"state": "pending"}
    refusals = [
        ({"Content-Type": "image/jpeg"}, photo[:100], 400, "Idempotency-Key"),
        ({"Content-Type": "text/plain", "Idempotency-Key": "frame-0002"}, b"hello", 415, "image/jpeg"),
        ({"Content-Type": "image/jpeg", "Idempotency-Key": "frame-0003"}, b"\xff" * 5_300_000, 413, "5 MB"),
        ({"Content-Type": "image/jpeg", "Idempotency-Key": "frame-0004"}, b"", 400, "empty"),
    ]
    for extra, body, status, words in refusals:
        r = await w.call("POST", "/kiosk/check-ins", device, data=io.BytesIO(body), headers=extra)
        assert r.status == status and words in (await r.json())["error"]["message"], (status, await r.text())
    other = await w.call("POST", "/api/v1/tokens", w.b.tokens["admin"], json={"name": "door", "kind": "device"})
    r = await w.call("GET", f"/kiosk/check-ins/{job_id}", (await other.json())["secret"])
    assert r.status == 404  # another organisation's kiosk cannot read this one's result


async def test_an_admin_erases_a_persons_face_data_and_it_is_audited(w: Web, photo: Any) -> None:
    from attendance.core.messages import EnrollPhoto, RecordConsent
    from attendance.services.enrollment import enroll_photo, record_consent

    emp = w.a.people["employee"]
    await record_consent(
        RecordConsent(
            tenant_id=w.a.id, employee_id=emp.id, notice_version="2026-11", recorded_by=emp.email, method="chat"
        ),
        deps=w.c.deps,
    )
    await enroll_photo(
        EnrollPhoto(tenant_id=w.a.id, employee_id=emp.id, photo=photo("Queen_Rania/1.jpg")), deps=w.c.deps
    )
    page = await (await w.call("GET", f"/people/{emp.id}", w.a.tokens["admin"])).text()
    assert "1 face template enrolled" in page
    assert (await w.call("DELETE", f"/api/v1/employees/{emp.id}/face-data", w.a.tokens["manager"])).status == 403
    r = await w.call("DELETE", f"/api/v1/employees/{emp.id}/face-data", w.a.tokens["admin"])
    assert (await r.json()) == {"templates_deleted": 1}
    assert await w.c.deps.templates.count(w.a.id, emp.id) == 0
    assert await w.c.deps.consents.active(w.a.id, emp.id) is None
    audit = [e["action"] for e in (await (await w.call("GET", "/api/v1/audit", w.a.tokens["admin"])).json())["items"]]
    assert any("erase" in a for a in audit), audit


async def test_time_off_asked_on_the_api_is_decided_by_the_manager_and_both_are_told_in_chat(
    w: Web, slack: FakeSlack
) -> None:
    emp, manager = w.a.people["employee"], w.a.people["manager"]
    start = today_in(w.c) + timedelta(days=14)
    ask = {"first": str(start), "last": str(start + timedelta(days=2)), "kind": "vacation"}
    r = await w.call("POST", "/api/v1/time-off", w.a.tokens["employee"], json=ask)
    assert r.status == 201, await r.text()
    asked = await r.json()
    assert asked["status"] == "requested" and asked["employee_id"] == emp.id
    [told] = await slack.wait_for(lambda: slack.messages_to(w.a.slack_ids[manager.id]))
    assert "asks for time off" in told["text"]  # with the same buttons as a request made in chat
    assert {e["action_id"] for b in told["blocks"] if b["type"] == "actions" for e in b["elements"]} == {
        "time_off_approve",
        "time_off_reject",
    }
    r = await w.call("POST", "/api/v1/time-off", w.a.tokens["employee"], json={**ask, "last": str(start)})
    assert r.status == 400 and "already has time off" in (await r.json())["error"]["message"]
    r = await w.call(
        "POST", "/api/v1/time-off", w.a.tokens["employee"], json={"first": "2030-01-02", "last": "2029-12-30"}
    )
    assert r.status == 400 and "must end on or after" in (await r.json())["error"]["message"]
    r = await w.call("POST", "/api/v1/time-off", w.a.tokens["manager"], json={**ask, "employee": emp.id})
    assert r.status == 403  # only admins record someone else's
    decide = f"/api/v1/time-off/{asked['id']}/decision"
    assert (await w.call("POST", decide, w.a.tokens["employee"], json={"decision": "approve"})).status == 403
    r = await w.call("POST", decide, w.a.tokens["manager"], json={"decision": "approve"})
    assert r.status == 200 and (await r.json())["status"] == "approved"
    await slack.wait_for(lambda: [m for m in slack.messages_to(w.a.slack_ids[emp.id]) if "was approved" in m["text"]])
    assert await w.c.db["outbox"].count_documents({"type": "attendance.time_off.approved"}) == 1
    seen = f"/api/v1/time-off?from={start}&to={start + timedelta(days=7)}"
    listed = (await (await w.call("GET", seen, w.a.tokens["manager"])).json())["items"]
    assert [t["id"] for t in listed] == [asked["id"]]
    assert (await (await w.call("GET", seen, w.a.tokens["outsider"])).json())["items"] == []


async def test_an_admin_sets_a_schedule_and_a_leaver_on_the_api(w: Web) -> None:
    emp, admin = w.a.people["employee"], w.a.tokens["admin"]
    path = f"/api/v1/employees/{emp.id}"
    r = await w.call(
        "PUT", f"{path}/schedule", admin, json={"days": "mon,tue", "hours": "09:00-13:00", "holidays": "DE-BY"}
    )
    assert r.status == 200, await r.text()
    got = await r.json()
    assert got["schedule"] == {"start": "09:00", "end": "13:00", "weekdays": ["mon", "tue"], "grace_minutes": 5}
    assert got["holidays"] == "DE-BY" and got["weekly_hours"] is None
    r = await w.call("PUT", f"{path}/schedule", admin, json={"weekly_hours": 20})
    got = await r.json()
    assert got["weekly_hours"] == 20 and got["schedule"]["end"] == "13:00"  # the rest stays
    r = await w.call("PUT", f"{path}/schedule", admin, json={"holidays": "XX-NOWHERE"})
    assert r.status == 400
    r = await w.call("PUT", f"{path}/schedule", admin, json={"reset": True, "holidays": "company"})
    got = await r.json()
    assert got["schedule"] is None and got["weekly_hours"] is None and got["holidays"] is None
    assert (await w.call("PUT", f"{path}/schedule", w.a.tokens["manager"], json={"reset": True})).status == 403

    r = await w.call("POST", f"{path}/deactivation", admin, json={"on": str(today_in(w.c))})
    assert r.status == 200 and (await r.json())["inactive_from"] == str(today_in(w.c))
    board = await (await w.call("GET", "/api/v1/today", admin)).json()
    assert emp.id not in str(board)  # a leaver is on no board
    assert await w.c.deps.templates.count(w.a.id, emp.id) == 0  # face data erased at once
    r = await w.call("DELETE", f"{path}/deactivation", admin)
    assert r.status == 200 and (await r.json())["inactive_from"] is None
    r = await w.call("POST", f"/api/v1/employees/{w.a.people['admin'].id}/deactivation", admin, json={})
    assert r.status == 400 and "yourself" in (await r.json())["error"]["message"]


async def test_settings_carry_holidays_the_weekly_limit_and_reminders(w: Web) -> None:
    admin = w.a.tokens["admin"]
    patch = {"holidays": "DE-BY", "weekly_hours": 38.5, "reminders": {"digest_at": "10:15", "enabled": False}}
    r = await w.call("PATCH", "/api/v1/settings", admin, json=patch)
    assert r.status == 200, await r.text()
    got = await r.json()
    assert got["holidays"] == "DE-BY" and got["weekly_hours"] == 38.5
    assert got["reminders"]["digest_at"] == "10:15" and got["reminders"]["enabled"] is False
    assert got["reminders"]["check_out_after_minutes"] == 30  # unchanged
    for bad in ({"holidays": "Atlantis"}, {"weekly_hours": 500}, {"reminders": {"digest_at": "soon"}}):
        r = await w.call("PATCH", "/api/v1/settings", admin, json=bad)
        assert r.status == 400, bad
    r = await w.call("PATCH", "/api/v1/settings", admin, json={"holidays": None})
    assert (await r.json())["holidays"] is None


async def test_verify_clear_band_is_a_tenant_setting_kept_between_verify_and_its_retry(w: Web) -> None:
    admin = w.a.tokens["admin"]
    r = await w.call("GET", "/api/v1/settings", admin)
    calibrated = (await r.json())["thresholds"]
    assert (calibrated["verify"], calibrated["verify_clear"]) == (0.55, 0.57)
    r = await w.call("PATCH", "/api/v1/settings", admin, json={"thresholds": {"verify_clear": 0}})
    assert r.status == 200, await r.text()
    r = await w.call("GET", "/api/v1/settings", admin)  # read back: stored with the tenant
    got = (await r.json())["thresholds"]
    assert got["custom"] is True and got["verify_clear"] == 0 and got["verify"] == 0.55
    r = await w.call("PATCH", "/api/v1/settings", admin, json={"thresholds": {"verify_clear": 0.52}})
    assert r.status == 400
    assert "between verify and verify_retry" in (await r.json())["error"]["message"]


async def test_the_dashboard_asks_decides_and_shows_time_off_and_the_working_day(w: Web) -> None:
    emp, tokens = w.a.people["employee"], w.a.tokens
    start = today_in(w.c) + timedelta(days=7)
    form = {"first": str(start), "last": str(start), "kind": "sick", "half_day": "am"}
    r = await w.call("POST", "/time-off", tokens["employee"], data=form)
    assert r.status in (302, 303) and r.headers["Location"] == f"/people/{emp.id}?notice=time-off-asked"
    queue = await (await w.call("GET", "/corrections", tokens["manager"])).text()
    assert "time off" in queue and 'action="/time-off/' in queue
    [pending] = await w.c.workforce.time_off.pending(w.a.id)
    r = await w.call("POST", f"/time-off/{pending.id}", tokens["manager"], data={"decision": "approve"})
    assert r.status in (302, 303)
    page = await (await w.call("GET", f"/people/{emp.id}", tokens["employee"])).text()
    assert "approved" in page and "sick" in page and "The company&#39;s schedule" in page
    assert "Save the working day" not in page  # only admins change it

    days = {"day_mon": "on", "day_wed": "on", "hours": "08:00-12:00", "grace_minutes": "10", "holidays": "US-CA"}
    r = await w.call("POST", f"/people/{emp.id}/schedule", tokens["admin"], data=days)
    assert r.status in (302, 303)
    page = await (await w.call("GET", f"/people/{emp.id}", tokens["admin"])).text()
    assert "Own schedule: 08:00–12:00 on mon wed (grace 10 min)" in page and "US-CA (own calendar)" in page
    assert "Reminders: off" in page  # the box was not ticked
    r = await w.call("POST", f"/people/{emp.id}/deactivation", tokens["admin"], data={"action": "deactivate"})
    assert r.status in (302, 303)
    page = await (await w.call("GET", f"/people/{emp.id}", tokens["admin"])).text()
    assert "inactive from" in page and "Reactivate" in page
