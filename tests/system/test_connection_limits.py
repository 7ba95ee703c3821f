"""Slow and idle clients hold no connection for long (408 and closed), and past the
connection cap new connections get 503 until there is room: an idle flood never locks
clients out. Real sockets: slow tier."""

from __future__ import annotations

import socket
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
def test_past_the_connection_cap_new_connections_get_503_and_then_room(tmp_path: Path):
    with limited_server(tmp_path, max_connections=5, header_timeout_s=1) as base:
        idle = [connect(base) for _ in range(5)]
        try:
            with connect(base) as extra:
                refused = read_all(extra)
            assert refused.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in refused
            deadline = time.monotonic() + 10
            while (reply := httpx.get(f"{base}/healthz")).status_code != 200:
                assert time.monotonic() < deadline, reply.text
                time.sleep(0.1)
        finally:
            for sock in idle:
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
