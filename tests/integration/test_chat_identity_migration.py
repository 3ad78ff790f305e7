"""Start-up moves the chat ids older code kept on tenants and employees into ``chat_identities``.

``data/chat_ids_v1.json`` is a database written by that older code (commit 0b8d0f1; see
``data/write_chat_ids_v1.py``): its tenants and employees, and their indexes, as they were."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bson import json_util
from pymongo import AsyncMongoClient, IndexModel

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.mongo.chat_identities import migrate_chat_identities
from attendance.core.domain.model import ChatIdentity
from attendance.entrypoints.bootstrap import build
from attendance.services.directory import employee_for, tenant_for
from attendance.settings import Settings

DUMP = Path(__file__).parent / "data" / "chat_ids_v1.json"
OLD_FIELDS = ("slack_team_ids", "teams_tenant_ids", "slack_user_id", "teams_user_id")


async def _restore(uri: str, name: str) -> dict[str, Any]:
    dump: dict[str, Any] = json_util.loads(DUMP.read_text())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        for collection, content in dump.items():
            await client[name][collection].insert_many(content["documents"])
            models = []
            for ix in content["indexes"]:
                options = {k: v for k, v in ix.items() if k not in ("v", "key", "ns")}
                models.append(IndexModel(list(ix["key"].items()), **options))
            await client[name][collection].create_indexes(models)
    finally:
        await client.close()
    return dump


def _tenant_ids(dump: dict[str, Any]) -> dict[str, str]:
    return {d["name"]: d["_id"] for d in dump["tenants"]["documents"]}


async def test_start_up_moves_the_old_chat_ids_once_and_every_lookup_still_works(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any
) -> None:
    dump = await _restore(mongo_server.uri, settings.database.name)
    tenant_id = _tenant_ids(dump)
    ada_id = next(d["_id"] for d in dump["employees"]["documents"] if d["email"] == "ada@acme.example")
    async with build(settings, uri=mongo_server.uri, engine=engine) as c:
        d = c.deps
        for platform, workspace, name in [
            ("slack", "T0ACME", "Acme"),
            ("slack", "T0GLOBEX", "Globex"),
            ("slack", "T0GLOBEX2", "Globex"),
            ("teams", "tid-globex", "Globex"),
            ("teams", "tid-globex-2", "Globex"),
        ]:
            tenant = await tenant_for(platform, workspace, tenants=d.tenants, identities=d.identities)
            assert tenant is not None and tenant.name == name, (platform, workspace)
        assert await d.identities.workspaces(tenant_id["Initech"]) == []
        assert await tenant_for("slack", "T0NONE", tenants=d.tenants, identities=d.identities) is None

        acme, globex = tenant_id["Acme"], tenant_id["Globex"]
        for tenant, platform, user, employee in [
            (acme, "slack", "UADA", ada_id),
            (acme, "slack", "UGRACE", "e-grace"),
            (acme, "teams", "aad-grace", "e-grace"),
            (globex, "slack", "UHANK", "e-hank"),
            (globex, "teams", "aad-hank", "e-hank"),
            (globex, "teams", "aad-marge", "e-marge"),
        ]:
            found = await employee_for(tenant, platform, user, employees=d.employees, identities=d.identities)
            assert found is not None and found.id == employee, (platform, user)
        assert await employee_for(globex, "slack", "UADA", employees=d.employees, identities=d.identities) is None
        # a user id is in its workspace when the tenant had exactly one of that platform
        assert (await d.identities.of_employees(acme, ["e-grace"]))["e-grace"] == [
            ChatIdentity("slack", "T0ACME", "UGRACE"),
            ChatIdentity("teams", "", "aad-grace"),
        ]
        assert (await d.identities.of_employees(globex, ["e-hank"]))["e-hank"] == [
            ChatIdentity("slack", "", "UHANK"),
            ChatIdentity("teams", "", "aad-hank"),
        ]
        # the rules the old unique indexes kept still hold
        assert not await d.identities.link_user(globex, "e-marge", ChatIdentity("slack", "", "UHANK"))
        assert not await d.identities.link_user(globex, "e-hank", ChatIdentity("slack", "", "UOTHER"))

        # nothing is left where the old code kept it, indexes included
        for collection in ("tenants", "employees"):
            assert await c.db[collection].count_documents({"$or": [{f: {"$exists": True}} for f in OLD_FIELDS]}) == 0
            names = {ix["name"] async for ix in await c.db[collection].list_indexes()}
            assert not names & {"slack_team_unique", "teams_tenant_unique", "slack_user_unique", "teams_user_unique"}
        # the rest of each document is as it was
        tenant_doc = await c.db["tenants"].find_one({"_id": acme})
        assert tenant_doc is not None and tenant_doc["name"] == "Acme" and tenant_doc["policy"]["replay_check"]
        grace = await d.employees.get(acme, "e-grace")
        assert grace is not None and grace.email == "grace@acme.example" and grace.name == "Grace"

        identities = await c.db["chat_identities"].count_documents({})
        assert await migrate_chat_identities(c.db) == 0  # a second start: nothing to move
    async with build(settings, uri=mongo_server.uri, engine=engine) as c:  # and a real second start-up
        assert await c.db["chat_identities"].count_documents({}) == identities == 5 + 6
        await c.client.drop_database(settings.database.name)


async def test_processes_starting_together_move_each_id_once(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any
) -> None:
    dump = await _restore(mongo_server.uri, settings.database.name)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_server.uri, tz_aware=True)
    try:
        db = client[settings.database.name]
        await asyncio.gather(*(migrate_chat_identities(db) for _ in range(3)))
        assert await db["chat_identities"].count_documents({"kind": "workspace"}) == 5
        assert await db["chat_identities"].count_documents({"kind": "user"}) == 6
        owners = {d["_id"]: d["tenant_id"] async for d in db["chat_identities"].find({"kind": "workspace"})}
        assert owners["ws|slack|T0ACME"] == _tenant_ids(dump)["Acme"]
        await client.drop_database(settings.database.name)
    finally:
        await client.close()
