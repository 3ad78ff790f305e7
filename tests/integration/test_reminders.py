"""Reminders and digests through the real database and the Slack stand-in: sent at the right
time, once (also with two schedulers at the same moment), never to someone on a holiday, on
leave, on a day off or gone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import ChatIdentity, Employee, Role, new_id
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import Container, build, scheduler
from attendance.services import workforce
from attendance.services.tenants import create_tenant
from attendance.settings import Settings, SlackSettings
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
        "You are still checked in since 08:00. Send a selfie to check out, "
        "or ask your manager to correct the time if you left earlier."
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
