"""The worker's HTTP probes: `/healthz` and `/readyz` (the API's own routes, over the
worker's state) on HOST:PORT, served beside its jobs so an orchestrator checks a worker as it
checks an API replica."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from ragsvc.api.routes import health
from ragsvc.core.config import Settings
from ragsvc.runtime.app_state import AppState


class ProbeServer(uvicorn.Server):
    """uvicorn, minus its signal handling: the worker's job loop (saq) owns SIGTERM/SIGINT
    and stops this server once its jobs have ended."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def probe_server(state: AppState, settings: Settings) -> ProbeServer:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(health.router)
    app.state.ragsvc = state  # what /readyz checks: the store and Redis
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, lifespan="off", access_log=False
    )
    return ProbeServer(config)
