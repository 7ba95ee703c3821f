"""`GET /metrics`: the metrics in Prometheus's text format (RAGSVC_METRICS): this process's,
or those of every process of `ragsvc serve --workers N`, added up; a worker's on its probes."""

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
    summary="Prometheus metrics: requests, answers, ingests, backends, pools, memory",
)
async def metrics(state: StateDep) -> Response:
    body = await anyio.to_thread.run_sync(state.metrics.render)  # reads /proc for memory
    return Response(body, media_type=CONTENT_TYPE)
