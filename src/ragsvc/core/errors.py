"""Domain errors: what can go wrong, each with the RFC 9457 problem a client is shown.

No web framework here: `api/problems.py` writes these problems as HTTP responses, and
`api/sse.py` as `error` events.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

from redis.exceptions import RedisError

from ragsvc.core.schemas import Problem

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

    def problem(self) -> Problem:
        return problem(self.status, self.detail, slug=self.slug, title=self.title)


class BadRequest(RagError):
    status, slug, title = 400, "bad-request", "Malformed request"


class Unsupported(RagError):
    status, slug, title = 400, "unsupported", "Not supported"


class Unauthorized(RagError):
    status, slug, title = 401, "unauthorized", "Not authenticated"
    challenge = {"WWW-Authenticate": 'Bearer realm="ragsvc"'}

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers=self.challenge)


class CookieNotSent(Unauthorized):
    """A page on another site sent neither a token nor the session cookie (withheld by its
    browser): the detail says how to authenticate from there (api/cookies.py)."""

    slug, title = "cookie-not-sent", "No session cookie came from another site"


class DocumentNotFound(RagError):
    status, slug, title = 404, "document-not-found", "No such document in this session"


class PageNotFound(RagError):
    status, slug, title = 404, "page-not-found", "No such page to show"


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


class QuotaExceeded(RagError):
    status, slug, title = 413, "quota-exceeded", "Session quota exceeded"


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


class TooMuchInProgress(RagError):
    status, slug, title = 429, "too-much-in-progress", "Too much work in progress"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class BackendUnavailable(RagError):
    status, slug, title = 503, "backend-unavailable", "A backend is unavailable"


class SharedStateUnavailable(BackendUnavailable):
    """Redis (RAGSVC_REDIS_URL) did not answer: rate limits and resumes elsewhere need it."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(f"Redis (RAGSVC_REDIS_URL) is unavailable: {exc}")


class DatabaseUnavailable(BackendUnavailable):
    """PostgreSQL (RAGSVC_DATABASE_URL) did not answer, or has no connection free in time."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(f"PostgreSQL (RAGSVC_DATABASE_URL) is unavailable: {exc}")


@contextmanager
def redis_errors_as_503() -> Iterator[None]:
    """Redis failing is a 503 condition for the client, not a bug."""
    try:
        yield
    except RedisError as exc:
        raise SharedStateUnavailable(exc) from exc


class Overloaded(RagError):
    status, slug, title = 503, "overloaded", "Server busy"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "2"})


class ShuttingDown(RagError):
    """This process is draining (SIGTERM): no new work; what runs past the drain time ends."""

    status, slug, title = 503, "shutting-down", "Server shutting down"

    def __init__(self, detail: str = "this server is shutting down; ask again") -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class WorkLost(RagError):
    status, slug, title = 503, "generation-lost", "The work was lost"

    def __init__(self) -> None:
        super().__init__(
            "the replica doing this work stopped; ask again (or upload again) to start it anew"
        )


class StorageFull(RagError):
    status, slug, title = 507, "storage-full", "Insufficient storage"

    def __init__(self, detail: str = "the server's disk is full; nothing was stored") -> None:
        super().__init__(detail, headers={"Retry-After": "60"})


class ProblemRaised(RagError):
    """A problem first reported as an `error` event, raised again for a JSON client."""

    def __init__(self, reported: Problem) -> None:
        super().__init__(reported.detail)
        self.status, self.title, self.reported = reported.status, reported.title, reported

    def problem(self) -> Problem:
        return self.reported


class SessionGone(Exception):
    """The session vanished (deleted, expired) while a request was using it. Not a client
    error by itself: the HTTP layer answers it as 401, since the token names no session."""


def problem(
    status: int, detail: str, *, slug: str | None = None, title: str | None = None
) -> Problem:
    """Build an RFC 9457 body; `type` is a stable per-problem URN."""
    phrase = HTTPStatus(status).phrase
    return Problem(
        type=TYPE_BASE + (slug or phrase.lower().replace(" ", "-")),
        title=title or phrase,
        status=status,
        detail=detail,
    )


def problem_of(exc: Exception) -> Problem:
    """The problem a client is shown for any error: its own, 401 for a vanished session,
    507 for a full disk, or a 500 that points at the server log (where the caller logs the
    traceback)."""
    if isinstance(exc, RagError):
        return exc.problem()
    if isinstance(exc, SessionGone):
        return Unauthorized(str(exc) or "the session was deleted or has expired").problem()
    if disk_full(exc):
        return StorageFull().problem()
    return problem(500, "unexpected server error; see the server log")


def expected(exc: Exception) -> bool:
    """Whether an error is a condition (reported as it is) rather than a bug to log."""
    return isinstance(exc, RagError | SessionGone) or disk_full(exc)


def disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
