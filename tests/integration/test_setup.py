"""Setup gets uv on a distribution Python that refuses ``pip install`` (PEP 668, "externally
managed": Debian 12's /usr/bin/python3, which CI has). ``scripts/install-uv.sh`` runs for real,
with an empty home and no uv on PATH; the package registry is the far side of the network, so a
local PEP 503 index on loopback stands in for it, serving a small wheel named ``uv``."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import os
import subprocess
import sysconfig
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")


def externally_managed(python: Path) -> bool:
    if not python.exists():
        return False
    stdlib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return (Path(stdlib) / "EXTERNALLY-MANAGED").exists()


def fake_uv_wheel() -> tuple[str, bytes]:
    """A wheel of a package named uv whose ``uv`` command prints a version."""
    name, version = "uv", "0.0.1"
    files = {
        "fake_uv/__init__.py": b"def main():\n    print('uv 0.0.1 (the test index)')\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{name}-{version}.dist-info/entry_points.txt": b"[console_scripts]\nuv = fake_uv:main\nuvx = fake_uv:main\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return f"{name}-{version}-py3-none-any.whl", out.getvalue()


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_files(root: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def package_index(tmp: Path) -> Iterator[str]:
    wheel_name, wheel = fake_uv_wheel()
    (tmp / "files").mkdir(parents=True)
    (tmp / "files" / wheel_name).write_bytes(wheel)
    sha = hashlib.sha256(wheel).hexdigest()
    (tmp / "simple" / "uv").mkdir(parents=True)
    (tmp / "simple" / "uv" / "index.html").write_text(
        f'<!doctype html><a href="/files/{wheel_name}#sha256={sha}">{wheel_name}</a>\n'
    )
    with serve_files(tmp) as url:
        yield f"{url}/simple/"


def test_setup_installs_uv_into_its_own_environment_on_an_externally_managed_python(tmp_path: Path) -> None:
    if not externally_managed(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is not an externally managed (PEP 668) Python on this machine")
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(SYSTEM_PYTHON)
    refused = subprocess.run(
        [SYSTEM_PYTHON, "-m", "pip", "install", "--user", "--dry-run", "uv"], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr  # what setup meets
    with package_index(tmp_path / "index") as index:
        env = {
            "HOME": str(home),
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "PIP_INDEX_URL": index,
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_CACHE_DIR": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "LANG": "C.UTF-8",
        }
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "install-uv.sh")], env=env, capture_output=True, text=True, timeout=300
        )
    assert done.returncode == 0, done.stderr
    assert "externally managed (PEP 668): uv was installed into" in done.stderr
    uv = home / ".local" / "bin" / "uv"
    assert uv.is_symlink() and str(uv.resolve()).startswith(str(home / ".local" / "share" / "attendance" / "uv-venv"))
    assert subprocess.run([uv], capture_output=True, text=True).stdout.strip() == "uv 0.0.1 (the test index)"
    assert not any(Path(sysconfig.get_paths()["purelib"]).glob("fake_uv*"))  # nothing went into a Python's own site
    again = subprocess.run(["bash", str(ROOT / "scripts" / "install-uv.sh")], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "installing" not in again.stderr  # there already: nothing done
