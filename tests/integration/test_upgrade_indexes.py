"""An upgrade that changes an index (same name, new keys or options) rebuilds it at start, on the
real database, instead of refusing to start."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.mongo.repositories import connect
from attendance.adapters.mongo.schema import ensure_indexes
from attendance.settings import Settings


async def test_a_changed_index_is_rebuilt_in_place_and_a_second_start_changes_nothing(
    settings: Settings, mongo_server: EmbeddedMongo
) -> None:
    client = connect(mongo_server.uri, server_selection_timeout_ms=5000, operation_timeout_ms=10000)
    db = client[settings.database.name]
    try:
        jobs = db["checkin_jobs"]
        # what an older version made: "due" on one field, "idempotency" not unique
        await jobs.create_indexes(
            [
                IndexModel([("state", ASCENDING)], name="due"),
                IndexModel([("tenant_id", ASCENDING), ("idempotency_key", ASCENDING)], name="idempotency"),
            ]
        )
        await jobs.insert_one({"_id": "j1", "tenant_id": "t", "idempotency_key": "k", "state": "queued"})
        await ensure_indexes(db)
        indexes = {ix["name"]: ix async for ix in await jobs.list_indexes()}
        assert list(indexes["due"]["key"].items()) == [("state", 1), ("next_attempt_at", 1)]
        assert indexes["idempotency"].get("unique") is True
        assert await jobs.count_documents({}) == 1  # the data stays
        await ensure_indexes(db)  # the next start: nothing to change
        assert {ix["name"]: ix async for ix in await jobs.list_indexes()} == indexes
    finally:
        await client.drop_database(settings.database.name)
        await client.close()
