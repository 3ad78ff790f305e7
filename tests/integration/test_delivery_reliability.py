"""Reliability of delivery with real ``attendance dispatcher`` processes on the real database,
sending to a Standard Webhooks receiver on loopback (which verifies every signature): the
receiver down for a while, two dispatchers at once, a dispatcher killed mid-delivery, and a
dead-lettered event replayed from the command line."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.webhooks import SubscriptionState
from attendance.entrypoints.bootstrap import Container
from attendance.settings import Settings
from tests.fakes.receivers import WebhookReceiver, wait_until
from tests.harness.deliveries import (
    alerted,
    delivered,
    in_order_per_employee,
    punches,
    tenant_of,
    tenant_with_staff,
    until,
    webhook_receiver,
    webhook_to,
)

# Compressed, as an operator could set it: about 20 s of retries in all, then dead.
SCHEDULE = "0.1,0.2,0.3,0.5,1,1,2,2,3,3,3,3"


@pytest.fixture
def env(settings: Settings, mongo_server: EmbeddedMongo) -> dict[str, str]:
    """The dispatcher processes' environment: the test's database and keys."""
    assert settings.crypto.template_key is not None
    return {
        **os.environ,
        "MONGODB_URI": mongo_server.uri,
        "ATTENDANCE_DATABASE__NAME": settings.database.name,
        "ATTENDANCE_HOME": str(settings.home),
        "ATTENDANCE_CRYPTO__TEMPLATE_KEY": settings.crypto.template_key.get_secret_value(),
        "ATTENDANCE_LOG__LEVEL": "WARNING",
        "ATTENDANCE_WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
        "ATTENDANCE_WEBHOOKS__ALLOW_PRIVATE_NETWORKS": "true",
        "ATTENDANCE_DISPATCHER__LEASE_S": "2",
        "ATTENDANCE_DISPATCHER__TIMEOUT_S": "5",
        "ATTENDANCE_DISPATCHER__POLL_MAX_S": "0.05",
    }


@pytest.fixture
def dispatchers(env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def start_dispatcher(env: dict[str, str], started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "attendance", "dispatcher"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started.append(proc)
    return proc


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def cli(env: dict[str, str], *args: str) -> Ran:
    """The command line as an admin runs it, without blocking this loop (the receiver lives on it)."""
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "attendance", *args, env=env, stdout=pipe, stderr=pipe
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as r:
        yield r


def _ids(rows: list[OutboxMessage]) -> list[str]:
    return [r.id for r in rows]


async def _max_attempts(c: Container, tenant_id: str) -> int:
    doc: dict[str, Any] | None = await c.db["deliveries"].find_one({"tenant_id": tenant_id}, sort=[("attempts", -1)])
    return int(doc["attempts"]) if doc else 0


async def test_the_receiver_down_for_a_while_then_back_gets_every_event_once_in_order(
    container: Container, receiver: WebhookReceiver, env: dict[str, str], dispatchers: list[subprocess.Popen[bytes]]
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 3)
    await webhook_to(c, tenant_id, receiver, "hook")
    await receiver.stop()  # down: connections to its port are refused
    rows = await punches(c, tenant_id, people, rounds=4)
    start_dispatcher(env, dispatchers)

    async def retried() -> bool:
        return await _max_attempts(c, tenant_id) >= 3

    await until(retried, 30, "the dispatcher to have retried a few times")
    assert receiver.received == []
    await receiver.start()  # back, on the same port
    await delivered(c, tenant_id, len(rows), timeout=40)

    assert Counter(receiver.received) == Counter(_ids(rows))  # every event, and none twice
    assert in_order_per_employee(receiver.accepted, rows)
    assert receiver.bad_signatures == 0
    failed = await c.db["deliveries"].count_documents({"tenant_id": tenant_id, "attempts": {"$gt": 1}})
    assert failed >= 1


async def test_two_dispatchers_at_once_never_send_an_event_twice(
    container: Container, receiver: WebhookReceiver, env: dict[str, str], dispatchers: list[subprocess.Popen[bytes]]
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 8)
    await webhook_to(c, tenant_id, receiver, "hook")
    start_dispatcher(env, dispatchers)
    start_dispatcher(env, dispatchers)
    rows = await punches(c, tenant_id, people, rounds=6)
    await delivered(c, tenant_id, len(rows), timeout=60)

    assert Counter(receiver.received) == Counter(_ids(rows))
    assert in_order_per_employee(receiver.accepted, rows)
    assert all(p.poll() is None for p in dispatchers)  # both still running


async def test_a_dispatcher_killed_mid_delivery_loses_nothing(
    container: Container, receiver: WebhookReceiver, env: dict[str, str], dispatchers: list[subprocess.Popen[bytes]]
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 2)
    await webhook_to(c, tenant_id, receiver, "hook")
    receiver.hold = asyncio.Event()  # requests arrive and wait: the dispatcher is mid-delivery
    rows = await punches(c, tenant_id, people, rounds=3)
    first = start_dispatcher(env, dispatchers)
    await wait_until(lambda: receiver.held >= 1, 30, "a delivery in flight")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    in_flight = await c.db["deliveries"].count_documents({"tenant_id": tenant_id, "state": "in_flight"})
    assert in_flight >= 1  # leased to a process that no longer exists
    hold, receiver.hold = receiver.hold, None
    hold.set()  # the receiver finishes what it had; its answer goes nowhere

    start_dispatcher(env, dispatchers)  # takes the expired leases over
    await delivered(c, tenant_id, len(rows), timeout=60)

    assert sorted(receiver.accepted) == sorted(_ids(rows))  # everything, once each in the receiver's log
    assert set(receiver.received) == set(_ids(rows))  # a repeat of an interrupted one is allowed: at least once
    assert in_order_per_employee(receiver.accepted, rows)


async def test_a_dead_lettered_event_is_delivered_by_replay_from_the_command_line(
    container: Container, receiver: WebhookReceiver, env: dict[str, str], dispatchers: list[subprocess.Popen[bytes]]
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 1)
    tenant = await tenant_of(c, tenant_id)
    await webhook_to(c, tenant_id, receiver, "broken")
    receiver.status["broken"] = 500
    rows = await punches(c, tenant_id, people, rounds=1)
    fast = {**env, "ATTENDANCE_WEBHOOK_RETRY_SCHEDULE": "0.05,0.05"}
    start_dispatcher(fast, dispatchers)
    await delivered(c, tenant_id, 1, timeout=30, states=("dead",))
    assert receiver.accepted == []

    listed = await cli(env, "deliveries", "list", "--tenant", tenant.name, "--failed")
    assert listed.returncode == 0, listed.stderr
    delivery_id = f"{rows[0].id}:"
    line = next(li for li in listed.stdout.splitlines() if li.startswith(delivery_id))
    assert "\tdead\t" in line and "attempts=3" in line and "500" in line

    del receiver.status["broken"]  # fixed
    replayed = await cli(env, "deliveries", "replay", "--tenant", tenant.name, "--id", line.split("\t")[0])
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.startswith("1 delivery queued again")
    await delivered(c, tenant_id, 1, timeout=30)
    assert receiver.accepted == _ids(rows)
    assert receiver.received.count(rows[0].id) == 4  # three failed tries, then the replay: same id

    stats = await cli(env, "deliveries", "stats", "--tenant", tenant.name)
    assert "delivered      1" in stats.stdout and "dead-lettered  0" in stats.stdout


async def test_a_410_from_the_receiver_switches_the_subscription_off_until_an_admin_enables_it(
    container: Container, receiver: WebhookReceiver, env: dict[str, str], dispatchers: list[subprocess.Popen[bytes]]
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 2)
    tenant = await tenant_of(c, tenant_id)
    sub_id, _ = await webhook_to(c, tenant_id, receiver, "gone")
    receiver.status["gone"] = 410
    rows = await punches(c, tenant_id, people, rounds=2)
    start_dispatcher(env, dispatchers)
    await delivered(c, tenant_id, len(rows), timeout=30, states=("held",))
    alerts = await alerted(c, tenant_id)  # the dispatcher holds the events, then audits and alerts
    sub = await c.subscriptions.get(tenant_id, sub_id)
    assert sub is not None and sub.state is SubscriptionState.DISABLED
    assert "410" in (sub.disabled_reason or "")
    assert len(alerts) == 1 and "410" in alerts[0][1] and f"attendance webhooks enable {sub_id}" in alerts[0][1]
    assert "switched off" in alerts[0][1]
    assert [a async for a in c.db["audit_log"].find({"tenant_id": tenant_id, "action": "webhook.disabled"})]
    assert f"attendance webhooks enable {sub_id} --tenant {shlex.quote(tenant.name)}" in alerts[0][1]  # ready to paste
    assert receiver.accepted == []

    del receiver.status["gone"]  # the receiver is fixed; the admin switches it back on
    enabled = await cli(env, "webhooks", "enable", sub_id, "--tenant", tenant.name)
    assert enabled.returncode == 0, enabled.stderr
    await delivered(c, tenant_id, len(rows), timeout=30)
    assert sorted(receiver.accepted) == sorted(_ids(rows))
    assert in_order_per_employee(receiver.accepted, rows)
    tried = [d async for d in c.db["deliveries"].find({"tenant_id": tenant_id, "history.result": "gone"})]
    assert tried and all(d["state"] == "delivered" for d in tried)  # the 410'd ones waited and went too
