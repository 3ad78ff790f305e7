"""The real HTTP server with one chat app mounted, and a real check-in worker beside it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from attendance.adapters.web.server import Mount, create_app
from attendance.entrypoints.bootstrap import Container
from attendance.services.worker import JobWorker
from tests.harness.checkins import FAST


@contextlib.asynccontextmanager
async def serving(c: Container, mount: Mount, *, worker: bool = True) -> AsyncIterator[str]:
    """Yields the server's base URL (a free loopback port) while the worker decides check-ins
    (``worker=False``: the server alone)."""

    async def ready() -> bool:
        return True

    runner = web.AppRunner(create_app(database_ready=ready, mounts=[mount]), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stop = asyncio.Event()
    task = None
    if worker:
        loop = JobWorker(deps=c.checkin, replier=c.replier, buffer=c.buffer, settings=FAST, name="e2e")
        task = asyncio.create_task(loop.run(stop))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        if task is not None:
            await task
        await runner.cleanup()
