"""Fixtures of the web tests: a container with no face engine work (most need none), two orgs, a server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from attendance.bootstrap import Container, build
from attendance.settings import Settings
from attendance.storage.embedded import EmbeddedMongo
from tests.web.world import Org, make_org, web_server


@dataclass
class Web:
    c: Container
    url: str
    a: Org  # the organisation under test
    b: Org  # another organisation: nothing of it may ever be reached from a
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, token: str | None = None, **kw: object) -> aiohttp.ClientResponse:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.request(method, self.url + path, headers=headers, allow_redirects=False, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def web(settings: Settings, mongo_server: EmbeddedMongo, engine: object) -> AsyncIterator[Web]:
    async with build(settings, uri=mongo_server.uri, engine=engine) as c:  # type: ignore[arg-type]
        a, b = await make_org(c, "Acme"), await make_org(c, "Globex", days=3)
        async with web_server(c) as url, aiohttp.ClientSession() as http:
            yield Web(c, url, a, b, http)
        await c.client.drop_database(settings.database.name)
