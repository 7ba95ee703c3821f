"""Domain errors and the one place that turns any error into RFC 9457 problem+json."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# A URN names the problem type without pretending to be a page that can be fetched.
TYPE_BASE = "urn:ragsvc:problem:"


class RagError(Exception):
    """Base of every error a client may see; subclasses fix status, slug and title."""

    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    def problem(self) -> dict[str, Any]:
        return problem(self.status, self.detail, slug=self.slug, title=self.title)


class BadRequest(RagError):
    status, slug, title = 400, "bad-request", "Malformed request"


class Unauthorized(RagError):
    status, slug, title = 401, "unauthorized", "Not authenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="ragsvc"'})


class DocumentNotFound(RagError):
    status, slug, title = 404, "document-not-found", "No such document in this session"


class NoReadyDocuments(RagError):
    status, slug, title = 409, "no-ready-documents", "Nothing to answer from"


class IndexMismatch(RagError):
    status, slug, title = 409, "index-mismatch", "Index built with another embedder"


class AnswerAbandoned(RagError):
    status, slug, title = 410, "answer-abandoned", "Answer stopped"

    def __init__(self) -> None:
        super().__init__("generation stopped after every client of this answer disconnected")


class TooLarge(RagError):
    status, slug, title = 413, "too-large", "Upload too large"


class NotAPdf(RagError):
    status, slug, title = 415, "not-a-pdf", "Not a PDF"


class UnreadablePdf(RagError):
    status, slug, title = 422, "unreadable-pdf", "Corrupt or encrypted PDF"


class InvalidInput(RagError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class RateLimited(RagError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class BackendUnavailable(RagError):
    status, slug, title = 503, "backend-unavailable", "A backend is unavailable"


class ProblemRaised(RagError):
    """A problem first reported as an `error` event, raised again for a JSON client."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(str(body["detail"]))
        self.status, self.title, self.body = int(body["status"]), str(body["title"]), body

    def problem(self) -> dict[str, Any]:
        return self.body


def problem(
    status: int, detail: str, *, slug: str | None = None, title: str | None = None
) -> dict[str, Any]:
    """Build an RFC 9457 body; `type` points at a stable per-problem URI."""
    phrase = HTTPStatus(status).phrase
    return {
        "type": TYPE_BASE + (slug or phrase.lower().replace(" ", "-")),
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries declaring problem+json bodies for these statuses."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        code: {
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for code in codes
    }


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=PROBLEM_JSON)


def install_handlers(app: FastAPI) -> None:
    """Route every error, ours or the framework's, through problem+json."""

    async def on_rag_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        return problem_response(exc.problem(), exc.headers)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem_response(problem(exc.status_code, detail), dict(exc.headers or {}))

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()
        ]
        body = problem(422, "; ".join(parts), slug="invalid-input", title="Invalid input")
        return problem_response(body)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(problem(500, "unexpected server error; see the server log"))

    app.add_exception_handler(RagError, on_rag_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
