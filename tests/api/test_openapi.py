"""The committed OpenAPI document matches the code (run `make openapi` after API changes),
is valid OpenAPI 3.1, and describes what the service sends: problem+json errors, SSE frames."""

from __future__ import annotations

import json

import httpx
import pytest
from openapi_spec_validator import validate

from ragsvc.api.frame_schemas import STREAMS
from ragsvc.api.openapi_export import openapi_document, render
from ragsvc.api.problems import PROBLEM_JSON
from ragsvc.core.errors import problem_of
from tests.support.apps import parse_sse
from tests.support.paths import ROOT

COMMITTED = ROOT / "openapi" / "openapi.json"


def test_committed_openapi_is_current():
    assert COMMITTED.read_text() == render(), "stale: run `make openapi` and commit the result"


def test_every_contract_route_is_documented():
    paths = openapi_document()["paths"]
    expected = {
        ("post", "/sessions"), ("get", "/sessions/current"), ("delete", "/sessions/current"),
        ("post", "/upload"), ("get", "/documents"), ("get", "/documents/{document_id}"),
        ("delete", "/documents/{document_id}"), ("post", "/ask"), ("get", "/ask"),
        ("get", "/healthz"), ("get", "/readyz"),
    }  # fmt: skip
    documented = {(method, path) for path, item in paths.items() for method in item}
    assert expected <= documented
    upload = paths["/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "files" in upload["schema"]["properties"]
    assert "text/event-stream" in paths["/ask"]["post"]["responses"]["200"]["content"]


def test_the_document_is_valid_openapi():
    validate(openapi_document())  # openapi-spec-validator: raises on any violation


def test_every_4xx_and_5xx_is_problem_json():
    """(Also the sentence alone for the AI SDK on /ask: protocols/ai_sdk_request.py.)"""
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    also = {"text/plain"} if path == "/ask" else set()
                    assert set(response["content"]) - also == {PROBLEM_JSON}, (method, path, code)


def frames_of(body: str) -> list[dict[str, object]]:
    """Frames as the schemas describe them: `retry` a number."""
    frames = []
    for frame in parse_sse(body):
        parsed: dict[str, object] = dict(frame)
        if "retry" in frame:
            parsed["retry"] = int(frame["retry"])
        frames.append(parsed)
    return frames


@pytest.mark.anyio
async def test_streamed_frames_match_their_schemas(client: httpx.AsyncClient, session, pdf):
    answer_frames, ingest_frames = STREAMS["AnswerStreamFrame"], STREAMS["IngestStreamFrame"]
    files = {"files": ("a.pdf", pdf(["The harbour closes in November storms."]))}
    queued = await client.post("/upload?wait=false", files=files, headers=session)
    doc = queued.json()["documents"][0]
    events = await client.get(f"/documents/{doc['id']}/events", headers=session)
    answer = await client.post("/ask", json={"question": "When does it close?"}, headers=session)
    steps = [ingest_frames.validate_python(f).event for f in frames_of(events.text)]
    assert steps[0] == "page" and steps[-1] == "ready"
    names = [answer_frames.validate_python(f).event for f in frames_of(answer.text)]
    assert names[0] == "sources" and names[-1] == "done" and "token" in names


def test_an_error_frame_matches_its_schema():
    problem = problem_of(RuntimeError("boom")).model_dump()
    frame = {"event": "error", "id": "a:3", "data": json.dumps(problem)}
    STREAMS["AnswerStreamFrame"].validate_python(frame)
