"""``MongoDeliveryRepository``: the outbox's rows fanned out into ``deliveries``, one per row and
subscription, claimed with leases as check-in jobs are.

Ordering per *stream* (one subscription, one employee): a delivery is claimed only when nothing
earlier of its stream is waiting, neither a delivery (``pending``, ``in_flight``, ``held``) nor
an outbox row not yet fanned out. A blocked delivery is *parked* until its blocker's next try
(deliveries fanned out behind an earlier one of their stream start parked); finishing a delivery
wakes the next one of its stream at once. Parking keeps the due set small: the claim query then
looks at the heads of the streams only, not at the whole backlog.

A parked delivery is stored with the state ``parked`` (read as ``pending``: the domain knows no
parking), so that the claim's query for due deliveries meets only the streams' heads: on the
embedded server, that query costs in proportion to every delivery of its state (measured: 80 ms
with 2,000 pending, 8 ms with 200; docs/capacity.md). Parked deliveries whose time came without
a wake-up (a dispatcher died) are looked for every few seconds.

Finishes are written in groups (``finish``): the results that arrive while one group is being
written go together in the next, one ``bulk_write`` plus one read and one update waking the next
delivery of each stream that moved on. On the embedded server a command costs about 2 ms whatever
it carries and each further document a fraction of that, so this took one dispatcher from about
28 to about 40 deliveries/s (docs/capacity.md).
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from attendance.adapters.mongo.outbox import OUTBOX_DISPATCHED, OUTBOX_PENDING, outbox_message, write_outbox
from attendance.adapters.mongo.repositories import Database, Doc, translated
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
PARKED = "parked"  # stored state of a pending delivery behind an earlier one of its stream
WAITING = [DeliveryState.PENDING.value, PARKED, DeliveryState.IN_FLIGHT.value, DeliveryState.HELD.value]
DUPLICATE_KEY = 11000
EXPIRED_EVERY = timedelta(seconds=2)  # how often a claim also looks for deliveries whose lease ended
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a turn that ended: free for anyone
FINISH_MAX = 100  # finishes written in one group at most
PARK_S = 30  # a parked delivery is looked at again after this even if no wake-up came (a dispatcher died)
HEAD = {"stream": 1, "state": 1, "created_at": 1, "msg_id": 1, "next_attempt_at": 1, "lease_until": 1}
CANDIDATE = {"stream": 1, "state": 1, "created_at": 1, "msg_id": 1, "tenant_id": 1, "employee_id": 1}

DELIVERY_INDEXES: dict[str, list[IndexModel]] = {
    "deliveries": [
        IndexModel([("state", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("state", ASCENDING), ("lease_until", ASCENDING)], name="leases"),
        # a stream's waiting deliveries in order, by state: the ordering checks never read a stream's
        # delivered history (on the embedded server they read every document of the stream before)
        IndexModel(
            [("state", ASCENDING), ("stream", ASCENDING), ("created_at", ASCENDING), ("msg_id", ASCENDING)],
            name="stream",
        ),
        IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="by_tenant"),
        IndexModel([("subscription_id", ASCENDING), ("state", ASCENDING)], name="by_subscription"),
    ],
    "admin_alerts": [IndexModel([("tenant_id", ASCENDING), ("at", DESCENDING)], name="by_tenant")],
}


def _stream(subscription_id: str, employee_id: str) -> str:
    return f"{subscription_id}:{employee_id}"


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


def _new_delivery(row: OutboxMessage, sub_id: str, now: datetime) -> Doc:
    return {
        "_id": f"{row.id}:{sub_id}",
        "tenant_id": row.tenant_id,
        "subscription_id": sub_id,
        "employee_id": row.employee_id,
        "stream": _stream(sub_id, row.employee_id),
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
        self._expired_looked_at: datetime | None = None
        self._finishing: list[tuple[UpdateOne, str | None, datetime, asyncio.Future[None]]] = []
        self._finisher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ fan-out

    async def pending_outbox(self, limit: int) -> list[OutboxMessage]:
        cursor = self._outbox.find({"state": OUTBOX_PENDING}).sort([("state", 1), ("created_at", 1)]).limit(limit)
        return [outbox_message(d) async for d in cursor]

    async def fan_out(self, rows: Sequence[tuple[OutboxMessage, Sequence[Subscription]]], now: datetime) -> None:
        docs = sorted(
            (_new_delivery(row, sub.id, now) for row, subs in rows for sub in subs),
            key=lambda d: (d["created_at"], d["msg_id"]),
        )
        heads: set[str] = set()
        for doc in docs:  # behind the first of its stream: parked, woken when the one before it finishes
            if doc["stream"] in heads:
                doc.update(next_attempt_at=now + timedelta(seconds=PARK_S), state=PARKED)
            heads.add(doc["stream"])
        if docs:
            try:
                await self._c.insert_many(docs, ordered=False)
            except BulkWriteError as exc:  # another dispatcher fanned some of them out first: the same ids
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise
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

    # ------------------------------------------------------------ claiming, in order per stream

    async def _heads(self, candidates: Sequence[Doc]) -> dict[str, Doc]:
        """The earliest waiting delivery of each candidate's stream: one query per waiting state, at
        once, each pinned by the ``stream`` index to that state and those streams (one query over
        every state would read each stream's delivered history too on the embedded server)."""
        streams = sorted({d["stream"] for d in candidates})

        async def waiting(state: str) -> list[Doc]:
            return await self._c.find({"state": state, "stream": {"$in": streams}}, HEAD).to_list()

        found = await asyncio.gather(*(waiting(state) for state in WAITING))
        heads: dict[str, Doc] = {}
        for doc in sorted((d for docs in found for d in docs), key=lambda d: (d["created_at"], d["msg_id"])):
            heads.setdefault(str(doc["stream"]), doc)
        return heads

    async def _unfanned(self, candidates: Sequence[Doc]) -> dict[tuple[str, str], tuple[datetime, str]]:
        """The earliest outbox row not fanned out yet, per (tenant, employee) of the candidates."""
        employees = sorted({str(d["employee_id"]) for d in candidates})
        earliest: dict[tuple[str, str], tuple[datetime, str]] = {}
        async for row in self._outbox.find(
            {"state": OUTBOX_PENDING, "employee_id": {"$in": employees}},
            {"tenant_id": 1, "employee_id": 1, "created_at": 1},
        ):
            key = (str(row["tenant_id"]), str(row["employee_id"]))
            at = (row["created_at"], str(row["_id"]))
            earliest[key] = min(earliest.get(key, at), at)
        return earliest

    @staticmethod
    def _parked_until(blocker: Doc, now: datetime) -> datetime:
        until = now + timedelta(seconds=1)  # an earlier row not fanned out yet: soon
        if blocker["state"] in (DeliveryState.PENDING.value, PARKED) and blocker.get("next_attempt_at"):
            until = max(until, blocker["next_attempt_at"])
        elif blocker["state"] == DeliveryState.IN_FLIGHT.value and blocker.get("lease_until"):
            until = max(until, blocker["lease_until"])
        elif blocker["state"] == DeliveryState.HELD.value:
            until = now + timedelta(hours=1)
        return until

    async def claim(self, dispatcher: str, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        due = (
            self._c.find({"state": "pending", "next_attempt_at": {"$lte": now}}, CANDIDATE)
            .sort([("state", 1), ("next_attempt_at", 1)])
            .limit(limit * 2)
        )
        expired: list[Doc] = []
        if self._expired_looked_at is None or now - self._expired_looked_at >= EXPIRED_EVERY:
            # leases last a minute and parked deliveries are woken when their blocker finishes:
            # looking for ended leases and overdue parked ones every few seconds is soon enough,
            # and spares the database two range queries per claim
            self._expired_looked_at = now
            for state, field in (("in_flight", "lease_until"), (PARKED, "next_attempt_at")):
                expired += await self._c.find({"state": state, field: {"$lte": now}}, CANDIDATE).limit(limit).to_list()
        candidates: list[Doc] = []
        seen_streams: set[str] = set()
        for doc in expired + [d async for d in due]:
            if doc["stream"] not in seen_streams:  # one per stream per claim: a later one waits for it anyway
                seen_streams.add(doc["stream"])
                candidates.append(doc)
        if not candidates:
            return []
        heads = await self._heads(candidates)
        unfanned = await self._unfanned(candidates)
        claimed: list[Delivery] = []
        chosen: list[str] = []
        by_state: dict[str, list[str]] = {}
        parks: list[UpdateOne] = []
        for doc in candidates:
            head = heads.get(doc["stream"], {"_id": doc["_id"]})
            blocker: Doc | None = head if head["_id"] != doc["_id"] else None
            earlier_row = unfanned.get((str(doc["tenant_id"]), str(doc["employee_id"])))
            if blocker is None and earlier_row is not None and earlier_row < (doc["created_at"], doc["msg_id"]):
                blocker = {"state": "unfanned"}
            if blocker is not None:
                if doc["state"] in ("pending", PARKED):
                    parks.append(
                        UpdateOne(
                            {"_id": doc["_id"], "state": doc["state"]},
                            {"$set": {"next_attempt_at": self._parked_until(blocker, now), "state": PARKED}},
                        )
                    )
                continue
            if len(chosen) < limit:
                chosen.append(doc["_id"])
                by_state.setdefault(doc["state"], []).append(doc["_id"])
        if chosen:
            # one update per kind for the batch, then one read of what this claim won (its token):
            # a few round trips for up to ``limit`` deliveries. A delivery another dispatcher won
            # meanwhile no longer matches the filter, so each is claimed once. (No ``$or`` in the
            # filters: on the embedded server it turns an indexed update into a scan, 70 ms at 3,000.)
            token = f"{dispatcher}:{uuid.uuid4().hex}"
            take = {
                "$set": {
                    "state": "in_flight",
                    "lease_until": now + lease,
                    "dispatcher": dispatcher,
                    "claim": token,
                },
                "$inc": {"attempts": 1},
            }
            for state, ids in by_state.items():
                field = "lease_until" if state == "in_flight" else "next_attempt_at"
                await self._c.update_many({"_id": {"$in": ids}, "state": state, field: {"$lte": now}}, take)
            won = self._c.find({"_id": {"$in": chosen}, "claim": token}, {"history": 0})
            claimed = sorted([_delivery(d) async for d in won], key=lambda d: (d.created_at, d.msg_id))
        if parks:
            await self._c.bulk_write(parks, ordered=False)
        return claimed

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
        the next one (one ``bulk_write``, one read of the streams' next deliveries, one update
        waking them), as check-in jobs are submitted. Returns once this one is written."""
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
        ended = state in (DeliveryState.DELIVERED, DeliveryState.DEAD)  # then the next of its stream goes now
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finishing.append(
            (write, _stream(delivery.subscription_id, delivery.employee_id) if ended else None, now, future)
        )
        if self._finisher is None or self._finisher.done():
            self._finisher = asyncio.create_task(self._write_finishes())
        await asyncio.shield(future)  # a caller that gives up does not cancel the others' write

    async def _write_finishes(self) -> None:
        while self._finishing:
            group, self._finishing = self._finishing[:FINISH_MAX], self._finishing[FINISH_MAX:]
            try:
                await self._c.bulk_write([write for write, _, _, _ in group], ordered=False)
            except PyMongoError as exc:
                for _, _, _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            ended = sorted({stream for _, stream, _, _ in group if stream is not None})
            try:
                if ended:
                    await self._wake_next(ended, max(now for _, _, now, _ in group))
            except PyMongoError as exc:  # the finishes stand; what waits is found when its parking ends (PARK_S)
                log.warning("could not wake the next deliveries of %s streams: %s", len(ended), type(exc).__name__)
            for _, _, _, future in group:
                if not future.done():
                    future.set_result(None)

    async def _wake_next(self, streams: Sequence[str], now: datetime) -> None:
        """The earliest parked delivery of each stream becomes due now (one read, one update)."""
        first: dict[str, str] = {}
        cursor = self._c.find({"state": PARKED, "stream": {"$in": list(streams)}}, {"_id": 1, "stream": 1})
        async for doc in cursor.sort([("created_at", 1), ("msg_id", 1)]):
            first.setdefault(str(doc["stream"]), str(doc["_id"]))
        if first:
            await self._c.update_many(
                {"_id": {"$in": sorted(first.values())}, "state": PARKED},
                {"$set": {"next_attempt_at": now, "state": "pending"}},
            )

    # ------------------------------------------------------------ subscriptions switched off and on

    async def hold(self, tenant_id: str, subscription_id: str) -> int:
        result = await self._c.update_many(
            {"tenant_id": tenant_id, "subscription_id": subscription_id, "state": {"$in": ["pending", PARKED]}},
            {"$set": {"state": DeliveryState.HELD.value}},
        )
        return result.modified_count

    async def resume(self, tenant_id: str, subscription_id: str, now: datetime) -> int:
        result = await self._c.update_many(
            {"tenant_id": tenant_id, "subscription_id": subscription_id, "state": DeliveryState.HELD.value},
            {"$set": {"state": "pending", "next_attempt_at": now}},
        )
        return result.modified_count

    async def cancel(self, tenant_id: str, subscription_id: str) -> int:
        result = await self._c.delete_many(
            {"tenant_id": tenant_id, "subscription_id": subscription_id, "state": {"$in": WAITING}}
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
            query["state"] = {"$in": values + ([PARKED] if DeliveryState.PENDING.value in values else [])}
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
        async for stored in self._outbox.find(
            {"tenant_id": tenant_id, "created_at": {"$gte": since}, "state": OUTBOX_DISPATCHED}
        ):
            row = outbox_message(stored)
            for sub in subscriptions:
                if sub.wants(row.type):
                    doc = _new_delivery(row, sub.id, now)
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
            state = DeliveryState.PENDING.value if row["_id"] == PARKED else str(row["_id"])
            by_state[state] = by_state.get(state, 0) + int(row["n"])
        retried = await self._c.count_documents({**match, "attempts": {"$gt": 1}})
        oldest = await self._c.find_one(
            {**match, "state": {"$in": ["pending", PARKED, "in_flight"]}}, {"created_at": 1}, sort=[("created_at", 1)]
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
