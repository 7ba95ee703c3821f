"""The OpenAPI document FastAPI generates, completed: the schemas that responses refer to
but no route returns as its model (Problem, Answer, the SSE frames of frame_schemas.py),
and every 422 described as what it is, problem+json, rather than FastAPI's own model."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ragsvc.api.frame_schemas import STREAMS
from ragsvc.api.problems import PROBLEM_JSON, problem_responses
from ragsvc.core.schemas import Answer, Problem

REF = "#/components/schemas/{model}"
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")  # FastAPI's, never sent here


def complete_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _complete(generate())  # FastAPI keeps it as app.openapi_schema
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, Answer):
        _add(schemas, model.__name__, model.model_json_schema(ref_template=REF))
    for name, adapter in STREAMS.items():
        _add(schemas, name, adapter.json_schema(ref_template=REF))
    _problem_422s(document)
    for name in _FASTAPI_422:
        schemas.pop(name, None)


def _add(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    schemas.update(schema.pop("$defs", {}))
    schemas[name] = schema


def _problem_422s(document: dict[str, Any]) -> None:
    """FastAPI declares its validation model for every route with parameters; ragsvc's
    handler answers those as problem+json (problems.py)."""
    problem_422 = problem_responses(422)[422]
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            declared = responses.get("422")
            if declared is not None and PROBLEM_JSON not in declared.get("content", {}):
                responses["422"] = problem_422
