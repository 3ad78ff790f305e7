"""Every `attendance ...` command the README shows exists: each command line in its code blocks
is parsed down to its subcommands, and `--help` of each must work (argparse exits 0)."""

from __future__ import annotations

import contextlib
import io
import itertools
import re
from pathlib import Path

import pytest

from attendance.entrypoints.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
WORD = re.compile(r"[a-z][a-z-]*(?:\|[a-z][a-z-]*)*")


def readme_commands() -> list[tuple[str, ...]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    found: set[tuple[str, ...]] = set()
    for line in (raw.strip().removeprefix("uv run ") for block in blocks for raw in block.splitlines()):
        if not line.startswith("attendance "):
            continue
        words: list[list[str]] = []
        for token in line.split()[1:]:
            if not WORD.fullmatch(token):
                break
            words.append(token.split("|"))
        found.update(itertools.product(*words))
    return sorted(found)


def test_the_readme_shows_commands() -> None:
    assert len(readme_commands()) > 25


@pytest.mark.parametrize("command", readme_commands(), ids=" ".join)
def test_each_command_in_the_readme_exists(command: tuple[str, ...]) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as done:
        _parser().parse_args([*command, "--help"])
    assert done.value.code == 0, command
    assert "usage: attendance" in out.getvalue()
