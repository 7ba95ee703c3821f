"""`GET /metrics`: this process's metrics in Prometheus's text format (RAGSVC_METRICS)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from fastapi.responses import Response

from ragsvc.api.deps import StateDep
from ragsvc.runtime.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics of this process: requests, answers, ingests, memory",
)
async def metrics(state: StateDep) -> Response:
    body = await anyio.to_thread.run_sync(state.metrics.render)  # reads /proc for memory
    return Response(body, media_type=CONTENT_TYPE)
