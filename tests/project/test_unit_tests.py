"""Tests mirror the package: every module of `src/ragsvc/<folder>/` is imported by a unit test
under `tests/<folder>/`, at the same sub-path (src/ragsvc/storage/disk/store.py by a
`test_*.py` somewhere below tests/storage/disk/), or REASONS says in one line why not (a
route is tested through HTTP, a protocol by mypy). A module at the package's root (cli.py,
events.py) counts with a test anywhere under tests/. A module is imported as
`import ragsvc.x.y`, `from ragsvc.x.y import ...` or `from ragsvc.x import y`, at any depth
of the test file. REASONS may name only modules that exist and that their folder's tests
really do not import: a reason outlives neither its module nor the need for it."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.support.paths import ROOT

SRC = ROOT / "src" / "ragsvc"
TESTS = ROOT / "tests"

REASONS = {
    "api/app_factory.py": "the app's assembly (lifespan, routers, middleware): tests/http/ runs it",
    "api/probes.py": "the worker's probe server: tested through HTTP in tests/worker/",
    "api/routes/api_docs.py": "a route (/docs, /redoc): tested in a browser in tests/system/",
    "api/routes/ask.py": "a route: tested through HTTP in tests/http/",
    "api/routes/documents.py": "a route: tested through HTTP in tests/http/",
    "api/routes/health.py": "a route: tested through HTTP in tests/http/ and tests/worker/",
    "api/routes/metrics.py": "a route: tested through HTTP in tests/http/",
    "api/routes/openai_compat.py": "a route: tested through HTTP, with OpenAI's clients, in "
    "tests/http/",
    "api/routes/sessions.py": "a route: tested through HTTP in tests/http/",
    "api/routes/page_images.py": "a route: tested through HTTP in tests/http/ and in a browser "
    "in tests/system/",
    "api/routes/web.py": "a route (the web page): tested through HTTP in tests/http/ and in a "
    "browser in tests/system/",
    "core/orphans.py": "covered by the slow system test of helper processes that outlive a "
    "killed server",
    "storage/leases.py": "a protocol: that FileLease and RowLease satisfy it is mypy's check",
    "storage/protocols.py": "protocols: that DiskStore and PostgresStore satisfy Store is "
    "mypy's check",
}


def modules() -> list[str]:
    """Every module of the package but the __init__.py files, as its path under src/ragsvc/."""
    return sorted(
        path.relative_to(SRC).as_posix() for path in SRC.rglob("*.py") if path.name != "__init__.py"
    )


def dotted(module: str) -> str:
    return "ragsvc." + module.removesuffix(".py").replace("/", ".")


def mirror_tests(module: str) -> list[Path]:
    """The test files that may cover a module: those below its folder's mirror in tests/
    (anywhere under tests/ for a module at the package's root)."""
    folder = TESTS / Path(module).parent
    return sorted(folder.rglob("test_*.py")) if folder.is_dir() else []


@cache
def imported_by(test_file: Path) -> frozenset[str]:
    """The modules a test file imports, dotted; `from ragsvc.x import y` counts as
    `ragsvc.x` and `ragsvc.x.y` (y may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(test_file.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return frozenset(found)


def unit_tested(module: str) -> bool:
    name = dotted(module)
    return any(name in imported_by(test_file) for test_file in mirror_tests(module))


def test_every_module_has_a_unit_test_or_a_reason():
    missing = [
        f"{module}: no test under tests/{Path(module).parent.as_posix()}/ imports {dotted(module)}"
        for module in modules()
        if module not in REASONS and not unit_tested(module)
    ]
    assert missing == []


def test_every_reason_names_a_module_that_exists():
    assert sorted(set(REASONS) - set(modules())) == []


def test_no_reason_is_given_for_a_module_its_tests_import():
    stale = [module for module in REASONS if module in modules() and unit_tested(module)]
    assert stale == []


def test_reasons_are_one_line_each():
    assert [module for module, why in REASONS.items() if not why.strip() or "\n" in why] == []
