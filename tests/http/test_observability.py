"""What operators see: GET /metrics in Prometheus's format (requests, answers, ingests and
how long they took, the backends' latency and errors, the build), and JSON logs whose every
line carries its request's id and none of which holds a token or, unless asked, a question."""

from __future__ import annotations

import io
import json
import logging
import platform
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ragsvc import __version__
from ragsvc.answer.prompts import Prompt
from ragsvc.core.config import Settings
from ragsvc.core.errors import BackendUnavailable
from ragsvc.core.schemas import Usage
from ragsvc.runtime.logging_setup import configure_logging
from tests.support.apps import app_client, client_on
from tests.support.fakes import fake_backends
from tests.support.uploads import settled, upload_later

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


async def test_metrics_time_ingests_waited_for_or_not_and_each_backend_call(
    client: httpx.AsyncClient, session: dict[str, str], pdf: Callable
):
    files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    later = await upload_later(client, pdf, "Gulls nest on the breakwater.", session)
    assert later.status_code == 202
    assert (await settled(client, later.json()["documents"][0], session))[-1]["event"] == "ready"
    assert (await client.post("/ask", json={"question": QUESTION}, headers=session)).is_success
    got = samples((await client.get("/metrics")).text)
    ready = frozenset({("status", "ready")})
    assert got[("ragsvc_ingest_seconds_count", ready)] == 2  # waited for, and in the background
    assert 0 < got[("ragsvc_ingest_seconds_sum", ready)] < 30
    # the two documents' passages, and the question
    assert got[("ragsvc_backend_seconds_count", frozenset({("backend", "embedder")}))] >= 3
    assert got[("ragsvc_backend_seconds_count", frozenset({("backend", "generator")}))] == 1
    assert got[("ragsvc_generator_first_piece_seconds_count", frozenset())] == 1


async def test_metrics_name_the_build(client: httpx.AsyncClient):
    got = samples((await client.get("/metrics")).text)
    build = {
        ("version", __version__),
        ("python", platform.python_version()),
        ("embedder", "hash:128"),
        ("generator", "extractive"),
    }
    assert got[("ragsvc_build_info", frozenset(build))] == 1


class TimingOut:
    """A generator whose LLM server never answers in time."""

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Usage]:
        request = httpx.Request("POST", "http://llm.invalid/v1/chat/completions")
        raise BackendUnavailable("LLM backend failed") from openai.APITimeoutError(request)
        yield ""  # an async generator, as a backend's stream is


async def test_metrics_count_backend_errors_by_backend_and_kind(settings: Settings, pdf: Callable):
    backends = fake_backends(settings)
    backends.generator = TimingOut()
    try:
        async with client_on(settings, backends) as http:
            files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
            assert (await http.post("/upload", files=files)).status_code == 201
            asked = await http.post("/ask", json={"question": QUESTION})
            got = samples((await http.get("/metrics")).text)
    finally:
        await backends.store.aclose()
    assert asked.status_code == 503
    failed = frozenset({("backend", "generator"), ("error", "timeout")})
    assert got[("ragsvc_backend_errors_total", failed)] == 1
    assert ("ragsvc_backend_seconds_count", frozenset({("backend", "generator")})) not in got


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
