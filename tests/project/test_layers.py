"""The package's layout is a rule, checked here rather than stated in prose: each folder of
`src/ragsvc/` imports only folders below it, a library is imported where the docs say it is
(the web framework in api/ only, PyMuPDF in pdf/ only, ...), the environment is read by
the settings, backends are chosen in one place, errors a client can see are RagErrors, and
the tree keeps its shape (few modules at the root, small folders, short functions)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SRC = ROOT / "src" / "ragsvc"

# Lowest first; a folder imports only folders of lower levels (and itself).
LEVELS = [
    {"text"},
    {"core"},
    {"pdf", "search", "streams"},
    {"storage"},
    {"sessions"},
    {"ingest", "answer"},
    {"runtime"},
    {"api", "eval", "client"},
    {"worker"},
    {"cli", "events"},  # the entry points at the package's root
]
# Narrower than its level allows: the client stands on the wire format alone.
ONLY = {"client": {"core", "streams"}}
# Where each library may be imported (a folder, or a module as its path under src/ragsvc/).
LIBRARIES = {
    "fastapi": {"api"},
    "starlette": {"api"},
    "sse_starlette": {"api"},
    "uvicorn": {"api"},
    "pymupdf": {"pdf/mupdf.py"},
    "faiss": {"search/index.py", "search/inverted_file.py"},
    # BM25 itself, and the stop-word lists languages.py tells languages apart by
    "bm25s": {"search", "text/languages.py"},
    # the PostgreSQL store; the command line reports its connection errors
    "psycopg": {"storage/postgres", "cli.py"},
    "psycopg_pool": {"storage/postgres"},
    "prometheus_client": {"runtime/metrics.py", "runtime/shared_metrics.py"},
    "saq": {"ingest/job_queue.py", "worker"},
    "limits": {"sessions/rate_limits.py"},
    "typer": {"cli.py", "client/commands.py", "client/failures.py"},
    "rich": {"client/commands.py"},
    "httpx_sse": {"client"},
}
# Who may touch os.environ, and why: every setting is read by core/config.py (Settings).
ENVIRONMENT = {
    "core/config.py": "Settings: every RAGSVC_* variable, read by pydantic-settings",
    "api/app_factory.py": "reads the supervisor's pid that `ragsvc serve --workers` sets",
    "cli.py": "sets the supervisor's pid for uvicorn's worker processes",
    "search/embedders.py": "sets switches of the optional embedders' libraries (no download)",
    "search/index.py": "lets FAISS's OpenMP threads wait asleep (OMP_WAIT_POLICY), before it loads",
    "runtime/shared_metrics.py": "names the metrics directory of `serve --workers N` for "
    "prometheus-client, which reads it from the environment in each worker",
}
# Which backend the settings name is asked in one place.
BACKEND_CHOICE = re.compile(r"\bsettings\.(embedder|generator|store|ingest_queue|ocr)\b")
CHOOSES_BACKENDS = {"runtime/backends.py"}
# Exceptions that are not RagErrors, and why.
NOT_RAG_ERRORS = {
    "SessionGone": "a session vanished mid-request; the HTTP layer answers it as 401",
    "DataDirUnusable": "a start-up error: the server does not start",
    "ProbePortUnavailable": "a start-up error: the worker does not start",
    "ProblemError": "raised by the client, around a problem the server sent",
    "WorkerError": "a page worker's error carried back as strings; parse_pdf makes it a 422",
}
MAX_ROOT_MODULES = 4
MIN_SUBPACKAGES = 8
MAX_FOLDER_MODULES = 15
MAX_FUNCTION_LINES = 45


def modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def place(path: Path) -> str:
    """The path of a module under src/ragsvc/, as LIBRARIES and ENVIRONMENT name it."""
    return path.relative_to(SRC).as_posix()


def folder(path: Path) -> str:
    """The top-level folder a module belongs to, or its name for a module at the root."""
    return Path(place(path)).parts[0].removesuffix(".py")


def level(name: str) -> int:
    return next(i for i, names in enumerate(LEVELS) if name in names)


def imports(path: Path) -> list[str]:
    """Every module a file imports, dotted (`from ragsvc import x` gives `ragsvc.x`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def may_import(importer: str, imported: str) -> bool:
    if importer == imported:
        return True
    if importer in ONLY:
        return imported in ONLY[importer]
    return level(imported) < level(importer)


def test_every_folder_and_root_module_has_a_level():
    named = {name for names in LEVELS for name in names}
    present = {folder(path) for path in modules()} - {"__init__"}
    assert present == named


def test_a_folder_imports_only_folders_below_it():
    wrong = []
    for path in modules():
        for name in imports(path):
            parts = name.split(".")
            if parts[0] == "ragsvc" and len(parts) > 1 and parts[1] != "__version__":
                if not may_import(folder(path), parts[1]):
                    wrong.append(f"{place(path)} imports {name}")
    assert wrong == []


def allowed_at(path: Path, places: set[str]) -> bool:
    where = place(path)
    return any(where == p or where.startswith(f"{p}/") for p in places)


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_a_library_is_imported_only_where_it_belongs(library: str):
    wrong = [
        place(path)
        for path in modules()
        if any(name.split(".")[0] == library for name in imports(path))
        and not allowed_at(path, LIBRARIES[library])
    ]
    assert wrong == []


def test_only_the_settings_read_the_environment():
    touching = {place(path) for path in modules() if "environ" in path.read_text()}
    assert touching == set(ENVIRONMENT)


def test_backends_are_chosen_in_one_place():
    asking = {place(path) for path in modules() if BACKEND_CHOICE.search(path.read_text())}
    assert asking == CHOOSES_BACKENDS


def exception_classes() -> dict[str, list[str]]:
    """Every exception class defined in the package, with the names of its bases."""
    found = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base) for base in node.bases]
                found[node.name] = bases
    exceptions = {"Exception", "BaseException", "RagError"}
    changed = True
    while changed:  # close over subclasses of subclasses
        grown = {n for n, bases in found.items() if exceptions & {b.split(".")[-1] for b in bases}}
        changed = not grown <= exceptions
        exceptions |= grown
    return {n: found[n] for n in exceptions if n in found}


def test_errors_a_client_can_see_are_rag_errors():
    from ragsvc.core import errors

    outside = {
        name
        for name in exception_classes()
        if not (hasattr(errors, name) and issubclass(getattr(errors, name), errors.RagError))
    }
    assert outside == set(NOT_RAG_ERRORS)


def test_routes_never_build_http_exceptions():
    assert [place(p) for p in modules() if "HTTPException(" in p.read_text()] == []


def test_the_tree_keeps_its_shape():
    root = list(SRC.glob("*.py"))
    subpackages = [p for p in SRC.iterdir() if (p / "__init__.py").exists()]
    per_folder = Counter(p.parent for p in modules() if p.name != "__init__.py")
    assert len(root) <= MAX_ROOT_MODULES, root
    assert len(subpackages) >= MIN_SUBPACKAGES
    crowded = {place(f) or ".": n for f, n in per_folder.items() if n > MAX_FOLDER_MODULES}
    assert crowded == {}


def one_letter_apart(a: str, b: str) -> bool:
    """Whether two different names differ by one letter added, dropped or changed."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def test_no_two_names_differ_by_a_letter():
    """`generation` beside `generations`, `worker` beside `workers`: one name is misread
    for the other."""
    names = {p.stem for p in modules()} | {p.name for p in SRC.rglob("*") if p.is_dir()}
    names -= {"__init__", "__pycache__"}
    pairs = {(a, b) for a in names for b in names if a < b and one_letter_apart(a, b)}
    assert pairs == set()


def test_no_function_is_long():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{place(path)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
