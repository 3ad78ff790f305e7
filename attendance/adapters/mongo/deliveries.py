"""``MongoDeliveryRepository``: the outbox's rows fanned out into ``deliveries``, one per row and
subscription, claimed with leases as check-in jobs are.

Ordering per *stream* (one subscription, one employee): a delivery is sent only when nothing
earlier of its stream is waiting, neither a delivery (``pending``, ``in_flight``, ``held``) nor
an outbox row not yet fanned out.

**Partitions.** Every delivery carries ``part``, its stream's partition (a hash of the stream,
``PARTS`` of them), and each partition is leased to one dispatcher at a time (``balance``:
dispatchers share the partitions evenly, each renewing its own and taking over those whose lease
ran out). A dispatcher claims only in its partitions, so no two dispatchers ever claim from the
same stream, and it claims *chains*: a stream's earliest waiting deliveries, several at once,
sent one after the other. One read per state (``READS``) of a few partitions' waiting
deliveries serves many deliveries (on the embedded server a find costs in proportion to every
document it meets, however few it returns: docs/capacity.md), and nothing is parked, woken or
checked per delivery.

Finishes are written in groups (``finish``): the results that arrive while one group is being
written go together in the next, one ``bulk_write``. On the embedded server a command costs
about 2 ms whatever it carries and each further document a fraction of that.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import logging
import uuid
import zlib
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from attendance.adapters.mongo.outbox import OUTBOX_DISPATCHED, OUTBOX_PENDING, outbox_message, write_outbox
from attendance.adapters.mongo.repositories import Database, Doc, insert_new, translated
from attendance.core.domain.deliveries import (
    Attempt,
    Delivery,
    DeliveryState,
    DeliveryStats,
    OutboxMessage,
    ResultKind,
)
from attendance.core.domain.webhooks import Subscription

log = logging.getLogger(__name__)

HISTORY = 10  # attempts kept per delivery
PARKED = "parked"  # an earlier version's state for a pending delivery behind another (migrate_deliveries)
WAITING = [DeliveryState.PENDING.value, DeliveryState.IN_FLIGHT.value, DeliveryState.HELD.value]
# WAITS: a query of waiting deliveries names ``state`` first: the embedded server plans a filter
# that is not exactly an index's shape by its first clause that has an index, and ``state`` leads
# ``parts``, whose waiting range is what waits now, not every delivery ever made
# READS: a claim reads the waiting states one after the other in this order. A delivery that moves
# between two of them while the reads run is then read in the state it left or in the one it
# entered: in flight -> pending or held (its chain gives it back, or it is held), pending -> held
# (a subscription switched off), held -> pending (switched on again). Pending -> in flight is a
# claim, and no other dispatcher claims in these partitions
READS = [DeliveryState.IN_FLIGHT.value, DeliveryState.HELD.value, DeliveryState.PENDING.value, DeliveryState.HELD.value]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a turn or partition that was let go: free for anyone
FINISH_MAX = 100  # finishes written in one group at most
PARTS = 32  # stream partitions, leased to dispatchers (never change it under running dispatchers)
READ_MAX = 2000  # waiting deliveries read by one claim at most (the earliest)
CHAIN = 8  # deliveries of one stream claimed together at most, sent one after the other
WAIT = {
    "stream": 1,
    "subscription_id": 1,
    "employee_id": 1,
    "tenant_id": 1,
    "state": 1,
    "created_at": 1,
    "msg_id": 1,
    "next_attempt_at": 1,
    "lease_until": 1,
}

DELIVERY_INDEXES: dict[str, list[IndexModel]] = {
    "deliveries": [
        # a few partitions' waiting deliveries in order, by state: a claim never reads delivered
        # history (on the embedded server a find decodes every document its index range meets)
        IndexModel(
            [("state", ASCENDING), ("part", ASCENDING), ("created_at", ASCENDING), ("msg_id", ASCENDING)],
            name="parts",
        ),
        IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="by_tenant"),
    ],
    "admin_alerts": [IndexModel([("tenant_id", ASCENDING), ("at", DESCENDING)], name="by_tenant")],
}
# an earlier version's, dropped at start-up; the outbox's ``by_employee`` was read by nothing, and
# every write of a row (one per check-in, one per fan-out) paid for it; ``unfanned`` is served by
# ``pending`` now (``_unfanned``); and the deliveries' ``by_subscription`` by ``parts``: holding,
# resuming and cancelling a subscription's deliveries concern waiting ones only (``WAITS``). On the
# embedded server each index costs every write of a delivery (three per delivery) a third of a
# millisecond (docs/capacity.md)
RETIRED_INDEXES = {"deliveries": ["due", "leases", "stream", "by_subscription"], "outbox": ["by_employee", "unfanned"]}


def _stream(subscription_id: str, employee_id: str) -> str:
    return f"{subscription_id}:{employee_id}"


def partition_of(stream: str) -> int:
    return zlib.crc32(stream.encode()) % PARTS


async def migrate_deliveries(db: Database) -> None:
    """An earlier version's waiting deliveries get their partition, and its ``parked`` ones become
    ``pending`` again (idempotent; only waiting deliveries are read)."""
    c: AsyncCollection[Doc] = db["deliveries"]
    await c.update_many({"state": PARKED}, {"$set": {"state": DeliveryState.PENDING.value}})
    for state in WAITING:
        moves = [
            UpdateOne({"_id": d["_id"]}, {"$set": {"part": partition_of(str(d["stream"]))}})
            async for d in c.find({"state": state, "part": None}, {"stream": 1})
        ]
        if moves:
            await c.bulk_write(moves, ordered=False)


def _delivery(doc: Doc) -> Delivery:
    return Delivery(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        subscription_id=doc["subscription_id"],
        employee_id=doc["employee_id"],
        msg_id=doc["msg_id"],
        type=doc["type"],
        payload=doc["payload"],
        created_at=doc["created_at"],
        state=DeliveryState.PENDING if doc["state"] == PARKED else DeliveryState(doc["state"]),
        attempts=doc.get("attempts", 0),
        next_attempt_at=doc.get("next_attempt_at"),
        last_error=doc.get("last_error"),
        delivered_at=doc.get("delivered_at"),
        followup=doc.get("followup"),
        history=tuple(
            Attempt(
                at=a["at"],
                result=ResultKind(a["result"]),
                status=a.get("status"),
                detail=a.get("detail", ""),
                ms=a.get("ms", 0.0),
            )
            for a in doc.get("history", [])
        ),
        trace=doc.get("trace"),
    )


def delivery_doc(row: OutboxMessage, sub_id: str, now: datetime) -> Doc:
    """A delivery as fanned out: ``row`` to the subscription ``sub_id``, pending, due ``now``."""
    stream = _stream(sub_id, row.employee_id)
    return {
        "_id": f"{row.id}:{sub_id}",
        "tenant_id": row.tenant_id,
        "subscription_id": sub_id,
        "employee_id": row.employee_id,
        "stream": stream,
        "part": partition_of(stream),
        "msg_id": row.id,
        "type": row.type,
        "payload": row.payload,
        "created_at": row.created_at,
        "trace": row.trace,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "history": [],
        "made_at": now,
    }


@translated
class MongoDeliveryRepository:
    def __init__(self, db: Database, trace: Callable[[], str | None] | None = None) -> None:
        self._trace = trace  # the carrier stored with outbox rows (tracing on)
        self._outbox: AsyncCollection[Doc] = db["outbox"]
        self._c: AsyncCollection[Doc] = db["deliveries"]
        self._locks: AsyncCollection[Doc] = db["dispatcher_locks"]
        self._finishing: list[tuple[UpdateOne, asyncio.Future[None]]] = []
        self._finisher: asyncio.Task[None] | None = None
        self._horizon: datetime | None = None  # pending_outbox's bound for its next read

    # ------------------------------------------------------------ fan-out

    async def pending_outbox(self, limit: int) -> list[OutboxMessage]:
        """The earliest rows not fanned out yet, in order: ``limit`` at most, and those up to a
        *horizon* only: where ``limit`` more rows would end at the pace of the last batch (read
        without it when none waits within it). On the embedded server a find reads its whole
        index range before the limit, so during a burst every read decoded the rest of the burst
        (docs/capacity.md). A row written late, earlier than the horizon, is within it."""
        order = [("state", 1), ("created_at", 1)]
        docs: builtins.list[Doc] = []
        if self._horizon is not None:
            bounded = {"state": OUTBOX_PENDING, "created_at": {"$lte": self._horizon}}
            docs = await self._outbox.find(bounded).sort(order).limit(limit).to_list()
        if not docs:
            docs = await self._outbox.find({"state": OUTBOX_PENDING}).sort(order).limit(limit).to_list()
        self._horizon = None
        if docs:
            first, last = docs[0]["created_at"], docs[-1]["created_at"]
            self._horizon = last + (last - first) / max(1, len(docs) - 1) * limit
        return [outbox_message(d) for d in docs]

    async def fan_out(self, rows: Sequence[tuple[OutboxMessage, Sequence[Subscription]]], now: datetime) -> None:
        docs = [delivery_doc(row, sub.id, now) for row, subs in rows for sub in subs]
        await insert_new(self._c, docs)  # another dispatcher may have fanned some out first: the same ids
        await self._outbox.update_many(
            {"_id": {"$in": [row.id for row, _ in rows]}},
            {"$set": {"state": OUTBOX_DISPATCHED, "dispatched_at": now}},
        )

    async def take_turn(self, work: str, dispatcher: str, now: datetime, lease: timedelta) -> bool:
        for free in ({"holder": dispatcher}, {"until": {"$lt": now}}):  # no $or: see the module's note
            try:
                done = await self._locks.update_one(
                    {"_id": work, **free}, {"$set": {"holder": dispatcher, "until": now + lease}}, upsert=True
                )
            except DuplicateKeyError:  # the filter missed (another holds it) and the upsert met its document
                continue
            if done.matched_count or done.upserted_id is not None:
                return True
        return False

    async def end_turn(self, work: str, dispatcher: str) -> None:
        await self._locks.update_one({"_id": work, "holder": dispatcher}, {"$set": {"holder": None, "until": EPOCH}})

    # ------------------------------------------------------------ partitions, shared by the dispatchers

    async def balance(self, dispatcher: str, now: datetime, lease: timedelta) -> builtins.list[int]:
        """The partitions ``dispatcher`` holds from now on: its fair share of ``PARTS`` among the
        dispatchers seen alive (each says so here, every call), its own renewed, a surplus let go,
        a shortfall made up from partitions free or whose holder stopped renewing."""
        until = now + lease
        await self._locks.update_one(
            {"_id": f"member:{dispatcher}"}, {"$set": {"kind": "member", "until": until}}, upsert=True
        )
        alive = await self._locks.count_documents({"kind": "member", "until": {"$gt": now}})
        share = -(-PARTS // max(1, alive))
        await self._locks.update_many({"kind": "part", "holder": dispatcher}, {"$set": {"until": until}})
        parts = [d async for d in self._locks.find({"kind": "part"}, {"part": 1, "holder": 1, "until": 1})]
        if len(parts) < PARTS:  # the first dispatcher ever: the partitions' documents
            made = [
                {"_id": f"part:{n}", "kind": "part", "part": n, "holder": None, "until": EPOCH} for n in range(PARTS)
            ]
            await insert_new(self._locks, made)  # another dispatcher may have made some of them first
            parts = [d async for d in self._locks.find({"kind": "part"}, {"part": 1, "holder": 1, "until": 1})]
        mine = sorted(int(d["part"]) for d in parts if d.get("holder") == dispatcher and d["until"] > now)
        if len(mine) > share:
            extra, mine = mine[share:], mine[:share]
            await self._locks.update_many(
                {"kind": "part", "holder": dispatcher, "part": {"$in": extra}},
                {"$set": {"holder": None, "until": EPOCH}},
            )
        for doc in sorted((d for d in parts if d["until"] <= now), key=lambda d: int(d["part"])):
            if len(mine) >= share:
                break
            taken = await self._locks.update_one(
                {"_id": doc["_id"], "until": {"$lte": now}}, {"$set": {"holder": dispatcher, "until": until}}
            )
            if taken.modified_count:
                mine.append(int(doc["part"]))
        return sorted(mine)

    async def leave(self, dispatcher: str) -> None:
        """A dispatcher that stops lets its partitions go at once (the others take them over at
        their next ``balance``, not a lease later)."""
        free = {"$set": {"holder": None, "until": EPOCH}}
        await self._locks.update_many({"kind": "part", "holder": dispatcher}, free)
        await self._locks.delete_one({"_id": f"member:{dispatcher}"})

    # ------------------------------------------------------------ claiming, in order per stream

    async def _unfanned(
        self, employees: Collection[str], latest: datetime
    ) -> dict[tuple[str, str], tuple[datetime, str]]:
        """The earliest outbox row not fanned out yet, per (tenant, employee) of ``employees``,
        among the rows made up to ``latest`` (the latest delivery asked about: only an earlier row
        can hold one back). The outbox's ``pending`` index, exactly: the rows a burst has not
        fanned out yet are later than every delivery already fanned out, so this reads none of
        them (asked by employee, the embedded server read every waiting row of each)."""
        earliest: dict[tuple[str, str], tuple[datetime, str]] = {}
        async for row in self._outbox.find(
            {"state": OUTBOX_PENDING, "created_at": {"$lte": latest}},
            {"tenant_id": 1, "employee_id": 1, "created_at": 1},
        ):
            if row["employee_id"] not in employees:
                continue
            key = (str(row["tenant_id"]), str(row["employee_id"]))
            at = (row["created_at"], str(row["_id"]))
            earliest[key] = min(earliest.get(key, at), at)
        return earliest

    async def _waiting(self, where: Doc) -> builtins.list[Doc]:
        """The waiting deliveries of the partitions ``where`` picks, in order: the earliest
        ``READ_MAX`` pending ones, and those in flight or held up to the last of them.

        One read per state (a read of all three is a collection scan on the embedded server), one
        after the other, in an order that sees a delivery moving between states while they run
        (``READS``): a chain gives its rest back (in flight, then pending) or is held, a
        subscription is held or resumed. Read at once, a delivery given back between the read of
        the pending ones and that of those in flight was in neither, and the next of its stream
        was claimed ahead of it. Seen twice, the later read is its state."""
        by_order = [("created_at", 1), ("msg_id", 1)]
        seen: dict[str, Doc] = {}
        pending: builtins.list[Doc] = []
        for state in READS:
            query = self._c.find({"state": state, **where}, WAIT)
            if state == DeliveryState.PENDING.value:
                docs = pending = await query.sort(by_order).limit(READ_MAX).to_list()
            else:
                docs = await query.to_list()
            seen.update((d["_id"], d) for d in docs)
        ordered = sorted(seen.values(), key=lambda d: (d["created_at"], d["msg_id"]))
        if len(pending) == READ_MAX:  # later pending ones were not read: nothing past the last read counts
            last = (pending[-1]["created_at"], pending[-1]["msg_id"])
            ordered = [d for d in ordered if (d["created_at"], d["msg_id"]) <= last]
        return ordered

    async def claim(
        self,
        dispatcher: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        *,
        parts: Sequence[int] | None = None,
        busy: Collection[tuple[str, str]] = (),
    ) -> builtins.list[builtins.list[Delivery]]:
        """Up to ``limit`` chains, each the earliest waiting deliveries of one stream (up to
        ``CHAIN``), due and with nothing earlier of their stream waiting, leased to ``dispatcher``;
        in the partitions ``parts`` (all when None), skipping the streams in ``busy``
        ((subscription, employee) pairs whose chain ``dispatcher`` is still sending)."""
        where: Doc = {"part": {"$in": list(parts)}} if parts is not None else {}
        docs = await self._waiting(where)
        if not docs:
            return []
        unfanned = await self._unfanned({str(d["employee_id"]) for d in docs}, max(d["created_at"] for d in docs))
        streams: dict[str, builtins.list[Doc]] = {}
        for doc in docs:
            streams.setdefault(str(doc["stream"]), []).append(doc)
        chains: builtins.list[builtins.list[Doc]] = []
        for stream in streams.values():
            if (stream[0]["subscription_id"], stream[0]["employee_id"]) in busy:
                continue
            chain: builtins.list[Doc] = []
            for doc in stream:
                earlier = unfanned.get((str(doc["tenant_id"]), str(doc["employee_id"])))
                if (
                    doc["state"] == DeliveryState.HELD.value
                    or (doc["state"] == "in_flight" and (doc.get("lease_until") or EPOCH) > now)  # being sent
                    or (doc["state"] == "pending" and doc["next_attempt_at"] > now)  # a retry's wait
                    or (earlier is not None and earlier < (doc["created_at"], doc["msg_id"]))
                    or len(chain) == CHAIN
                ):
                    break
                chain.append(doc)
            if chain:
                chains.append(chain)
                if len(chains) == limit:
                    break
        if not chains:
            return []
        # one update per state for every chain, then one read of what this claim won (its token). A
        # delivery another dispatcher won meanwhile (a partition changing hands) no longer matches
        token = f"{dispatcher}:{uuid.uuid4().hex}"
        take = {
            "$set": {"state": "in_flight", "lease_until": now + lease, "dispatcher": dispatcher, "claim": token},
            "$inc": {"attempts": 1},
        }
        by_state: dict[str, builtins.list[str]] = {}
        for doc in (d for chain in chains for d in chain):
            by_state.setdefault(doc["state"], []).append(doc["_id"])
        for state, ids in by_state.items():
            field = "lease_until" if state == "in_flight" else "next_attempt_at"
            await self._c.update_many({"_id": {"$in": ids}, "state": state, field: {"$lte": now}}, take)
        chosen = list(by_state.get("pending", [])) + list(by_state.get("in_flight", []))
        cursor = self._c.find({"_id": {"$in": chosen}, "claim": token}, {"history": 0})
        won = {d["_id"]: _delivery(d) async for d in cursor}
        claimed: builtins.list[builtins.list[Delivery]] = []
        gaps: builtins.list[Delivery] = []
        for chain in chains:
            got = [won.get(d["_id"]) for d in chain]
            cut = got.index(None) if None in got else len(got)  # a chain stops at the first one not won
            gaps += [d for d in got[cut:] if d is not None]
            if cut:
                claimed.append([d for d in got[:cut] if d is not None])
        if gaps:
            await self.release(gaps, now)
        return claimed

    async def release(self, deliveries: Sequence[Delivery], now: datetime, *, held: bool = False) -> None:
        """Claimed deliveries given back untried (their chain stopped before them), their claim's
        attempt not counted: due again, or ``held`` when their subscription was switched off. Only
        while still this claim's (in flight, attempts unchanged), as ``finish``."""
        if deliveries:
            state: Doc = {"state": "held"} if held else {"state": "pending", "next_attempt_at": now}
            back = {"$set": {**state, "lease_until": None}, "$inc": {"attempts": -1}}
            await self._c.bulk_write(
                [UpdateOne({"_id": d.id, "state": "in_flight", "attempts": d.attempts}, back) for d in deliveries],
                ordered=False,
            )

    async def finish(
        self,
        delivery: Delivery,
        *,
        state: DeliveryState,
        next_attempt_at: datetime | None,
        attempt: Attempt,
        followup: str | None,
        now: datetime,
    ) -> None:
        """Written in groups: finishes that arrive while a group is being written go together in
        the next one (one ``bulk_write``), as check-in jobs are submitted. Returns once this one is
        written."""
        record = dataclasses.asdict(attempt)
        record["result"] = attempt.result.value
        fields: Doc = {
            "state": state.value,
            "next_attempt_at": next_attempt_at,
            "followup": followup,
            "lease_until": None,
        }
        if state is DeliveryState.DELIVERED:
            fields["delivered_at"] = now
        if attempt.result is not ResultKind.DELIVERED:
            fields["last_error"] = attempt.detail
        update: Doc = {"$set": fields, "$push": {"history": {"$each": [record], "$slice": -HISTORY}}}
        if state is DeliveryState.HELD:
            update["$inc"] = {"attempts": -1}  # held, not tried: it does not use up the schedule
        write = UpdateOne({"_id": delivery.id, "state": "in_flight", "attempts": delivery.attempts}, update)  # ours
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finishing.append((write, future))
        if self._finisher is None or self._finisher.done():
            self._finisher = asyncio.create_task(self._write_finishes())
        await asyncio.shield(future)  # a caller that gives up does not cancel the others' write

    async def _write_finishes(self) -> None:
        while self._finishing:
            group, self._finishing = self._finishing[:FINISH_MAX], self._finishing[FINISH_MAX:]
            try:
                await self._c.bulk_write([write for write, _ in group], ordered=False)
            except PyMongoError as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in group:
                if not future.done():
                    future.set_result(None)

    # ------------------------------------------------------------ subscriptions switched off and on

    async def hold(self, tenant_id: str, subscription_id: str) -> int:
        result = await self._c.update_many(
            {"state": "pending", "tenant_id": tenant_id, "subscription_id": subscription_id},  # state first: WAITS
            {"$set": {"state": DeliveryState.HELD.value}},
        )
        return result.modified_count

    async def resume(self, tenant_id: str, subscription_id: str, now: datetime) -> int:
        result = await self._c.update_many(
            {"state": DeliveryState.HELD.value, "tenant_id": tenant_id, "subscription_id": subscription_id},
            {"$set": {"state": "pending", "next_attempt_at": now}},
        )
        return result.modified_count

    async def cancel(self, tenant_id: str, subscription_id: str) -> int:
        result = await self._c.delete_many(
            {"state": {"$in": WAITING}, "tenant_id": tenant_id, "subscription_id": subscription_id}
        )
        return result.deleted_count

    # ------------------------------------------------------------ admin: look and replay

    async def get(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        doc = await self._c.find_one({"_id": delivery_id, "tenant_id": tenant_id})
        return _delivery(doc) if doc else None

    async def list(
        self,
        tenant_id: str,
        *,
        states: Sequence[DeliveryState] = (),
        subscription_id: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        query: Doc = {"tenant_id": tenant_id}
        if states:
            values = [s.value for s in states]
            query["state"] = {"$in": values}
        if subscription_id:
            query["subscription_id"] = subscription_id
        cursor = self._c.find(query).sort([("tenant_id", 1), ("created_at", -1)]).limit(limit)
        return [_delivery(d) async for d in cursor]

    async def replay(self, tenant_id: str, delivery_id: str, now: datetime) -> bool:
        result = await self._c.update_one(
            {
                "_id": delivery_id,
                "tenant_id": tenant_id,
                "state": {"$in": [DeliveryState.DEAD.value, DeliveryState.DELIVERED.value]},
            },
            {
                "$set": {
                    "state": "pending",
                    "next_attempt_at": now,
                    "attempts": 0,
                    "followup": None,
                    "replayed_at": now,
                }
            },
        )
        return result.modified_count == 1

    async def replay_since(
        self, tenant_id: str, since: datetime, subscriptions: Sequence[Subscription], now: datetime
    ) -> int:
        made = 0
        async for stored in self._outbox.find({"state": OUTBOX_DISPATCHED, "created_at": {"$gte": since}}):
            if stored["tenant_id"] != tenant_id:  # the filter is exactly the index ``pending``
                continue
            row = outbox_message(stored)
            for sub in subscriptions:
                if sub.wants(row.type):
                    doc = delivery_doc(row, sub.id, now)
                    result = await self._c.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
                    made += result.upserted_id is not None
        again = await self._c.update_many(
            {
                "tenant_id": tenant_id,
                "subscription_id": {"$in": [s.id for s in subscriptions]},
                "created_at": {"$gte": since},
                "state": {"$in": [DeliveryState.DEAD.value, DeliveryState.DELIVERED.value]},
            },
            {
                "$set": {
                    "state": "pending",
                    "next_attempt_at": now,
                    "attempts": 0,
                    "followup": None,
                    "replayed_at": now,
                }
            },
        )
        return made + again.modified_count

    async def stats(self, tenant_id: str | None, now: datetime) -> DeliveryStats:
        match: Doc = {"tenant_id": tenant_id} if tenant_id else {}
        by_state: dict[str, int] = {}
        async for row in await self._c.aggregate([{"$match": match}, {"$group": {"_id": "$state", "n": {"$sum": 1}}}]):
            by_state[str(row["_id"])] = int(row["n"])
        retried = await self._c.count_documents({**match, "attempts": {"$gt": 1}})
        oldest = await self._c.find_one(
            {**match, "state": {"$in": ["pending", "in_flight"]}}, {"created_at": 1}, sort=[("created_at", 1)]
        )
        unfanned = await self._outbox.count_documents({**match, "state": OUTBOX_PENDING})
        lag = (now - oldest["created_at"]).total_seconds() if oldest else 0.0
        return DeliveryStats(by_state=by_state, retried=retried, lag_s=lag, outbox_waiting=unfanned)

    async def add_outbox(self, rows: Sequence[OutboxMessage]) -> None:
        await write_outbox(self._outbox, rows, self._trace)

    async def summary_mark(self, tenant_id: str) -> date | None:
        doc = await self._c.database["summary_marks"].find_one({"_id": tenant_id})
        return date.fromisoformat(doc["through"]) if doc else None

    async def set_summary_mark(self, tenant_id: str, day: date) -> None:
        await self._c.database["summary_marks"].update_one(
            {"_id": tenant_id}, {"$max": {"through": day.isoformat()}}, upsert=True
        )

    async def record_alert(self, tenant_id: str, text: str, now: datetime) -> None:
        doc: dict[str, Any] = {"tenant_id": tenant_id, "text": text, "at": now}
        await self._c.database["admin_alerts"].insert_one(doc)

    async def alerts(self, tenant_id: str, limit: int) -> builtins.list[tuple[datetime, str]]:
        cursor = self._c.database["admin_alerts"].find({"tenant_id": tenant_id}).sort([("tenant_id", 1), ("at", -1)])
        return [(d["at"], d["text"]) async for d in cursor.limit(limit)]
