"""MongoDB adapters for Slack's OAuth install flow: the installation store and the OAuth state
store that Bolt needs for multi-workspace installs (Slack ships none for MongoDB).

One document per workspace in ``installations`` (the latest install wins: the app uses only
its bot token). Tokens are encrypted with AES-256-GCM (the service's data key), bound to the
workspace as associated data, and never logged. ``oauth_states`` expire by a TTL index.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from attendance.adapters.mongo.repositories import Database, Doc
from attendance.core.ports import Resealed, TemplateCipher

log = logging.getLogger(__name__)

SLACK_INDEXES: dict[str, list[IndexModel]] = {
    "installations": [IndexModel([("platform", ASCENDING), ("team_id", ASCENDING)], name="by_team")],
    "oauth_states": [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")],
}
_SECRETS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


def _key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> str:
    if is_enterprise_install:
        team_id = None
    return f"slack:{enterprise_id or '-'}:{team_id or '-'}"


class MongoSlackInstallationStore(AsyncInstallationStore):
    def __init__(self, db: Database, cipher: TemplateCipher, *, client_id: str | None = None) -> None:
        self._c: AsyncCollection[Doc] = db["installations"]
        self._cipher = cipher
        self._client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    def _seal(self, doc_id: str, name: str, value: str) -> dict[str, Any]:
        key_id, blob = self._cipher.encrypt(value.encode(), f"{doc_id}:{name}".encode())
        return {"key_id": key_id, "blob": Binary(blob)}

    def _open(self, doc_id: str, name: str, sealed: dict[str, Any]) -> str:
        return self._cipher.decrypt(sealed["key_id"], bytes(sealed["blob"]), f"{doc_id}:{name}".encode()).decode()

    async def reseal(self, *, dry_run: bool) -> Resealed:
        active = self._cipher.active_key_id
        resealed = current = 0
        async for doc in self._c.find({"platform": "slack"}, {"secrets": 1}):
            old = doc.get("secrets") or {}
            stale = [name for name, sealed in old.items() if sealed["key_id"] != active]
            current += len(old) - len(stale)
            if not stale:
                continue
            new = {
                name: self._seal(doc["_id"], name, self._open(doc["_id"], name, sealed)) if name in stale else sealed
                for name, sealed in old.items()
            }
            if not dry_run:
                done = await self._c.update_one({"_id": doc["_id"], "secrets": old}, {"$set": {"secrets": new}})
                if done.modified_count == 0:
                    continue  # reinstalled meanwhile: saved under the active key already
            resealed += len(stale)
        return Resealed(resealed=resealed, current=current)

    async def async_save(self, installation: Installation) -> None:
        fields = installation.to_dict()
        doc_id = _key(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        sealed = {name: self._seal(doc_id, name, fields.pop(name)) for name in _SECRETS if fields.get(name)}
        for name in _SECRETS:
            fields.pop(name, None)
        await self._c.replace_one(
            {"_id": doc_id},
            {
                "platform": "slack",
                "team_id": installation.team_id,
                "fields": fields,
                "secrets": sealed,
                "saved_at": datetime.now(UTC),
            },
            upsert=True,
        )
        log.info("slack installation saved team=%s", installation.team_id)

    async def async_save_bot(self, bot: Bot) -> None:
        return None  # the installation document carries the bot

    async def _installation(self, doc_id: str) -> Installation | None:
        doc = await self._c.find_one({"_id": doc_id})
        if doc is None:
            return None
        fields = dict(doc["fields"])
        for name, sealed in (doc.get("secrets") or {}).items():
            fields[name] = self._open(doc_id, name, sealed)
        return Installation(**fields)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        installation = await self._installation(_key(enterprise_id, team_id, is_enterprise_install))
        return installation.to_bot() if installation and installation.bot_token else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await self._installation(_key(enterprise_id, team_id, is_enterprise_install))

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:
            await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        result = await self._c.delete_many(
            {"_id": {"$in": [_key(enterprise_id, team_id, False), _key(enterprise_id, team_id, True)]}}
        )
        log.info("slack installation removed team=%s deleted=%s", team_id, result.deleted_count)


class MongoSlackOAuthStateStore(AsyncOAuthStateStore):
    """One-time ``state`` values of the OAuth flow (CSRF protection), valid for ``ttl``."""

    def __init__(self, db: Database, ttl: timedelta = timedelta(minutes=10)) -> None:
        self._c: AsyncCollection[Doc] = db["oauth_states"]
        self._ttl = ttl

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        await self._c.insert_one({"_id": state, "platform": "slack", "expires_at": now + self._ttl})
        return state

    async def async_consume(self, state: str) -> bool:
        doc = await self._c.find_one_and_delete({"_id": state})
        if doc is None:
            return False
        expires = doc["expires_at"]
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        return bool(expires > datetime.now(UTC))
