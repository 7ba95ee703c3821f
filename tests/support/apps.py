"""The app in-process: built from settings (and fake backends), its lifespan running, with
an httpx client on it through ASGITransport; and SSE bodies read back as frames."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from ragsvc.runtime.backends import Backends
from tests.support.fakes import fake_backends


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app (fake backends, lifespan running) built from `settings`."""
    backends = fake_backends(settings)
    try:
        async with client_on(settings, backends) as http:
            yield http
    finally:
        await backends.store.aclose()  # backends passed in are the caller's to close


@asynccontextmanager
async def client_on(settings: Settings, backends: Backends) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app built from `settings` and `backends`, its lifespan running."""
    app = create_app(settings, backends)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def app_of(http: httpx.AsyncClient) -> FastAPI:
    """The app behind a client made by `app_client`."""
    transport = http._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


def parse_sse(body: str) -> list[dict[str, str]]:
    """Frames of an SSE body as dicts of field -> value; comment lines dropped."""
    frames = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if fields:
            frames.append(fields)
    return frames
