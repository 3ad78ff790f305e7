"""Fixtures for the integration tests that run the command line as a user does."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from tests.fakes.chat import FakeChatPlatform


@pytest.fixture
async def platform() -> AsyncIterator[FakeChatPlatform]:
    """The chat platform's side of the network: photos out, replies in, over real HTTP."""
    p = FakeChatPlatform()
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def cli_env(mongo_server: EmbeddedMongo, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MONGODB_URI": mongo_server.uri,
        "ATTENDANCE_DATABASE__NAME": f"cli_{uuid.uuid4().hex[:10]}",
        "ATTENDANCE_HOME": str(tmp_path / "home"),
        "ATTENDANCE_CRYPTO__TEMPLATE_KEY": base64.b64encode(os.urandom(32)).decode(),
        "ATTENDANCE_LOG__LEVEL": "WARNING",
        "ATTENDANCE_WORKER__POLL_MAX_S": "0.05",
        "ATTENDANCE_WEBHOOKS__ALLOW_PRIVATE_NETWORKS": "true",  # receivers are loopback stand-ins
    }


@pytest.fixture
def cli_process(cli_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """`attendance ...` as a user runs it: a new process, its exit code and its output."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attendance", *args], env=cli_env, capture_output=True, text=True, timeout=120
        )

    return run


@pytest.fixture
def cli(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`attendance ...` through the same entry point (``main``, the real database, the same
    environment), in this process: the command line without a new interpreter's two seconds of
    imports per call. ``cli_process`` runs it as a separate process."""
    from attendance.entrypoints.cli import main

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        with monkeypatch.context() as env:
            for key, value in cli_env.items():
                env.setenv(key, value)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse's usage errors
                    code = exc.code if isinstance(exc.code, int) else 2
                finally:
                    root.handlers[:], root.level = handlers, level
        return subprocess.CompletedProcess(["attendance", *args], code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def worker_process(cli_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A real `attendance worker` on the test's database."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "attendance", "worker", "--processes", "1"],
        env=cli_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)
