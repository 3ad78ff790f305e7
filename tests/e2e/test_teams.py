"""The Teams app end to end: Teams-shaped activities posted to ``/api/messages`` on the real
aiohttp server (the Agents SDK's adapter and JWT check), the real check-in worker, face engine and
database, and a stand-in for the Bot Connector and file host on loopback (``serviceUrl``)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.teams.cards import ADAPTIVE
from attendance.core.domain.model import ChatIdentity, Employee, Role, new_id
from attendance.core.messages import CreateTenant, EnrollPhoto, RecordConsent
from attendance.entrypoints.bootstrap import Container, build, teams_bot
from attendance.services.directory import employee_for
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.services.tenants import create_tenant
from attendance.settings import Settings, TeamsSettings
from tests.e2e.serving import serving
from tests.fakes.teams import APP_ID, APP_SECRET, TEAMS_TENANT, FakeTeams, Sent

PEOPLE = {  # Teams user: (name, dev-set identity, roles, enrolled)
    "ada": ("Serena Williams", "Serena_Williams", {Role.ADMIN}, True),
    "bob": ("Queen Rania", "Queen_Rania", {Role.MANAGER}, True),
    "cy": ("Jesse Jackson", "Jesse_Jackson", set(), True),
    "dan": ("John McCain", "John_McCain", set(), False),
}


def aad(user: str) -> str:
    return f"00000000-0000-4000-8000-{user.encode().hex():0>12}"


def said(sent: Sent) -> str:
    """What the person reads: the message's text, or the text blocks of its cards."""
    a = sent.activity
    texts = [str(a.get("text", ""))] if a.get("text") else []
    for att in a.get("attachments") or []:
        texts += [b["text"] for b in att["content"]["body"] if b.get("type") == "TextBlock"]
    return "\n".join(texts)


def buttons(sent: Sent) -> list[dict[str, Any]]:
    return [act for att in sent.activity.get("attachments") or [] for act in att["content"].get("actions", [])]


@dataclass
class Harness:
    c: Container
    teams: FakeTeams
    url: str
    http: aiohttp.ClientSession
    tenant_id: str
    people: dict[str, Employee]
    photo: Callable[[str], bytes]

    def activity(
        self,
        user: str,
        text: str = "",
        attachments: list[dict[str, Any]] | None = None,
        *,
        value: dict[str, Any] | None = None,
        conversation_type: str = "personal",
        activity_id: str | None = None,
        tenant: str = TEAMS_TENANT,
    ) -> dict[str, Any]:
        a: dict[str, Any] = {
            "type": "message",
            "id": activity_id or f"1{uuid.uuid4().int % 10**12:012d}",
            "channelId": "msteams",
            "serviceUrl": self.teams.service_url,
            "timestamp": "2026-12-03T09:00:00.000Z",
            "locale": "en-US",
            "from": {"id": f"29:{user}", "aadObjectId": aad(user), "name": user},
            "recipient": {"id": "28:attendance-bot", "name": "attendance"},
            "conversation": {"id": f"a:{user}", "conversationType": conversation_type, "tenantId": tenant},
            "channelData": {"tenant": {"id": tenant}},
            "text": text,
            "attachments": attachments or [],
        }
        if value is not None:
            a["value"] = value
        return a

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> int:
        async with self.http.post(f"{self.url}/api/messages", json=activity, headers=headers or {}) as resp:
            await resp.read()
            return resp.status

    async def selfie(
        self, user: str, photo_name: str, text: str = "", *, pasted: bool = False, activity_id: str | None = None
    ) -> int:
        data = self.photo(photo_name)
        attachment = self.teams.paste(data) if pasted else self.teams.upload(data)
        return await self.post(self.activity(user, text, [attachment], activity_id=activity_id))

    async def answers(self, user: str, count: int = 1) -> list[Sent]:
        """The proactive answers (not replies to an activity) in the person's personal chat."""

        def proactive() -> list[Sent]:
            return [s for s in self.teams.to(f"a:{user}") if s.reply_to is None]

        return list(await self.teams.wait_for(lambda: len(proactive()) >= count and proactive()))

    async def say(self, user: str, text: str = "", **kw: Any) -> Sent:
        """Post a message and return the bot's reply to it."""
        activity = self.activity(user, text, **kw)
        assert await self.post(activity) == 202
        replies = [s for s in self.teams.to(f"a:{user}") if s.reply_to == activity["id"]]
        assert replies, f"no reply to {text!r}"
        return replies[-1]

    async def events_of(self, user: str) -> list[dict[str, Any]]:
        return [d async for d in self.c.db["attendance_events"].find({"employee_id": self.people[user].id})]


def preview(activity: dict[str, Any]) -> str | None:
    """The line Teams shows for a message in the chat list and its notification: the text, or
    for a card-only message the activity's summary (the card's fallbackText for other clients)."""
    cards = [a["content"] for a in activity.get("attachments", []) if a.get("contentType") == ADAPTIVE]
    if any(not c.get("fallbackText") for c in cards):
        return None
    return activity.get("text") or activity.get("summary") or None


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeams]:
    t = FakeTeams()
    await t.start()
    yield t
    await t.stop()


async def _tenant(c: Container, teams: FakeTeams, photo: Callable[[str], bytes]) -> tuple[str, dict[str, Employee]]:
    tenant = await create_tenant(
        CreateTenant(
            name=f"Contoso {new_id()[:6]}", timezone="Europe/Berlin", chats=(ChatIdentity("teams", TEAMS_TENANT),)
        ),
        tenants=c.deps.tenants,
        identities=c.deps.identities,
    )
    people: dict[str, Employee] = {}
    for user, (name, identity, roles, enrolled) in PEOPLE.items():
        email = f"{identity.lower()}@contoso.example"
        teams.add_member(f"29:{user}", aad(user), email, name)
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
    await c.deps.employees.set_manager(tenant.id, people["cy"].id, people["bob"].id)
    return tenant.id, people


@pytest.fixture
async def h(
    settings: Settings,
    mongo_server: EmbeddedMongo,
    engine: Any,
    teams: FakeTeams,
    photo: Any,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Harness]:
    credentials = bool(getattr(request, "param", False))
    teams_settings = TeamsSettings(
        service_hosts=["127.0.0.1"],
        public_url="https://attendance.contoso.example",
        **(
            {"client_id": APP_ID, "client_secret": APP_SECRET, "token_url": teams.token_url}
            if credentials
            else {"allow_anonymous": True}
        ),
    )  # type: ignore[arg-type]
    settings = settings.model_copy(update={"teams": teams_settings})
    async with build(settings, uri=mongo_server.uri, engine=engine) as c, aiohttp.ClientSession() as http:
        bot = teams_bot(c)

        try:
            async with serving(c, bot.mount) as url:
                tenant_id, people = await _tenant(c, teams, photo)
                try:
                    yield Harness(c, teams, url, http, tenant_id, people, photo)
                    # what the chat list and the notification show: never Teams' "Sent a card"
                    assert [s.activity for s in teams.sent if preview(s.activity) is None] == []
                finally:
                    await bot.close()
        finally:
            await c.client.drop_database(settings.database.name)


# ---------------------------------------------------------------- check-in by selfie


async def test_an_uploaded_selfie_is_answered_with_the_persons_name_and_never_sends_a_token(h: Harness) -> None:
    assert await h.selfie("ada", "Serena_Williams/2.jpg", text="in") == 202
    [answer] = await h.answers("ada")
    assert said(answer).startswith("Checked in at ") and "(Europe/Berlin), Serena." in said(answer)
    assert [b["data"]["action"] for b in buttons(answer)] == ["not_me", "undo"]
    assert answer.activity["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    [event] = await h.events_of("ada")
    assert event["direction"] == "in" and event["channel"] == "teams"
    # the pre-authorised download URL was fetched, with no Authorization header at all
    assert [(kind, auth) for kind, _, auth in h.teams.downloads] == [("file", None)]
    linked = await employee_for(
        h.tenant_id, "teams", aad("ada"), employees=h.c.deps.employees, identities=h.c.deps.identities
    )
    assert linked is not None and linked.id == h.people["ada"].id


async def test_a_pasted_image_is_fetched_from_the_connector_and_checks_the_person_out(h: Harness) -> None:
    await h.selfie("bob", "Queen_Rania/2.jpg", text="out", pasted=True)
    [answer] = await h.answers("bob")
    assert said(answer).startswith("Checked out at ") and ", Queen." in said(answer)
    assert [kind for kind, _, _ in h.teams.downloads] == ["pasted"]
    [event] = await h.events_of("bob")
    assert event["direction"] == "out"


async def test_a_strangers_or_colleagues_photo_is_refused_and_the_colleague_case_flagged(h: Harness) -> None:
    await h.selfie("cy", "_strangers/Alice_Fisher/1.jpg")
    [stranger] = await h.answers("cy")
    assert "could not recognise" in said(stranger) or "nothing was recorded" in said(stranger)
    await h.selfie("cy", "Queen_Rania/2.jpg")  # Bob's face from Cy's account
    [_, colleague] = await h.answers("cy", 2)
    assert "doesn't look like you" in said(colleague) and buttons(colleague) == []
    assert await h.events_of("cy") == []
    flagged = [d async for d in h.c.db["review_queue"].find({"tenant_id": h.tenant_id})]
    assert [(f["kind"], f["claimed_employee_id"], f["looks_like"]) for f in flagged] == [
        ("other_person", h.people["cy"].id, h.people["bob"].id)
    ]


async def test_the_same_activity_delivered_twice_is_one_check_in(h: Harness) -> None:
    attachment = h.teams.upload(h.photo("Jesse_Jackson/2.jpg"))
    activity = h.activity("cy", "", [attachment], activity_id="1733216400000")
    assert await h.post(activity) == 202
    assert await h.post(activity) == 202
    await h.answers("cy")
    jobs = [d async for d in h.c.db["checkin_jobs"].find({"tenant_id": h.tenant_id})]
    assert len(jobs) == 1
    assert len(await h.events_of("cy")) == 1


async def test_someone_not_enrolled_is_invited_and_strangers_and_other_organisations_are_told(h: Harness) -> None:
    await h.selfie("dan", "John_McCain/1.jpg")
    [answer] = await h.answers("dan")
    assert "not enrolled" in said(answer) and [b["data"]["action"] for b in buttons(answer)] == ["enroll"]
    reply = await h.say("eve", "hi")  # not on the staff list, and not a member the connector knows
    assert "staff list" in said(reply)
    reply = await h.say("ada", "status", tenant="11111111-2222-4333-8444-555555555555")
    assert "not connected" in said(reply)


async def test_a_channel_message_is_told_that_check_ins_happen_in_the_personal_chat(h: Harness) -> None:
    reply = await h.say("ada", "<at>attendance</at> in", conversation_type="channel")
    assert "personal chat" in said(reply)
    assert await h.c.db["checkin_jobs"].count_documents({}) == 0


async def test_a_request_that_is_not_an_activity_is_refused_with_a_clear_answer(h: Harness) -> None:
    async with h.http.post(f"{h.url}/api/messages", json={"type": 5}) as resp:
        assert resp.status == 400 and "not a Bot Framework activity" in await resp.text()
    async with h.http.post(f"{h.url}/api/messages", data=b"{no", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400


@pytest.mark.parametrize("h", [True], indirect=True)
async def test_with_credentials_a_request_without_a_valid_token_is_refused(h: Harness) -> None:
    attachment = h.teams.upload(h.photo("Serena_Williams/2.jpg"))
    activity = h.activity("ada", "in", [attachment])
    assert await h.post(activity) == 401
    assert await h.post(activity, {"Authorization": "Bearer not-a-jwt"}) == 401
    assert await h.post(activity, {"Authorization": "Basic YWRhOnB3"}) == 401
    assert await h.c.db["checkin_jobs"].count_documents({}) == 0
    assert h.teams.downloads == [] and h.teams.sent == []


async def test_an_activity_from_another_channel_than_teams_is_ignored(h: Harness) -> None:
    attachment = h.teams.upload(h.photo("Serena_Williams/2.jpg"))
    for channel in ("webchat", "directline", None):
        activity = h.activity("ada", "in", [attachment])
        activity["channelId"] = channel
        assert await h.post(activity) in (200, 202)
    assert await h.c.db["checkin_jobs"].count_documents({}) == 0
    assert h.teams.downloads == [] and h.teams.sent == []


async def test_without_credentials_and_without_anonymous_mode_every_activity_is_refused(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, teams: FakeTeams, photo: Any
) -> None:
    closed = settings.model_copy(update={"teams": TeamsSettings(service_hosts=["127.0.0.1"])})
    async with build(closed, uri=mongo_server.uri, engine=engine) as c, aiohttp.ClientSession() as http:
        bot = teams_bot(c)
        try:
            async with serving(c, bot.mount) as url:
                tenant_id, people = await _tenant(c, teams, photo)
                h = Harness(c, teams, url, http, tenant_id, people, photo)
                # an attacker names a real tenant and the admin's object id
                activity = h.activity("ada", "erase", [teams.upload(photo("Serena_Williams/2.jpg"))])
                assert await h.post(activity) == 401
                assert await h.post(h.activity("ada", "help")) == 401
                assert await c.db["checkin_jobs"].count_documents({}) == 0
                assert teams.downloads == [] and teams.sent == []
        finally:
            await bot.close()
            await c.client.drop_database(closed.database.name)


# ---------------------------------------------------------------- enrollment and commands


async def test_enrollment_asks_for_consent_then_enrolls_the_photos_sent(h: Harness) -> None:
    card = await h.say("dan", "enroll")
    assert "What is stored" in str(card.activity) and [b["data"]["action"] for b in buttons(card)] == [
        "consent",
        "consent_declined",
    ]
    unticked = await h.say("dan", value={"action": "consent", "agree": "false"})
    assert "tick the box" in said(unticked)
    assert await h.c.deps.consents.active(h.tenant_id, h.people["dan"].id) is None
    agreed = await h.say("dan", value={"action": "consent", "agree": "true"})
    assert "send me up to 3 selfies" in said(agreed) and "a moment apart, make check-ins faster" in said(agreed)
    consent = await h.c.deps.consents.active(h.tenant_id, h.people["dan"].id)
    assert consent is not None and consent.method == "chat"
    await h.post(
        h.activity("dan", "", [h.teams.upload(h.photo("John_McCain/2.jpg")), h.teams.upload(b"this is not a photo")])
    )
    done = await h.teams.wait_for(
        lambda: [s for s in h.teams.to("a:dan") if "enrolled" in said(s) or "could be used" in said(s)]
    )
    assert "You're enrolled, John (1 of 3 photos stored)" in said(done[-1]) and "Photo 2:" in said(done[-1])
    more = "Adding 2 more selfies, a moment apart, makes check-ins faster: send me more with the word *enroll*."
    assert more in said(done[-1])
    assert await h.c.deps.templates.count(h.tenant_id, h.people["dan"].id) == 1
    await h.selfie("dan", "John_McCain/3.jpg")
    [answer] = await h.answers("dan")
    assert said(answer).startswith("Checked in at ")


async def test_undo_and_not_me_buttons_act_on_ones_own_check_in_and_admins_are_told(h: Harness) -> None:
    await h.say("ada", "help")  # the admin has a personal chat with the bot, so she can be told
    await h.selfie("cy", "Jesse_Jackson/2.jpg")
    [answer] = await h.answers("cy")
    event_id = buttons(answer)[0]["data"]["id"]
    reported = await h.say("cy", value={"action": "not_me", "id": event_id})
    assert "admins will review" in said(reported)
    told = await h.teams.wait_for(lambda: [s for s in h.teams.to("a:ada") if s.reply_to is None])
    assert "says the check-in" in said(told[0]) and [b["title"] for b in buttons(told[0])] == ["Approve", "Reject"]
    review = await h.say("ada", "admin review")
    item_id = buttons(review)[0]["data"]["id"]
    approved = await h.say("ada", value={"action": "review_approve", "id": item_id})
    assert "the check-in was removed" in said(approved)
    again = await h.say("cy", value={"action": "undo", "id": event_id})
    assert "already undone or corrected" in said(again)
    bob_would = await h.say("bob", value={"action": "undo", "id": event_id})
    assert "not yours" in said(bob_would)


async def test_commands_for_people_managers_and_admins(h: Harness) -> None:
    await h.selfie("cy", "Jesse_Jackson/2.jpg", text="in")
    await h.answers("cy")
    help_card = await h.say("cy", "help")
    assert "forget me" in said(help_card) and "export YYYY-MM" in said(help_card)
    status = await h.say("cy", "status")
    assert "Today: " in said(status) and "worked" in said(status)
    refused = await h.say("cy", "today")
    assert "Only managers" in said(refused)
    board = await h.say("bob", "today")
    assert "Jesse Jackson: in since" in said(board)
    week = await h.say("bob", "week jesse")
    assert "Jesse Jackson, this week" in said(week)
    not_admin = await h.say("bob", "admin timezone Europe/Paris")
    assert "Only an admin" in said(not_admin)
    tz = await h.say("ada", "admin timezone Europe/Paris")
    assert "Europe/Paris" in said(tz)
    typo = await h.say("cy", "chekin")
    assert "type **help**" in said(typo)
    stored = await h.c.db["face_templates"].count_documents({"employee_id": h.people["cy"].id})
    forget = await h.say("cy", "forget me")
    assert f"erased your face data ({stored} face template" in said(forget)  # enrolled and learnt ones
    assert await h.c.deps.templates.count(h.tenant_id, h.people["cy"].id) == 0


async def test_a_months_export_is_a_link_to_a_csv_that_works_for_an_hour(h: Harness) -> None:
    await h.selfie("cy", "Jesse_Jackson/2.jpg")
    await h.answers("cy")
    month = (await h.events_of("cy"))[0]["at"].strftime("%Y-%m")
    await h.say("bob", f"export {month}")
    [file] = await h.teams.wait_for(lambda: [s for s in h.teams.to("a:bob") if "person-days" in said(s)])
    [open_url] = [b for b in buttons(file) if b["type"] == "Action.OpenUrl"]
    assert open_url["url"].startswith("https://attendance.contoso.example/teams/downloads/")
    link = h.url + "/teams/downloads/" + open_url["url"].rsplit("/", 1)[1]
    async with h.http.get(link) as resp:
        assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["name"] for r in rows] == ["Jesse Jackson"] and rows[0]["first_in"]
    async with h.http.get(f"{h.url}/teams/downloads/{'x' * 43}") as resp:
        assert resp.status == 404 and "expired" in await resp.text()


async def test_other_activity_types_are_answered_quietly_and_no_turn_logs_the_sdks_warnings(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING")
    for kind in ("installationUpdate", "messageReaction", "typing"):
        activity = h.activity("ada", "secret words")
        activity["type"] = kind
        assert await h.post(activity) in (200, 202)
    assert await h.say("ada", "help")
    noisy = [r.getMessage() for r in caplog.records if r.name.startswith("microsoft_agents")]
    assert not [m for m in noisy if "No route found" in m or "App ID is not provided" in m], noisy
    assert not any("secret words" in r.getMessage() for r in caplog.records)


async def test_words_to_type_are_bold_in_teams_not_backticks(h: Harness) -> None:
    reply = await h.say("cy", "week someone")  # not a manager: told to try `me`
    assert "`" not in said(reply) and "**me**" in said(reply)


async def test_time_off_is_asked_for_and_decided_with_card_buttons(h: Harness) -> None:
    await h.say("bob", "help")  # the manager has a personal chat with the bot, so he can be asked
    asked = await h.say("cy", "off 2026-12-24 sick pm")
    assert said(asked) == "Asked: time off Thu 24 Dec, the afternoon (sick). Your manager will decide."
    told = await h.teams.wait_for(lambda: [s for s in h.teams.to("a:bob") if s.reply_to is None])
    assert "asks for time off" in said(told[0]) and [b["title"] for b in buttons(told[0])] == ["Approve", "Reject"]
    time_off_id = buttons(told[0])[0]["data"]["id"]
    rejected = await h.say("bob", value={"action": "time_off_reject", "id": time_off_id})
    assert said(rejected) == "Rejected: Jesse Jackson's time off 24 Dec was not approved."
    assert await h.c.db["outbox"].count_documents({"type": "attendance.time_off.approved"}) == 0
    told_cy = await h.answers("cy")  # the one who asked is told in their personal chat
    assert "Your time off Thu 24 Dec (sick) was not approved; ask your manager if you would like to talk about it." in [
        said(s) for s in told_cy
    ]


async def test_a_forgot_to_check_out_reminder_card_checks_out_with_its_button(h: Harness) -> None:
    from attendance.core.domain.checkins import AttendanceEvent, Direction
    from attendance.core.domain.model import new_id
    from attendance.core.domain.reminders import Reminder, ReminderKind, reminder_key
    from attendance.core.domain.workdays import workday_of
    from attendance.services.reminders import buttons_of

    await h.say("cy", "help")  # Cy has a personal chat with the bot
    tenant = await h.c.deps.tenants.get(h.tenant_id)
    assert tenant is not None
    cy, now = h.people["cy"], h.c.deps.clock.now()
    since = now - timedelta(hours=11)
    event = AttendanceEvent(
        id=new_id(),
        tenant_id=h.tenant_id,
        employee_id=cy.id,
        direction=Direction.IN,
        at=since,
        timezone="Europe/Berlin",
        channel="kiosk",
        job_id=None,
    )
    await h.c.store.append(event, 1, [], None)
    day = workday_of(since.astimezone(ZoneInfo("Europe/Berlin")), cy.effective_schedule(tenant))  # the reminder's day
    key = reminder_key(h.tenant_id, cy.id, day, ReminderKind.FORGOT_CHECK_OUT)
    reminder = Reminder(
        key=key,
        tenant_id=h.tenant_id,
        recipient_id=cy.id,
        kind=ReminderKind.FORGOT_CHECK_OUT,
        day=day,
        text="Still in?",
    )
    reached = await h.c.messages.tell(tenant, [cy, h.people["dan"]], reminder.text, buttons_of(reminder))
    assert reached == {cy.id}  # Dan never wrote to the bot: Teams cannot reach him
    [card] = [s for s in await h.answers("cy") if buttons(s)]
    assert [b["title"] for b in buttons(card)] == ["Check out now", "I'm still working"]
    done = await h.say("cy", value=buttons(card)[0]["data"])
    assert said(done).startswith("Checked out at ")
    again = await h.say("cy", value=buttons(card)[0]["data"])
    assert said(again) == "You are not checked in, so there is nothing to check out of."
    outs = [e for e in await h.events_of("cy") if e["direction"] == "out"]
    assert len(outs) == 1 and outs[0]["channel"] == "correction"


async def test_once_the_app_is_installed_for_someone_the_bot_can_reach_them(h: Harness) -> None:
    """An admin installs the app for everyone with Graph: Teams sends each person's chat a
    conversationUpdate adding the bot, and the service remembers it, so reminders reach people who
    never wrote to the bot."""
    tenant = await h.c.deps.tenants.get(h.tenant_id)
    assert tenant is not None
    dan = h.people["dan"]
    assert await h.c.messages.tell(tenant, [dan], "Hello?") == set()
    installed = h.activity("dan")
    installed.update(type="conversationUpdate", text="", membersAdded=[{"id": "28:attendance-bot"}])
    assert await h.post(installed) == 202
    await h.teams.wait_for(lambda: h.teams.to("a:dan"))  # the welcome, said once the chat is remembered
    assert await h.c.messages.tell(tenant, [dan], "You have not checked in today.") == {dan.id}
    assert [said(s) for s in await h.answers("dan")] == ["You have not checked in today."]
