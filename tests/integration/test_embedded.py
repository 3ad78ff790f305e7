"""The embedded database as a child process: started, shared per home, stopped, never orphaned."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo, database_for_home, ping


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def wait_until_gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
    return False


async def test_home_server_is_shared_and_stopped_by_its_owner(tmp_path: Path) -> None:
    async with database_for_home(tmp_path) as uri:
        state = json.loads((tmp_path / "db" / "server.json").read_text())
        assert state["uri"] == uri and await ping(uri)
        async with database_for_home(tmp_path) as again:  # a second command on the same home
            assert again == uri
        assert await ping(uri), "the attached user must not stop the owner's server"
    assert wait_until_gone(state["pid"])
    assert not (tmp_path / "db" / "server.json").exists()


async def test_data_survives_a_restart(tmp_path: Path) -> None:
    from pymongo import AsyncMongoClient

    for expected in (0, 1):
        server = EmbeddedMongo(tmp_path / "db")
        await server.start()
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.uri)
        try:
            assert await client.test.things.count_documents({}) == expected
            await client.test.things.insert_one({"n": 1})
        finally:
            await client.close()
            await server.stop()


def test_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from attendance.adapters.embedded.secantus import EmbeddedMongo
        async def main():
            server = EmbeddedMongo(Path({str(tmp_path / "db")!r}))
            await server.start()
            print(server.pid, flush=True)
            await asyncio.Event().wait()
        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_until_gone(child), "the database outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


async def test_missing_server_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from attendance.adapters.embedded import secantus as embedded

    monkeypatch.setattr(embedded.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(embedded.EmbeddedDatabaseError, match="MONGODB_URI"):
        await EmbeddedMongo(None).start()
