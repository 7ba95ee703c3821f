"""What generators read in the OpenAPI document, checked against what the server does: the
stream operations declare only their stream and the JSON one only JSON, frames link their
payloads, each operation's security is what it asks for, the headers sent are declared, and
`/v1`'s answers and chunks match their schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ragsvc.api.openapi_export import openapi_document
from tests.support.apps import parse_sse

DOC = openapi_document()
SCHEMAS = DOC["components"]["schemas"]
SESSION = [{"bearer": []}, {"cookie": []}]
NEW_SESSION = [{"apiKey": []}, {}]
SECURITY = {
    ("post", "/sessions"): NEW_SESSION,
    ("post", "/upload"): SESSION + NEW_SESSION,
    ("get", "/healthz"): [],
    ("get", "/readyz"): [],
    ("get", "/metrics"): [],
}
PAGES = ["The harbour closes in November storms.", "Ferries resume in March."]


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def conforms(instance: object, name: str) -> None:
    """Validate against the document's own schema `name` (its references resolved in it)."""
    registry = Registry().with_resource("urn:doc", Resource(DOC, DRAFT202012))
    validator = Draft202012Validator(
        {"$ref": f"urn:doc#/components/schemas/{name}"}, registry=registry
    )
    validator.validate(instance)


def test_streams_declare_only_the_stream_and_answers_only_json():
    for method in ("get", "post"):
        ok = DOC["paths"]["/ask"][method]["responses"]["200"]
        assert set(ok["content"]) == {"text/event-stream"}
        assert ref("AnswerStreamFrame") in ok["content"]["text/event-stream"]["schema"]["anyOf"]
        assert ok["headers"]["X-Answer-Id"]["required"]
    answers = DOC["paths"]["/answers"]["post"]["responses"]["200"]
    assert answers["content"] == {"application/json": {"schema": ref("Answer")}}
    assert answers["headers"]["X-Answer-Id"]["required"]
    events = DOC["paths"]["/documents/{document_id}/events"]["get"]["responses"]["200"]
    assert set(events["content"]) == {"text/event-stream"} and "X-Document-Id" in events["headers"]


def test_every_success_body_has_a_schema():
    """FastAPI declares `{}` as a JSON body for a route returning a bare Response."""
    for method, path, operation in operations():
        for code, response in operation["responses"].items():
            for media, content in response.get("content", {}).items():
                assert content.get("schema"), (method, path, code, media)


def test_frames_link_their_payloads():
    linked = {
        "SourcesFrame": "SourcesData", "TokenFrame": "TokenData", "DoneFrame": "DoneData",
        "ErrorFrame": "Problem", "PageFrame": "PageData", "ChunksFrame": "ChunksData",
        "SettledFrame": "Document", "DeletedFrame": "DeletedData",
    }  # fmt: skip
    for frame, payload in linked.items():
        assert SCHEMAS[frame]["properties"]["data"]["$ref"] == ref(payload)["$ref"], frame
    for stream in ("AnswerStreamFrame", "IngestStreamFrame"):
        assert SCHEMAS[stream]["discriminator"]["propertyName"] == "event"


def test_a_background_upload_declares_its_body():
    accepted = DOC["paths"]["/upload"]["post"]["responses"]["202"]
    assert accepted["content"]["application/json"]["schema"] == ref("UploadResult")


def test_each_operation_says_how_it_authenticates():
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["cookie"]["in"], schemes["cookie"]["name"]) == ("cookie", "ragsvc_session")
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    for method, path, operation in operations():
        assert operation["security"] == SECURITY.get((method, path), SESSION), (method, path)


@pytest.mark.anyio
async def test_the_declared_security_is_what_the_server_asks(client: httpx.AsyncClient):
    for method, path, operation in operations():
        url = path.replace("{document_id}", "d0")
        client.cookies.clear()  # POST /sessions sets one
        reply = await client.request(method, url, json={})
        needs_session = {} not in operation["security"] and operation["security"]
        assert (reply.status_code == 401) == bool(needs_session), (method, path, reply.text)


def test_operation_ids_are_the_routes_names():
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))
    named = {(m, p): o["operationId"] for m, p, o in operations()}
    assert named[("post", "/answers")] == "answer" and named[("post", "/ask")] == "ask"
    assert named[("post", "/upload")] == "upload"


def test_problems_declare_their_headers():
    for _, _, operation in operations():
        responses = operation["responses"]
        assert responses["429"]["headers"]["Retry-After"]["required"]
        assert responses["401"]["headers"]["WWW-Authenticate"]["required"]


@pytest.fixture
async def ready(client: httpx.AsyncClient, session: dict[str, str], pdf) -> dict[str, str]:
    await client.post("/upload", files={"files": ("h.pdf", pdf(PAGES))}, headers=session)
    return session


@pytest.mark.anyio
async def test_streamed_frames_conform_as_the_document_describes_them(client, ready):
    question = {"question": "When does the harbour close?"}
    reply = await client.post("/ask", json=question, headers=ready)
    for frame in parse_sse(reply.text):
        parsed: dict[str, Any] = {**frame, "data": json.loads(frame["data"])}
        if "retry" in frame:
            parsed["retry"] = int(frame["retry"])
        conforms(parsed, "AnswerStreamFrame")
    assert reply.headers["x-answer-id"]


@pytest.mark.anyio
async def test_openai_answers_conform_to_their_schemas(client, ready):
    ask = {"messages": [{"role": "user", "content": "When does the harbour close?"}]}
    whole = await client.post("/v1/chat/completions", json=ask, headers=ready)
    conforms(whole.json(), "ChatCompletion")
    declared = DOC["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]
    assert {h.lower() for h in declared["headers"]} == {"x-answer-id", "x-sources"}
    assert {"x-answer-id", "x-sources"} <= set(whole.headers.keys())
    frames = declared["content"]["text/event-stream"]["schema"]["oneOf"]
    assert frames == [ref("ChatCompletionChunk"), ref("ChatCompletionErrorChunk")]
    body = {**ask, "stream": True, "stream_options": {"include_usage": True}}
    streamed = await client.post("/v1/chat/completions", json=body, headers=ready)
    chunks = [json.loads(f["data"]) for f in parse_sse(streamed.text) if f["data"] != "[DONE]"]
    for chunk in chunks:
        conforms(chunk, "ChatCompletionChunk")
    assert chunks[0]["sources"] and chunks[-2]["citations"] == [1] and chunks[-1]["usage"]
    models = await client.get("/v1/models", headers=ready)
    assert DOC["paths"]["/v1/models"]["get"]["responses"]["200"]["content"]
    conforms(models.json(), "ModelList")
