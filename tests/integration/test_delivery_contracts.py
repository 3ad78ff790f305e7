"""Contract tests of the connectors: the dispatcher (in this process, on the real database) sends
outbox rows over real HTTP(S) to stand-ins on loopback that check what the real receivers check:
Standard Webhooks signatures (with the reference library), Workday's SOAP fields and
authentication, ADP's mutual TLS and bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from attendance.entrypoints.bootstrap import Container
from attendance.services import webhooks as svc
from attendance.settings import DispatcherSettings, Settings
from tests.fakes.receivers import AdpStandIn, WebhookReceiver, WorkdayStandIn
from tests.fakes.tls import TestCA
from tests.harness.deliveries import (
    alerted,
    delivered,
    in_order_per_employee,
    punches,
    running,
    tenant_of,
    tenant_with_staff,
    webhook_receiver,
    webhook_to,
)

SCHEDULE = "0.05,0.05,0.05"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_retry_schedule": SCHEDULE,
            "dispatcher": DispatcherSettings(poll_max_s=0.05, lease_s=10, timeout_s=5, summary_every_s=3600),
        }
    )


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as r:
        yield r


async def _connector(
    c: Container, tenant_id: str, kind: str, url: str, config: dict[str, str], credentials: dict[str, str]
) -> str:
    tenant = await tenant_of(c, tenant_id)
    sub = await svc.add_connector(
        tenant,
        kind,
        url,
        [],
        config=config,
        credentials=credentials,
        by="test",
        subscriptions=c.subscriptions,
        audit=c.deps.audit,
        clock=c.deps.clock,
        destinations=c.destinations,
    )
    return sub.id


async def _deliveries(c: Container, tenant_id: str, **query: Any) -> list[dict[str, Any]]:
    return [d async for d in c.db["deliveries"].find({"tenant_id": tenant_id, **query})]


async def test_signed_webhooks_arrive_once_each_in_order_per_employee(
    container: Container, receiver: WebhookReceiver
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 3)
    await webhook_to(c, tenant_id, receiver, "hook")
    rows = await punches(c, tenant_id, people, rounds=4)
    async with running(c):
        await delivered(c, tenant_id, len(rows))
    assert receiver.bad_signatures == 0
    assert sorted(receiver.accepted) == sorted(r.id for r in rows)
    assert len(receiver.received) == len(rows)  # nothing sent twice
    assert in_order_per_employee(receiver.accepted, rows)
    body = receiver.bodies[rows[0].id]
    assert body["type"] == "attendance.check_in.accepted"
    assert body["tenant_id"] == tenant_id
    assert body["employee"] == {"id": people[0].id, "email": "p0@example.com", "name": "Person 0", "worker_id": "W100"}
    assert body["at_utc"].endswith("+00:00") and body["at_local"].endswith("+01:00")
    assert body["timezone"] == "Europe/Berlin"
    stats = await c.deliveries.stats(tenant_id, c.deps.clock.now())
    assert stats.by_state == {"delivered": len(rows)} and stats.outbox_waiting == 0


async def test_a_subscription_gets_only_the_events_it_asked_for(
    container: Container, receiver: WebhookReceiver
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 1)
    await webhook_to(c, tenant_id, receiver, "outs", ["attendance.check_out.accepted"])
    rows = await punches(c, tenant_id, people, rounds=4)
    async with running(c) as d:
        await delivered(c, tenant_id, 2)
        assert await d.fan_out_once() == 0  # every row was looked at
    assert [receiver.bodies[i]["direction"] for i in receiver.accepted] == ["out", "out"]
    assert len(rows) == 4


async def test_a_rotated_secret_signs_with_both_and_the_old_one_still_verifies(
    container: Container, receiver: WebhookReceiver
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 1)
    sub_id, old = await webhook_to(c, tenant_id, receiver, "rot")
    tenant = await tenant_of(c, tenant_id)
    new = await svc.rotate_secret(
        tenant,
        sub_id,
        timedelta(hours=24),
        by="test",
        subscriptions=c.subscriptions,
        audit=c.deps.audit,
        clock=c.deps.clock,
    )
    assert new != old
    receiver.secrets["rot"] = old  # a receiver that has not switched yet
    async with running(c):
        await punches(c, tenant_id, people, rounds=1)
        await delivered(c, tenant_id, 1)
        receiver.secrets["rot"] = new  # and one that has
        await punches(c, tenant_id, people, rounds=1)
        await delivered(c, tenant_id, 2)
    assert receiver.bad_signatures == 0 and len(receiver.accepted) == 2


async def test_failures_are_retried_on_the_schedule_then_dead_lettered_and_replayed_with_the_same_id(
    container: Container, receiver: WebhookReceiver
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 1)
    sub_id, _ = await webhook_to(c, tenant_id, receiver, "flaky")
    receiver.status["flaky"] = 503
    rows = await punches(c, tenant_id, people, rounds=2)
    first, _ = (r.id for r in rows)
    async with running(c):
        await delivered(c, tenant_id, 1, states=("dead",))
        dead = (await _deliveries(c, tenant_id, state="dead"))[0]
        assert dead["msg_id"] == first
        assert dead["attempts"] == 1 + len(SCHEDULE.split(","))
        assert [h["status"] for h in dead["history"]] == [503] * dead["attempts"]
        assert "HTTP 503" in dead["last_error"]
        # dead-lettered: the next event of the same person is not held back by it for ever
        await delivered(c, tenant_id, 2, states=("dead",))
        assert receiver.received.count(first) == dead["attempts"]
        alerts = await alerted(c, tenant_id)
        assert len(alerts) == 1 and "deliveries replay --id" in alerts[0][1]  # one alert, not one per event

        del receiver.status["flaky"]
        tenant = await tenant_of(c, tenant_id)
        queued = await svc.replay(
            tenant,
            delivery_id=dead["_id"],
            since=None,
            subscription_id=None,
            by="test",
            subscriptions=c.subscriptions,
            deliveries=c.deliveries,
            audit=c.deps.audit,
            clock=c.deps.clock,
        )
        assert queued == 1
        await delivered(c, tenant_id, 1)
    assert receiver.accepted == [first]  # the same webhook-id as every earlier try
    assert sub_id


async def test_workday_gets_time_clock_events_and_its_validation_errors_reach_the_admin(
    container: Container,
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 3)
    workday = WorkdayStandIn("isu_attendance@acme", "s3cret", workers={"W100", "W101"}, event_types={"IN", "OUT"})
    await workday.start()
    try:
        url = f"{workday.base}/ccx/service/acme/Time_Tracking/v42.0"
        await _connector(
            c,
            tenant_id,
            "workday",
            url,
            {"check_in_type": "IN", "check_out_type": "OUT"},
            {"username": "isu_attendance@acme", "password": "s3cret"},
        )
        rows = await punches(c, tenant_id, people, rounds=2)
        async with running(c):
            await delivered(c, tenant_id, 4)
            await delivered(c, tenant_id, 2, states=("dead",))
    finally:
        await workday.stop()
    assert len(workday.events) == 4
    jane = next(e for e in workday.events.values() if e["worker"] == "W100" and e["type"] == "IN")
    assert jane["at"].endswith("+01:00") and jane["zone"] == "Europe/Berlin"
    dead = await _deliveries(c, tenant_id, state="dead")
    assert {d["employee_id"] for d in dead} == {people[2].id}  # W102 is unknown to Workday
    assert dead[0]["attempts"] == 1  # a validation error is not retried
    assert "Workday refused the event" in dead[0]["last_error"] and "W102" in dead[0]["last_error"]
    assert len(rows) == 6


async def test_workday_with_wrong_credentials_is_retried_not_dead_lettered(container: Container) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 1)
    workday = WorkdayStandIn("isu", "right", workers={"W100"}, event_types={"IN", "OUT"})
    await workday.start()
    try:
        url = f"{workday.base}/ccx/service/acme/Time_Tracking/v42.0"
        await _connector(
            c,
            tenant_id,
            "workday",
            url,
            {"check_in_type": "IN", "check_out_type": "OUT"},
            {"username": "isu", "password": "wrong"},
        )
        await punches(c, tenant_id, people, rounds=1)
        async with running(c):
            await delivered(c, tenant_id, 1, states=("dead",))
    finally:
        await workday.stop()
    (dead,) = await _deliveries(c, tenant_id)
    assert dead["attempts"] == 1 + len(SCHEDULE.split(","))  # an outage of credentials: the schedule, then dead
    assert "credentials" in dead["last_error"]
    assert workday.events == {}


async def test_workday_over_oauth_uses_one_token_for_many_events(container: Container) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 2)
    workday = WorkdayStandIn("isu", "unused", workers={"W100", "W101"}, event_types={"IN", "OUT"})
    await workday.start()
    try:
        url = f"{workday.base}/ccx/service/acme/Time_Tracking/v42.0"
        await _connector(
            c,
            tenant_id,
            "workday",
            url,
            {"check_in_type": "IN", "check_out_type": "OUT"},
            {
                "client_id": "cid",
                "client_secret": "cs",
                "refresh_token": workday.refresh_token,
                "token_url": f"{workday.base}/ccx/oauth2/acme/token",
            },
        )
        rows = await punches(c, tenant_id, people, rounds=3)
        async with running(c):
            await delivered(c, tenant_id, len(rows))
    finally:
        await workday.stop()
    assert len(workday.events) == len(rows)
    assert len(workday.tokens) == 1


@pytest.fixture
def ca() -> TestCA:
    return TestCA()


async def test_adp_over_mutual_tls_follows_the_202_and_reports_rejections(container: Container, ca: TestCA) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 3)
    adp = AdpStandIn("adp-client", "adp-secret", associates={"W100", "W101"})
    await adp.start(ca.server_context())
    client = ca.issue("attendance-acme", server=False)
    try:
        await _connector(
            c,
            tenant_id,
            "adp",
            adp.base,
            {"token_url": f"{adp.base}/auth/oauth/v2/token", "poll_s": "5"},
            {
                "client_id": "adp-client",
                "client_secret": "adp-secret",
                "cert_pem": client.cert_pem,
                "key_pem": client.key_pem,
                "ca_pem": ca.cert_pem,
            },
        )
        rows = await punches(c, tenant_id, people, rounds=2)
        async with running(c):
            await delivered(c, tenant_id, 4)
            await delivered(c, tenant_id, 2, states=("dead",))
        # the stand-in really refuses a caller without a client certificate
        anonymous = aiohttp.TCPConnector(ssl=__import__("ssl").create_default_context(cadata=ca.cert_pem))
        async with aiohttp.ClientSession(connector=anonymous) as bare:
            with pytest.raises(aiohttp.ClientError):
                async with bare.post(f"{adp.base}/auth/oauth/v2/token", data={"grant_type": "client_credentials"}):
                    pass
    finally:
        await adp.stop()
    assert len(adp.punches) == len(rows)  # each punch posted once, the 202s followed, not re-posted
    assert adp.tokens_issued == 1  # the token is cached
    assert set(adp.peer_certs) == {"attendance-acme"}
    assert all(n == 2 for n in adp.status_calls.values())  # inProgress, then the verdict
    dead = await _deliveries(c, tenant_id, state="dead")
    assert {d["employee_id"] for d in dead} == {people[2].id}
    assert "Associate is not valid" in dead[0]["last_error"]
