"""A reverse proxy serving an upstream under a path, as nginx's `location /rag/ { proxy_pass
http://upstream/; }` does: the path is stripped on the way in, responses (streams too) pass
through as they come; anything outside the path is not found. Served with uvicorn in front
of a ragsvc started with RAGSVC_ROOT_PATH."""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = {b"host", b"connection", b"keep-alive", b"transfer-encoding", b"content-length"}


class PathProxy:
    def __init__(self, upstream: str, prefix: str) -> None:
        self.upstream, self.prefix = upstream, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        path: str = scope["path"]
        if not path.startswith(self.prefix + "/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            return await send({"type": "http.response.body", "body": b""})
        query = f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        async with httpx.AsyncClient(timeout=60) as client:
            request = client.build_request(
                scope["method"],
                f"{self.upstream}{path.removeprefix(self.prefix)}{query}",
                headers=headers,
                content=await _body(receive),
            )
            reply = await client.send(request, stream=True)
            kept = [(k, v) for k, v in reply.headers.raw if k.lower() not in HOP_BY_HOP]
            await send(
                {"type": "http.response.start", "status": reply.status_code, "headers": kept}
            )
            async for chunk in reply.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            await reply.aclose()


async def _body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)
