"""Zips infra/teams into the Teams app package, with the bot's app id and public host filled in.

    python3 scripts/teams_package.py --bot-id APP_ID --host attendance.example.com [--out FILE]

Standard library only, so it runs before setup. Exit code 2 with one line when a value is missing
or malformed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "infra" / "teams"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?$")


def project_version() -> str:
    """``version`` of pyproject.toml's ``[project]`` (the same number the package of this release has)."""
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def build(bot_id: str, host: str, out: Path) -> Path:
    if not GUID.match(bot_id):
        raise ValueError(f"the bot id must be the bot's Microsoft app id (a GUID), not {bot_id!r}")
    if not HOST.match(host):
        raise ValueError(f"the host must be a host name like attendance.example.com, not {host!r}")
    manifest = (SOURCE / "manifest.json").read_text().replace("${BOT_ID}", bot_id).replace("${HOST}", host)
    manifest = manifest.replace("${VERSION}", project_version())  # Teams updates an app only to a higher version
    json.loads(manifest)  # still valid JSON
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", manifest)
        for icon in ("color.png", "outline.png"):
            z.write(SOURCE / icon, icon)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bot-id", default="", help="the bot's Microsoft app id")
    p.add_argument("--host", default="", help="the public host that reaches attendance serve")
    p.add_argument("--out", type=Path, default=ROOT / "var" / "attendance-teams.zip")
    args = p.parse_args(argv)
    try:
        out = build(args.bot_id.strip(), args.host.strip(), args.out)
    except ValueError as exc:
        print(f"teams package: {exc}", file=sys.stderr)
        return 2
    print(f"teams package: {out} (upload it in Teams: Apps > Manage your apps > Upload an app)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
