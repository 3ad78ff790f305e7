"""How chat_ids_v1.json was written: by the code of commit 0b8d0f1, the last one that kept chat
ids on the tenant and employee documents. It runs only there::

    git worktree add /tmp/v1 0b8d0f1 && cd /tmp/v1
    uv run python ../main/tests/integration/data/write_chat_ids_v1.py OUT.json

The migration test restores that dump (documents and indexes) and starts today's code on it.
"""

import asyncio
import base64
import os
import sys
from pathlib import Path

from bson import json_util

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.model import Employee, Role
from attendance.core.messages import CreateTenant, WorkspaceInstalled
from attendance.entrypoints.bootstrap import build
from attendance.services.tenants import create_tenant
from attendance.services.workspaces import on_workspace_installed
from attendance.settings import CryptoSettings, Settings


async def main(out: Path) -> None:
    server = EmbeddedMongo(None)
    await server.start()
    try:
        s = Settings(
            home=Path(out.parent / "home"),
            database={"name": "v1"},
            crypto=CryptoSettings(template_key=base64.b64encode(os.urandom(32)).decode()),
        )
        async with build(s, uri=server.uri) as c:
            d = c.deps
            # a Slack install (tenant with one team, installer admin with a Slack id)
            acme = await on_workspace_installed(
                WorkspaceInstalled(
                    team_id="T0ACME",
                    team_name="Acme",
                    installer_user_id="UADA",
                    installer_email="ada@acme.example",
                    installer_name="Ada",
                ),
                tenants=d.tenants,
                employees=d.employees,
                audit=d.audit,
                clock=d.clock,
            )
            await d.employees.upsert(
                Employee(
                    id="e-grace",
                    tenant_id=acme.id,
                    name="Grace",
                    email="grace@acme.example",
                    slack_user_id="UGRACE",
                    teams_user_id="aad-grace",
                )
            )
            await d.employees.upsert(
                Employee(id="e-linus", tenant_id=acme.id, name="Linus", email="linus@acme.example")
            )
            # a second Slack workspace and a Teams organisation on one tenant
            globex = await create_tenant(
                CreateTenant(name="Globex", slack_team_ids=("T0GLOBEX", "T0GLOBEX2"), teams_tenant_ids=("tid-globex",)),
                tenants=d.tenants,
            )
            await d.employees.upsert(
                Employee(
                    id="e-hank",
                    tenant_id=globex.id,
                    name="Hank",
                    email="hank@globex.example",
                    slack_user_id="UHANK",
                    teams_user_id="aad-hank",
                    roles=frozenset({Role.EMPLOYEE, Role.ADMIN}),
                )
            )
            await d.employees.upsert(
                Employee(id="e-marge", tenant_id=globex.id, name="Marge", email="marge@globex.example")
            )
            assert await d.employees.link_chat_identity(globex.id, "e-marge", "teams", "aad-marge")
            await d.tenants.link_teams_tenant(globex.id, "tid-globex-2")
            # a tenant with no chat at all
            await create_tenant(CreateTenant(name="Initech"), tenants=d.tenants)
            dump = {}
            for name in ("tenants", "employees"):
                docs = [doc async for doc in c.db[name].find({}).sort("_id", 1)]
                indexes = [ix async for ix in await c.db[name].list_indexes()]
                dump[name] = {"documents": docs, "indexes": [dict(ix) for ix in indexes if ix["name"] != "_id_"]}
            await c.client.drop_database("v1")
    finally:
        await server.stop()
    out.write_text(json_util.dumps(dump, indent=1, json_options=json_util.RELAXED_JSON_OPTIONS) + "\n")


asyncio.run(main(Path(sys.argv[1])))
