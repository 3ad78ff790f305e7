"""``MongoSubscriptionRepository``: subscriptions in ``subscriptions``, each signing secret
sealed with AES-256-GCM (the service's data key) and bound to its subscription."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from attendance.adapters.mongo.repositories import Database, Doc, translated
from attendance.core.domain.webhooks import SigningSecret, Subscription, SubscriptionState
from attendance.core.ports import Resealed, TemplateCipher

WEBHOOK_INDEXES: dict[str, list[IndexModel]] = {
    "subscriptions": [IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)], name="by_tenant")],
}


@translated
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

    def _seal_credentials(self, sub_id: str, credentials: Mapping[str, str]) -> dict[str, Any] | None:
        if not credentials:
            return None
        key_id, blob = self._cipher.encrypt(json.dumps(dict(credentials)).encode(), f"connector:{sub_id}".encode())
        return {"key_id": key_id, "blob": Binary(blob)}

    def _credentials(self, doc: Doc) -> dict[str, str]:
        sealed = doc.get("credentials")
        if not sealed:
            return {}
        plain = self._cipher.decrypt(sealed["key_id"], bytes(sealed["blob"]), f"connector:{doc['_id']}".encode())
        return {str(k): str(v) for k, v in json.loads(plain).items()}

    def _resealed(self, sealed: Doc, context: bytes) -> Doc:
        if sealed["key_id"] == self._cipher.active_key_id:
            return sealed
        key_id, blob = self._cipher.encrypt(
            self._cipher.decrypt(sealed["key_id"], bytes(sealed["blob"]), context), context
        )
        return sealed | {"key_id": key_id, "blob": Binary(blob)}

    async def reseal(self, *, dry_run: bool) -> Resealed:
        active = self._cipher.active_key_id
        resealed = current = 0
        async for doc in self._c.find({}, {"secrets": 1, "credentials": 1}):
            sealed = [*doc.get("secrets", []), *([doc["credentials"]] if doc.get("credentials") else [])]
            stale = sum(1 for s in sealed if s["key_id"] != active)
            current += len(sealed) - stale
            if not stale:
                continue
            if not dry_run:
                secret_context = f"webhook-secret:{doc['_id']}".encode()
                update: Doc = {"secrets": [self._resealed(s, secret_context) for s in doc.get("secrets", [])]}
                if doc.get("credentials"):
                    update["credentials"] = self._resealed(doc["credentials"], f"connector:{doc['_id']}".encode())
                done = await self._c.update_one(
                    {"_id": doc["_id"], "secrets": doc.get("secrets", []), "credentials": doc.get("credentials")},
                    {"$set": update},
                )
                if done.modified_count == 0:
                    continue  # its secret was rotated meanwhile, under the active key
            resealed += stale
        return Resealed(resealed=resealed, current=current)

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
            id=doc["_id"],
            tenant_id=doc["tenant_id"],
            url=doc["url"],
            events=frozenset(doc.get("events", [])),
            secrets=secrets,
            created_at=doc["created_at"],
            kind=doc.get("kind", "webhook"),
            state=SubscriptionState(doc.get("state", "active")),
            disabled_reason=doc.get("disabled_reason"),
            config=dict(doc.get("config") or {}),
            credentials=self._credentials(doc),
        )

    async def add(self, subscription: Subscription) -> None:
        s = subscription
        await self._c.insert_one(
            {
                "_id": s.id,
                "tenant_id": s.tenant_id,
                "url": s.url,
                "events": sorted(s.events),
                "kind": s.kind,
                "secrets": self._seal(s.id, s.secrets),
                "created_at": s.created_at,
                "state": s.state.value,
                "disabled_reason": s.disabled_reason,
                "config": dict(s.config),
                "credentials": self._seal_credentials(s.id, s.credentials),
            }
        )

    async def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        doc = await self._c.find_one({"_id": subscription_id, "tenant_id": tenant_id})
        return self._subscription(doc) if doc else None

    async def list(self, tenant_id: str) -> list[Subscription]:
        return [self._subscription(d) async for d in self._c.find({"tenant_id": tenant_id}).sort("created_at", 1)]

    async def by_id(self, subscription_id: str) -> Subscription | None:
        """For the dispatcher, which serves every tenant (a delivery names its subscription)."""
        doc = await self._c.find_one({"_id": subscription_id})
        return self._subscription(doc) if doc else None

    async def active_for(self, tenant_id: str) -> builtins.list[Subscription]:
        cursor = self._c.find({"tenant_id": tenant_id, "state": SubscriptionState.ACTIVE.value}).sort("created_at", 1)
        return [self._subscription(d) async for d in cursor]

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

    async def disable_if_active(self, tenant_id: str, subscription_id: str, reason: str) -> bool:
        """True only for the one caller that switched it off (several dispatchers may see a 410)."""
        result = await self._c.update_one(
            {"_id": subscription_id, "tenant_id": tenant_id, "state": SubscriptionState.ACTIVE.value},
            {"$set": {"state": SubscriptionState.DISABLED.value, "disabled_reason": reason}},
        )
        return result.modified_count == 1

    async def remove(self, tenant_id: str, subscription_id: str) -> bool:
        result = await self._c.delete_one({"_id": subscription_id, "tenant_id": tenant_id})
        return result.deleted_count == 1
