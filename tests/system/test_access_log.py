"""What `ragsvc serve` writes to its log about a request, read off a real uvicorn process:
uvicorn's own access line holds the query string, where GET /ask carries the question."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.pdfs import make_pdf
from tests.support.server import server_process

MARKER = "zanzibarquokka"  # a word no log line holds unless the question reaches the log


def _ask_marker_question(base: str) -> None:
    up = httpx.post(f"{base}/upload", files={"files": ("k.pdf", make_pdf(["A keeper."]))})
    assert up.status_code == 201
    headers = {"Authorization": f"Bearer {up.json()['token']}"}
    reply = httpx.get(f"{base}/ask", params={"q": f"Who is {MARKER}?"}, headers=headers)
    assert reply.status_code == 200, reply.text
    httpx.get(f"{base}/healthz")


def _log_of(data: Path, log_questions: str) -> list[dict]:
    with server_process(data, RAGSVC_LOG_QUESTIONS=log_questions) as (base, process):
        _ask_marker_question(base)
        port = base.rsplit(":", 1)[1]
    lines = (data.parent / f"server-{port}.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _access(records: list[dict]) -> list[dict]:
    """The access lines, but those of the readiness polls that wait for the server."""
    return [r for r in records if r["name"].endswith("access") and "/readyz" not in json.dumps(r)]


@pytest.mark.slow
def test_the_question_stays_out_of_the_log_and_each_request_is_logged_once(tmp_path: Path):
    records = _log_of(tmp_path / "data", "false")
    assert not [r for r in records if MARKER in json.dumps(r)]
    access = _access(records)
    assert [r["route"] for r in access] == ["/upload", "/ask", "/healthz"]
    assert len({r["request_id"] for r in access}) == 3


@pytest.mark.slow
def test_log_questions_lets_the_question_into_the_log(tmp_path: Path):
    records = _log_of(tmp_path / "data", "true")
    assert [r for r in records if MARKER in json.dumps(r)]
    assert len(_access(records)) == 3
