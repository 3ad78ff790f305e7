"""MongoDB adapter of ``ChatIdentityRepository``: one collection, ``chat_identities``, and the
start-up migration that filled it from the fields older code kept on tenants and employees.

Two kinds of document, each keyed so that the database itself keeps the rules:

* a workspace, ``_id = "ws|<platform>|<workspace>"``: one tenant per workspace;
* a user, ``_id = "user|<tenant>|<platform>|<user>"``: one employee per user id of a tenant, and
  (a unique index) one user id per employee and platform.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from attendance.adapters.mongo.repositories import translated
from attendance.core.domain.model import ChatIdentity
from attendance.core.ports import AlreadyExists

Doc = dict[str, Any]
log = logging.getLogger(__name__)

COLLECTION = "chat_identities"
CHAT_IDENTITY_INDEXES: dict[str, list[IndexModel]] = {
    COLLECTION: [
        IndexModel([("tenant_id", ASCENDING), ("kind", ASCENDING)], name="by_tenant"),
        IndexModel(
            [("tenant_id", ASCENDING), ("employee_id", ASCENDING), ("platform", ASCENDING)],
            unique=True,
            name="one_per_platform",
            partialFilterExpression={"employee_id": {"$type": "string"}},
        ),
    ]
}


def _workspace_id(platform: str, workspace: str) -> str:
    return f"ws|{platform}|{workspace}"


def _user_id(tenant_id: str, platform: str, user: str) -> str:
    return f"user|{tenant_id}|{platform}|{user}"


def _workspace_doc(tenant_id: str, ws: ChatIdentity) -> Doc:
    return {
        "_id": _workspace_id(ws.platform, ws.workspace),
        "kind": "workspace",
        "tenant_id": tenant_id,
        "platform": ws.platform,
        "workspace": ws.workspace,
    }


def _user_doc(tenant_id: str, employee_id: str, who: ChatIdentity) -> Doc:
    return {
        "_id": _user_id(tenant_id, who.platform, who.user),
        "kind": "user",
        "tenant_id": tenant_id,
        "employee_id": employee_id,
        "platform": who.platform,
        "workspace": who.workspace,
        "user": who.user,
    }


def _identity(doc: Doc) -> ChatIdentity:
    return ChatIdentity(doc["platform"], doc.get("workspace", ""), doc.get("user", ""))


@translated
class MongoChatIdentityRepository:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._c: AsyncCollection[Doc] = db[COLLECTION]

    async def tenant_of(self, platform: str, workspace: str) -> str | None:
        doc = await self._c.find_one({"_id": _workspace_id(platform, workspace)}, {"tenant_id": 1})
        return None if doc is None else str(doc["tenant_id"])

    async def link_workspace(self, tenant_id: str, workspace: ChatIdentity) -> None:
        doc = _workspace_doc(tenant_id, workspace)
        with contextlib.suppress(DuplicateKeyError):  # linked twice at once: the check below says whose it is
            await self._c.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
        owner = await self.tenant_of(workspace.platform, workspace.workspace)
        if owner != tenant_id:
            raise AlreadyExists(f"that {workspace.platform} workspace belongs to another tenant")

    async def workspaces(self, tenant_id: str) -> Sequence[ChatIdentity]:
        found = self._c.find({"tenant_id": tenant_id, "kind": "workspace"}).sort("_id", ASCENDING)
        return [_identity(d) async for d in found]

    async def employee_of(self, tenant_id: str, platform: str, user: str) -> str | None:
        doc = await self._c.find_one({"_id": _user_id(tenant_id, platform, user)}, {"employee_id": 1})
        return None if doc is None else str(doc["employee_id"])

    async def link_user(self, tenant_id: str, employee_id: str, identity: ChatIdentity) -> bool:
        try:
            await self._c.insert_one(_user_doc(tenant_id, employee_id, identity))
            return True
        except DuplicateKeyError:
            return await self.employee_of(tenant_id, identity.platform, identity.user) == employee_id

    async def set_user(self, tenant_id: str, employee_id: str, platform: str, identity: ChatIdentity | None) -> None:
        mine: Doc = {"tenant_id": tenant_id, "employee_id": employee_id, "platform": platform, "kind": "user"}
        if identity is None:
            await self._c.delete_many(mine)
            return
        doc = _user_doc(tenant_id, employee_id, identity)
        owner = await self.employee_of(tenant_id, platform, identity.user)
        if owner not in (None, employee_id):
            raise AlreadyExists(f"that {platform} user id already belongs to another employee")
        await self._c.delete_many({**mine, "_id": {"$ne": doc["_id"]}})
        try:
            await self._c.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        except DuplicateKeyError as exc:
            raise AlreadyExists(f"that {platform} user id already belongs to another employee") from exc

    async def of_employees(
        self, tenant_id: str, employee_ids: Iterable[str] | None = None
    ) -> dict[str, builtins.list[ChatIdentity]]:
        query: Doc = {"tenant_id": tenant_id, "kind": "user"}
        if employee_ids is not None:
            query["employee_id"] = {"$in": sorted(set(employee_ids))}
        found: dict[str, list[ChatIdentity]] = {}
        async for doc in self._c.find(query).sort("_id", ASCENDING):
            found.setdefault(doc["employee_id"], []).append(_identity(doc))
        return found


# ---------------------------------------------------------------- the migration

# Where code before the chat_identities collection kept chat ids: field -> platform.
_OLD_WORKSPACE_FIELDS = {"slack_team_ids": "slack", "teams_tenant_ids": "teams"}
_OLD_USER_FIELDS = {"slack_user_id": "slack", "teams_user_id": "teams"}
_OLD_INDEXES = {
    "tenants": ("slack_team_unique", "teams_tenant_unique"),
    "employees": ("slack_user_unique", "teams_user_unique"),
}


async def _put(c: AsyncCollection[Doc], doc: Doc) -> None:
    with contextlib.suppress(DuplicateKeyError):  # another process moved it first, or it was linked since
        await c.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)


async def migrate_chat_identities(db: AsyncDatabase[Doc]) -> int:
    """Move chat ids from tenant and employee documents written by older code into
    ``chat_identities``; returns how many documents it changed.

    Idempotent and safe when several processes start at once: identities are written before
    the old fields are removed, each under a key that makes a second write a no-op. A user id
    gets its workspace when its tenant had exactly one workspace of that platform, else ``""``
    (the old documents did not say)."""
    ids: AsyncCollection[Doc] = db[COLLECTION]
    changed = 0
    old_tenant = {"$or": [{f: {"$exists": True}} for f in _OLD_WORKSPACE_FIELDS]}
    async for tenant in db["tenants"].find(old_tenant):
        for field, platform in _OLD_WORKSPACE_FIELDS.items():
            for ws in tenant.get(field) or []:
                if isinstance(ws, str) and ws:
                    await _put(ids, _workspace_doc(tenant["_id"], ChatIdentity(platform, ws)))
        await db["tenants"].update_one({"_id": tenant["_id"]}, {"$unset": dict.fromkeys(_OLD_WORKSPACE_FIELDS, "")})
        changed += 1

    sole: dict[tuple[str, str], str] = {}

    async def workspace_of(tenant_id: str, platform: str) -> str:
        if (tenant_id, platform) not in sole:
            found = ids.find({"tenant_id": tenant_id, "kind": "workspace", "platform": platform})
            names = [d["workspace"] async for d in found]
            sole[tenant_id, platform] = names[0] if len(names) == 1 else ""
        return sole[tenant_id, platform]

    old_employee = {"$or": [{f: {"$exists": True}} for f in _OLD_USER_FIELDS]}
    async for person in db["employees"].find(old_employee):
        for field, platform in _OLD_USER_FIELDS.items():
            user = person.get(field)
            if isinstance(user, str) and user:
                ws = await workspace_of(person["tenant_id"], platform)
                doc = _user_doc(person["tenant_id"], person["_id"], ChatIdentity(platform, ws, user))
                await _put(ids, doc)
        await db["employees"].update_one({"_id": person["_id"]}, {"$unset": dict.fromkeys(_OLD_USER_FIELDS, "")})
        changed += 1

    for collection, names in _OLD_INDEXES.items():
        present = {ix["name"] async for ix in await db[collection].list_indexes()}
        for name in names:
            if name in present:
                with contextlib.suppress(OperationFailure):  # another process dropped it first
                    await db[collection].drop_index(name)
    if changed:
        log.info("moved the chat ids of %d tenant and employee documents to %s", changed, COLLECTION)
    return changed
