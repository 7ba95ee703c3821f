"""Errors as RFC 9457 problem+json, on a tiny app of its own with the handlers installed:
ragsvc's errors with their status and headers, the framework's (404, 405 with the methods
allowed, 422), a full disk as 507, a bug as a 500 that tells nothing; OpenAI's error envelope
on /v1/; and the OpenAPI entries declaring problem bodies."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from ragsvc.api.problems import (
    PROBLEM_JSON,
    error_response,
    install_handlers,
    problem_response,
    problem_responses,
)
from ragsvc.core.errors import NotAPdf, RateLimited, SessionGone, problem

pytestmark = pytest.mark.anyio


class Question(BaseModel):
    question: str


async def refused() -> None:
    raise RateLimited("slow down", retry_after=7)


async def refused_openai() -> None:
    raise NotAPdf("notes.txt: the file is empty")


async def gone() -> None:
    raise SessionGone("deleted meanwhile")


async def full() -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


async def bug() -> None:
    raise ZeroDivisionError("a secret in the message")


async def ask(body: Question) -> str:
    return body.question


def tiny_app() -> FastAPI:
    app = FastAPI()
    install_handlers(app)
    for path, route, method in [
        ("/refused", refused, "POST"),
        ("/v1/refused", refused_openai, "POST"),
        ("/gone", gone, "GET"),
        ("/full", full, "GET"),
        ("/bug", bug, "GET"),
        ("/ask", ask, "POST"),
    ]:
        app.add_api_route(path, route, methods=[method])
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tiny_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_ragsvc_errors_keep_their_status_and_headers(http: httpx.AsyncClient):
    reply = await http.post("/refused")
    assert reply.status_code == 429 and reply.headers["content-type"] == PROBLEM_JSON
    assert reply.headers["retry-after"] == "7"
    body = reply.json()
    assert (body["status"], body["detail"]) == (429, "slow down") and "error" not in body
    gone = await http.get("/gone")
    assert gone.status_code == 401 and gone.headers["www-authenticate"].startswith("Bearer")


async def test_openai_routes_get_openais_error_envelope_too(http: httpx.AsyncClient):
    body = (await http.post("/v1/refused")).json()
    assert body["detail"] == "notes.txt: the file is empty"
    assert body["error"]["message"] == body["detail"] and body["error"]["type"] == "not-a-pdf"


async def test_the_frameworks_errors_are_problems_too(http: httpx.AsyncClient):
    missing = await http.get("/nowhere")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON
    wrong_method = await http.delete("/ask")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    invalid = await http.post("/ask", json={"asked": "?"})
    assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM_JSON
    assert "body.question" in invalid.json()["detail"]


async def test_a_full_disk_is_507_and_a_bug_a_500_that_tells_nothing(http: httpx.AsyncClient):
    full = await http.get("/full")
    assert full.status_code == 507 and full.headers["content-type"] == PROBLEM_JSON
    bug = await http.get("/bug")
    assert bug.status_code == 500 and "secret" not in bug.text
    assert bug.headers["content-type"] == PROBLEM_JSON


def test_a_problem_response_is_problem_json_with_its_status():
    response = error_response(RateLimited("slow down", retry_after=3))
    assert (response.status_code, response.media_type) == (429, PROBLEM_JSON)
    assert response.headers["retry-after"] == "3"
    plain = problem_response(problem(404, "no such document"))
    assert b'"error"' not in plain.body


def test_routes_declare_problem_json_bodies_for_their_statuses():
    declared = problem_responses(401, 413)
    assert set(declared) == {401, 413}
    assert declared[401]["description"] == "Unauthorized"
    schema = declared[401]["content"][PROBLEM_JSON]["schema"]
    assert schema == {"$ref": "#/components/schemas/Problem"}
