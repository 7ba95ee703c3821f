"""What operators see: GET /metrics in Prometheus's format, and JSON logs whose every line
carries its request's id and none of which holds a token or, unless asked, a question."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ragsvc.core.config import Settings
from ragsvc.runtime.logging_setup import configure_logging
from tests.support.apps import app_client

pytestmark = pytest.mark.anyio
QUESTION = "When does the harbour master ring the bell?"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_requests_answers_ingests_and_problems(
    client: httpx.AsyncClient, session: dict[str, str], pdf: Callable
):
    files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."] * 3))}
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    assert (await client.post("/ask", json={"question": QUESTION}, headers=session)).is_success
    wrong = await client.post("/upload", files={"files": ("x.pdf", b"nope")}, headers=session)
    assert wrong.status_code == 415
    reply = await client.get("/metrics")
    assert reply.headers["content-type"].startswith("text/plain")
    got = samples(reply.text)
    ask = frozenset({("method", "POST"), ("route", "/ask"), ("status", "200")})
    assert got[("ragsvc_http_requests_total", ask)] == 1
    assert got[("ragsvc_answers_total", frozenset({("outcome", "done")}))] == 1
    assert got[("ragsvc_first_token_seconds_count", frozenset())] == 1
    assert got[("ragsvc_documents_ingested_total", frozenset({("status", "ready")}))] == 1
    assert got[("ragsvc_pages_ingested_total", frozenset())] == 3
    assert got[("ragsvc_problems_total", frozenset({("type", "not-a-pdf")}))] == 1
    assert got[("ragsvc_streams_open", frozenset())] == 0
    assert got[("process_resident_memory_bytes", frozenset())] > 0
    assert ("ragsvc_answers_in_progress", frozenset()) in got


async def test_metrics_can_be_turned_off(settings: Settings):
    settings.metrics = False
    async with app_client(settings) as http:
        assert (await http.get("/metrics")).status_code == 404


@pytest.fixture
def log_lines(settings: Settings) -> Iterator[io.StringIO]:
    """The app's log output, as `ragsvc serve` configures it, captured."""
    root = logging.getLogger()
    kept = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(settings, stream)
    yield stream
    root.handlers[:], root.level = kept


@pytest.mark.parametrize("log_questions", [False, True])
async def test_json_logs_carry_the_request_id_and_never_a_token(
    settings: Settings, pdf: Callable, log_lines: io.StringIO, log_questions: bool
):
    settings.log_questions = log_questions
    async with app_client(settings) as http:
        created = await http.post("/sessions")
        token = created.json()["token"]
        http.cookies.clear()
        who = {"Authorization": f"Bearer {token}", "X-Request-Id": "trace-42"}
        files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
        assert (await http.post("/upload", files=files, headers=who)).status_code == 201
        asked = await http.get("/ask", params={"q": QUESTION}, headers=who)
    assert asked.headers["x-request-id"] == "trace-42"
    records = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    access = [r for r in records if r["name"] == "ragsvc.access" and r["route"] == "/ask"]
    assert access and access[0]["request_id"] == "trace-42" and access[0]["status"] == 200
    assert created.headers["x-request-id"] in {r["request_id"] for r in records}
    text = log_lines.getvalue()
    assert token not in text
    assert (QUESTION in text) == log_questions
