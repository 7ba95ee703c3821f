"""ragsvc.client against a live server (tests/client/conftest.py): uploads from any kind of
path, ingestion followed, answers streamed, refusals raised with their problem, replies that
are not ragsvc's told apart. The events come from `ragsvc.events`, where clients import them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragsvc.client.http_client import RAGSVC_PROBLEM, Client, ProblemError
from ragsvc.core import errors
from ragsvc.events import (
    ChunksEmbedded,
    DocumentSettled,
    DoneEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)
from tests.support.pdfs import make_pdf


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


@pytest.mark.parametrize("given", [str, Path, lambda p: [str(p)], lambda p: (Path(p),)])
def test_upload_takes_a_path_or_several_as_str_or_path(base: str, tmp_path: Path, given):
    path = tmp_path / "plain.pdf"
    path.write_bytes(make_pdf(["A plain string names this file."]))
    with Client(base) as rag:
        [document] = rag.upload(given(str(path)))
    assert document.filename == "plain.pdf" and document.status == "ready"


def test_upload_sends_the_api_key_that_makes_a_session(keyed: str, paper: Path):
    with Client(keyed) as rag, pytest.raises(ProblemError) as refused:
        rag.upload(paper)
    assert refused.value.problem.status == 401 and refused.value.from_ragsvc
    with Client(keyed, api_key="the-key") as rag:
        [document] = rag.upload(paper)
    assert rag.token and document.status == "ready"


def test_a_reply_that_is_not_ragsvcs_is_told_apart(other_server: str, paper: Path):
    with Client(other_server, "a-token") as rag:
        with pytest.raises(ProblemError) as page:
            list(rag.ask("anything?"))  # 502 with an HTML page
        with pytest.raises(ProblemError) as ok_html:
            rag.upload(paper)  # 200, but HTML
    assert not page.value.from_ragsvc and page.value.problem.status == 502
    assert "text/html" in page.value.problem.detail and "Bad Gateway" in page.value.problem.detail
    assert not ok_html.value.from_ragsvc and "not JSON" in ok_html.value.problem.detail


def test_the_clients_problem_prefix_is_the_servers():
    assert RAGSVC_PROBLEM == errors.TYPE_BASE
