"""`attendance run` as `make run` starts it: embedded database, every role, real HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import free_port
from tests.integration.test_embedded import alive, wait_until_gone


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def descendants(pid: int) -> list[int]:
    out = []
    for child in children(pid):
        out += [child, *descendants(child)]
    return out


def run_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "ATTENDANCE_MONGODB_URI")}
    return env | {"ATTENDANCE_HOME": str(tmp_path / "var"), "ATTENDANCE_FACE__PROCESSES": "1"}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    env = run_env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "attendance", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc, port, tmp_path / "var"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def get(port: int, path: str, *, deadline_s: float = 60.0) -> tuple[int, dict[str, object], str]:
    """GET until the server answers (it is starting), then return the first answer."""
    deadline = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                    return resp.status, await resp.json(), resp.headers.get("X-Request-Id", "")
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline:
                    raise
                await __import__("asyncio").sleep(0.1)


async def test_run_serves_health_restarts_a_crashed_role_and_stops_cleanly(running, faces_dir: Path) -> None:  # type: ignore[no-untyped-def]
    proc, port, home = running
    faces = faces_dir
    status, body, request_id = await get(port, "/healthz")
    assert (status, body) == (200, {"status": "ok"}) and request_id
    status, body, _ = await get(port, "/readyz")
    assert status == 200 and body["database"] == "ok"
    state = json.loads((home / "db" / "server.json").read_text())
    assert (home / "db" / "data").is_dir()  # data under ATTENDANCE_HOME

    # an admin works against the running service: the CLI attaches to its embedded database
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attendance", *args],
            env=run_env(home.parent),
            capture_output=True,
            text=True,
            timeout=120,
        )

    faces = Path(
        os.environ.get("ATTENDANCE_FACES_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "faces")
    )
    photos = home.parent / "photos"
    photos.mkdir()
    (photos / "ada.jpg").symlink_to(faces / "Serena_Williams" / "1.jpg")
    (home.parent / "people.csv").write_text("name,email,photo\nAda,ada@example.com,ada.jpg\n")
    assert cli("tenants", "create", "Acme", "--timezone", "Europe/Berlin").returncode == 0
    imported = cli(
        "employees",
        "import",
        str(home.parent / "people.csv"),
        "--tenant",
        "Acme",
        "--photos",
        str(photos),
        "--consent-recorded-by",
        "hr@example.com",
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    checked = cli(
        "checkin",
        "submit",
        str(faces / "Serena_Williams" / "2.jpg"),
        "--tenant",
        "Acme",
        "--employee",
        "ada@example.com",
    )
    assert checked.returncode == 0 and "Checked in at" in checked.stdout, checked.stdout + checked.stderr
    assert json.loads((home / "db" / "server.json").read_text())["pid"] == state["pid"]  # one server

    # a local dashboard account made with the CLI signs in to the running dashboard
    made = subprocess.run(  # noqa: ASYNC221
        [
            sys.executable,
            "-m",
            "attendance",
            "admin",
            "create-user",
            "--tenant",
            "Acme",
            "--email",
            "boss@example.com",
        ],
        env={**run_env(home.parent), "ATTENDANCE_PASSWORD": "a long enough password"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0 and "created the account boss@example.com (admin" in made.stdout, made.stderr
    weak = subprocess.run(  # noqa: ASYNC221
        [
            sys.executable,
            "-m",
            "attendance",
            "admin",
            "create-user",
            "--tenant",
            "Acme",
            "--email",
            "weak@example.com",
        ],
        env={**run_env(home.parent), "ATTENDANCE_PASSWORD": "short"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert weak.returncode != 0 and "at least 12 characters" in weak.stderr
    async with aiohttp.ClientSession() as web:
        page = await web.get(f"http://127.0.0.1:{port}/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
        pre = page.cookies["attendance_pre"].value
        signed = await web.post(
            f"http://127.0.0.1:{port}/signin",
            allow_redirects=False,
            data={"email": "boss@example.com", "password": "a long enough password", "csrf": csrf},
            headers={"Cookie": f"attendance_pre={pre}"},
        )
        session = signed.cookies["attendance_session"].value
        me = await web.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"Cookie": f"attendance_session={session}"})
        assert me.status == 200 and "admin" in (await me.json())["roles"]

    # a crashed role comes back by itself
    serve = next(p for p in children(proc.pid) if b"serve" in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0"))
    everything = [state["pid"], *descendants(proc.pid)]
    os.kill(serve, signal.SIGKILL)
    assert wait_until_gone(serve)
    status, _, _ = await get(port, "/healthz", deadline_s=30)
    assert status == 200
    everything += descendants(proc.pid)

    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=60) == 0
    leftovers = [p for p in everything if alive(p)]
    assert not leftovers, f"processes left behind: {leftovers}"
    assert not (home / "db" / "server.json").exists()
