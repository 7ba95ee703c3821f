"""The README's curl session runs, as written, against a live server: only the address, the
token and the document id it shows as examples are replaced by real ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.fakes import fake_backends
from tests.support.paths import ROOT
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread

README = (ROOT / "README.md").read_text()
SESSION = README.split("## A session with curl", 1)[1].split("\n## ", 1)[0]
PAPER = ["The keeper records every passing ship.", "Storms close the harbour in November."]


def sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", SESSION, flags=re.DOTALL)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    for name in ("paper.pdf", "a.pdf", "b.pdf"):
        (tmp_path / name).write_bytes(make_pdf(PAPER, title=name))
    settings = Settings(data_dir=tmp_path / "data")
    with serving_in_thread(create_app(settings, fake_backends(settings))) as base:
        yield base.removeprefix("http://"), tmp_path


def run(script: str, folder: Path) -> str:
    """Run it in `folder`, whose .curlrc makes curl fail on an HTTP error (4xx, 5xx)."""
    (folder / ".curlrc").write_text("fail-with-body\n")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder, env={**os.environ, "HOME": str(folder)}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_session_runs_as_written(live: tuple[str, Path]):
    address, folder = live
    upload, more = (block.replace("localhost:8000", address) for block in sh_blocks())
    assert "curl -F files=@paper.pdf" in upload and "TOKEN=q3V..." in upload
    first, _, rest = upload.partition("TOKEN=q3V...")
    created = json.loads(run(first, folder))
    token, document = created["token"], created["documents"][0]["id"]
    answer = run(f"TOKEN={token}{rest}", folder)
    assert "event: sources" in answer and "event: done" in answer
    lines = more.replace("9edb...", document).splitlines()
    for line in (" ".join(pair) for pair in _commands(lines)):  # each command, alone
        assert run(f"TOKEN={token}\n{line}", folder) is not None


def _commands(lines: list[str]) -> Iterator[list[str]]:
    """The block's commands, a line ending in a backslash joined with the next."""
    pending: list[str] = []
    for line in lines:
        pending.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            yield pending
            pending = []
