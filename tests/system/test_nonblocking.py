"""No whole-document work on the event loop: asyncio's debug mode reports every loop step
longer than `slow_callback_duration`. Ingesting this PDF takes well over a second of CPU;
run on the loop, any stage of it (parse, chunk, embed, index, write) would be one step far
longer than the threshold. In threads, the loop's steps stay in milliseconds."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.pdfs import make_pdf

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
THRESHOLD_S = 0.25


async def test_ingest_and_ask_never_block_the_event_loop(tmp_path: Path, caplog):
    text = "Page {} of the harbour almanac lists tides, ships and the keeper's notes. "
    big = make_pdf([text.format(i) * 25 for i in range(1000)])
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = THRESHOLD_S
    caplog.set_level(logging.WARNING, logger="asyncio")
    app = create_app(Settings(data_dir=tmp_path / "data"))  # the real default backends
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", timeout=120
            ) as http:
                up = await http.post("/upload", files={"files": ("big.pdf", big)})
                assert up.status_code == 201 and up.json()["documents"][0]["chunks"] > 1000
                headers = {"Authorization": f"Bearer {up.json()['token']}"}
                reply = await http.post(
                    "/ask", json={"question": "tides on page 42?"}, headers=headers
                )
                assert reply.status_code == 200
    finally:
        loop.set_debug(False)
    slow = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert slow == []
