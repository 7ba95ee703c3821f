"""The OpenAPI document completed, on a tiny app of its own: the schemas responses refer to
(Problem, Answer, the SSE frames) are there, and a 422 is described as the problem+json it
is, not as FastAPI's validation model."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from ragsvc.api.deps import SessionDep, require_api_key
from ragsvc.api.frame_schemas import STREAMS
from ragsvc.api.openapi_doc import complete_openapi
from ragsvc.api.problems import PROBLEM_JSON, problem_responses


class Question(BaseModel):
    question: str


async def ask(body: Question) -> str:
    return body.question


def test_the_document_has_every_schema_responses_refer_to():
    app = FastAPI()
    app.add_api_route("/ask", ask, methods=["POST"], responses=problem_responses(409))
    complete_openapi(app)
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert {"Problem", "Answer", "Question", *STREAMS} <= set(schemas)
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)
    responses = document["paths"]["/ask"]["post"]["responses"]
    assert set(responses["422"]["content"]) == {PROBLEM_JSON}
    assert set(responses["409"]["content"]) == {PROBLEM_JSON}
    assert app.openapi() is document  # completed once


def test_every_reference_in_the_document_resolves():
    app = FastAPI()
    app.add_api_route("/ask", ask, methods=["POST"])
    complete_openapi(app)
    document = app.openapi()
    schemas = document["components"]["schemas"]

    def refs(node: object) -> set[str]:
        if isinstance(node, dict):
            found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
            return found.union(*(refs(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(refs(v) for v in node))
        return set()

    missing = {r for r in refs(document) if r.rpartition("/")[2] not in schemas}
    assert missing == set()


def test_security_and_operation_ids_come_from_the_routes():
    async def mine(_: SessionDep) -> str:
        return "mine"

    async def probe() -> str:
        return "ok"

    router = APIRouter()
    router.add_api_route("/mine", mine, methods=["GET"])
    router.add_api_route("/probe", probe, methods=["GET"], operation_id="probe_it")
    router.add_api_route("/new", probe, methods=["POST"], dependencies=[Depends(require_api_key)])
    app = FastAPI()
    app.include_router(router)  # included routes are found too
    complete_openapi(app)
    paths = app.openapi()["paths"]
    assert paths["/mine"]["get"]["security"] == [{"bearer": []}, {"cookie": []}]
    assert paths["/mine"]["get"]["operationId"] == "mine"
    assert paths["/probe"]["get"]["security"] == []
    assert paths["/probe"]["get"]["operationId"] == "probe_it"  # one given is kept
    assert paths["/new"]["post"]["security"] == [{"apiKey": []}, {}]
    assert set(app.openapi()["components"]["securitySchemes"]) == {"bearer", "cookie", "apiKey"}
