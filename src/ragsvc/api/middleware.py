"""What every request gets, whatever route serves it: an id, an access-log line and its
share of the metrics; a bounded body; headers that forbid content sniffing, framing by
other sites and referrers leaking a URL; and CORS for the origins allowed to call the API."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragsvc.api.problems import error_response
from ragsvc.core.errors import TooLarge
from ragsvc.runtime.logging_setup import REQUEST_ID
from ragsvc.runtime.metrics import Metrics

log = logging.getLogger("ragsvc.access")
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # An API response is never a page: nothing in it may load, nobody may frame it. The
    # web page sets its own policy, which this does not replace.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


# What a page on an allowed origin may send: every request header the API reads
# (Last-Event-ID: a fetch-based SSE client resuming; X-API-Key: creating a session where
# RAGSVC_API_KEYS is set; If-None-Match: a cached page image), and read: every response
# header it sends that is not CORS-safelisted (the ids naming an answer or a document, when
# to retry, how to authenticate, the AI SDK's protocol marker, a page image's ETag and
# highlight). A test holds both lists to the code.
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept",
    "Last-Event-ID",
    "X-Request-Id",
    "X-API-Key",
    "If-None-Match",
]
CORS_RESPONSE_HEADERS = [
    "X-Answer-Id",
    "X-Document-Id",
    "X-Sources",
    "X-Request-Id",
    "Retry-After",
    "WWW-Authenticate",
    "Allow",
    "x-vercel-ai-ui-message-stream",
    "ETag",
    "X-Highlighted",
    "X-Highlight-Box",
]


def allow_origins(app: Starlette, origins: list[str]) -> None:
    """Let pages on these origins call the API, cookie included (RAGSVC_CORS_ORIGINS; none
    by default). Preflights are answered before any other middleware sees them."""
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_RESPONSE_HEADERS,
            allow_credentials=True,
            max_age=600,
        )


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """The most bytes a request body may have. A body that declares more is refused at once
    (413). Uploads (`streamed`, by path) are counted as they stream to the route, which
    gets 413 as soon as more arrives than allowed; any other body (small: JSON) is read here
    first, up to `default` bytes, so the refusal never depends on how a route reads it."""

    def __init__(self, app: ASGIApp, default: int, streamed: dict[str, int]) -> None:
        self.app, self.default, self.streamed = app, default, streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.streamed.get(scope["path"], self.default)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await error_response(too_large(limit))(scope, receive, send)
        if scope["path"] in self.streamed:
            return await self.app(scope, capped(receive, limit), send)
        try:
            replay = await buffered(receive, limit)
        except TooLarge as exc:
            return await error_response(exc)(scope, receive, send)
        await self.app(scope, replay, send)


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"the request body is larger than the limit of {limit / 2**20:.3g} MB")


def capped(receive: Receive, limit: int) -> Receive:
    """Count body bytes as they arrive; raise 413 past `limit`."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message

    return receive_capped


async def buffered(receive: Receive, limit: int) -> Receive:
    """Read the whole body (413 past `limit`); then give it to the app in one message."""
    chunks, size, message = [], 0, await receive()
    while message["type"] == "http.request":
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise too_large(limit)
        if not message.get("more_body", False):
            break
        message = await receive()
    pending: list[Message] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        if message["type"] == "http.request"
        else message
    ]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class Observed:
    """Every request gets an id (the client's X-Request-Id when it is a plain token, else a
    new one; sent back, and stamped on every log line), one access-log line when it ends
    (the route, never the query string), and its share of the metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = _request_id(scope)
        reset = REQUEST_ID.set(request_id)
        seen = _Seen(time.perf_counter())

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-request-id", request_id)
                seen.started(scope, message)
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            seen.ended(scope)
            REQUEST_ID.reset(reset)


class _Seen:
    """One request as the metrics and the access log see it."""

    def __init__(self, since: float) -> None:
        self.since, self.status, self.stream = since, 500, False

    def started(self, scope: Scope, message: Message) -> None:
        self.status = message["status"]
        headers = dict(message.get("headers", []))
        self.stream = headers.get(b"content-type", b"").startswith(b"text/event-stream")
        if (metrics := _metrics(scope)) is not None:
            elapsed = time.perf_counter() - self.since
            metrics.response_start.labels(scope["method"], _route(scope)).observe(elapsed)
            if self.stream:
                metrics.streams.inc()

    def ended(self, scope: Scope) -> None:
        route, method = _route(scope), scope["method"]
        if (metrics := _metrics(scope)) is not None:
            metrics.requests.labels(method, route, str(self.status)).inc()
            if self.stream:
                metrics.streams.dec()
        if not log.isEnabledFor(logging.INFO):
            return  # the access log is off: its record is not worth making per request
        duration_ms = round((time.perf_counter() - self.since) * 1000, 1)
        client = scope["client"][0] if scope.get("client") else "-"
        extra = {"method": method, "route": route, "status": self.status, "client": client}
        log.info("request", extra={**extra, "duration_ms": duration_ms})


def _request_id(scope: Scope) -> str:
    given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
    return given if _CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]


def _route(scope: Scope) -> str:
    """The route's template ("/documents/{document_id}"): a bounded set of metric labels."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


def _metrics(scope: Scope) -> Metrics | None:
    state = getattr(getattr(scope.get("app"), "state", None), "ragsvc", None)
    return None if state is None else state.metrics
