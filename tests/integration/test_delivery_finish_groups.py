"""Finishes written in groups (``MongoDeliveryRepository.finish``) on the real database: finishes
made at once are each written, and each stream that moved on has its next delivery woken, while a
retried one's stream stays parked."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from attendance.core.domain.deliveries import Attempt, DeliveryState, ResultKind
from attendance.entrypoints.bootstrap import Container, dispatcher
from tests.harness.deliveries import punches, tenant_with_staff, webhook_receiver, webhook_to


async def test_finishes_made_at_once_are_written_and_wake_the_next_of_their_streams(container: Container) -> None:
    c = container
    tenant_id, people = await tenant_with_staff(c, 4)
    async with webhook_receiver() as receiver:
        await webhook_to(c, tenant_id, receiver, "hook")
        await punches(c, tenant_id, people, rounds=3)  # three per person: the 2nd and 3rd start parked

        d = dispatcher(c)
        assert await d.fan_out_once() == 12
    now = c.deps.clock.now()
    heads = await c.deliveries.claim("test", now, timedelta(seconds=30), 10)
    assert len(heads) == 4  # one per person: the others wait behind them
    done = Attempt(at=now, result=ResultKind.DELIVERED, status=204, detail="", ms=1.0)
    again = Attempt(at=now, result=ResultKind.RETRY, status=503, detail="busy", ms=1.0)
    later = now + timedelta(minutes=5)
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
    docs = {d["_id"]: d async for d in c.db["deliveries"].find({"tenant_id": tenant_id})}
    assert [docs[h.id]["state"] for h in heads] == ["delivered", "delivered", "delivered", "pending"]
    assert abs(docs[heads[3].id]["next_attempt_at"] - later) < timedelta(milliseconds=1)  # BSON keeps milliseconds
    assert [len(docs[h.id]["history"]) for h in heads] == [1, 1, 1, 1]
    for head in heads:
        stream = [d for d in docs.values() if d["employee_id"] == head.employee_id and d["_id"] != head.id]
        states = sorted((d["created_at"], d["state"]) for d in stream)
        # the next one of a delivered head is due now; the one after it, and a retried head's, stay parked
        expected = ["parked", "parked"] if head is heads[3] else ["pending", "parked"]
        assert [s for _, s in states] == expected
    nxt = await c.deliveries.claim("test", now, timedelta(seconds=30), 10)
    assert sorted(d.employee_id for d in nxt) == sorted(h.employee_id for h in heads[:3])
