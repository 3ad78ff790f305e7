"""``MongoSubscriptionRepository``: subscriptions in ``subscriptions``, each signing secret
sealed with AES-256-GCM (the service's data key) and bound to its subscription."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from attendance.domain.webhooks import SigningSecret, Subscription, SubscriptionState
from attendance.ports import TemplateCipher
from attendance.storage.mongo import Database, Doc

WEBHOOK_INDEXES: dict[str, list[IndexModel]] = {
    "subscriptions": [IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)], name="by_tenant")],
}


class MongoSubscriptionRepository:
    def __init__(self, db: Database, cipher: TemplateCipher) -> None:
        self._c: AsyncCollection[Doc] = db["subscriptions"]
        self._cipher = cipher

    def _seal(self, sub_id: str, secrets: Sequence[SigningSecret]) -> list[dict[str, Any]]:
        out = []
        for s in secrets:
            key_id, blob = self._cipher.encrypt(s.value.encode(), f"webhook-secret:{sub_id}".encode())
            out.append({"key_id": key_id, "blob": Binary(blob), "expires_at": s.expires_at})
        return out

    def _subscription(self, doc: Doc) -> Subscription:
        context = f"webhook-secret:{doc['_id']}".encode()
        secrets = tuple(
            SigningSecret(
                value=self._cipher.decrypt(s["key_id"], bytes(s["blob"]), context).decode(),
                expires_at=s.get("expires_at"),
            )
            for s in doc.get("secrets", [])
        )
        return Subscription(
            id=doc["_id"], tenant_id=doc["tenant_id"], url=doc["url"], events=frozenset(doc.get("events", [])),
            secrets=secrets, created_at=doc["created_at"], kind=doc.get("kind", "webhook"),
            state=SubscriptionState(doc.get("state", "active")), disabled_reason=doc.get("disabled_reason"),
        )  # fmt: skip

    async def add(self, subscription: Subscription) -> None:
        s = subscription
        await self._c.insert_one({
            "_id": s.id, "tenant_id": s.tenant_id, "url": s.url, "events": sorted(s.events), "kind": s.kind,
            "secrets": self._seal(s.id, s.secrets), "created_at": s.created_at, "state": s.state.value,
            "disabled_reason": s.disabled_reason,
        })  # fmt: skip

    async def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        doc = await self._c.find_one({"_id": subscription_id, "tenant_id": tenant_id})
        return self._subscription(doc) if doc else None

    async def list(self, tenant_id: str) -> list[Subscription]:
        return [self._subscription(d) async for d in self._c.find({"tenant_id": tenant_id}).sort("created_at", 1)]

    async def replace_secrets(self, subscription: Subscription) -> None:
        await self._c.update_one(
            {"_id": subscription.id, "tenant_id": subscription.tenant_id},
            {"$set": {"secrets": self._seal(subscription.id, subscription.secrets)}},
        )

    async def set_state(
        self, tenant_id: str, subscription_id: str, state: SubscriptionState, reason: str | None
    ) -> bool:
        result = await self._c.update_one(
            {"_id": subscription_id, "tenant_id": tenant_id},
            {"$set": {"state": state.value, "disabled_reason": reason}},
        )
        return result.matched_count == 1

    async def remove(self, tenant_id: str, subscription_id: str) -> bool:
        result = await self._c.delete_one({"_id": subscription_id, "tenant_id": tenant_id})
        return result.deleted_count == 1
