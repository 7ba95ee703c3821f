"""The benchmark scripts (`make bench`, `make load`) run outside the tests, so nothing else
would notice a module of ragsvc or of the tests' support they import moving away: every
such module they import exists, and so does every name they take from it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


def imported(node: ast.AST) -> list[tuple[str, str | None]]:
    """(module, name or None) for an import statement, or a module run with `python -m`."""
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [(node.module, alias.name) for alias in node.names]
    if isinstance(node, ast.Import):
        return [(alias.name, None) for alias in node.names]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value.startswith(("tests.support.", "ragsvc.")) and " " not in node.value:
            return [(node.value, None)]
    return []


def project_imports(script: Path) -> list[tuple[str, str | None]]:
    """What the script imports of ragsvc or of the tests."""
    found = [pair for node in ast.walk(ast.parse(script.read_text())) for pair in imported(node)]
    return [(m, n) for m, n in found if m.split(".")[0] in ("ragsvc", "tests")]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_benchmark_imports_only_what_exists(script: Path):
    for module, name in project_imports(script):
        loaded = importlib.import_module(module)
        assert name is None or hasattr(loaded, name), f"{module} has no {name}"
