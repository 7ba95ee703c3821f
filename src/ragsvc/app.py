"""create_app(): the lifespan builds the backends once; routers and error handlers attach."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from ragsvc import __version__
from ragsvc.backends import Backends, make_backends
from ragsvc.config import Settings
from ragsvc.errors import install_handlers, problem_responses
from ragsvc.eventlog import LogHub
from ragsvc.events import AnswerEvent, IngestEvent
from ragsvc.ratelimit import RateLimiter
from ragsvc.routes import ask, documents, health, openai_compat, sessions, web
from ragsvc.schemas import Problem

log = logging.getLogger(__name__)
PURGE_EVERY_S = 600


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """Build the service; tests pass their own settings and (fake) backends."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = backends is None  # backends passed in belong to the caller, who closes them
        app.state.backends = backends or await anyio.to_thread.run_sync(make_backends, settings)
        if owned:
            # The ~200k objects of the loaded libraries and models live as long as the
            # process; each full collection re-scanned them, an 80-160 ms pause of the event
            # loop (measured). Frozen, they are never scanned: p99 first token at 10 clients
            # went from 143 to 90 ms.
            gc.freeze()
        log.info("ragsvc ready: embedder %s", app.state.backends.embedder.name)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_purge_expired_sessions, app.state.backends)
                tasks.start_soon(app.state.answers.run, tasks)
                tasks.start_soon(app.state.ingests.run, tasks)
                yield
                tasks.cancel_scope.cancel()
        finally:
            if owned:
                await app.state.backends.aclose()

    app = FastAPI(
        title="ragsvc",
        version=__version__,
        summary="Chat with your PDFs: cited answers streamed over Server-Sent Events.",
        lifespan=lifespan,
        # Any route may answer these; each route adds its own.
        responses=problem_responses(401, 429),
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter()
    app.state.answers = LogHub[AnswerEvent](settings.resume_window_s, settings.resume_grace_s)
    # An ingest runs to its end even when nobody watches: grace None, never cancelled.
    app.state.ingests = LogHub[IngestEvent](settings.resume_window_s, None)
    install_handlers(app)
    for module in (sessions, documents, ask, openai_compat, health, web):
        app.include_router(module.router)
    web.mount_static(app)
    _register_problem_schema(app)
    return app


def _register_problem_schema(app: FastAPI) -> None:
    """Error responses refer to #/components/schemas/Problem; no route returns it as a model."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                Problem.model_json_schema()
            )
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


async def _purge_expired_sessions(backends: Backends) -> None:
    while True:
        try:
            purged = await backends.store.purge_expired()
            if purged:
                log.info("purged %d expired sessions", purged)
        except Exception:  # a failed sweep must not take the service down
            log.exception("purging expired sessions failed")
        await anyio.sleep(PURGE_EVERY_S)


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory`: settings from the environment."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return create_app(Settings())
