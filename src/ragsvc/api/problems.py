"""The HTTP face of errors: every failure, ours or the framework's, leaves as RFC 9457
problem+json, and routes declare those responses in the OpenAPI document."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ragsvc.api.protocols.ai_sdk_request import wants_plain_errors
from ragsvc.core.errors import (
    RagError,
    SessionGone,
    StorageFull,
    Unauthorized,
    disk_full,
    problem,
    problem_of,
)
from ragsvc.core.schemas import Problem

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def header(description: str, *, required: bool = True) -> dict[str, Any]:
    """An OpenAPI response header of a string value (`required`: sent with every such response)."""
    return {"description": description, "required": required, "schema": {"type": "string"}}


RETRY_AFTER = "seconds to wait before trying again"
# The headers some problems carry (core/errors.py): every 401 its challenge, every 429 and
# 507 a Retry-After, a 503 one when waiting helps (shutting down, overloaded), not when a
# backend is down.
PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": header('`Bearer realm="ragsvc"`')},
    429: {"Retry-After": header(RETRY_AFTER)},
    503: {"Retry-After": header(RETRY_AFTER + " (draining, overloaded)", required=False)},
    507: {"Retry-After": header(RETRY_AFTER)},
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries declaring problem+json bodies (and the headers that come
    with them) for these statuses."""
    schema = {"$ref": "#/components/schemas/Problem"}
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        response: dict[str, Any] = {"description": HTTPStatus(code).phrase}
        if code in PROBLEM_HEADERS:
            response["headers"] = PROBLEM_HEADERS[code]
        responses[code] = {**response, "content": {PROBLEM_JSON: {"schema": schema}}}
    return responses


def problem_response(
    body: Problem, headers: dict[str, str] | None = None, *, openai: bool = False
) -> JSONResponse:
    """The problem as problem+json; `openai`: with OpenAI's `error` object too (an extension
    member), where OpenAI's SDKs look for the message."""
    content = body.model_dump()
    if openai:
        slug = body.type.rpartition(":")[2]
        content["error"] = {"message": body.detail, "type": slug, "param": None, "code": slug}
    return JSONResponse(content, status_code=body.status, headers=headers, media_type=PROBLEM_JSON)


def error_response(exc: RagError) -> JSONResponse:
    return problem_response(exc.problem(), exc.headers)


def _reply(request: Request, body: Problem, headers: dict[str, str] | None = None) -> Response:
    """The problem as a response, counted in the app's metrics (once it has them); on the
    OpenAI-compatible routes in OpenAI's envelope too; for the AI SDK, its sentence."""
    if (state := getattr(request.app.state, "ragsvc", None)) is not None:
        state.metrics.problem(body.type)
    if wants_plain_errors(request):
        return PlainTextResponse(body.detail, status_code=body.status, headers=headers)
    route = request.url.path.removeprefix(request.scope.get("root_path", ""))
    return problem_response(body, headers, openai=route.startswith("/v1/"))


async def _on_rag_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RagError)
    return _reply(request, exc.problem(), exc.headers)


async def _on_session_gone(request: Request, exc: Exception) -> Response:
    return _reply(request, problem_of(exc), Unauthorized.challenge)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette lists the methods of the first route it tried
        headers["Allow"] = ", ".join(_methods_at(request))
    return _reply(request, problem(exc.status_code, detail), headers)


def _methods_at(request: Request) -> list[str]:
    """Every method some route serves at the request's path."""
    scope = {**request.scope, "method": ""}
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(scope)[0] != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = [
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
        for err in exc.errors()
    ]
    body = problem(422, "; ".join(parts), slug="invalid-input", title="Invalid input")
    return _reply(request, body)


async def _on_os_error(request: Request, exc: Exception) -> Response:
    """A full disk is a condition to report (507), not a bug; other OS errors are bugs."""
    if not disk_full(exc):
        raise exc
    log.warning("a request failed, the disk is full: %s", exc)
    full = StorageFull()
    return _reply(request, full.problem(), full.headers)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    body = problem(500, "unexpected server error; see the server log")
    return _reply(request, body)


def install_handlers(app: FastAPI) -> None:
    """Route every error through problem+json."""
    app.add_exception_handler(RagError, _on_rag_error)
    app.add_exception_handler(SessionGone, _on_session_gone)
    app.add_exception_handler(OSError, _on_os_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
