"""The web server with two organisations, run on its own event loop in a thread, for test tools
that call it synchronously (Schemathesis)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from attendance.entrypoints.bootstrap import build
from attendance.settings import Settings
from tests.web.world import Org, make_org, make_things, web_server


class ThreadedSite:
    def __init__(self, settings: Settings, uri: str, engine: Any) -> None:
        self.settings, self.uri, self.engine = settings, uri, engine
        self.url = ""
        self.a: Org | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="web-site", daemon=True)

    def __enter__(self) -> ThreadedSite:
        self._thread.start()
        if not self._ready.wait(timeout=120):
            raise TimeoutError("the web site did not start in 120 s")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with build(self.settings, uri=self.uri, engine=self.engine) as c:
            self.a = await make_org(c, "Acme")
            await make_org(c, "Globex", days=3)
            await make_things(c, self.a)  # a review item, corrections, a webhook, a failed delivery, a token
            async with web_server(c) as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()
            await c.client.drop_database(self.settings.database.name)
