"""Reminders and digests through the real database and the Slack stand-in: sent at the right
time, once (also with two schedulers at the same moment), never to someone on a holiday, on
leave, on a day off or gone."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import ChatIdentity, Employee, Role, new_id
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import Container, build, scheduler, slack_bot
from attendance.services import workforce
from attendance.services.tenants import create_tenant
from attendance.settings import Settings, SlackSettings
from tests.e2e.serving import serving
from tests.fakes.clock import FixedClock
from tests.fakes.slack import TEAM, FakeSlack

BERLIN = ZoneInfo("Europe/Berlin")
WED = date(2026, 12, 9)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
async def world(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, slack: FakeSlack
) -> AsyncIterator[tuple[Container, FixedClock, dict[str, Employee]]]:
    clock = FixedClock(at(WED, 8, 0))
    slack_settings = SlackSettings(
        signing_secret=slack.signing_secret,
        bot_token=slack.bot_token,  # type: ignore[arg-type]
        api_url=slack.api_url,  # type: ignore[arg-type]
    )
    s = settings.model_copy(update={"slack": slack_settings})
    async with build(s, uri=mongo_server.uri, engine=engine, clock=clock) as c:
        tenant = await create_tenant(
            CreateTenant(name="Acme", timezone="Europe/Berlin", chats=(ChatIdentity("slack", TEAM),)),
            tenants=c.deps.tenants,
            identities=c.deps.identities,
        )
        people: dict[str, Employee] = {}
        for name in ("mia", "ada", "vic", "pat", "leo", "rob"):
            people[name] = await c.deps.employees.upsert(
                Employee(
                    id=new_id(),
                    tenant_id=tenant.id,
                    name=name.title(),
                    email=f"{name}@acme.example",
                    roles=frozenset({Role.EMPLOYEE, Role.MANAGER}) if name == "mia" else frozenset({Role.EMPLOYEE}),
                )
            )
            await c.deps.identities.link_user(
                tenant.id, people[name].id, ChatIdentity("slack", TEAM, f"U{name.upper()}")
            )
            if name != "mia":
                await c.deps.employees.set_manager(tenant.id, people[name].id, people["mia"].id)
        w = c.workforce
        await workforce.add_time_off(tenant, people["vic"], WED, WED, by="t", approved=True, deps=w)
        await workforce.set_person_schedule(
            tenant, people["pat"], days="mon,tue", hours=None, grace=None, weekly_hours=None, by="t", deps=w
        )
        await workforce.deactivate(tenant, people["leo"], on=WED, by="t", deps=w, enrollment=c.deps)
        for n, who in enumerate(("ada", "leo")):  # both checked in at 08:00 and never out
            await c.store.append(
                AttendanceEvent(
                    id=new_id(),
                    tenant_id=tenant.id,
                    employee_id=people[who].id,
                    direction=Direction.IN,
                    at=at(WED, 8, 0),
                    timezone="Europe/Berlin",
                    channel="kiosk",
                    job_id=None,
                ),
                n + 1,
                [],
                None,
            )
        yield c, clock, people
        await c.client.drop_database(s.database.name)


def dms(slack: FakeSlack, user: str) -> list[str]:
    return [str(m["text"]) for m in slack.messages_to(user)]


async def test_each_reminder_once_at_its_time_and_never_on_a_day_off(
    world: tuple[Container, FixedClock, dict[str, Employee]], slack: FakeSlack
) -> None:
    c, clock, _ = world
    jobs = scheduler(c)
    clock.at = at(WED, 9, 30)  # start 09:00 + 5 min grace + 30 min: not yet
    await jobs.run_once()
    assert not slack.called("chat.postMessage")
    clock.at = at(WED, 9, 40)
    await asyncio.gather(jobs.run_once(), scheduler(c).run_once())  # two schedulers at the same moment
    assert len(dms(slack, "UROB")) == 1 and "not checked in" in dms(slack, "UROB")[0]
    assert dms(slack, "UMIA") and "not checked in" in dms(slack, "UMIA")[0]  # the manager is staff too
    for quiet in ("UADA", "UVIC", "UPAT", "ULEO"):  # checked in; on leave; not a working day; gone
        assert dms(slack, quiet) == [], quiet

    clock.at = at(WED, 9, 45)  # the manager's digest: once, with the team's day
    await asyncio.gather(jobs.run_once(), scheduler(c).run_once())
    digests = [t for t in dms(slack, "UMIA") if t.startswith("Your team")]
    assert len(digests) == 1
    assert "in (1): Ada 08:00" in digests[0] and "absent (1): Rob" in digests[0]
    assert "on leave (1): Vic (vacation)" in digests[0] and "not scheduled (1): Pat" in digests[0]
    assert "Leo" not in digests[0]

    clock.at = at(WED, 17, 29)  # ends 17:00; reminded 30 minutes after
    await jobs.run_once()
    assert not [t for t in dms(slack, "UADA") if "still checked in" in t]
    clock.at = at(WED, 17, 31)
    await asyncio.gather(jobs.run_once(), scheduler(c).run_once())
    clock.at = at(WED, 19, 0)
    await jobs.run_once()  # later runs send nothing again
    assert [t for t in dms(slack, "UADA") if "still checked in" in t] == [
        "You are still checked in since 08:00. Check out now, or tell me you are still working. "
        "Left earlier? Write left and the time, e.g. left 17:30 (in Slack: /attendance left 17:30)."
    ]
    assert dms(slack, "ULEO") == []  # also checked in and never out, but gone: no reminder
    assert len(dms(slack, "UROB")) == 1


def test_the_preview_lists_what_would_be_sent_without_sending(cli: Any, tmp_path: Any) -> None:
    assert cli("tenants", "create", "Acme", "--timezone", "Europe/Berlin").returncode == 0
    staff = tmp_path / "staff.csv"
    staff.write_text("name,email,slack_user_id\nAda,ada@example.com,UADA\n")
    assert cli("employees", "import", str(staff), "--tenant", "Acme").returncode == 0
    policy = cli("tenants", "policy", "Acme", "--digest-at", "10:15", "--check-in-after", "20")
    assert policy.returncode == 0 and json.loads(policy.stdout)["reminders"]["digest_at"] == "10:15"
    assert cli("tenants", "policy", "Acme", "--max-shift", "30").returncode == 1
    for _ in range(2):  # nothing is sent, so nothing is marked sent
        preview = cli("reminders", "preview", "--tenant", "Acme", "--at", f"{WED} 10:00", "--json")
        assert preview.returncode == 0, preview.stderr
        [due] = json.loads(preview.stdout)["reminders"]
        assert due["person"] == "ada@example.com" and due["kind"] == "not_checked_in"
        assert due["channels"] == ["slack"] and due["already_sent"] is False
    early = cli("reminders", "preview", "--tenant", "Acme", "--at", f"{WED} 09:20", "--json")
    assert json.loads(early.stdout)["reminders"] == []  # 09:00 + 5 min grace + 20 min: not yet


async def test_check_out_now_and_still_working_answer_the_reminder_in_slack(
    world: tuple[Container, FixedClock, dict[str, Employee]], slack: FakeSlack
) -> None:
    """The buttons under "forgot to check out", clicked through the signed Slack app: *I'm still
    working* brings the reminder back two hours later (once), *Check out now* records one
    check-out through the correction path however often it is clicked."""
    c, clock, people = world
    jobs = scheduler(c)
    bot = slack_bot(c)
    assert bot is not None
    async with serving(c, bot.mount, worker=False) as url, aiohttp.ClientSession() as http:

        async def click(user: str, action_id: str, value: str) -> str:
            before = len(slack.responses)
            payload = {
                "type": "block_actions",
                "team": {"id": TEAM},
                "api_app_id": "A0APP",
                "token": "x",
                "user": {"id": user, "team_id": TEAM},
                "trigger_id": "trig.9",
                "response_url": slack.response_url,
                "actions": [{"action_id": action_id, "value": value, "type": "button", "block_id": "b"}],
            }
            body = slack.interaction_body(payload)
            status, _ = await slack.post(http, f"{url}/slack/events", body, "application/x-www-form-urlencoded")
            assert status == 200
            await slack.wait_for(lambda: len(slack.responses) > before)
            return str(slack.responses[-1]["text"])

        def reminders() -> list[dict[str, Any]]:
            return [m for m in slack.messages_to("UADA") if "still checked in" in str(m["text"])]

        clock.at = at(WED, 17, 31)
        await jobs.run_once()
        [first] = reminders()
        buttons = {e["action_id"]: e["value"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]}
        assert set(buttons) == {"reminder_checkout", "reminder_snooze"}
        assert (
            await click("UROB", "reminder_snooze", buttons["reminder_snooze"]) == "That reminder was for someone else."
        )
        clock.at = at(WED, 17, 40)
        assert await click("UADA", "reminder_snooze", buttons["reminder_snooze"]) == (
            "OK, keep going. I'll ask again around 19:40."
        )
        clock.at = at(WED, 19, 39)
        await jobs.run_once()
        assert len(reminders()) == 1
        clock.at = at(WED, 19, 41)
        await asyncio.gather(jobs.run_once(), scheduler(c).run_once())
        clock.at = at(WED, 21, 0)
        await jobs.run_once()  # the second reminder was not snoozed: no third one
        assert len(reminders()) == 2
        [*_, second] = reminders()
        again = {e["action_id"]: e["value"] for b in second["blocks"] if b["type"] == "actions" for e in b["elements"]}
        assert again["reminder_checkout"] != buttons["reminder_checkout"]  # a reminder of its own

        clock.at = at(WED, 21, 5)
        for value in (again["reminder_checkout"], buttons["reminder_checkout"]):
            said = await click("UADA", "reminder_checkout", value)
        assert said == "You are not checked in, so there is nothing to check out of."
        outs = [d async for d in c.db["attendance_events"].find({"employee_id": people["ada"].id, "direction": "out"})]
        assert len(outs) == 1 and outs[0]["channel"] == "correction"
        assert outs[0]["recorded_by"] == people["ada"].id
        assert outs[0]["at"].replace(tzinfo=UTC) == at(WED, 21, 5)
        clock.at = at(WED, 23, 0)
        await jobs.run_once()
        assert len(reminders()) == 2  # checked out: nothing more

        thu = WED + timedelta(days=1)
        morning = AttendanceEvent(
            id=new_id(),
            tenant_id=people["ada"].tenant_id,
            employee_id=people["ada"].id,
            direction=Direction.IN,
            at=at(thu, 8, 0),
            timezone="Europe/Berlin",
            channel="kiosk",
            job_id=None,
        )
        await c.store.append(morning, 10, [], None)
        clock.at = at(thu, 9, 0)  # Wednesday's button does not close Thursday's check-in
        said = await click("UADA", "reminder_checkout", buttons["reminder_checkout"])
        assert said.startswith("That reminder was about an earlier day, so I left today's check-in open.")


async def test_left_checks_out_at_the_time_said_and_refuses_nonsense(
    world: tuple[Container, FixedClock, dict[str, Employee]], slack: FakeSlack
) -> None:
    c, clock, people = world
    bot = slack_bot(c)
    assert bot is not None
    async with serving(c, bot.mount, worker=False) as url, aiohttp.ClientSession() as http:

        async def command(user: str, text: str) -> str:
            body = slack.command_body("/attendance", text, user)
            status, answer = await slack.post(http, f"{url}/slack/events", body, "application/x-www-form-urlencoded")
            assert status == 200
            return str(json.loads(answer)["text"]) if answer.startswith("{") else answer

        clock.at = at(WED, 18, 0)
        assert "is still to come" in await command("UADA", "left 18:30")
        assert "You checked in at 08:00" in await command("UADA", "left 07:30")
        assert "is not a time like 17:30" in await command("UADA", "left soon")
        assert "nothing to check out of" in await command("UROB", "left 17:00")
        assert "Checked out at 17:15" in await command("UADA", "left 17:15")
        assert "nothing to check out of" in await command("UADA", "left 17:20")
        outs = [d async for d in c.db["attendance_events"].find({"employee_id": people["ada"].id, "direction": "out"})]
        assert [d["at"].replace(tzinfo=UTC) for d in outs] == [at(WED, 17, 15)]


async def test_the_admins_learn_once_a_week_who_reminders_cannot_reach(
    world: tuple[Container, FixedClock, dict[str, Employee]], slack: FakeSlack
) -> None:
    c, clock, people = world
    tenant_id = people["mia"].tenant_id
    roles = frozenset({Role.EMPLOYEE, Role.MANAGER, Role.ADMIN})
    await c.deps.employees.upsert(dataclasses.replace(people["mia"], roles=roles))
    await c.deps.employees.upsert(  # on the staff list, in no chat the bot can reach
        Employee(id=new_id(), tenant_id=tenant_id, name="Zoe", email="zoe@acme.example")
    )
    for moment in (at(WED, 9, 40), at(WED, 17, 40), at(WED + timedelta(days=1), 9, 40)):
        clock.at = moment  # Zoe is due a reminder on Wednesday and again on Thursday
        await scheduler(c).run_once()
    told = [t for t in dms(slack, "UMIA") if t.startswith("Reminders could not reach")]
    assert len(told) == 1 and "Zoe (zoe@acme.example)" in told[0] and "Rob" not in told[0]
    assert len([t for t in dms(slack, "UROB") if "not checked in" in t]) == 2  # the reachable still are
