"""The OpenAPI document FastAPI generates, completed for client generators: the schemas that
responses refer to but no route returns as its model (Problem, the SSE frames of
frame_schemas.py, `/v1`'s chunks), every 422 described as what it is (problem+json, not
FastAPI's own model), how each operation authenticates (read from its dependencies), and
operation ids that read as method names (`ask`, `upload`), not FastAPI's `ask_ask_post`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from ragsvc.api.cookies import COOKIE
from ragsvc.api.deps import current_session, optional_session, require_api_key
from ragsvc.api.frame_schemas import frame_schemas
from ragsvc.api.problems import PROBLEM_JSON, problem_responses
from ragsvc.api.protocols.openai_schemas import OPENAI_SCHEMAS
from ragsvc.core.schemas import Answer, Problem

REF = "#/components/schemas/{model}"
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")  # FastAPI's, never sent here

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "the session token (`POST /sessions`, or a first upload without one)",
    },
    "cookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "the same token, set by `POST /sessions` and a token-less upload; "
        "for browsers (EventSource sends no headers). The Authorization header wins.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "needed to create a session only where the operator sets "
        "RAGSVC_API_KEYS; elsewhere creating one needs nothing",
    },
}
Requirements = list[dict[str, list[str]]]
SESSION: Requirements = [{"bearer": []}, {"cookie": []}]
NEW_SESSION: Requirements = [{"apiKey": []}, {}]  # `{}`: no key, where RAGSVC_API_KEYS is unset
# What each dependency asks of a request; a route with none of them is public. An upload
# without a token creates a session (optional_session), which needs what POST /sessions does.
SECURITY_OF: dict[Callable[..., Any], Requirements] = {
    current_session: SESSION,
    optional_session: SESSION + NEW_SESSION,
    require_api_key: NEW_SESSION,
}
LICENSE = {"name": "MIT", "identifier": "MIT"}


def complete_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _complete(generate(), app)  # FastAPI keeps it as app.openapi_schema
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(document: dict[str, Any], app: FastAPI) -> None:
    document["info"].setdefault("license", LICENSE)
    document.setdefault("servers", [{"url": "/", "description": "the server serving this"}])
    components = document.setdefault("components", {})
    _add_schemas(components.setdefault("schemas", {}))
    components["securitySchemes"] = SECURITY_SCHEMES
    _problem_422s(document)
    for context in iter_route_contexts(app.routes):  # the routes of included routers too
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            _describe_operations(document, route, context.path_format or route.path_format)


def _add_schemas(schemas: dict[str, Any]) -> None:
    models: tuple[type[BaseModel], ...] = (Problem, Answer, *OPENAI_SCHEMAS)
    for model in models:
        _add(schemas, model.__name__, model.model_json_schema(ref_template=REF))
    for name, schema in frame_schemas(REF).items():
        _add(schemas, name, schema)
    for name in _FASTAPI_422:
        schemas.pop(name, None)


def _add(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    schemas.update(schema.pop("$defs", {}))
    schemas[name] = schema


def _describe_operations(document: dict[str, Any], route: APIRoute, path: str) -> None:
    """The route's operations get their security and, unless given one, the route's
    name as their id."""
    security: Requirements = []
    for call in _calls(route.dependant):
        security += [s for s in SECURITY_OF.get(call, []) if s not in security]
    for method in route.methods or ():
        operation = document["paths"][path][method.lower()]
        operation["security"] = security
        if route.operation_id is None:
            operation["operationId"] = route.name


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


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
