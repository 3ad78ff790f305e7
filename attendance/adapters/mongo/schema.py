"""Every collection's indexes, and the start-up migrations: what ``build`` runs before anything
reads or writes (idempotent, safe when several processes start at once)."""

from __future__ import annotations

from attendance.adapters.mongo.chat_identities import CHAT_IDENTITY_INDEXES, migrate_chat_identities
from attendance.adapters.mongo.checkins import CHECKIN_INDEXES
from attendance.adapters.mongo.deliveries import DELIVERY_INDEXES
from attendance.adapters.mongo.repositories import INDEXES, Database
from attendance.adapters.mongo.safeguards import SAFEGUARD_INDEXES
from attendance.adapters.mongo.sent import SENT_INDEXES
from attendance.adapters.mongo.slack_installs import SLACK_INDEXES
from attendance.adapters.mongo.teams_addresses import TEAMS_INDEXES
from attendance.adapters.mongo.time_off import TIME_OFF_INDEXES
from attendance.adapters.mongo.web import WEB_INDEXES
from attendance.adapters.mongo.webhooks import WEBHOOK_INDEXES


async def ensure_indexes(db: Database) -> None:
    """Idempotent: creating an index that exists with the same definition is a no-op. Then the
    data migrations, idempotent too (``migrate_chat_identities``)."""
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
        await db[collection].create_indexes(models)
    await migrate_chat_identities(db)
