"""ragsvc.client and the `ragsvc upload` / `ragsvc ask` commands against a live server: the
commands run in this process, then as the installed `ragsvc` program. The events come from
`ragsvc.events`, where clients import them."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from ragsvc.api.app_factory import create_app
from ragsvc.client import commands
from ragsvc.client.http_client import Client, ProblemError
from ragsvc.core.config import Settings
from ragsvc.events import (
    ChunksEmbedded,
    DocumentSettled,
    DoneEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)
from tests.support.fakes import fake_backends
from tests.support.pdfs import make_pdf
from tests.support.server import RAGSVC, serving_in_thread

PAGES = [
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "The keeper records every passing ship in a leather logbook.",
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("client") / "data")
    with serving_in_thread(create_app(settings, fake_backends(settings))) as url:
        yield url


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    path = tmp_path / "keeper.pdf"
    path.write_bytes(make_pdf(PAGES))
    return path


def test_upload_follow_ask_and_turns(base: str, paper: Path):
    sent: list[int] = []
    with Client(base) as rag:
        [queued] = rag.upload([paper], wait=False, progress=sent.append)
        steps = list(rag.follow(queued.id))
        events = list(rag.ask("What does the keeper record?"))
        turns = rag.turns()
    assert rag.token and sent[-1] == paper.stat().st_size  # every byte counted, a session made
    assert isinstance(steps[0], PageParsed) and any(isinstance(s, ChunksEmbedded) for s in steps)
    assert isinstance(steps[-1], DocumentSettled) and steps[-1].document.status == "ready"
    assert isinstance(events[0], SourcesEvent) and isinstance(events[-1], DoneEvent)
    text = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert text == events[-1].answer and "passing ship" in text
    assert [t.question for t in turns] == ["What does the keeper record?"]


def test_a_refusal_is_a_problem_error(base: str):
    with Client(base) as rag:
        rag.create_session()
        with pytest.raises(ProblemError) as refused:
            list(rag.ask("anything?"))
    assert refused.value.problem.status == 409 and "upload a PDF" in str(refused.value)


def test_the_commands_in_this_process_upload_ask_and_say_why_they_were_refused(
    base: str, paper: Path, capsys: pytest.CaptureFixture[str]
):
    commands.upload([paper], url=base, token=None)
    uploaded = capsys.readouterr().out
    assert "keeper.pdf: ready, 2 pages" in uploaded
    token = uploaded.split("export RAGSVC_TOKEN=")[1].strip()
    commands.ask("What does the keeper record?", url=base, token=token)
    answer, *cited = capsys.readouterr().out.strip().splitlines()
    assert "passing ship" in answer
    assert cited and all(re.fullmatch(r"\[\d\] keeper\.pdf, page [12]", line) for line in cited)
    with pytest.raises(typer.Exit) as refused:
        commands.ask("anything?", url=base, token="not-a-session")
    assert refused.value.exit_code == 1
    assert "ragsvc: Not authenticated" in capsys.readouterr().err


def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGSVC_TOKEN": token or ""}
    return subprocess.run([str(RAGSVC), *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_commands_upload_then_ask(base: str, paper: Path):
    uploaded = run("upload", str(paper), "--url", base)
    assert uploaded.returncode == 0, uploaded.stderr
    assert "keeper.pdf: ready, 2 pages" in uploaded.stdout
    token = uploaded.stdout.split("export RAGSVC_TOKEN=")[1].strip()
    asked = run("ask", "What does the keeper record?", "--url", base, token=token)
    assert asked.returncode == 0, asked.stderr
    answer, *cited = asked.stdout.strip().splitlines()
    assert "passing ship" in answer and re.search(r"\[\d\]", answer)
    assert cited and all(re.fullmatch(r"\[\d\] keeper\.pdf, page [12]", line) for line in cited)
    assert all(line[:3] in answer for line in cited)  # the sources the answer cites


def test_the_ask_command_says_why_it_was_refused(base: str):
    asked = run("ask", "anything?", "--url", base, token="not-a-session")
    assert asked.returncode == 1
    assert "ragsvc: Not authenticated" in asked.stderr
