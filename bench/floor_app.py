"""The floor under `make load`'s server CPU per answer: the stack ragsvc is built on
(uvicorn with httptools and uvloop, FastAPI, sse-starlette) answering the same request with
the same bytes, and doing nothing else: no session lookup, retrieval, answer or turn.

`POST /ask` validates the JSON question as ragsvc does and streams a recorded ragsvc answer
(RAGSVC_FLOOR_ANSWER: the raw SSE bytes). RAGSVC_FLOOR_WRITES says how: `events`, one write
per event, as an app replaying the events with sse-starlette does (issue 25's "bare stack",
the baseline of its CPU target); `batched`, two writes (the `sources` frame, then the rest),
as ragsvc's batching sends an extractive answer. What ragsvc costs above this is its own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

RECORDED = Path(os.environ.get("RAGSVC_FLOOR_ANSWER", "answer.sse")).read_bytes()
FRAMES = [frame + b"\r\n\r\n" for frame in RECORDED.split(b"\r\n\r\n") if frame]
WRITES = (
    FRAMES
    if os.environ.get("RAGSVC_FLOOR_WRITES", "batched") == "events"
    else [FRAMES[0], b"".join(FRAMES[1:])]
)

app = FastAPI()


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/ask")
async def ask(body: Question) -> EventSourceResponse:
    async def frames() -> AsyncIterator[bytes]:
        for write in WRITES:
            yield write

    return EventSourceResponse(frames(), ping=15, send_timeout=30)
