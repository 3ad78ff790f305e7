"""Claims in chains and finishes written in groups (``MongoDeliveryRepository``) on the real
database: a claim gives each stream's earliest deliveries as one chain, finishes made at once are
each written, a retried delivery's stream waits for its next try, and deliveries given back are
due again without their claim counted; a dispatcher told to stop finishes what it is sending and
gives the rest of its chains back; a delivery that moves between states while a claim reads is
still seen by it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.mongo.deliveries import PARTS, MongoDeliveryRepository
from attendance.adapters.mongo.repositories import connect
from attendance.core.domain.deliveries import Attempt, DeliveryState, OutboxMessage, ResultKind
from attendance.entrypoints.bootstrap import Container, dispatcher
from tests.fakes.receivers import wait_until
from tests.harness.deliveries import (
    delivered,
    punch_rows,
    punches,
    running,
    tenant_with_staff,
    webhook_receiver,
    webhook_to,
)
from tests.harness.wire import WireProxy


async def fanned_out(c: Container, staff: int, rounds: int) -> tuple[str, list[OutboxMessage]]:
    """``rounds`` punches of each of ``staff`` people to one webhook, fanned out, not yet claimed."""
    tenant_id, people = await tenant_with_staff(c, staff)
    async with webhook_receiver() as receiver:
        await webhook_to(c, tenant_id, receiver, "hook")
        rows = await punches(c, tenant_id, people, rounds=rounds)
        assert await dispatcher(c).fan_out_once() == staff * rounds
    return tenant_id, rows


async def test_chains_in_order_finished_in_groups_and_a_retry_holds_up_its_stream(container: Container) -> None:
    c = container
    tenant_id, rows = await fanned_out(c, staff=4, rounds=3)  # three per person: one stream each
    now = c.deps.clock.now()
    lease = timedelta(seconds=30)
    chains = await c.deliveries.claim("test", now, lease, 10)
    assert sorted(len(chain) for chain in chains) == [3, 3, 3, 3]  # one chain per person, all of it
    order = {r.id: i for i, r in enumerate(rows)}
    for chain in chains:
        assert len({x.employee_id for x in chain}) == 1
        assert [order[x.msg_id] for x in chain] == sorted(order[x.msg_id] for x in chain)
    assert await c.deliveries.claim("test", now, lease, 10) == []  # all leased: nothing more to claim

    done = Attempt(at=now, result=ResultKind.DELIVERED, status=204, detail="", ms=1.0)
    again = Attempt(at=now, result=ResultKind.RETRY, status=503, detail="busy", ms=1.0)
    later = now + timedelta(minutes=5)
    heads = [chain[0] for chain in chains]
    await asyncio.gather(
        *(
            c.deliveries.finish(
                h, state=DeliveryState.DELIVERED, next_attempt_at=None, attempt=done, followup=None, now=now
            )
            for h in heads[:3]
        ),
        c.deliveries.finish(
            heads[3], state=DeliveryState.PENDING, next_attempt_at=later, attempt=again, followup=None, now=now
        ),
    )
    # the chains' others given back: due again, their claim not counted as an attempt
    await c.deliveries.release([x for chain in chains for x in chain[1:]], now)
    docs = {d["_id"]: d async for d in c.db["deliveries"].find({"tenant_id": tenant_id})}
    assert [docs[h.id]["state"] for h in heads] == ["delivered", "delivered", "delivered", "pending"]
    assert abs(docs[heads[3].id]["next_attempt_at"] - later) < timedelta(milliseconds=1)  # BSON keeps milliseconds
    assert [len(docs[h.id]["history"]) for h in heads] == [1, 1, 1, 1]
    given_back = [docs[x.id] for chain in chains for x in chain[1:]]
    assert {(g["state"], g["attempts"]) for g in given_back} == {("pending", 0)}

    nxt = await c.deliveries.claim("test", now, lease, 10)
    # the three that moved on give their next two; the retried one's stream waits for its next try
    assert sorted(chain[0].employee_id for chain in nxt) == sorted(h.employee_id for h in heads[:3])
    assert [len(chain) for chain in nxt] == [2, 2, 2]
    await c.deliveries.release([x for chain in nxt for x in chain], now)
    after = await c.deliveries.claim("test", later, lease, 10)  # its time came: all three again, in order
    retried = [x.id for chain in after for x in chain if x.employee_id == heads[3].employee_id]
    assert retried == [x.id for x in chains[3]]


async def test_a_stopping_dispatcher_finishes_what_it_sends_and_gives_the_rest_of_its_chains_back(
    container: Container,
) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 1)
    async with webhook_receiver() as receiver:
        await webhook_to(c, tenant_id, receiver, "hook")
        rows = await punches(c, tenant_id, people, rounds=4)  # one stream of four
        receiver.hold = asyncio.Event()  # the first request waits: the dispatcher is mid-chain
        d = dispatcher(c)
        stop = asyncio.Event()
        run = asyncio.create_task(d.run(stop))
        await wait_until(lambda: receiver.held >= 1, 30, "the chain's first delivery in flight")
        stop.set()  # a rolling restart: SIGTERM
        receiver.hold.set()
        await asyncio.wait_for(run, 30)

        docs = sorted(
            [d async for d in c.db["deliveries"].find({"tenant_id": tenant_id})], key=lambda d: d["created_at"]
        )
        assert [x["state"] for x in docs] == ["delivered", "pending", "pending", "pending"]
        assert [x["attempts"] for x in docs] == [1, 0, 0, 0]  # given back untried
        assert receiver.accepted == [rows[0].id]
        # its fan-out turn is free at once (not after its lease) for the next dispatcher
        assert await c.deliveries.take_turn("fan-out", "next", c.deps.clock.now(), timedelta(seconds=5))
        await c.deliveries.end_turn("fan-out", "next")
        # and its partitions are free at once for the next dispatcher, which sends the rest in order
        async with running(c):
            await delivered(c, tenant_id, len(rows))
        assert receiver.accepted == [r.id for r in rows]


async def test_a_chain_whose_lease_ran_out_is_taken_again_and_its_old_claim_cannot_give_it_back(
    container: Container,
) -> None:
    c = container
    tenant_id, _ = await fanned_out(c, staff=1, rounds=2)
    now = c.deps.clock.now()
    lease = timedelta(seconds=30)
    [first] = await c.deliveries.claim("a", now, lease, 10)
    assert await c.deliveries.claim("b", now + timedelta(seconds=10), lease, 10) == []  # a's lease holds
    [again] = await c.deliveries.claim("b", now + timedelta(seconds=31), lease, 10)  # a's ran out: b takes it over
    assert [x.id for x in again] == [x.id for x in first]
    assert [x.attempts for x in again] == [2, 2]
    await c.deliveries.release(first, now)  # a, late: no longer its claim
    docs = [d async for d in c.db["deliveries"].find({"tenant_id": tenant_id})]
    assert {(d["state"], d["attempts"], d["dispatcher"]) for d in docs} == {("in_flight", 2, "b")}


async def test_a_stream_waits_for_an_earlier_row_of_its_employee_not_yet_fanned_out(container: Container) -> None:
    """A row written late (its writer was slow) with an earlier time than deliveries already
    fanned out holds its employee's deliveries back until it is fanned out; a row not fanned out
    yet that is later than them does not."""
    c = container
    tenant_id, people = await tenant_with_staff(c, 2)
    async with webhook_receiver() as receiver:
        await webhook_to(c, tenant_id, receiver, "hook")
        rows = punch_rows(tenant_id, people, 3)  # ada, bob, ada, bob, ada, bob
        ada = [r for r in rows if r.employee_id == people[0].id]
        bob = [r for r in rows if r.employee_id == people[1].id]
        await c.deliveries.add_outbox([ada[1], ada[2], *bob[:2]])
        assert await dispatcher(c).fan_out_once() == 4
        await c.deliveries.add_outbox([ada[0], bob[2]])  # ada's first, late; bob's third, in time
        now, lease = c.deps.clock.now(), timedelta(seconds=30)
        chains = await c.deliveries.claim("d", now, lease, 10)
        assert [[x.msg_id for x in chain] for chain in chains] == [[r.id for r in bob[:2]]]  # not ada's
        await c.deliveries.release([x for chain in chains for x in chain], now)
        assert await dispatcher(c).fan_out_once() == 2
        chains = await c.deliveries.claim("d", c.deps.clock.now(), lease, 10)
        assert sorted([x.msg_id for x in chain] for chain in chains) == sorted(
            [[r.id for r in ada], [r.id for r in bob]]
        )


def _reads_waiting(command: dict[str, Any]) -> bool:
    """A claim's read of the waiting deliveries of its partitions."""
    return command.get("find") == "deliveries" and "part" in command.get("filter", {})


async def _claim_while_it_moves(
    c: Container, claimer: MongoDeliveryRepository, proxy: WireProxy, move: str, before_read: int
) -> None:
    """One run: d2 moves before the claim's read number ``before_read`` (or after its reads)."""
    lease = timedelta(seconds=30)
    tenant_id, _ = await fanned_out(c, staff=1, rounds=3)  # d1, d2, d3 of one stream
    [[d1, d2, d3]] = await c.deliveries.claim("a", c.deps.clock.now(), lease, 10)
    now = c.deps.clock.now()
    done = Attempt(at=now, result=ResultKind.DELIVERED, status=204, detail="", ms=1.0)
    await c.deliveries.finish(
        d1, state=DeliveryState.DELIVERED, next_attempt_at=None, attempt=done, followup=None, now=now
    )
    if move == "resumed":  # d2 held: its subscription was off when it was tried
        off = Attempt(at=now, result=ResultKind.RETRY, status=None, detail="held", ms=0.0)
        await c.deliveries.finish(
            d2, state=DeliveryState.HELD, next_attempt_at=None, attempt=off, followup=None, now=now
        )
    await c.deliveries.release([d3], now)  # d3 given back, due; d2 being sent, or held

    async def moved() -> None:
        if move == "resumed":
            await c.deliveries.resume(tenant_id, d2.subscription_id, c.deps.clock.now())
        else:
            await c.deliveries.release([d2], c.deps.clock.now())

    claim = asyncio.create_task(claimer.claim("b", c.deps.clock.now(), lease, 10, parts=range(PARTS)))
    reads = 0
    while (held := await proxy.next_held(claim)) is not None:
        if reads == before_read:
            await moved()
        await held.go()
        reads += 1
    if reads <= before_read:
        await moved()
    chains = [[x.id for x in chain] for chain in claim.result()]
    assert all(chain[0] == d2.id for chain in chains), (before_read, chains)  # d3 never ahead of d2
    if not chains:
        later = c.deps.clock.now() + timedelta(seconds=1)
        chains = [[x.id for x in chain] for chain in await c.deliveries.claim("c", later, lease, 10)]
    assert chains == [[d2.id, d3.id]], before_read
    await c.db["deliveries"].update_many({"tenant_id": tenant_id}, {"$set": {"state": "delivered"}})


@pytest.mark.parametrize("move", ["given back", "resumed"])
async def test_a_delivery_that_moves_while_a_claim_reads_is_still_seen_before_the_next_of_its_stream(
    container: Container, mongo_server: EmbeddedMongo, move: str
) -> None:
    """A delivery moves between waiting states while another claim reads the waiting deliveries
    (several reads): its chain gives it back (in flight, then pending), or its subscription is
    switched on again (held, then pending). Wherever the move lands among those reads, the claim
    sees it, so it never claims the next delivery of its stream ahead of it. (A claim once read
    the pending deliveries before a give-back and those in flight after it, saw the delivery in
    neither, and sent the next one first.) The claim's client goes through a proxy that holds
    each of those reads until the test lets it go; the move is made before the first, the
    second, ... read, one run each, and the stream is then claimed in order."""
    proxy = WireProxy(mongo_server.host, mongo_server.port, _reads_waiting)
    async with proxy.running():
        client = connect(proxy.uri)
        try:
            claimer = MongoDeliveryRepository(client[container.settings.database.name])
            for before_read in range(5):
                await _claim_while_it_moves(container, claimer, proxy, move, before_read)
        finally:
            await client.close()
