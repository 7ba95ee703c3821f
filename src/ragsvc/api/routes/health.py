"""Liveness and readiness probes."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from redis.asyncio import Redis

from ragsvc.api.problems import problem_responses
from ragsvc.core.errors import BackendUnavailable, ShuttingDown
from ragsvc.runtime.app_state import AppState

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="200 while the process runs")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses=problem_responses(503),
    summary="200 once models are loaded, PDF workers started and storage answers, else 503",
)
async def readyz(request: Request) -> dict[str, str]:
    state = _serving_state(request)
    if problem := await state.backends.store.health():
        raise BackendUnavailable(problem)
    if state.redis is not None:
        await _ping(state.redis)
    return {"status": "ready", "embedder": state.backends.embedder.name}


def _serving_state(request: Request) -> AppState:
    """The app's state once it may take work: loaded, its page workers up, not draining."""
    state: AppState | None = getattr(request.app.state, "ragsvc", None)
    if state is None:
        raise BackendUnavailable("still loading models")
    if state.drain.draining:  # a load balancer takes this replica out before it exits
        raise ShuttingDown("this server is shutting down")
    workers = state.backends.pdf_workers
    if workers is not None and not workers.warm.is_set():  # an upload now would wait for them
        raise BackendUnavailable("still starting the PDF page workers")
    return state


async def _ping(redis: Redis) -> None:
    """503 naming Redis when it does not answer within a second."""
    try:
        with anyio.fail_after(1):
            await redis.ping()
    except Exception as exc:
        raise BackendUnavailable(f"Redis (RAGSVC_REDIS_URL) does not answer: {exc!r}") from exc
