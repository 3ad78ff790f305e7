"""Fixtures of the web tests: a container with no face engine work (most need none), two orgs, a server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import aiohttp.abc
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.ports import Clock
from attendance.entrypoints.bootstrap import Container, build
from attendance.settings import Settings
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


@contextlib.asynccontextmanager
async def started(
    settings: Settings,
    uri: str,
    engine: object,
    jar: aiohttp.abc.AbstractCookieJar | None = None,
    clock: Clock | None = None,
    worker: bool = False,
) -> AsyncIterator[Web]:
    """The server and two organisations; ``jar``: keep cookies like a browser (else none are kept);
    ``worker``: a check-in worker beside the server.
    The web's read caches are off (the tests write to the database behind the server's back);
    tests/integration/test_memory_cache.py tests them."""
    settings = settings.model_copy(
        update={"web": settings.web.model_copy(update={"cache_recent_s": 0, "cache_past_s": 0})}
    )
    async with build(settings, uri=uri, engine=engine, clock=clock) as c:  # type: ignore[arg-type]
        a, b = await make_org(c, "Acme"), await make_org(c, "Globex", days=3)
        async with (
            web_server(c, worker=worker) as url,
            aiohttp.ClientSession(cookie_jar=jar if jar is not None else aiohttp.DummyCookieJar()) as http,
        ):
            yield Web(c, url, a, b, http)
        await c.client.drop_database(settings.database.name)


@pytest.fixture
async def web(settings: Settings, mongo_server: EmbeddedMongo, engine: object) -> AsyncIterator[Web]:
    async with started(settings, mongo_server.uri, engine) as w:
        yield w
