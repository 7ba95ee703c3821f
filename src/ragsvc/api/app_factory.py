"""create_app(): the lifespan builds the backends and the app state once; routers and error
handlers attach."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup
from fastapi import FastAPI

from ragsvc import __version__
from ragsvc.api.cookies import RenewSessionCookie
from ragsvc.api.middleware import BodyLimit, Observed, SecurityHeaders, allow_origins
from ragsvc.api.openapi_doc import complete_openapi
from ragsvc.api.problems import install_handlers, problem_responses
from ragsvc.api.routes import (
    api_docs,
    ask,
    documents,
    health,
    metrics,
    openai_compat,
    page_images,
    sessions,
    web,
)
from ragsvc.api.serving import SERVER_LIMITS, ServerLimits
from ragsvc.core.config import Settings
from ragsvc.core.orphans import SUPERVISOR_PID, exit_with
from ragsvc.runtime.app_state import AppState
from ragsvc.runtime.backends import Backends, make_backends
from ragsvc.runtime.draining import drain_on_signals
from ragsvc.runtime.logging_setup import configure_logging
from ragsvc.storage.memory import malloc_arenas_per_core

log = logging.getLogger(__name__)
PURGE_EVERY_S = 600
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[dict[str, Any]]]


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """Build the service; tests pass their own settings and (fake) backends."""
    settings = settings or Settings()
    malloc_arenas_per_core()  # before the worker threads: each keeps the arena it first gets
    app = FastAPI(
        title="ragsvc",
        version=__version__,
        summary="Chat with your PDFs: cited answers streamed over Server-Sent Events.",
        lifespan=_lifespan(settings, backends),
        # ragsvc has its own metrics and logs; FastAPI's OpenTelemetry looked up the global
        # providers on every request (about 2% of an answer's CPU, profiled).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # FastAPI's pages load from a CDN: routes/api_docs.py serves them
        redoc_url=None,
        # Any route may answer these (a malformed or too large body, a missing token, a rate
        # limit); each route adds its own.
        responses=problem_responses(400, 401, 413, 429),
    )
    install_handlers(app)
    app.add_middleware(RenewSessionCookie, settings=settings)
    app.add_middleware(SecurityHeaders)
    streamed = {"/upload": settings.max_upload_bytes}
    app.add_middleware(BodyLimit, default=settings.max_json_kb * 1024, streamed=streamed)
    allow_origins(app, settings.cors_origins)  # outside the others: their refusals get CORS too
    app.add_middleware(Observed)  # outermost: it sees every request, refused ones too
    for module in (sessions, documents, page_images, ask, openai_compat, health, web, api_docs):
        app.include_router(module.router)
    if settings.metrics:
        app.include_router(metrics.router)
    web.mount_static(app)
    api_docs.mount_assets(app)
    complete_openapi(app)
    return app


def _lifespan(settings: Settings, backends: Backends | None) -> Lifespan:
    """Build the backends (unless given) and the app state, run the background tasks,
    and close what was built here at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        owned = backends is None  # backends passed in belong to the caller, who closes them
        built = await _backends(settings, backends)
        if owned:
            # The ~200k objects of the loaded libraries and models live as long as the
            # process; each full collection re-scanned them, an 80-160 ms pause of the event
            # loop (measured). Frozen, they are never scanned: p99 first token at 10 clients
            # went from 143 to 90 ms.
            gc.freeze()
        state = app.state.ragsvc = AppState.build(settings, built)
        log.info("ragsvc ready: embedder %s", built.embedder.name)
        try:
            async with anyio.create_task_group() as tasks:
                _start_background(tasks, state)
                with drain_on_signals(state.drain):
                    yield {SERVER_LIMITS: ServerLimits.of(settings)}  # for GuardedHttpProtocol
                await _wind_down(state, built if owned else None)
                tasks.cancel_scope.cancel()
        finally:
            await state.aclose()
            if owned:
                await built.aclose()

    return lifespan


def _start_background(tasks: TaskGroup, state: AppState) -> None:
    tasks.start_soon(_purge_expired_sessions, state.backends)
    tasks.start_soon(state.answers.run, tasks)
    tasks.start_soon(state.ingests.run, tasks)
    tasks.start_soon(state.drain.run, state.answers, state.ingests)
    tasks.start_soon(state.metrics.keep_shared)  # with `serve --workers N` only


async def _wind_down(state: AppState, owned: Backends | None) -> None:
    """uvicorn shuts the app down as soon as no connection is open: a begun drain still
    gives background ingests their time; then a thread parsing a PDF must not hold the exit
    (only backends built here are stopped)."""
    await state.drain.finished()
    if owned is not None:
        owned.abort_work()


async def _backends(settings: Settings, given: Backends | None) -> Backends:
    if given is not None:
        return given
    return await anyio.to_thread.run_sync(make_backends, settings)


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
    settings = Settings()
    configure_logging(settings)
    if supervisor := os.environ.get(SUPERVISOR_PID):
        exit_with(int(supervisor))  # uvicorn's workers would outlive a killed supervisor
    return create_app(settings)
