"""bench/ may import tests/ (the test daemons, the crash run), tests/ never import bench/ (bench/harness.py)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def imported_modules(path: Path) -> set[str]:
    """The top-level package of every module a file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_test_imports_a_benchmark() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 100, "the tests were not found"
    offenders = [str(path.relative_to(TESTS)) for path in files if "bench" in imported_modules(path)]
    assert offenders == [], "tests import bench/; move what both need under tests/ (bench/harness.py says the rule)"
