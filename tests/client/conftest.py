"""Servers on loopback ports for the client and its commands: ragsvc (fake backends), ragsvc
making sessions only with an API key, and another server that is not ragsvc; and a small
PDF to upload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.fakes import fake_backends
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread

PAGES = [
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "The keeper records every passing ship in a leather logbook.",
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("client") / "data")
    with serving_in_thread(create_app(settings, fake_backends(settings))) as url:
        yield url


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server that makes sessions only with its API key, "the-key"."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("keyed") / "data")
    settings.api_keys = [SecretStr("the-key")]
    with serving_in_thread(create_app(settings, fake_backends(settings))) as url:
        yield url


class NotRagsvc(BaseHTTPRequestHandler):
    """Another server at the URL: an HTML error page, or a 200 of HTML."""

    def do_POST(self) -> None:
        status = 200 if self.path.startswith("/upload") else 502
        body = b"<html><body><h1>Bad Gateway</h1>\n</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def other_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotRagsvc)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    path = tmp_path / "keeper.pdf"
    path.write_bytes(make_pdf(PAGES))
    return path
