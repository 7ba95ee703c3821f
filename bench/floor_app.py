"""The floor under `make load`'s server CPU per answer: the stack ragsvc is built on
(uvicorn with httptools and uvloop, FastAPI, sse-starlette) answering the same request with
the same bytes, and doing nothing else: no session lookup, retrieval, answer or turn.

`POST /ask` validates the JSON question as ragsvc does and streams a recorded ragsvc answer
(RAGSVC_FLOOR_ANSWER: the raw SSE bytes) in two writes, its `sources` frame then the rest,
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
FIRST, _, REST = RECORDED.partition(b"\r\n\r\n")

app = FastAPI()


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/ask")
async def ask(body: Question) -> EventSourceResponse:
    async def frames() -> AsyncIterator[bytes]:
        yield FIRST + b"\r\n\r\n"
        yield REST

    return EventSourceResponse(frames(), ping=15, send_timeout=30)
