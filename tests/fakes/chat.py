"""A stand-in for a chat platform's side of the network, over real HTTP on loopback.

It hosts photos (``/photos/<name>``), can hold a download until the test releases it or fail
it with 503 a number of times, and collects the replies posted to ``/reply``.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import web


class FakeChatPlatform:
    def __init__(self) -> None:
        self.photos: dict[str, bytes] = {}
        self.fail_next: dict[str, int] = defaultdict(int)
        self.hold: dict[str, asyncio.Event] = {}
        self.requested: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.downloads: dict[str, int] = defaultdict(int)
        self.replies: list[dict[str, Any]] = []
        self.reply_times: list[float] = []  # loop time of each reply (the benchmarks time answers)
        self._reply_waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def photo_url(self, name: str) -> str:
        return f"{self.base}/photos/{name}"

    @property
    def reply_url(self) -> str:
        return f"{self.base}/reply"

    async def _photo(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.downloads[name] += 1
        self.requested[name].set()
        if name in self.hold:
            await self.hold[name].wait()
        if self.fail_next[name] > 0:
            self.fail_next[name] -= 1
            return web.Response(status=503, text="try later")
        if name not in self.photos:
            return web.Response(status=404)
        return web.Response(body=self.photos[name], content_type="image/jpeg")

    async def _reply(self, request: web.Request) -> web.Response:
        self.replies.append(json.loads(await request.read()))
        self.reply_times.append(asyncio.get_running_loop().time())
        for ready, fut in self._reply_waiters:
            if ready() and not fut.done():
                fut.set_result(None)
        return web.json_response({"ok": True})

    async def _wait(self, ready: Callable[[], bool], timeout: float) -> list[dict[str, Any]]:
        if not ready():
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._reply_waiters.append((ready, fut))
            await asyncio.wait_for(fut, timeout)
        return self.replies

    async def wait_for_replies(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        return await self._wait(lambda: len(self.replies) >= count, timeout)

    async def wait_for_jobs(self, job_ids: set[str], timeout: float = 60.0) -> list[dict[str, Any]]:
        """Until every job has been answered (replies are at-least-once: some may come twice)."""
        return await self._wait(lambda: job_ids <= {r["job_id"] for r in self.replies}, timeout)

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/photos/{name}", self._photo)
        app.router.add_post("/reply", self._reply)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for event in self.hold.values():
            event.set()
        if self._runner is not None:
            await self._runner.cleanup()
