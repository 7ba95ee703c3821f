"""A small OpenAI-compatible server on a real loopback socket, for the `openai` backends.

A Starlette app served by uvicorn in a background thread. Embeddings hash words into a fixed
dimension (texts sharing words get similar vectors); the chat reply is built from the request
(the question, and the page of source [1] read from the system message), so a test can tell
the messages really arrived. Every request is recorded; `embeddings_mode` and `chat_mode`
inject failures: an HTTP 500, a stream whose connection drops after a few chunks, or one
that goes silent after a few chunks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DIM = 64
_SOURCE_ONE = re.compile(r"^\[1\] .*, page (\d+):$", re.MULTILINE)


class DroppedOnPurpose(Exception):
    """Raised inside the streaming body: uvicorn then closes the socket mid-body."""


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    embeddings_mode: Literal["ok", "error"] = "ok"
    chat_mode: Literal["ok", "error", "drop", "stall"] = "ok"
    drop_after: int = 3  # content chunks sent before the connection drops
    chunk_delay: float = 0.0  # seconds between chunks; > 0 leaves time to hang up
    repeat: int = 1  # how many times the reply text is streamed
    requests: list[Recorded] = field(default_factory=list)
    # one entry per chat stream: "completed", "dropped" or "client closed"
    stream_outcomes: list[str] = field(default_factory=list)
    # per chat stream, ms from the request's arrival to its first content chunk: the
    # upstream's own share of a first token, which the benchmark subtracts
    first_token_ms: list[float] = field(default_factory=list)
    port: int = 0

    def reset(self) -> None:
        """Back to a well-behaved server that has seen nothing (one server, many tests)."""
        fresh = FakeOpenAI()
        self.embeddings_mode, self.chat_mode = fresh.embeddings_mode, fresh.chat_mode
        self.drop_after, self.chunk_delay, self.repeat = (
            fresh.drop_after,
            fresh.chunk_delay,
            fresh.repeat,
        )
        self.requests, self.stream_outcomes, self.first_token_ms = [], [], []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def embedding_batches(self) -> list[int]:
        return [len(r.body["input"]) for r in self.requests if r.path == "/v1/embeddings"]

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    # endpoints --------------------------------------------------------------------

    async def _record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        return body

    async def embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        if self.embeddings_mode == "error":
            return _server_error()
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(hash_vector(t), as_base64)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    async def chat(self, request: Request) -> Response:
        arrived = time.perf_counter()
        body = await self._record(request)
        if self.chat_mode == "error":
            return _server_error()
        assert body.get("stream") is True, "the fake only speaks streamed chat completions"
        text = " ".join([reply_for(body["messages"])] * self.repeat)
        pieces = re.findall(r"\S+\s*", text)
        counted = (body.get("stream_options") or {}).get("include_usage")
        usage = fake_usage(body["messages"], pieces) if counted else None
        return StreamingResponse(
            self._chunks(body["model"], pieces, arrived, usage), media_type="text/event-stream"
        )

    async def stats(self, request: Request) -> Response:
        """The first-token times recorded so far, then forgotten (for the benchmark)."""
        recorded, self.first_token_ms = self.first_token_ms, []
        return JSONResponse({"first_token_ms": recorded})

    async def _chunks(
        self, model: str, pieces: list[str], arrived: float, usage: dict[str, int] | None
    ) -> AsyncIterator[str]:
        outcome = "client closed"  # unless the loop below finishes or drops on purpose
        try:
            yield _chunk(model, {"role": "assistant", "content": ""})
            for sent, piece in enumerate(pieces):
                if sent == 0:
                    self.first_token_ms.append((time.perf_counter() - arrived) * 1000)
                if self.chat_mode == "drop" and sent == self.drop_after:
                    outcome = "dropped"
                    raise DroppedOnPurpose("connection dropped mid-stream by the test")
                if self.chat_mode == "stall" and sent == self.drop_after:
                    await asyncio.sleep(60)  # goes silent: the client's read timeout must fire
                yield _chunk(model, {"content": piece})
                await asyncio.sleep(self.chunk_delay)
            yield _chunk(model, {}, finish_reason="stop")
            yield _usage_chunk(usage)
            yield "data: [DONE]\n\n"
            outcome = "completed"
        finally:
            self.stream_outcomes.append(outcome)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/fake/stats", self.stats, methods=["GET"]),
            ]
        )

    # lifecycle --------------------------------------------------------------------

    @contextmanager
    def running(self, http: Literal["h11", "httptools"] = "h11") -> Iterator[FakeOpenAI]:
        """Serve on a free loopback port in a thread; stop and join it on exit."""
        # proto=IPPROTO_TCP, or asyncio leaves Nagle on for accepted connections: each
        # chunk after the first would then wait ~40 ms for a delayed ACK, not "instant".
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(),
            loop="asyncio",
            http=http,
            lifespan="off",
            log_config=None,  # leave the test process's logging alone
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 5
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the fake OpenAI server did not start")
                time.sleep(0.01)
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            assert not thread.is_alive(), "the fake OpenAI server did not stop"


def hash_vector(text: str) -> list[float]:
    vector = np.zeros(DIM, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    vector[0] += 1e-3  # no all-zero vector
    return [float(x) for x in vector / np.linalg.norm(vector)]


def reply_for(messages: list[dict[str, str]]) -> str:
    """Echo the question, and the page the system message gives for source [1]."""
    question = messages[-1]["content"]
    match = _SOURCE_ONE.search(messages[0]["content"]) if messages[0]["role"] == "system" else None
    page = match.group(1) if match else "unknown"
    return f"You asked: {question} Source one is page {page} [1]."


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def fake_usage(messages: list[dict[str, str]], pieces: list[str]) -> dict[str, int]:
    """The fake's own token count: words of the prompt, pieces of the reply."""
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(pieces),
        "total_tokens": prompt + len(pieces),
    }


def _usage_chunk(usage: dict[str, int] | None) -> str:
    """As OpenAI sends usage when asked: a last chunk without choices ("" when not asked)."""
    if usage is None:
        return ""
    chunk = {"object": "chat.completion.chunk", "choices": [], "usage": usage}
    return f"data: {json.dumps(chunk)}\n\n"


def _chunk(model: str, delta: dict[str, str], finish_reason: str | None = None) -> str:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


def _server_error() -> JSONResponse:
    error = {"message": "injected failure", "type": "server_error", "code": None}
    return JSONResponse({"error": error}, status_code=500)


def main() -> None:
    """`python -m tests.fake_openai [chunk_delay_s]`: serve in this process until killed,
    after printing the base URL (the benchmark runs the upstream apart from its load)."""
    import sys

    fake = FakeOpenAI(chunk_delay=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
    with fake.running(http="httptools"):
        print(fake.base_url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
