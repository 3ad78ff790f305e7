"""MongoDB adapters of what guards a check-in: photo fingerprints (the replay check), the
review queue (flagged and reported check-ins) and the photo buffer (kiosk uploads until their
job is decided)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from bson import Binary
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from attendance.adapters.mongo.repositories import Database, Doc, translated
from attendance.core.domain.checkins import (
    AttendanceEvent,
    CheckInJob,
    Outcome,
    Requested,
    ReviewItem,
    ReviewKind,
)
from attendance.core.domain.model import new_id

SAFEGUARD_INDEXES: dict[str, list[IndexModel]] = {
    "photo_fingerprints": [
        IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)], name="by_time"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
    ],
    "review_queue": [IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("at", ASCENDING)], name="open")],
    "photo_buffer": [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")],
}


@dataclass(slots=True)
class _TenantPrints:
    ids: list[str] = field(default_factory=list)
    values: npt.NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    created: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    high_water: datetime | None = None


@translated
class MongoFingerprints:
    """Replay look-ups against an in-memory copy per tenant, topped up on every call with the
    rows written since the last one (with an overlap, since other workers' rows can land a
    little late), so a check-in reads only what is new, not 90 days of hashes."""

    OVERLAP = timedelta(minutes=5)

    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["photo_fingerprints"]
        self._tenants: dict[str, _TenantPrints] = {}

    async def _refresh(self, tenant_id: str, since: datetime) -> _TenantPrints:
        prints = self._tenants.setdefault(tenant_id, _TenantPrints())
        start = since if prints.high_water is None else max(since, prints.high_water - self.OVERLAP)
        known = set(prints.ids[-2000:]) if prints.high_water is not None else set()
        cursor = self._c.find({"tenant_id": tenant_id, "created_at": {"$gte": start}}, {"fp": 1, "created_at": 1})
        fresh = [d async for d in cursor if d["_id"] not in known]
        if fresh:
            prints.ids += [d["_id"] for d in fresh]
            values = np.array([d["fp"] for d in fresh], dtype=np.int64).view(np.uint64)
            prints.values = np.concatenate([prints.values, values])
            prints.created = np.concatenate([prints.created, [d["created_at"].timestamp() for d in fresh]])
            newest = max(d["created_at"] for d in fresh)
            prints.high_water = max(prints.high_water or newest, newest)
        elif prints.high_water is None:
            prints.high_water = since
        live = prints.created >= since.timestamp()
        if live.size and live.sum() < live.size // 2:  # drop what the retention window left behind
            prints.ids = [i for i, keep in zip(prints.ids, live, strict=True) if keep]
            prints.values, prints.created = prints.values[live], prints.created[live]
        return prints

    async def seen(
        self, tenant_id: str, fingerprint: int, max_bits: int, since: datetime, *, ignore: str | None = None
    ) -> bool:
        prints = await self._refresh(tenant_id, since)
        if not prints.values.size:
            return False
        xor = prints.values ^ np.uint64(fingerprint & ((1 << 64) - 1))
        bits = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        close = (bits <= max_bits) & (prints.created >= since.timestamp())
        if ignore is not None and close.any():
            close &= np.array([i != ignore for i in prints.ids], dtype=bool)
        return bool(close.any())


def _review_item(d: Doc) -> ReviewItem:
    return ReviewItem(
        id=d["_id"],
        tenant_id=d["tenant_id"],
        kind=ReviewKind(d["kind"]),
        at=d["at"],
        channel=d.get("channel", ""),
        employee_id=d.get("claimed_employee_id"),
        looks_like=d.get("looks_like"),
        event_id=d.get("event_id"),
        job_id=d.get("job_id"),
        requested=Requested(d.get("requested", "auto")),
        attempted_at=d.get("attempted_at"),
        status=d.get("status", "open"),
        reported_by=d.get("reported_by"),
    )


@translated
class MongoReviewQueue:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["review_queue"]

    async def flag(self, job: CheckInJob, outcome: Outcome, now: datetime) -> None:
        await self._c.update_one(
            {"_id": job.id},
            {
                "$setOnInsert": {
                    "tenant_id": job.tenant_id,
                    "kind": ReviewKind.OTHER_PERSON.value,
                    "channel": job.channel,
                    "claimed_employee_id": outcome.employee_id,
                    "looks_like": outcome.looks_like,
                    "distance": outcome.distance,
                    "margin": outcome.margin,
                    "job_id": job.id,
                    "requested": job.requested.value,
                    "attempted_at": job.received_at,
                    "at": now,
                    "status": "open",
                }
            },
            upsert=True,
        )

    async def report(self, event: AttendanceEvent, reported_by: str, now: datetime) -> ReviewItem:
        doc = await self._c.find_one_and_update(
            {"_id": f"not-me:{event.id}"},
            {
                "$setOnInsert": {
                    "tenant_id": event.tenant_id,
                    "kind": ReviewKind.NOT_ME.value,
                    "channel": event.channel,
                    "claimed_employee_id": event.employee_id,
                    "event_id": event.id,
                    "distance": event.distance,
                    "attempted_at": event.at,
                    "reported_by": reported_by,
                    "at": now,
                    "status": "open",
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None, "an upsert returning the document after it always finds one"
        return _review_item(doc)

    async def open_items(self, tenant_id: str, limit: int) -> list[ReviewItem]:
        cursor = self._c.find({"tenant_id": tenant_id, "status": "open"}).sort("at", ASCENDING).limit(limit)
        return [_review_item(d) async for d in cursor]

    async def page(
        self, tenant_id: str, *, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[ReviewItem]:
        query: Doc = {"tenant_id": tenant_id}
        if status:
            query["status"] = status
        if after is not None:
            query["$or"] = [{"at": {"$gt": after[0]}}, {"at": after[0], "_id": {"$gt": after[1]}}]
        cursor = self._c.find(query).sort([("at", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        return [_review_item(d) async for d in cursor]

    async def get(self, tenant_id: str, item_id: str) -> ReviewItem | None:
        doc = await self._c.find_one({"_id": item_id, "tenant_id": tenant_id})
        return _review_item(doc) if doc else None

    async def resolve(self, tenant_id: str, item_id: str, status: str, by: str, now: datetime) -> bool:
        result = await self._c.update_one(
            {"_id": item_id, "tenant_id": tenant_id, "status": "open"},
            {"$set": {"status": status, "resolved_by": by, "resolved_at": now}},
        )
        return result.modified_count == 1


@translated
class MongoPhotoBuffer:
    """Uploaded photos wait here for their job; deleted when it ends, expired after a TTL anyway."""

    def __init__(self, db: Database, ttl: timedelta = timedelta(hours=1)) -> None:
        self._c: AsyncCollection[Doc] = db["photo_buffer"]
        self._ttl = ttl

    async def put(self, tenant_id: str, data: bytes, now: datetime | None = None) -> str:

        created = now or datetime.now(UTC)
        buffer_id = new_id()
        await self._c.insert_one(
            {
                "_id": buffer_id,
                "tenant_id": tenant_id,
                "data": Binary(data),
                "created_at": created,
                "expires_at": created + self._ttl,
            }
        )
        return buffer_id

    async def get(self, buffer_id: str) -> bytes | None:
        doc = await self._c.find_one({"_id": buffer_id})
        return bytes(doc["data"]) if doc else None

    async def delete(self, buffer_id: str) -> None:
        await self._c.delete_one({"_id": buffer_id})
