"""The dependency rule: the core imports only the standard library, numpy and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = [ROOT / "attendance" / "domain", ROOT / "attendance" / "matching.py", ROOT / "attendance" / "messages.py"]
ALLOWED = {"numpy", "attendance"}
FORBIDDEN_EVERYWHERE_IN_PRODUCT = {"secantus", "secantusdb", "motor", "mongomock"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def files(paths: list[Path]) -> list[Path]:
    return [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*.py")))]


def test_core_imports_nothing_outside_stdlib_numpy_and_itself() -> None:
    for path in files(CORE):
        outside = {m for m in imports(path) if m not in ALLOWED and m not in sys.stdlib_module_names}
        assert not outside, f"{path.relative_to(ROOT)} imports {outside}"


def test_core_does_not_reach_into_adapters() -> None:
    for path in files(CORE):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("attendance.storage", "attendance.services", "attendance.cli")), (
                    f"{path.relative_to(ROOT)} imports {node.module}"
                )


def test_product_code_never_imports_the_embedded_database_or_motor() -> None:
    product = [ROOT / d for d in ("attendance", "bot", "recognition_worker", "integrations")]
    for path in files(product):
        assert not imports(path) & FORBIDDEN_EVERYWHERE_IN_PRODUCT, path
