"""MongoDB adapter of ``TimeOffRepository``: collection ``time_off``, days stored as ISO dates
(they sort and compare as text)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import date, datetime

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from attendance.adapters.mongo.repositories import Database, Doc, translated
from attendance.core.domain.workdays import HalfDay, TimeOff, TimeOffKind, TimeOffStatus

TIME_OFF_INDEXES: dict[str, list[IndexModel]] = {
    "time_off": [
        IndexModel([("tenant_id", ASCENDING), ("employee_id", ASCENDING), ("first", ASCENDING)], name="by_employee"),
        IndexModel([("tenant_id", ASCENDING), ("last", ASCENDING)], name="by_last_day"),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)], name="pending"),
    ]
}


def _doc(t: TimeOff) -> Doc:
    return {
        "_id": t.id,
        "tenant_id": t.tenant_id,
        "employee_id": t.employee_id,
        "first": t.first.isoformat(),
        "last": t.last.isoformat(),
        "kind": t.kind.value,
        "status": t.status.value,
        "half_day": t.half_day.value if t.half_day else None,
        "note": t.note,
        "requested_by": t.requested_by,
        "created_at": t.created_at,
        "decided_by": t.decided_by,
        "decided_at": t.decided_at,
    }


def _time_off(d: Doc) -> TimeOff:
    return TimeOff(
        id=d["_id"],
        tenant_id=d["tenant_id"],
        employee_id=d["employee_id"],
        first=date.fromisoformat(d["first"]),
        last=date.fromisoformat(d["last"]),
        kind=TimeOffKind(d["kind"]),
        status=TimeOffStatus(d["status"]),
        half_day=HalfDay(d["half_day"]) if d.get("half_day") else None,
        note=d.get("note", ""),
        requested_by=d["requested_by"],
        created_at=d["created_at"],
        decided_by=d.get("decided_by"),
        decided_at=d.get("decided_at"),
    )


@translated
class MongoTimeOffRepository:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["time_off"]

    async def add(self, time_off: TimeOff) -> None:
        await self._c.update_one({"_id": time_off.id}, {"$setOnInsert": _doc(time_off)}, upsert=True)

    async def get(self, tenant_id: str, time_off_id: str) -> TimeOff | None:
        doc = await self._c.find_one({"_id": time_off_id, "tenant_id": tenant_id})
        return _time_off(doc) if doc else None

    async def overlapping(
        self, tenant_id: str, first: date, last: date, employee_ids: Iterable[str] | None = None
    ) -> builtins.list[TimeOff]:
        query: Doc = {"tenant_id": tenant_id, "last": {"$gte": first.isoformat()}, "first": {"$lte": last.isoformat()}}
        if employee_ids is not None:
            query["employee_id"] = {"$in": sorted(set(employee_ids))}
        return [_time_off(d) async for d in self._c.find(query).sort("first", ASCENDING)]

    async def pending(self, tenant_id: str) -> builtins.list[TimeOff]:
        found = self._c.find({"tenant_id": tenant_id, "status": TimeOffStatus.REQUESTED.value})
        return [_time_off(d) async for d in found.sort("created_at", ASCENDING)]

    async def decide(
        self, tenant_id: str, time_off_id: str, status: TimeOffStatus, by: str, at: datetime
    ) -> TimeOff | None:
        allowed = [TimeOffStatus.REQUESTED.value]
        if status is TimeOffStatus.CANCELLED:
            allowed.append(TimeOffStatus.APPROVED.value)
        doc = await self._c.find_one_and_update(
            {"_id": time_off_id, "tenant_id": tenant_id, "status": {"$in": allowed}},
            {"$set": {"status": status.value, "decided_by": by, "decided_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return _time_off(doc) if doc else None

    async def remove(self, tenant_id: str, time_off_id: str) -> bool:
        result = await self._c.delete_one({"_id": time_off_id, "tenant_id": tenant_id})
        return result.deleted_count == 1
