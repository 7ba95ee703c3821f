"""The worker's HTTP probes: `/healthz` and `/readyz` (the API's own routes, over the
worker's state) on HOST:RAGSVC_WORKER_PORT (8001, so that a worker runs beside `ragsvc serve`
on PORT, 8000), served beside its jobs so an orchestrator checks a worker as it checks an
API replica; with RAGSVC_METRICS, `/metrics` too (the worker's own). Their socket is bound
before the worker loads anything: a port already taken stops it at once, in one line, not
with a traceback once its model has loaded."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from ragsvc.api.problems import install_handlers
from ragsvc.api.routes import health, metrics
from ragsvc.core.config import Settings
from ragsvc.runtime.app_state import AppState


class ProbePortUnavailable(Exception):
    """The probes' address cannot be listened on (taken, say, by `ragsvc serve`)."""


class ProbeServer(uvicorn.Server):
    """uvicorn on a socket bound beforehand, minus its signal handling: the worker's job loop
    (saq) owns SIGTERM/SIGINT and stops this server once its jobs have ended."""

    def __init__(self, config: uvicorn.Config, listener: socket.socket) -> None:
        super().__init__(config)
        self.listener = listener

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve_probes(self) -> None:
        await self.serve(sockets=[self.listener])


def probe_listener(settings: Settings) -> socket.socket:
    """The probes' listening socket on HOST:RAGSVC_WORKER_PORT."""
    host, port = settings.host, settings.worker_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ProbePortUnavailable(
            f"the probes cannot listen on {host}:{port} ({exc.strerror or exc}): give them "
            "another port with --port or RAGSVC_WORKER_PORT (PORT counts only without it)"
        ) from exc


def probe_server(state: AppState, settings: Settings, listener: socket.socket) -> ProbeServer:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    install_handlers(app)  # a probe not ready is a 503 problem, as on the API
    app.include_router(health.router)
    if settings.metrics:  # the worker's own: where its ingests are counted
        app.include_router(metrics.router)
    app.state.ragsvc = state  # what /readyz checks: the store and Redis
    config = uvicorn.Config(
        app, host=settings.host, port=settings.worker_port, lifespan="off", access_log=False
    )
    return ProbeServer(config, listener)
