"""The embedded database: a SecantusDB server run as a child process (never imported).

SecantusDB speaks MongoDB's wire protocol, so everything else talks to it with PyMongo exactly
as to Atlas. One server per ``$ATTENDANCE_HOME/db``: a second command on the same home attaches
to the running server (found through ``server.json``) instead of opening the same files twice.

The child gets SIGTERM if its parent dies (Linux ``PR_SET_PDEATHSIG``), runs in its own session
so a Ctrl-C reaches only the parent, which then stops it cleanly.

Exception tree::

    EmbeddedDatabaseError   the server could not be found, started or reached
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(Exception):
    pass


def die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _server_command() -> str:
    beside = Path(sys.executable).with_name("secantusd-py")
    if beside.exists():
        return str(beside)
    found = shutil.which("secantusd-py")
    if found:
        return found
    raise EmbeddedDatabaseError(
        "the embedded database (SecantusDB, command secantusd-py) is not installed: "
        "run `make run`, or set MONGODB_URI to a MongoDB server"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def ping(uri: str, timeout_ms: int = 1000) -> bool:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        await client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        await client.close()


class EmbeddedMongo:
    """One SecantusDB child process. ``data_dir=None`` keeps the data in memory (tests)."""

    def __init__(
        self, data_dir: Path | None, *, host: str = "127.0.0.1", port: int = 0, start_timeout_s: float = 60.0
    ) -> None:
        self._data_dir = data_dir
        self._host = host
        self._timeout = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._fixed_port = port  # 0: a free port each start
        self._port = port
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://{self._host}:{self._port}/?directConnection=true"

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _run_dir(self) -> Path:
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            return self._data_dir
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="attendance-db-")
        return Path(self._scratch.name)

    async def start(self) -> None:
        command = _server_command()
        run_dir = self._run_dir()
        config = run_dir / "secantusd.toml"  # an explicit (empty) config: no auto-discovery
        config.touch()
        storage = str(run_dir / "data") if self._data_dir is not None else ":memory:"
        for attempt in range(3):
            self._port = self._fixed_port or free_port(self._host)
            log_path = run_dir / "secantusd.log"
            # Popen on the event loop's own thread on purpose: PDEATHSIG follows the forking thread.
            with open(log_path, "ab") as log_file:  # noqa: ASYNC230
                self._proc = subprocess.Popen(  # noqa: ASYNC220
                    [
                        command,
                        "--config",
                        str(config),
                        "--host",
                        self._host,
                        "--port",
                        str(self._port),
                        "--storage-path",
                        storage,
                        "--log-level",
                        "WARNING",
                        # no replica-set advertisement, so no oplog: nothing here reads one (no
                        # change streams, no transactions), and each write costs the server about a
                        # third less CPU without it (docs/capacity.md)
                        "--standalone",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,  # noqa: PLW1509 - only setsid and prctl
                )
            if await self._wait_ready():
                log.info("embedded database started pid=%s port=%s storage=%s", self._proc.pid, self._port, storage)
                return
            tail = log_path.read_bytes()[-800:].decode(errors="replace")
            log.warning("embedded database did not start (attempt %s): %s", attempt + 1, tail)
            await self.stop()
        raise EmbeddedDatabaseError(f"the embedded database did not start; see {run_dir / 'secantusd.log'}")

    async def _wait_ready(self) -> bool:
        """Until the port accepts connections (a plain TCP connect: a PyMongo client timing out
        during server selection can leave a socket behind), then one ping over the protocol."""
        deadline = time.monotonic() + self._timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if not await port_open(self._host, self._port):
                await asyncio.sleep(0.05)
                continue
            return await ping(self.uri, timeout_ms=int(max(1.0, deadline - time.monotonic()) * 1000))
        return False

    async def stop(self, timeout_s: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("embedded database did not stop in %ss; killing it", timeout_s)
                proc.kill()
                await asyncio.to_thread(proc.wait)
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def kill(self) -> None:
        """SIGKILL, for failure tests: the data directory is left as a crash leaves it."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


@contextlib.asynccontextmanager
async def database_for_home(home: Path, *, start_timeout_s: float = 60.0) -> AsyncIterator[str]:
    """The URI of ``home``'s embedded server: the running one, or one started for this block."""
    db_dir = home / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    state = db_dir / "server.json"
    with open(db_dir / "start.lock", "w") as lock:  # noqa: ASYNC230 - a lock file, opened once
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        try:
            if state.exists():
                info = json.loads(state.read_text())
                alive = _alive(int(info["pid"])) and await port_open(info["host"], int(info["port"]))
                if alive and await ping(info["uri"]):
                    uri = str(info["uri"])
                    log.info("using the embedded database already running for %s", home)
                    owned = None
                else:
                    owned = EmbeddedMongo(db_dir, start_timeout_s=start_timeout_s)
            else:
                owned = EmbeddedMongo(db_dir, start_timeout_s=start_timeout_s)
            if owned is not None:
                await owned.start()
                uri = owned.uri
                state.write_text(
                    json.dumps(
                        {"pid": owned.pid, "uri": uri, "host": owned.host, "port": owned.port, "owner": os.getpid()}
                    )
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        yield uri
    finally:
        if owned is not None:
            with contextlib.suppress(FileNotFoundError):
                state.unlink()
            await owned.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
