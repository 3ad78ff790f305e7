"""The Slack app end to end: signed requests through the real aiohttp server, the real check-in
worker and face engine, the real database, and a stand-in for Slack's Web API on loopback."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.model import ChatIdentity, Employee, Role, new_id
from attendance.core.messages import CreateTenant, EnrollPhoto, RecordConsent
from attendance.entrypoints.bootstrap import Container, build, slack_bot
from attendance.services.directory import employee_for, tenant_for
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.services.tenants import create_tenant
from attendance.settings import Settings, SlackSettings
from tests.e2e.serving import serving
from tests.fakes.slack import TEAM, FakeSlack

PEOPLE = {  # slack user: (name, dev-set identity, roles, enrolled)
    "UADA": ("Serena Williams", "Serena_Williams", {Role.ADMIN}, True),
    "UBOB": ("Queen Rania", "Queen_Rania", {Role.MANAGER}, True),
    "UCY": ("Jesse Jackson", "Jesse_Jackson", set(), True),
    "UDAN": ("John McCain", "John_McCain", set(), False),
}


@dataclass
class Harness:
    c: Container
    slack: FakeSlack
    url: str
    http: aiohttp.ClientSession
    tenant_id: str
    people: dict[str, Employee]
    photo: Callable[[str], bytes]

    async def event(self, event: dict[str, Any], event_id: str | None = None, **headers: str) -> tuple[int, str]:
        body = self.slack.event_body(event, event_id or f"Ev{uuid.uuid4().hex[:10]}")
        return await self.slack.post(self.http, f"{self.url}/slack/events", body, "application/json", headers)

    async def selfie(
        self, user: str, photo_name: str, text: str = "", event_id: str | None = None, **headers: str
    ) -> tuple[int, str]:
        file = self.slack.add_file(f"F{uuid.uuid4().hex[:8]}", self.photo(photo_name))
        return await self.event(
            {
                "type": "message",
                "subtype": "file_share",
                "user": user,
                "channel": f"D{user}",
                "channel_type": "im",
                "text": text,
                "ts": f"{time.time():.6f}",
                "files": [file],
            },
            event_id,
            **headers,
        )

    async def command(self, text: str, user: str, command: str = "/attendance") -> tuple[int, str]:
        body = self.slack.command_body(command, text, user)
        return await self.slack.post(self.http, f"{self.url}/slack/events", body, "application/x-www-form-urlencoded")

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str]:
        payload = {"team": {"id": TEAM}, "api_app_id": "A0APP", "token": "x", **payload}
        body = self.slack.interaction_body(payload)
        return await self.slack.post(self.http, f"{self.url}/slack/events", body, "application/x-www-form-urlencoded")

    async def click(self, user: str, action_id: str, value: str = "") -> tuple[int, str]:
        return await self.interact(
            {
                "type": "block_actions",
                "user": {"id": user, "team_id": TEAM},
                "trigger_id": "trig.2",
                "response_url": self.slack.response_url,
                "actions": [
                    {"action_id": action_id, "value": value, "type": "button", "block_id": "b", "action_ts": "1"}
                ],
            }
        )

    async def answer_to(self, user: str, count: int = 1) -> list[dict[str, Any]]:
        """Messages to the person: in the DM, or to their user id (which Slack delivers to the DM)."""

        def messages() -> list[dict[str, Any]]:
            return [
                m
                for m in self.slack.calls_args("chat.postMessage", "chat.postEphemeral")
                if m.get("channel") in (f"D{user}", user)
            ]

        return list(await self.slack.wait_for(lambda: len(messages()) >= count and messages()))

    async def events_of(self, user: str) -> list[dict[str, Any]]:
        return [d async for d in self.c.db["attendance_events"].find({"employee_id": self.people[user].id})]


async def _tenant(c: Container, slack: FakeSlack, photo: Callable[[str], bytes]) -> tuple[str, dict[str, Employee]]:
    tenant = await create_tenant(
        CreateTenant(name=f"Acme {new_id()[:6]}", timezone="Europe/Berlin", chats=(ChatIdentity("slack", TEAM),)),
        tenants=c.deps.tenants,
        identities=c.deps.identities,
    )
    people: dict[str, Employee] = {}
    for user, (name, identity, roles, enrolled) in PEOPLE.items():
        email = f"{identity.lower()}@acme.example"
        slack.add_user(user, email, name)
        e = await c.deps.employees.upsert(
            Employee(id=new_id(), tenant_id=tenant.id, name=name, email=email, roles=frozenset({Role.EMPLOYEE, *roles}))
        )
        if enrolled:
            await record_consent(
                RecordConsent(
                    tenant_id=tenant.id, employee_id=e.id, notice_version="2026-11", recorded_by=e.email, method="chat"
                ),
                deps=c.deps,
            )
            await enroll_photo(
                EnrollPhoto(tenant_id=tenant.id, employee_id=e.id, photo=photo(f"{identity}/1.jpg")), deps=c.deps
            )
        people[user] = e
    await c.deps.employees.set_manager(tenant.id, people["UCY"].id, people["UBOB"].id)
    return tenant.id, people


@pytest.fixture
async def h(
    settings: Settings,
    mongo_server: EmbeddedMongo,
    engine: Any,
    slack: FakeSlack,
    photo: Any,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Harness]:
    param = getattr(request, "param", False)  # True: OAuth installs; a dict: OAuth with these settings too
    oauth = bool(param)
    slack_settings = SlackSettings(
        signing_secret=slack.signing_secret,
        api_url=slack.api_url,  # type: ignore[arg-type]
        **(
            {"client_id": slack.client_id, "client_secret": slack.client_secret}
            if oauth
            else {"bot_token": slack.bot_token}
        ),
        **(param if isinstance(param, dict) else {}),
    )
    settings = settings.model_copy(update={"slack": slack_settings})
    async with build(settings, uri=mongo_server.uri, engine=engine) as c, aiohttp.ClientSession() as http:
        bot = slack_bot(c)
        assert bot is not None

        try:
            async with serving(c, bot.mount) as url:
                tenant_id, people = await _tenant(c, slack, photo)
                try:
                    yield Harness(c, slack, url, http, tenant_id, people, photo)
                finally:
                    await bot.close()
        finally:
            await c.client.drop_database(settings.database.name)


def text_of(message: dict[str, Any]) -> str:
    return str(message.get("text", ""))


def said(body: str) -> str:
    """The text of a command's answer (Bolt sends a bare text answer as text/plain)."""
    return str(json.loads(body)["text"]) if body.startswith("{") else body


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("blocks") or []
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks)


# ---------------------------------------------------------------- check-in by selfie


async def test_an_enrolled_persons_selfie_in_the_dm_is_answered_with_their_name_and_time(h: Harness) -> None:
    status, _ = await h.selfie("UADA", "Serena_Williams/2.jpg", text="in")
    assert status == 200
    [answer] = await h.answer_to("UADA")
    assert text_of(answer).startswith("Checked in at ") and "(Europe/Berlin), Serena." in text_of(answer)
    buttons = [e["action_id"] for b in blocks_of(answer) if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["not_me", "undo"]
    [event] = await h.events_of("UADA")
    assert event["direction"] == "in" and event["channel"] == "slack"
    # the file was fetched from its own URL with the bot token, and the person linked by their email
    assert h.slack.downloads[-1][1] == f"Bearer {h.slack.bot_token}"
    linked = await employee_for(
        h.tenant_id, "slack", "UADA", employees=h.c.deps.employees, identities=h.c.deps.identities
    )
    assert linked is not None and linked.id == h.people["UADA"].id


async def test_a_strangers_or_colleagues_photo_is_refused_and_the_colleague_case_flagged(h: Harness) -> None:
    await h.selfie("UCY", "_strangers/Alice_Fisher/1.jpg")
    [stranger] = await h.answer_to("UCY")
    assert "nothing was recorded" in text_of(stranger) or "could not recognise" in text_of(stranger)
    await h.selfie("UCY", "Queen_Rania/2.jpg")  # Bob's face from Cy's account
    [_, colleague] = await h.answer_to("UCY", 2)
    assert "doesn't look like you" in text_of(colleague)
    assert await h.events_of("UCY") == []
    flagged = [d async for d in h.c.db["review_queue"].find({"tenant_id": h.tenant_id})]
    assert [(f["kind"], f["claimed_employee_id"], f["looks_like"]) for f in flagged] == [
        ("other_person", h.people["UCY"].id, h.people["UBOB"].id)
    ]


async def test_a_person_who_is_not_enrolled_is_invited_to_enroll(h: Harness) -> None:
    await h.selfie("UDAN", "John_McCain/1.jpg")
    [answer] = await h.answer_to("UDAN")
    assert "not enrolled" in text_of(answer)
    assert '"enroll_open"' in json.dumps(answer["blocks"])


async def test_a_tampered_or_stale_signature_gets_401_and_nothing_is_recorded(h: Harness) -> None:
    file = h.slack.add_file("FBAD", h.photo("Serena_Williams/2.jpg"))
    body = h.slack.event_body(
        {
            "type": "message",
            "subtype": "file_share",
            "user": "UADA",
            "channel": "DUADA",
            "channel_type": "im",
            "ts": "1.0",
            "files": [file],
        },
        "EvTampered",
    )
    headers = {"Content-Type": "application/json", **h.slack.sign(body)}
    async with h.http.post(f"{h.url}/slack/events", data=body.replace("UADA", "UBOB").encode(), headers=headers) as r:
        assert r.status == 401
    stale = {"Content-Type": "application/json", **h.slack.sign(body, timestamp=int(time.time()) - 600)}
    async with h.http.post(f"{h.url}/slack/events", data=body.encode(), headers=stale) as r:
        assert r.status == 401
    assert await h.c.db["checkin_jobs"].count_documents({}) == 0


async def test_the_same_event_delivered_twice_yields_one_attendance_event(h: Harness) -> None:
    await h.selfie("UADA", "Serena_Williams/3.jpg", event_id="EvTwice")
    await h.selfie(
        "UADA",
        "Serena_Williams/3.jpg",
        event_id="EvTwice",
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    await h.answer_to("UADA")
    assert await h.c.db["checkin_jobs"].count_documents({"tenant_id": h.tenant_id}) == 1
    assert len(await h.events_of("UADA")) == 1


async def test_with_the_pose_challenge_on_a_selfie_is_answered_with_a_pose_to_show(h: Harness) -> None:
    import dataclasses

    tenant = await h.c.deps.tenants.get(h.tenant_id)
    assert tenant is not None
    await h.c.deps.tenants.set_policy(h.tenant_id, dataclasses.replace(tenant.policy, pose_challenge=True))
    await h.selfie("UADA", "Serena_Williams/2.jpg")
    [answer] = await h.answer_to("UADA")
    assert text_of(answer).startswith("One more step, Serena: ") and "then send me a new selfie" in text_of(answer)
    assert not [b for b in blocks_of(answer) if b["type"] == "actions"], "nothing recorded, nothing to undo"
    assert await h.events_of("UADA") == []
    await h.selfie("UADA", "Serena_Williams/2.jpg")  # the same camera-facing selfie again
    [_, again] = await h.answer_to("UADA", 2)
    assert text_of(again).startswith("That selfie does not show what I asked")
    assert await h.events_of("UADA") == []


async def test_undo_and_not_me(h: Harness) -> None:
    await h.selfie("UCY", "Jesse_Jackson/2.jpg")
    [answer] = await h.answer_to("UCY")
    event_id = next(e["value"] for b in blocks_of(answer) if b["type"] == "actions" for e in b["elements"])
    assert (await h.click("UBOB", "undo", event_id))[0] == 200  # not Bob's to undo
    await h.slack.wait_for(lambda: h.slack.responses)
    assert "not yours" in h.slack.responses[-1]["text"]
    learnt = {"adapted_from": event_id}
    assert await h.c.db["face_templates"].count_documents(learnt) == 1  # a confident check-in: adapted
    await h.click("UCY", "not_me", event_id)
    await h.slack.wait_for(lambda: len(h.slack.responses) >= 2)
    assert "admins will review" in h.slack.responses[-1]["text"]
    assert await h.c.db["face_templates"].count_documents(learnt) == 0  # "not me": it may be another face
    told = await h.slack.wait_for(lambda: h.slack.messages_to("UADA"))  # the admin, in a DM
    assert "says the check-in" in json.dumps(told[0]["blocks"])
    await h.click("UCY", "undo", event_id)
    await h.slack.wait_for(lambda: len(h.slack.responses) >= 3)
    assert h.slack.responses[-1]["text"].startswith("Undone: your check-in at ")
    events = await h.events_of("UCY")
    assert len(events) == 2 and events[1]["void"] and events[1]["supersedes"] == event_id


async def test_checkin_form_and_a_selfie_in_a_channel(h: Harness) -> None:
    status, body = await h.command("", "UBOB", command="/checkout")
    assert status == 200 and body == ""
    [opened] = h.slack.called("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "checkin_modal" and view["title"]["text"] == "Check out"
    file = h.slack.add_file("FMODAL", h.photo("Queen_Rania/2.jpg"))
    files = {"photo": {"file": {"type": "file_input", "files": [{"id": "FMODAL"}]}}}  # Slack may send ids only
    submission = {
        "type": "view_submission",
        "user": {"id": "UBOB", "team_id": TEAM},
        "view": {
            "id": "VCHK1",
            "type": "modal",
            "callback_id": "checkin_modal",
            "private_metadata": view["private_metadata"],
            "state": {"values": files},
        },
    }
    empty = {**submission, "view": {**submission["view"], "state": {"values": {}}}}
    status, body = await h.interact(empty)
    assert json.loads(body) == {"response_action": "errors", "errors": {"photo": "Please add a selfie."}}
    status, body = await h.interact(submission)
    assert status == 200
    [answer] = await h.answer_to("UBOB")
    assert text_of(answer).startswith("Checked out at ") and file["id"] == "FMODAL"

    # in a channel: only what mentions the bot (app_mention), answered so that only the sender sees it;
    # an install still subscribed to channel messages sends the post twice: one job, and plain chatter is ignored
    await h.event(
        {
            "type": "message",
            "user": "UCY",
            "channel": "CGENERAL",
            "channel_type": "channel",
            "text": "lunch?",
            "ts": "2.0",
        }
    )
    photo = h.slack.add_file("FCHAN", h.photo("Jesse_Jackson/2.jpg"))
    await h.event(
        {
            "type": "message",
            "subtype": "file_share",
            "user": "UCY",
            "channel": "CGENERAL",
            "channel_type": "channel",
            "text": "<@UBOT> in",
            "ts": "3.0",
            "files": [photo],
        }
    )
    await h.event(
        {
            "type": "app_mention",
            "user": "UCY",
            "channel": "CGENERAL",
            "text": "<@UBOT> in",
            "ts": "3.0",
            "files": [photo],
        }
    )
    [ephemeral] = await h.slack.wait_for(lambda: h.slack.called("chat.postEphemeral"))
    assert ephemeral.args["user"] == "UCY" and text_of(ephemeral.args).startswith("Checked in at ")
    assert await h.c.db["checkin_jobs"].count_documents({"tenant_id": h.tenant_id}) == 2


# ---------------------------------------------------------------- enrollment


async def test_enrollment_through_the_modal_then_a_check_in(h: Harness) -> None:
    status, _ = await h.command("enroll", "UDAN")
    assert status == 200
    [opened] = h.slack.called("views.open")
    assert opened.args["view"]["callback_id"] == "enroll_modal" and "Who sees it" in json.dumps(opened.args["view"])
    assert "Three selfies, a moment apart, make check-ins faster" in json.dumps(opened.args["view"])

    def submission(agree: bool, files: list[dict[str, Any]]) -> dict[str, Any]:
        options = [{"value": "agree"}] if agree else []
        return {
            "type": "view_submission",
            "user": {"id": "UDAN", "team_id": TEAM},
            "view": {
                "id": f"V{uuid.uuid4().hex[:8]}",
                "type": "modal",
                "callback_id": "enroll_modal",
                "private_metadata": "",
                "state": {
                    "values": {
                        "consent": {"agree": {"type": "checkboxes", "selected_options": options}},
                        "photos": {"files": {"type": "file_input", "files": files}},
                    }
                },
            },
        }

    good = [h.slack.add_file(f"FEN{n}", h.photo(f"John_McCain/{n}.jpg")) for n in (1, 2)]
    status, body = await h.interact(submission(False, good))
    assert status == 200 and json.loads(body)["errors"]["consent"].startswith("Please tick the box")
    assert await h.c.db["consents"].count_documents({"employee_id": h.people["UDAN"].id}) == 0
    blurred = h.slack.add_file("FENX", b"not a photo at all")
    status, body = await h.interact(submission(True, [*good, blurred]))
    assert status == 200 and json.loads(body)["response_action"] == "update"
    [result] = await h.answer_to("UDAN")  # the DM is reached through the user's id
    assert text_of(result).startswith("You're enrolled, John (2 of 3 photos stored)")
    assert "• Photo 3: That file is not a photo I can read." in text_of(result)
    more = "Adding 1 more selfie, a moment apart, makes check-ins faster: use `/attendance enroll` again."
    assert more in text_of(result)
    assert await h.c.db["face_templates"].count_documents({"employee_id": h.people["UDAN"].id}) == 2
    await h.selfie("UDAN", "John_McCain/4.jpg")
    [_, checked] = await h.answer_to("UDAN", 2)
    assert text_of(checked).startswith("Checked in at ")
    learnt = await h.c.db["face_templates"].count_documents({"employee_id": h.people["UDAN"].id}) - 2

    status, body = await h.command("forget-me", "UDAN")  # the enrollment photos and what check-ins added
    assert status == 200 and f"erased your face data ({2 + learnt} face templates)" in said(body)
    assert await h.c.db["face_templates"].count_documents({"employee_id": h.people["UDAN"].id}) == 0


# ---------------------------------------------------------------- managers and admins


async def test_a_managers_today_shows_their_team_and_others_are_refused_politely(h: Harness) -> None:
    await h.selfie("UCY", "Jesse_Jackson/2.jpg")
    await h.answer_to("UCY")
    status, body = await h.command("today", "UBOB")
    assert status == 200
    text = json.dumps(json.loads(body)["blocks"])
    assert "Jesse Jackson: in since" in text and "Serena" not in text  # Bob manages only Cy
    status, body = await h.command("today", "UADA")  # the admin sees everyone
    assert all(name in json.dumps(json.loads(body)) for name in ("Jesse Jackson", "Serena Williams", "John McCain"))
    status, body = await h.command("today", "UCY")
    assert status == 200 and said(body).startswith("Only managers and admins")
    status, body = await h.command("today", "UNOBODY")
    assert "can't find you" in said(body)
    status, body = await h.command("week <@UCY|cy>", "UBOB")
    assert "Jesse Jackson, this week" in body and "*Total: " in body
    status, body = await h.command("week <@UBOB|bob>", "UCY")
    assert said(body).startswith("Only managers and admins")
    status, body = await h.command("late", "UBOB")
    assert "Late on" in body
    status, body = await h.command("absent someday", "UBOB")
    assert "is not a date" in said(body)
    status, body = await h.command("frobnicate", "UCY")
    assert "Type `/attendance help`" in said(body)
    status, body = await h.command("help", "UCY")
    assert "export YYYY-MM" in json.dumps(json.loads(body))


async def test_the_csv_export_is_sent_to_the_managers_dm(h: Harness) -> None:
    await h.selfie("UCY", "Jesse_Jackson/2.jpg")
    await h.answer_to("UCY")
    month = time.strftime("%Y-%m")
    status, body = await h.command(f"export {month}", "UBOB")
    assert status == 200 and "I'll send the CSV" in said(body)
    await h.slack.wait_for(lambda: h.slack.called("files.completeUploadExternal"))
    [done] = h.slack.called("files.completeUploadExternal")
    assert done.args["channel_id"] == "DUBOB"
    [data] = h.slack.uploads.values()
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["name"] for r in rows] == ["Jesse Jackson"] and rows[0]["first_in"]
    status, body = await h.command("export 2026-13", "UBOB")
    assert "YYYY-MM" in said(body)


async def test_admin_settings_and_the_review_queue(h: Harness) -> None:
    status, body = await h.command("admin timezone Mars/Olympus", "UADA")
    assert "unknown time zone" in said(body)
    status, body = await h.command("admin timezone Asia/Tokyo", "UADA")
    assert said(body) == "The company's time zone is now Asia/Tokyo."
    status, body = await h.command("admin schedule 08:30-16:30 mon-thu grace 10", "UADA")
    assert "08:30–16:30 on Mon, Tue, Wed, Thu, with 10 minutes' grace" in said(body)
    status, body = await h.command("admin timezone UTC", "UBOB")
    assert said(body).startswith("Only an admin")
    status, body = await h.command("admin manager <@UDAN|dan> <@UBOB|bob>", "UADA")
    assert status == 200 and said(body) == "John McCain now reports to Queen Rania."

    await h.selfie("UCY", "Queen_Rania/3.jpg")  # flagged: someone else's face
    await h.answer_to("UCY")
    _, body = await h.command("admin review", "UADA")
    blocks = json.loads(body)["blocks"]
    item_id = next(
        e["value"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "review_approve"
    )
    await h.click("UADA", "review_approve", item_id)
    await h.slack.wait_for(lambda: h.slack.responses)
    assert h.slack.responses[-1]["text"] == "Approved: check-in recorded."
    [event] = await h.events_of("UCY")
    assert event["decision"] == "correction" and event["direction"] == "in"
    await h.click("UADA", "review_reject", item_id)
    await h.slack.wait_for(lambda: len(h.slack.responses) >= 2)
    assert h.slack.responses[-1]["text"] == "That item was already approved."


async def test_app_home_is_published_on_app_home_opened(h: Harness) -> None:
    await h.selfie("UCY", "Jesse_Jackson/2.jpg")
    await h.answer_to("UCY")
    for user in ("UCY", "UBOB"):
        status, _ = await h.event({"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"})
        assert status == 200
    published = {c.args["user_id"]: json.dumps(c.args["view"]) for c in h.slack.called("views.publish")}
    assert "You're checked in since" in published["UCY"] and "Your team today" not in published["UCY"]
    assert "Your team today" in published["UBOB"] and "Jesse Jackson: in since" in published["UBOB"]


# ---------------------------------------------------------------- OAuth installs


@pytest.mark.parametrize("h", [True], indirect=True)
async def test_oauth_install_creates_the_tenant_and_stores_the_token_encrypted_and_uninstall_removes_it(
    h: Harness,
) -> None:
    h.slack.add_user("UINSTALLER", "founder@newco.example", "Nina Founder")
    async with h.http.get(f"{h.url}/slack/install", allow_redirects=False) as r:
        assert r.status in (200, 302)
        cookie = r.headers["Set-Cookie"].split(";")[0]
        state = cookie.split("=", 1)[1]
    async with h.http.get(f"{h.url}/slack/oauth_redirect?code=bad-code&state={state}", headers={"Cookie": cookie}) as r:
        assert r.status >= 400  # the exchange failed: nothing installed
    async with h.http.get(f"{h.url}/slack/install", allow_redirects=False) as r:
        cookie = r.headers["Set-Cookie"].split(";")[0]
        state = cookie.split("=", 1)[1]
    async with h.http.get(
        f"{h.url}/slack/oauth_redirect?code=good-code&state={state}", headers={"Cookie": cookie}
    ) as r:
        assert r.status == 200, await r.text()
    tenant = await tenant_for("slack", "T0NEW", tenants=h.c.deps.tenants, identities=h.c.deps.identities)
    assert tenant is not None and tenant.name == "Newco"
    founder = await h.c.deps.employees.by_email(tenant.id, "founder@newco.example")
    assert founder is not None and Role.ADMIN in founder.roles
    assert await h.c.deps.identities.of_employees(tenant.id) == {
        founder.id: [ChatIdentity("slack", "T0NEW", "UINSTALLER")]
    }
    [doc] = [d async for d in h.c.db["installations"].find({"team_id": "T0NEW"})]
    assert h.slack.oauth_bot_token not in json.dumps(doc, default=str)  # encrypted at rest
    assert h.slack.oauth_bot_token.encode() not in repr(doc).encode()

    # the new workspace works: a command is answered with the installed token
    body = h.slack.command_body("/attendance", "me", "UINSTALLER", team="T0NEW")
    status, text = await h.slack.post(h.http, f"{h.url}/slack/events", body, "application/x-www-form-urlencoded")
    assert status == 200 and "Your attendance" in text

    body = h.slack.event_body({"type": "app_uninstalled"}, "EvUninstall", team="T0NEW")
    status, _ = await h.slack.post(h.http, f"{h.url}/slack/events", body, "application/json")
    assert status == 200
    assert await h.c.db["installations"].count_documents({"team_id": "T0NEW"}) == 0


async def _install(h: Harness, code: str = "good-code") -> aiohttp.ClientResponse:
    async with h.http.get(f"{h.url}/slack/install", allow_redirects=False) as r:
        cookie = r.headers["Set-Cookie"].split(";")[0]
        state = cookie.split("=", 1)[1]
    r = await h.http.get(f"{h.url}/slack/oauth_redirect?code={code}&state={state}", headers={"Cookie": cookie})
    await r.read()
    return r


@pytest.mark.parametrize("h", [{"allowed_teams": ["T0ALLOWED"]}], indirect=True)
async def test_a_workspace_not_on_the_allow_list_cannot_install(h: Harness) -> None:
    h.slack.add_user("UINSTALLER", "founder@newco.example", "Nina Founder")
    r = await _install(h)
    assert r.status == 403 and "SLACK_ALLOWED_TEAMS" in await r.text() and "T0NEW" in await r.text()
    assert await tenant_for("slack", "T0NEW", tenants=h.c.deps.tenants, identities=h.c.deps.identities) is None
    assert await h.c.db["installations"].count_documents({}) == 0


@pytest.mark.parametrize("h", [True], indirect=True)
async def test_reinstalling_into_a_workspace_with_a_tenant_makes_nobody_an_admin(h: Harness) -> None:
    h.slack.add_user("UINSTALLER", "founder@newco.example", "Nina Founder")
    assert (await _install(h)).status == 200
    tenant = await tenant_for("slack", "T0NEW", tenants=h.c.deps.tenants, identities=h.c.deps.identities)
    assert tenant is not None
    # a member who is not on the staff list installs the app again into the same workspace
    h.slack.add_user("UINSTALLER", "intruder@newco.example", "Mallory")
    assert (await _install(h)).status == 200
    assert await h.c.deps.employees.by_email(tenant.id, "intruder@newco.example") is None
    staff = await h.c.deps.employees.list(tenant.id)
    assert [(p.email, Role.ADMIN in p.roles) for p in staff] == [("founder@newco.example", True)]


async def test_a_body_larger_than_any_slack_request_is_refused_before_the_signature_is_checked(h: Harness) -> None:
    big = b'{"type": "event_callback", "x": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    async with h.http.post(
        f"{h.url}/slack/events", data=io.BytesIO(big), headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 413

    async def chunks() -> Any:  # no Content-Length: counted while it is read
        for _ in range(40):
            yield b"x" * 65536

    async with h.http.post(f"{h.url}/slack/events", data=chunks(), headers={"Content-Type": "application/json"}) as r:
        assert r.status == 413
    assert await h.c.db["checkin_jobs"].count_documents({}) == 0


async def test_a_decided_selfie_is_deleted_from_slack_and_the_job_keeps_no_link_to_it(h: Harness) -> None:
    import dataclasses

    await h.selfie("UCY", "Jesse_Jackson/2.jpg")
    await h.answer_to("UCY")
    [deleted] = await h.slack.wait_for(lambda: h.slack.called("files.delete"))
    [job] = [d async for d in h.c.db["checkin_jobs"].find({"tenant_id": h.tenant_id})]
    assert deleted.args["file"] == job["context"]["file"] and deleted.args["file"].startswith("F")
    assert job["state"] == "done" and job["photo"]["ref"] == "" and job["expires_at"] > job["finished_at"]
    # a tenant that turns the deletion off keeps its members' Slack files
    tenant = await h.c.deps.tenants.get(h.tenant_id)
    assert tenant is not None
    await h.c.deps.tenants.set_policy(h.tenant_id, dataclasses.replace(tenant.policy, delete_chat_photos=False))
    await h.selfie("UCY", "Jesse_Jackson/3.jpg", "out")
    await h.answer_to("UCY", 2)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while await h.c.db["checkin_jobs"].count_documents({"tenant_id": h.tenant_id, "state": "done"}) < 2:
        assert loop.time() < deadline, "the second job was not finished"
        await asyncio.sleep(0.02)  # polling the worker's progress, with a deadline
    assert len(h.slack.called("files.delete")) == 1


def test_the_consent_notice_says_where_selfies_are_and_are_not_kept() -> None:
    from attendance.services.conversation.commands import consent_notice

    notice = dict(consent_notice("/attendance forget-me"))
    assert "keeps none" in notice["Your selfies"] and "OneDrive" in notice["Your selfies"]
    assert "deleted from Slack" in notice["Your selfies"] and "not kept" not in str(notice)


async def test_time_off_is_asked_for_in_chat_and_the_manager_decides_with_a_button(h: Harness) -> None:
    status, body = await h.command("off 2026-12-28..2026-12-30 vacation", "UCY")
    assert (
        status == 200 and said(body) == "Asked: time off Mon 28 Dec to Wed 30 Dec (vacation). Your manager will decide."
    )
    [ask] = await h.answer_to("UBOB")  # Cy reports to Bob: Bob is asked, with the two buttons
    assert ask["text"] == "Time off to decide" and "Jesse Jackson asks for time off" in json.dumps(ask["blocks"])
    time_off_id = next(e["value"] for b in ask["blocks"] if b["type"] == "actions" for e in b["elements"])
    status, _ = await h.click("UCY", "time_off_approve", time_off_id)  # nobody decides their own
    await h.slack.wait_for(lambda: h.slack.responses)
    assert h.slack.responses[-1]["text"].startswith("Only their manager or an admin")
    await h.click("UBOB", "time_off_approve", time_off_id)
    await h.slack.wait_for(lambda: len(h.slack.responses) >= 2)
    assert (
        h.slack.responses[-1]["text"] == "Approved: Jesse Jackson's time off 28 Dec–30 Dec (vacation). Payroll is told."
    )
    told = await h.slack.wait_for(
        lambda: [t for m in h.slack.messages_to("UCY") if "Your time off" in (t := text_of(m))]
    )
    assert told == ["Your time off Mon 28 Dec to Wed 30 Dec (vacation) was approved."]  # the one who asked
    await h.click("UBOB", "time_off_reject", time_off_id)
    await h.slack.wait_for(lambda: len(h.slack.responses) >= 3)
    assert h.slack.responses[-1]["text"] == "That request was already approved."
    [row] = [d async for d in h.c.db["outbox"].find({"type": "attendance.time_off.approved"})]
    assert row["payload"]["first_date"] == "2026-12-28" and row["payload"]["days"] == 3
    status, body = await h.command("off 2026-12-29", "UCY")  # overlaps the approved days
    assert "already has time off" in said(body)
    status, body = await h.command("off next tuesday", "UCY")
    assert "is not a day like 2026-12-24" in said(body)
