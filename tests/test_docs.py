"""The README documents every setting, under the name the environment really uses."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from ragsvc.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def env_names(field: str) -> list[str]:
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"RAGSVC_{field.upper()}"]


def test_every_setting_is_in_the_readme_table():
    rows = [line for line in README.splitlines() if line.startswith("| `")]
    for field in Settings.model_fields:
        names = env_names(field)
        assert any(all(f"`{n}`" in row for n in names) for row in rows), f"{names} undocumented"


def test_readme_shows_the_two_commands_first():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block
