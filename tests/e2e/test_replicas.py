"""Two `attendance serve` processes behind one address (a round-robin TCP proxy on loopback, one
connection per request), as several replicas behind a Service: a session made on one replica
works on the other, a form's CSRF token from one is accepted by the other, and a sign-out on one
ends the session on both. The replicas share the database and the configured keys, nothing else
(each has its own home). A Slack retry landing on the other replica: tests/containers (two serve pods)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo, free_port
from attendance.core.domain.model import Role
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import access_deps, build
from attendance.services.access import create_local_user
from attendance.services.tenants import create_tenant
from attendance.settings import Settings
from tools.bench.pipeline import stop_processes

PASSWORD = "a long enough password"


@contextlib.asynccontextmanager
async def round_robin(ports: list[int]) -> AsyncIterator[int]:
    """One loopback address in front of ``ports``: each new connection goes to the next one."""
    turn = itertools.cycle(ports)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", next(turn))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


@pytest.fixture
def replicas(
    settings: Settings, mongo_server: EmbeddedMongo, tmp_path: Path
) -> Iterator[tuple[list[int], dict[str, str]]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ATTENDANCE_", "SLACK_", "MONGODB"))},
        "MONGODB_URI": mongo_server.uri,
        "ATTENDANCE_DATABASE__NAME": settings.database.name,
        "ATTENDANCE_CRYPTO__TEMPLATE_KEY": settings.crypto.template_key.get_secret_value(),  # type: ignore[union-attr]
        "ATTENDANCE_WEB__SESSION_KEY": base64.b64encode(os.urandom(48)).decode(),
        "ATTENDANCE_FACE__PROCESSES": "1",
    }
    ports, procs = [free_port(), free_port()], []
    for n, port in enumerate(ports):
        home = {"ATTENDANCE_HOME": str(tmp_path / f"replica-{n}")}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "attendance", "serve", "--port", str(port)],
                env=env | home,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        yield ports, env
    finally:
        stop_processes(procs)


async def ready(port: int, deadline_s: float = 90.0) -> None:
    deadline = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            assert time.monotonic() < deadline, f"serve on {port} never became ready"
            await asyncio.sleep(0.2)


async def test_a_session_made_on_one_replica_holds_on_the_other_and_ends_on_both(
    replicas: tuple[list[int], dict[str, str]], settings: Settings, mongo_server: EmbeddedMongo, engine: Any
) -> None:
    ports, _ = replicas
    async with build(settings, uri=mongo_server.uri, engine=engine) as c:
        try:
            name = f"Acme {uuid.uuid4().hex[:6]}"
            await create_tenant(CreateTenant(name=name, timezone="Europe/Berlin"), tenants=c.deps.tenants)
            await create_local_user(name, "boss@acme.example", PASSWORD, [Role.ADMIN], deps=access_deps(c))
            for port in ports:
                await ready(port)
            connector = aiohttp.TCPConnector(force_close=True)  # a new connection, so the next replica, each time
            async with round_robin(ports) as front, aiohttp.ClientSession(connector=connector) as http:
                base = f"http://127.0.0.1:{front}"
                page = await http.get(f"{base}/signin")  # replica 0
                csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
                pre = page.cookies["attendance_pre"].value
                signed = await http.post(  # replica 1
                    f"{base}/signin",
                    allow_redirects=False,
                    data={"email": "boss@acme.example", "password": PASSWORD, "csrf": csrf},
                    headers={"Cookie": f"attendance_pre={pre}"},
                )
                assert signed.status == 303, await signed.text()
                cookie = {"Cookie": f"attendance_session={signed.cookies['attendance_session'].value}"}
                seen = []
                for _ in range(4):  # both replicas, twice each
                    async with http.get(f"{base}/api/v1/me", headers=cookie) as me:
                        seen.append((me.status, "admin" in (await me.json()).get("roles", [])))
                assert seen == [(200, True)] * 4
                today = await http.get(f"{base}/today", headers=cookie)
                form_csrf = re.search(r'name="csrf" value="([^"]+)"', await today.text()).group(1)  # type: ignore[union-attr]
                out = await http.post(
                    f"{base}/signout", data={"csrf": form_csrf}, headers=cookie, allow_redirects=False
                )
                assert out.status == 303
                after = []
                for _ in range(2):
                    async with http.get(f"{base}/api/v1/me", headers=cookie) as me:
                        after.append(me.status)
                assert after == [401, 401]  # the copied cookie is worthless on both replicas
        finally:
            await c.client.drop_database(settings.database.name)
