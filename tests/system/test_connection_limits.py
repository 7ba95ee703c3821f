"""Slow and idle clients hold no connection for long (408 and closed), and past the
connection cap new connections get 503 until there is room: an idle flood never locks
clients out. Real sockets: slow tier."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.fakes import fake_backends
from tests.support.server import server_process, serving_in_thread


def limited_server(tmp_path: Path, **limits: Any) -> AbstractContextManager[str]:
    settings = Settings(data_dir=tmp_path / "data", **limits)
    return serving_in_thread(create_app(settings, fake_backends(settings)))


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def open_connections(base: str, count: int) -> list[socket.socket]:
    """Up to `count` connections that send nothing (fewer if the server stops accepting)."""
    opened = []
    with suppress(OSError):
        for _ in range(count):
            opened.append(connect(base))
    return opened


def served_within(base: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_a_connection_that_sends_nothing_gets_408_and_is_closed(tmp_path: Path):
    with limited_server(tmp_path, header_timeout_s=0.3) as base, connect(base) as idle:
        started = time.monotonic()
        reply = read_all(idle)
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b"application/problem+json" in reply and time.monotonic() - started < 5


@pytest.mark.slow
def test_headers_trickling_in_are_cut_off(tmp_path: Path):
    with limited_server(tmp_path, header_timeout_s=0.5) as base, connect(base) as slow:
        slow.settimeout(0.05)
        reply = b""
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200:
            try:
                slow.send(bytes([byte]))
                reply += slow.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if reply:
                break
    assert reply.startswith(b"HTTP/1.1 408 ")


@pytest.mark.slow
def test_a_body_trickling_in_is_cut_off(tmp_path: Path):
    with limited_server(tmp_path, body_timeout_s=0.3) as base, connect(base) as slow:
        slow.sendall(
            b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        started = time.monotonic()
        read_all(slow)  # returns once the server has closed the connection
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_past_the_connection_cap_the_longest_idle_connection_makes_room(tmp_path: Path):
    with limited_server(tmp_path, max_connections=5, header_timeout_s=30) as base:
        idle = [connect(base) for _ in range(5)]
        try:
            reply = httpx.get(f"{base}/healthz")  # the sixth connection, served at once
            assert reply.status_code == 200
            assert read_all(idle[0]).startswith(b"HTTP/1.1 408 ")  # the oldest made room
        finally:
            for sock in idle:
                sock.close()


@pytest.mark.slow
def test_past_the_cap_with_every_connection_busy_a_new_one_gets_503(tmp_path: Path):
    with limited_server(tmp_path, max_connections=2, header_timeout_s=30) as base:
        busy = [connect(base) for _ in range(2)]
        try:
            for sock in busy:  # headers done, body still to come: not idle
                sock.sendall(b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
            time.sleep(0.2)
            with connect(base) as extra:
                refused = read_all(extra)
            assert refused.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in refused
        finally:
            for sock in busy:
                sock.close()


@pytest.mark.slow
def test_one_address_holds_at_most_its_share_of_connections(tmp_path: Path):
    with limited_server(tmp_path, max_connections_per_address=3, header_timeout_s=30) as base:
        host, port = base.removeprefix("http://").split(":")
        held = [socket.create_connection((host, int(port)), timeout=5) for _ in range(3)]
        try:
            with socket.create_connection((host, int(port)), timeout=5) as fourth:
                assert read_all(fourth) == b""  # closed at once, without a reply
            other = socket.create_connection((host, int(port)), source_address=("127.0.0.2", 0))
            with other:  # another address is not held back
                other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert read_all(other).startswith(b"HTTP/1.1 200 ")
        finally:
            for sock in held:
                sock.close()


@pytest.mark.slow
def test_an_idle_connection_flood_does_not_lock_clients_out(tmp_path: Path):
    """The server may open 256 files; 400 idle connections must not keep others out."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    limit = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))}
    env = {"RAGSVC_MAX_CONNECTIONS": "100", "RAGSVC_HEADER_TIMEOUT_S": "2"}
    with server_process(tmp_path / "data", popen=limit, **env) as (base, _):
        flood = open_connections(base, 400)
        try:
            assert served_within(base, 15), "new clients are locked out"
        finally:
            for sock in flood:
                sock.close()


class Flood:
    """Keeps about `size` connections open to the server, idle or trickling a byte a second,
    from ten loopback addresses other than 127.0.0.1, opening new ones as the server closes
    them."""

    def __init__(self, base: str, size: int) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.target, self.size = (host, int(port)), size
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        open_: list[socket.socket] = []
        while not self.stop.is_set():
            self._top_up(open_)
            self._trickle(open_)
            time.sleep(0.2)
        for sock in open_:
            sock.close()

    def _top_up(self, open_: list[socket.socket]) -> None:
        for turn in range(self.size - len(open_)):
            with suppress(OSError):
                source = (f"127.0.0.{2 + turn % 10}", 0)
                sock = socket.create_connection(self.target, timeout=1, source_address=source)
                sock.setblocking(False)
                open_.append(sock)

    @staticmethod
    def _trickle(open_: list[socket.socket]) -> None:
        """A byte on each; a connection the server closed is dropped."""
        for sock in list(open_):
            try:
                sock.send(b"G")
            except BlockingIOError:
                continue
            except OSError:
                open_.remove(sock)
                sock.close()

    def __enter__(self) -> Flood:
        self.thread.start()
        time.sleep(2)  # the flood is up
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


@pytest.mark.slow
def test_a_normal_client_is_served_through_an_idle_connection_flood(tmp_path: Path):
    env = {"RAGSVC_MAX_CONNECTIONS": "100", "RAGSVC_HEADER_TIMEOUT_S": "5"}
    with server_process(tmp_path / "data", **env) as (base, _), Flood(base, 300):
        statuses = []
        for _ in range(30):
            with suppress(httpx.HTTPError):
                statuses.append(httpx.get(f"{base}/healthz", timeout=5).status_code)
            time.sleep(0.05)
    assert statuses == [200] * 30, statuses
