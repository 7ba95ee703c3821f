"""How ragsvc is served: uvicorn's options, and the limits uvicorn lacks.

uvicorn waits forever for the headers of a request (a connection that sends nothing, or one
byte a second, holds its file descriptor for good) and takes every connection it is offered.
`GuardedHttpProtocol` is uvicorn's httptools protocol with a deadline for each request's
headers (408), one for its body (the connection is closed), a cap on the connections one
address may hold (past it, a new one is closed at once; trusted proxies are exempt), and a
cap on open connections: past it, the connection that has waited longest for its request's
headers (idle or trickling) is closed to make room, and only when none is waiting does the
new one get 503 with Retry-After. So a flood of idle connections keeps no client out. It
reads its limits from the app's lifespan state, so an app built with other settings (a
test's) is served with its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ragsvc.core.config import Settings
from ragsvc.core.errors import problem

log = logging.getLogger(__name__)
SERVER_LIMITS = "ragsvc_server_limits"  # key of the lifespan state
DRAIN_MARGIN_S = 5
MIN_BODY_RATE = 64 * 1024  # bytes/s a body must keep up, beyond RAGSVC_BODY_TIMEOUT_S


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int
    header_timeout_s: float
    body_timeout_s: float
    per_address: int = 0  # 0: no cap
    trusted: tuple[str, ...] = ()  # proxies, exempt from the cap per address

    @classmethod
    def of(cls, settings: Settings) -> ServerLimits:
        return cls(
            settings.max_connections,
            settings.header_timeout_s,
            settings.body_timeout_s,
            settings.max_connections_per_address,
            tuple(settings.trusted_proxies),
        )

    def capped(self, address: str) -> bool:
        """Whether `address` is held to the cap per address (it is no trusted proxy)."""
        return self.per_address > 0 and not _within(address, self.trusted)


class ConnectionBook:
    """The connections of one server: how many each address holds, and those waiting for a
    request's headers, oldest first (the first to close when room is needed)."""

    def __init__(self) -> None:
        self.by_address: Counter[str] = Counter()
        self.awaiting: dict[GuardedHttpProtocol, None] = {}

    def oldest_awaiting(self) -> GuardedHttpProtocol | None:
        return next(iter(self.awaiting), None)


def _within(address: str, proxies: tuple[str, ...]) -> bool:
    if "*" in proxies or address in proxies:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(proxies))


def _networks(proxies: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for proxy in proxies:
        with suppress(ValueError):  # a host name: uvicorn matches those by name
            networks.append(ipaddress.ip_network(proxy, strict=False))
    return networks


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Forwarded headers believed only from the configured proxies; the guarded protocol;
    ragsvc's own logging; the path a proxy serves it under (RAGSVC_ROOT_PATH)."""
    return {
        "root_path": settings.root_path,
        "http": f"{__name__}:GuardedHttpProtocol",
        # ragsvc logs each request itself, by route: uvicorn's line has the query string,
        # where GET /ask carries the question; and the logging is configured already.
        "access_log": False,
        "log_config": None,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
        # Answers in flight end by themselves at RAGSVC_DRAIN_S (runtime/draining.py); past
        # a few seconds more, uvicorn cancels whatever request still holds a connection.
        "timeout_graceful_shutdown": settings.drain_s + DRAIN_MARGIN_S,
    }


def serve_forever(settings: Settings, workers: int = 1) -> None:
    """Serve the app its settings describe (RAGSVC_*) on HOST:PORT until a signal stops it: in
    this process, or in `workers` processes under uvicorn's supervisor."""
    raise_open_files_limit()
    uvicorn.run(
        "ragsvc.api.app_factory:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        **uvicorn_options(settings),
    )


def raise_open_files_limit() -> None:
    """Each connection holds a file descriptor: allow as many as the system lets us."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: ServerLimits | None = app_state.get(SERVER_LIMITS)
        self.deadline: asyncio.TimerHandle | None = None
        self.book = _book_of(server_state)
        self.counted: str | None = None  # the address this connection counts against

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.limits is None:
            return
        address = self.client[0] if self.client else ""
        if self.limits.capped(address):
            if self.book.by_address[address] >= self.limits.per_address:
                self.transport.close()  # one address flooding: not worth a reply
                return
            self.book.by_address[address] += 1
            self.counted = address
        if len(self.connections) > self.limits.max_connections and not self.make_room():
            self.refuse(503, "the server has too many open connections; try again soon")
        else:
            self.await_headers()

    def make_room(self) -> bool:
        """Close the connection that has waited longest for a request's headers, if any."""
        oldest = self.book.oldest_awaiting()
        if oldest is None:
            return False
        oldest.headers_too_slow()
        return True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.await_headers()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.book.awaiting.pop(self, None)
        if self.limits is not None:
            declared = dict(self.headers).get(b"content-length", b"0")
            length = int(declared) if declared.isdigit() else 0
            self.arm(self.limits.body_timeout_s + length / MIN_BODY_RATE, self.body_too_slow)

    def on_message_complete(self) -> None:
        self.disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        self.book.awaiting.pop(self, None)
        if self.counted is not None:
            self.book.by_address[self.counted] -= 1
            self.book.by_address += Counter()  # drop addresses at zero
            self.counted = None
        super().connection_lost(exc)

    def await_headers(self) -> None:
        if self.limits is not None:
            self.arm(self.limits.header_timeout_s, self.headers_too_slow)
            self.book.awaiting[self] = None

    def arm(self, seconds: float, expire: Callable[[], None]) -> None:
        self.disarm()
        self.deadline = self.loop.call_later(seconds, expire)

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def headers_too_slow(self) -> None:
        self.book.awaiting.pop(self, None)
        self.refuse(408, "the request's headers did not arrive in time")

    def body_too_slow(self) -> None:
        log.info("closed a connection whose request body did not arrive in time")
        self.transport.close()  # the app sees the client gone

    def refuse(self, status: int, detail: str) -> None:
        """Answer with a problem and close; only where no response is under way."""
        if self.cycle is None or self.cycle.response_complete:
            body = problem(status, detail).model_dump_json().encode()
            head = (
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                f"content-type: application/problem+json\r\ncontent-length: {len(body)}\r\n"
                "retry-after: 1\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
        self.transport.close()


def _book_of(server_state: ServerState) -> ConnectionBook:
    """The book of the server's connections, kept on uvicorn's state every connection
    shares."""
    book: ConnectionBook | None = getattr(server_state, "ragsvc_connections", None)
    if book is None:
        book = ConnectionBook()
        server_state.ragsvc_connections = book  # type: ignore[attr-defined]
    return book
