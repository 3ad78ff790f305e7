"""Deliveries that must not go where an attacker points them, and must not be lost while a
receiver is switched off: SSRF refusals when a URL is added and when a connection is made (DNS
answers that change after the check included), receivers' bodies never stored, and events
recorded while a subscription is disabled delivered, in order, once it is enabled.

No test here connects to a private or metadata address: every refusal happens before a connection.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.http.egress import EgressRefused, ResolvingDestinationCheck, egress_session
from attendance.core.domain.egress import DestinationRefused
from attendance.core.errors import ServiceError
from attendance.entrypoints.bootstrap import Container, build
from attendance.services import webhooks as svc
from attendance.settings import Settings, WebhookSettings
from tests.harness.deliveries import (
    delivered,
    punches,
    running,
    tenant_of,
    tenant_with_staff,
    until,
    webhook_receiver,
    webhook_to,
)

REFUSED = [
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.9/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00::1]/",
    "https://[fe80::1]/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://0.0.0.0/",
    "https://100.64.0.1/",
    "https://localhost/hook",
    "https://metadata.google.internal/",
    "https://printer.local/",
    "https://intranet/",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "http://hr.example/hook",
    "ftp://hr.example/",
    "https://user:pw@hr.example/",
]


@pytest.fixture
async def strict(settings: Settings, mongo_server: EmbeddedMongo, engine: object) -> AsyncIterator[Container]:
    """A container with the production default: public https receivers only."""
    closed = settings.model_copy(update={"webhooks": WebhookSettings(allow_private_networks=False)})
    async with build(closed, uri=mongo_server.uri, engine=engine) as c:  # type: ignore[arg-type]
        yield c
        await c.client.drop_database(closed.database.name)


@pytest.mark.parametrize("url", REFUSED)
async def test_a_receiver_on_a_private_metadata_or_local_address_is_refused_when_added(
    strict: Container, url: str
) -> None:
    tenant_id, _ = await tenant_with_staff(strict, 1)
    with pytest.raises(ServiceError) as refused:
        await svc.add_subscription(
            await tenant_of(strict, tenant_id),
            url,
            [],
            by="test",
            subscriptions=strict.subscriptions,
            audit=strict.deps.audit,
            clock=strict.deps.clock,
            destinations=strict.destinations,
        )
    assert any(word in str(refused.value) for word in ("public", "https", "local name", "URL", "credentials"))
    assert await strict.db["subscriptions"].count_documents({}) == 0


async def test_a_connectors_token_url_is_checked_too(strict: Container) -> None:
    tenant = await tenant_of(strict, (await tenant_with_staff(strict, 1))[0])
    with pytest.raises(ServiceError, match="public"):
        await svc.add_connector(
            tenant,
            "workday",
            "https://wd2-impl.example/ccx/service/acme/Time_Tracking",
            [],
            config={"check_in_type": "IN", "check_out_type": "OUT"},
            credentials={
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
                "token_url": "https://169.254.169.254/token",
            },
            by="test",
            subscriptions=strict.subscriptions,
            audit=strict.deps.audit,
            clock=strict.deps.clock,
            destinations=strict.destinations,
        )


async def test_private_networks_can_be_allowed_by_the_operator() -> None:
    check = ResolvingDestinationCheck(allow_private=True)
    assert await check.check(" http://127.0.0.1:9/hook ") == "http://127.0.0.1:9/hook"
    with pytest.raises(DestinationRefused):
        await check.check("https://user:pw@10.0.0.1/")


class Rebinding(AbstractResolver):
    """DNS on the far side: a public-looking name that now answers a loopback address."""

    def __init__(self, port: int) -> None:
        self.port, self.asked = port, 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked += 1
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=self.port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


async def test_at_connect_time_every_resolved_address_is_checked_and_nothing_reaches_a_private_one() -> None:
    hits: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="internal admin page")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    dns = Rebinding(port)
    try:
        async with egress_session(allow_private=False, resolver=dns) as http:
            with pytest.raises(aiohttp.ClientConnectorError) as refused:
                await http.post(f"https://hooks.example:{port}/x", data=b"{}")
            assert isinstance(refused.value.__cause__, EgressRefused) and dns.asked == 1
            with pytest.raises(EgressRefused):  # an address literal: refused before any resolver
                await http.post(f"https://127.0.0.1:{port}/x", data=b"{}")
        assert hits == []
        # the same session type with private networks allowed does reach the loopback server
        async with egress_session(allow_private=True) as http, http.get(f"http://127.0.0.1:{port}/ok") as r:
            assert r.status == 200
        assert hits == ["/ok"]
    finally:
        await runner.cleanup()


async def test_the_dispatcher_refuses_a_stored_private_url_and_never_stores_a_receivers_body(
    container: Container, settings: Settings, mongo_server: EmbeddedMongo, engine: object
) -> None:
    tenant_id, people = await tenant_with_staff(container, 1)
    async with webhook_receiver() as receiver:
        # stored while private networks were allowed (or before this check existed)
        sub_id, _ = await webhook_to(container, tenant_id, receiver, "hook")
        await punches(container, tenant_id, people, 1)
        closed = settings.model_copy(update={"webhooks": WebhookSettings(allow_private_networks=False)})
        async with build(closed, uri=mongo_server.uri, engine=engine) as strict, running(strict):  # type: ignore[arg-type]
            await delivered(strict, tenant_id, 1, states=("dead",))
        [dead] = [d async for d in container.db["deliveries"].find({"subscription_id": sub_id})]
        assert dead["last_error"].startswith("not sent: receivers must use https")
        assert receiver.received == []

        # a receiver's own answer is never stored, only its status and the standard reason
        receiver.status["loud"] = 503
        loud_id, _ = await webhook_to(container, tenant_id, receiver, "loud")
        await punches(container, tenant_id, people, 1)

        async def tried() -> bool:
            doc = await container.db["deliveries"].find_one({"subscription_id": loud_id})
            return bool(doc and doc.get("last_error"))

        async with running(container):
            await until(tried, 30, "a failed attempt")
        doc = await container.db["deliveries"].find_one({"subscription_id": loud_id})
        assert doc is not None and doc["last_error"] == "HTTP 503 Service Unavailable"
        assert "forced" not in str(doc["history"])


async def test_events_recorded_while_a_subscription_is_disabled_are_held_and_sent_in_order_when_enabled(
    container: Container,
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 2)
    tenant = await tenant_of(c, tenant_id)
    async with webhook_receiver() as receiver:
        sub_id, _ = await webhook_to(c, tenant_id, receiver, "payroll")
        await svc.set_enabled(
            tenant,
            sub_id,
            False,
            by="test",
            reason="maintenance",
            subscriptions=c.subscriptions,
            deliveries=c.deliveries,
            audit=c.deps.audit,
            clock=c.deps.clock,
        )
        rows = await punches(c, tenant_id, people, 3)
        async with running(c):
            # each person's first event is held; the later ones wait behind it (in order)
            await delivered(c, tenant_id, len(people), states=("held",))
            assert await c.db["deliveries"].count_documents({"subscription_id": sub_id}) == len(rows)
            assert receiver.received == []
            assert await c.db["outbox"].count_documents({"state": "pending"}) == 0  # fanned out, not dropped
            await svc.set_enabled(
                tenant,
                sub_id,
                True,
                by="test",
                reason=None,
                subscriptions=c.subscriptions,
                deliveries=c.deliveries,
                audit=c.deps.audit,
                clock=c.deps.clock,
            )
            await delivered(c, tenant_id, len(rows))
    from tests.harness.deliveries import in_order_per_employee

    assert sorted(receiver.accepted) == sorted(r.id for r in rows)
    assert in_order_per_employee(receiver.accepted, rows)
