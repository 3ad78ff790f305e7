"""The web server with two organisations, run on its own event loop in a thread, for test tools
that call it synchronously (Schemathesis, Playwright's sync API)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from attendance.bootstrap import Container, build
from attendance.settings import Settings
from tests.web.world import Org, Things, make_org, make_things, web_server


class ThreadedSite:
    def __init__(self, settings: Settings, uri: str, engine: Any, *,
                 extra: Callable[[Container, Org], Awaitable[None]] | None = None,
                 with_worker: bool = False) -> None:  # fmt: skip
        self.settings, self.uri, self.engine, self.extra, self.with_worker = settings, uri, engine, extra, with_worker
        self.url = ""
        self.a: Org | None = None
        self.b: Org | None = None
        self.things: Things | None = None
        self.c: Container | None = None
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

    def run(self, coro: Awaitable[Any]) -> Any:
        """Run a coroutine on the site's loop (database set-up from the test's thread)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)  # type: ignore[arg-type]

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
            self.c = c
            self.a, self.b = await make_org(c, "Acme"), await make_org(c, "Globex", days=3)
            self.things = await make_things(c, self.a)
            if self.extra is not None:
                await self.extra(c, self.a)
            worker_task = None
            if self.with_worker:
                from recognition_worker.worker import JobWorker
                from tests.integration.checkin_helpers import FAST

                worker = JobWorker(deps=c.checkin, replier=c.replier, buffer=c.buffer, settings=FAST, name="web")
                worker_stop = asyncio.Event()
                worker_task = asyncio.create_task(worker.run(worker_stop))
            async with web_server(c) as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()
            if worker_task is not None:
                worker_stop.set()
                await worker_task
            await c.client.drop_database(self.settings.database.name)
