"""MongoDB adapters for the Teams app.

* ``MongoTeamsAddresses``: where each person's personal chat with the bot is (the connector's
  service URL and the conversation id), remembered whenever they write to the bot, so that
  admins can be told about a "not me" report or a failed delivery without them asking.
* ``MongoDownloadLinks``: exports (a month's CSV) offered as a link. The link holds 32 random
  bytes; only their SHA-256 is stored. A link works for ``LINK_LIFETIME`` and is refused after
  that whether or not the TTL index has removed it yet.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from attendance.adapters.mongo.repositories import Database, Doc, translated
from attendance.core.ports import TeamsAddress

TEAMS_INDEXES: dict[str, list[IndexModel]] = {
    "teams_addresses": [
        IndexModel([("tenant_id", ASCENDING), ("employee_id", ASCENDING)], unique=True, name="by_employee")
    ],
    "download_links": [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")],
}
LINK_LIFETIME = timedelta(hours=1)


@translated
class MongoTeamsAddresses:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["teams_addresses"]

    async def remember(self, tenant_id: str, employee_id: str, address: TeamsAddress, now: datetime) -> None:
        await self._c.update_one(
            {"tenant_id": tenant_id, "employee_id": employee_id},
            {
                "$set": {
                    "service_url": address.service_url,
                    "conversation_id": address.conversation_id,
                    "user_id": address.user_id,
                    "seen_at": now,
                }
            },
            upsert=True,
        )

    async def of(self, tenant_id: str, employee_id: str) -> TeamsAddress | None:
        doc = await self._c.find_one({"tenant_id": tenant_id, "employee_id": employee_id})
        if doc is None:
            return None
        return TeamsAddress(str(doc["service_url"]), str(doc["conversation_id"]), str(doc["user_id"]))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@translated
class MongoDownloadLinks:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["download_links"]

    async def put(self, tenant_id: str, created_by: str, name: str, data: bytes, now: datetime) -> str:
        """Store the file; returns the secret token for its link."""
        token = secrets.token_urlsafe(32)
        await self._c.insert_one(
            {
                "_id": _digest(token),
                "tenant_id": tenant_id,
                "created_by": created_by,
                "name": name,
                "data": Binary(data),
                "created_at": now,
                "expires_at": now + LINK_LIFETIME,
            }
        )
        return token

    async def get(self, token: str, now: datetime) -> tuple[str, bytes] | None:
        if not 20 <= len(token) <= 100:
            return None
        doc = await self._c.find_one({"_id": _digest(token)})
        if doc is None or doc["expires_at"] <= now:
            return None
        return str(doc["name"]), bytes(doc["data"])
