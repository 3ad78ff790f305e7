"""Every collection's indexes, and the start-up migrations: what ``build`` runs before anything
reads or writes (idempotent, safe when several processes start at once).

An upgrade that changes an index keeps its name: the old definition is dropped and the new one
built in its place, at the first start of the new version (docs/operations.md, "Upgrades").
"""

from __future__ import annotations

import logging

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from attendance.adapters.mongo.chat_identities import CHAT_IDENTITY_INDEXES, migrate_chat_identities
from attendance.adapters.mongo.checkins import CHECKIN_INDEXES
from attendance.adapters.mongo.deliveries import DELIVERY_INDEXES, RETIRED_INDEXES, migrate_deliveries
from attendance.adapters.mongo.repositories import INDEXES, Database
from attendance.adapters.mongo.safeguards import SAFEGUARD_INDEXES
from attendance.adapters.mongo.sent import SENT_INDEXES
from attendance.adapters.mongo.slack_installs import SLACK_INDEXES
from attendance.adapters.mongo.teams_addresses import TEAMS_INDEXES
from attendance.adapters.mongo.time_off import TIME_OFF_INDEXES
from attendance.adapters.mongo.web import WEB_INDEXES
from attendance.adapters.mongo.webhooks import WEBHOOK_INDEXES


async def ensure_indexes(db: Database) -> None:
    """Idempotent: creating an index that exists with the same definition is a no-op; indexes an
    earlier version used and this one does not are dropped. Then the data migrations, idempotent
    too (``migrate_chat_identities``, ``migrate_deliveries``)."""
    for collection, models in {
        **INDEXES,
        **CHAT_IDENTITY_INDEXES,
        **CHECKIN_INDEXES,
        **SAFEGUARD_INDEXES,
        **SLACK_INDEXES,
        **TEAMS_INDEXES,
        **WEBHOOK_INDEXES,
        **DELIVERY_INDEXES,
        **WEB_INDEXES,
        **TIME_OFF_INDEXES,
        **SENT_INDEXES,
    }.items():
        try:
            await db[collection].create_indexes(models)
        except OperationFailure as exc:
            if exc.code not in INDEX_CHANGED:
                raise
            await _replace_changed(db[collection], models)
    for collection, names in RETIRED_INDEXES.items():
        existing = {ix["name"] async for ix in await db[collection].list_indexes()}
        for name in sorted(existing & set(names)):
            log.warning("index %s.%s is no longer used: dropping it", collection, name)
            try:
                await db[collection].drop_index(name)
            except OperationFailure as exc:
                if exc.code != 27:  # IndexNotFound: another process starting beside this one dropped it
                    raise
    await migrate_chat_identities(db)
    await migrate_deliveries(db)


log = logging.getLogger(__name__)
INDEX_CHANGED = (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict: same name, another definition


async def _replace_changed(collection: AsyncCollection[dict[str, object]], models: list[IndexModel]) -> None:
    existing = {ix["name"]: ix async for ix in await collection.list_indexes()}
    for model in models:
        wanted = model.document
        have = existing.get(wanted["name"])
        if have is not None and any(have.get(k) != v for k, v in wanted.items() if k != "name"):
            log.warning("index %s.%s changed: rebuilding it", collection.name, wanted["name"])
            try:
                await collection.drop_index(wanted["name"])
            except OperationFailure as exc:
                if exc.code != 27:  # IndexNotFound: another process starting beside this one dropped it
                    raise
        await collection.create_indexes([model])
