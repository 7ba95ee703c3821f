"""The app in-process on a FaultyStore (tests/support/faults.py), whose writes fail when the
test says so, with an HTTP client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.fakes import fake_backends
from tests.support.faults import FaultyStore


@asynccontextmanager
async def faulty_app(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FaultyStore]]:
    backends = fake_backends(settings)
    backends.store = store = FaultyStore(settings.data_dir, settings.min_free_mb)
    app = create_app(settings, backends)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, store
