"""The docs match the code: every setting documented under the name the environment really
uses, every problem type listed, the README's two commands first, no dead links, every
module in the architecture's table, and no file named that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices

from ragsvc.core import errors
from ragsvc.core.config import Settings
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text()
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SRC = ROOT / "src" / "ragsvc"
# A Python file named in backticks: `pdf/read.py` (under src/ragsvc/), `tests/...`, `bench/...`
PYTHON_FILE = re.compile(r"`([\w./-]+\.py)`")


def env_names(field: str) -> list[str]:
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"RAGSVC_{field.upper()}"]


def test_every_setting_is_in_the_settings_table():
    settings_doc = (ROOT / "docs" / "settings.md").read_text()
    rows = [line for line in settings_doc.splitlines() if line.startswith("| `")]
    for field in Settings.model_fields:
        names = env_names(field)
        assert any(all(f"`{n}`" in row for n in names) for row in rows), f"{names} undocumented"


def test_every_problem_type_is_in_the_api_reference():
    api = (ROOT / "docs" / "api.md").read_text()
    slugs = {
        error.slug
        for error in vars(errors).values()
        if isinstance(error, type) and issubclass(error, errors.RagError)
    }
    slugs.discard(errors.RagError.slug)  # the base class's "internal": never raised as such
    assert {slug for slug in slugs if f"`{slug}`" not in api} == set()


def test_readme_shows_the_two_commands_first_and_stays_short():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block
    assert len(README.splitlines()) < 150


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_relative_links_lead_to_files_of_the_repository(document: Path):
    for target in LINK.findall(document.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        path = (document.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{document.name} links outside the repository: {target}"
        assert path.exists(), f"{document.name} links to a missing file: {target}"


def test_the_architecture_names_every_module():
    table = (ROOT / "docs" / "architecture.md").read_text()
    modules = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if p.name != "__init__.py"]
    assert [m for m in sorted(modules) if f"| `{m}` |" not in table] == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_python_file_named_exists(document: Path):
    named = PYTHON_FILE.findall(document.read_text())
    missing = [n for n in named if not any((base / n).exists() for base in (ROOT, SRC))]
    assert missing == [], f"{document.name} names files that do not exist"


def test_every_python_file_the_code_names_exists():
    """A docstring or comment naming a module (`read.py`, `core/orphans.py`) names one that
    is there: beside it, or from src/ragsvc/ or the repository's root."""
    named = re.compile(r"(?<![\w./-])([\w/]+\.py)\b")
    missing = [
        f"{path.relative_to(SRC)}: {name}"
        for path in sorted(SRC.rglob("*.py"))
        for name in named.findall(path.read_text())
        if not any((base / name).exists() for base in (path.parent, SRC, ROOT))
    ]
    assert missing == []


def test_every_metric_is_listed_in_the_deploy_guide():
    """The metrics /metrics reports (named in runtime/) are each in docs/deploy.md's table."""
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    metric = re.compile(r'"(ragsvc_[a-z_]+)"')
    names = {
        name for path in (SRC / "runtime").glob("*.py") for name in metric.findall(path.read_text())
    }
    assert sorted(name for name in names if f"`{name}" not in deploy) == []
