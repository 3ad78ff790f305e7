"""Several dispatchers on the real database: one at a time fans out (take_turn/end_turn), and a turn
its holder stopped renewing passes on when its lease ends; the stream partitions are shared out
evenly (balance), each held by one dispatcher, and passed on when their holder leaves or stops
renewing; a dispatcher that could not renew its partitions claims in none of them until it does;
a dispatcher keeps a few database connections."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.mongo.deliveries import PARTS
from attendance.adapters.mongo.repositories import DRIVER_CONNECTIONS
from attendance.entrypoints.bootstrap import Container, build, dispatcher
from attendance.settings import Settings
from tests.fakes.receivers import wait_until
from tests.harness.wire import WireProxy


async def test_one_dispatcher_at_a_time_holds_a_turn(container: Container) -> None:
    repo = container.deliveries
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    lease = timedelta(seconds=5)
    assert await repo.take_turn("fan-out", "a", now, lease)
    assert not await repo.take_turn("fan-out", "b", now, lease)  # a holds it
    assert await repo.take_turn("other", "b", now, lease)  # another kind of work: its own turn
    assert await repo.take_turn("fan-out", "a", now + timedelta(seconds=4), lease)  # a renews
    assert not await repo.take_turn("fan-out", "b", now + timedelta(seconds=8), lease)  # renewed at 4 s: until 9 s
    assert await repo.take_turn("fan-out", "b", now + timedelta(seconds=10), lease)  # a stopped asking
    assert not await repo.take_turn("fan-out", "a", now + timedelta(seconds=10), lease)
    await repo.end_turn("other", "b")
    assert await repo.take_turn("other", "a", now, lease)  # ended: free at once
    await repo.end_turn("other", "b")  # not b's any more: a keeps it
    assert not await repo.take_turn("other", "b", now, lease)


async def test_the_partitions_are_shared_out_each_held_by_one_dispatcher(container: Container) -> None:
    repo = container.deliveries
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    lease = timedelta(seconds=10)
    alone = await repo.balance("a", now, lease)
    assert alone == list(range(PARTS))  # the only one: all of them
    assert await repo.balance("b", now, lease) == []  # all held: b has said it is there
    a = await repo.balance("a", now + timedelta(seconds=2), lease)  # a sees b and lets half go
    b = await repo.balance("b", now + timedelta(seconds=2), lease)
    assert len(a) == len(b) == PARTS // 2 and not set(a) & set(b)
    # a stops renewing: its partitions pass on when their lease ends, not before
    assert await repo.balance("b", now + timedelta(seconds=11), lease) == b
    assert await repo.balance("b", now + timedelta(seconds=13), lease) == list(range(PARTS))
    await repo.leave("b")  # b stops: everything is free at once
    assert await repo.balance("c", now + timedelta(seconds=14), lease) == list(range(PARTS))


async def test_a_dispatcher_opens_a_few_database_connections_and_the_other_roles_the_drivers_default(  # type: ignore[no-untyped-def]
    settings: Settings, mongo_server, engine
) -> None:
    """A dispatcher's loops need a few connections; more only make a shared database switch
    between their commands (docs/capacity.md). The setting reaches the driver's pool."""
    few = settings.model_copy(update={"dispatcher": settings.dispatcher.model_copy(update={"db_connections": 2})})
    async with build(few, uri=mongo_server.uri, engine=engine, role="dispatcher") as c:
        assert c.client.options.pool_options.max_pool_size == 2
    async with build(few, uri=mongo_server.uri, engine=engine, role="worker") as c:
        assert c.client.options.pool_options.max_pool_size == DRIVER_CONNECTIONS == 100


def _renewal(command: dict[str, Any]) -> bool:
    """The first write of a dispatcher's ``balance``: it says it is alive."""
    first = (command.get("updates") or [{}])[0]
    return command.get("update") == "dispatcher_locks" and str(first.get("q", {}).get("_id", "")).startswith("member:")


def _claims(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reads of a claim among ``commands``."""
    return [cmd for cmd in commands if cmd.get("find") == "deliveries" and "part" in cmd.get("filter", {})]


async def test_a_dispatcher_that_could_not_renew_its_partitions_claims_in_none_of_them_until_it_does(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any
) -> None:
    """Partitions a dispatcher could not renew (the database went away in the middle of it, after
    letting some go, perhaps) may be another's soon: it claims in none of them until a renewal
    goes through, so no two dispatchers claim from one stream. Its client goes through a proxy
    that cuts the connection of its second renewal (and of the driver's retry of it)."""
    proxy = WireProxy(mongo_server.host, mongo_server.port, _renewal)
    async with proxy.running(), build(settings, uri=proxy.uri, engine=engine, role="dispatcher") as c:
        stop = asyncio.Event()
        run = asyncio.create_task(dispatcher(c).run(stop))
        try:
            await (await asyncio.wait_for(proxy.held.get(), 30)).go()  # the first renewal: its partitions
            await wait_until(lambda: bool(_claims(proxy.seen)), 30, "a claim in its partitions")
            failed = await asyncio.wait_for(proxy.held.get(), 30)  # the next renewal, BALANCE_S later
            failed.cut()
            cut_at = len(proxy.seen)
            retried = failed.command.get("txnNumber")  # a retryable write (not on a lone server)
            while (again := await asyncio.wait_for(proxy.held.get(), 30)).command.get("txnNumber", -1) == retried:
                again.cut()  # the driver's retry of the same write: cut too
            # ``again`` is the dispatcher's next renewal: no claim was read in between
            at = next(i for i, cmd in enumerate(proxy.seen) if cmd is again.command)
            assert _claims(proxy.seen[cut_at:at]) == []
            await again.go()
            await wait_until(lambda: bool(_claims(proxy.seen[at:])), 30, "a claim once renewed")
        finally:
            stop.set()
            while (held := await proxy.next_held(run)) is not None:
                await held.go()  # a renewal it makes while stopping goes through
            await run
