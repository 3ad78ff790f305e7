"""MongoDB adapter of ``SentLog``: collection ``sent_messages``, one document per key (its
``_id``: the database refuses a second), kept 60 days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from attendance.adapters.mongo.repositories import Database, Doc, translated

KEPT = timedelta(days=60)
SENT_INDEXES: dict[str, list[IndexModel]] = {
    "sent_messages": [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")]
}


@translated
class MongoSentLog:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["sent_messages"]

    async def claim(self, key: str, at: datetime) -> bool:
        try:
            await self._c.insert_one({"_id": key, "at": at, "expires_at": at + KEPT})
        except DuplicateKeyError:
            return False
        return True

    async def release(self, key: str) -> None:
        await self._c.delete_one({"_id": key})

    async def claimed(self, keys: Sequence[str]) -> dict[str, datetime]:
        found = self._c.find({"_id": {"$in": list(keys)}}, {"_id": 1, "at": 1})
        return {str(d["_id"]): d["at"] async for d in found}
