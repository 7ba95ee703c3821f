"""Memory stays bounded: queued uploads wait on disk, bodies, conversations and document
lists past their limits are refused, and loaded sessions are cached within a byte budget."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import httpx
import pytest

from ragsvc.core.config import Settings
from ragsvc.storage.memory import release_freed_memory
from tests.support.apps import app_client, app_of
from tests.support.fakes import GatedEmbedder
from tests.support.uploads import new_session, padded_pdf

pytestmark = pytest.mark.anyio


def rss_mb() -> float:
    """Memory held: freed heap memory is handed back first, so what a test counts is live
    data, not what the allocator keeps of earlier tests."""
    release_freed_memory()
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.slow
async def test_queued_background_uploads_wait_on_disk_not_in_memory(settings: Settings):
    settings.parse_workers = 1  # one ingest at a time: the others queue
    async with app_client(settings) as http:
        app_of(http).state.ragsvc.ingestion.embedder = gated = GatedEmbedder()
        who = await new_session(http)
        files = [padded_pdf(f"Harbour log {i}.", 6) for i in range(6)]
        before = rss_mb()
        for i, data in enumerate(files):
            reply = await http.post(
                "/upload",
                params={"wait": "false"},
                files={"files": (f"{i}.pdf", data)},
                headers=who,
            )
            assert reply.status_code == 202
        del files, data
        grown = rss_mb() - before
        session = app_of(http).state.ragsvc.backends.store.root.iterdir().__next__()
        spooled = list((session / "uploads").iterdir())
        assert len(spooled) == 6 and grown < 24, f"{grown:.0f} MB held for 36 MB queued"
        gated.gate.set()
        with anyio.fail_after(30):
            while any(p.exists() for p in spooled):
                await anyio.sleep(0.05)
        listed = (await http.get("/documents", headers=who)).json()["documents"]
    assert sorted(d["status"] for d in listed) == ["ready"] * 6


async def test_a_json_body_past_its_limit_is_refused_unread(
    client: httpx.AsyncClient, session: dict[str, str]
):
    big = json.dumps({"question": "q" * 300_000}).encode()
    declared = await client.post("/ask", content=big, headers=session)

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = await client.post("/ask", content=chunked(), headers=session)
    for reply in (declared, streamed):
        assert reply.status_code == 413, reply.text
        assert reply.json()["type"] == "urn:ragsvc:problem:too-large"


async def test_a_v1_conversation_past_its_limit_is_refused(settings: Settings, pdf: Callable):
    settings.max_history_chars = 10_000
    async with app_client(settings) as http:
        who = await new_session(http)
        files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
        assert (await http.post("/upload", files=files, headers=who)).status_code == 201
        messages = [
            {"role": "user", "content": "bell? " * 2_000},
            {"role": "assistant", "content": "At noon."},
            {"role": "user", "content": "And the lamp?"},
        ]
        body = {"model": "ragsvc", "messages": messages}
        reply = await http.post("/v1/chat/completions", json=body, headers=who)
    assert reply.status_code == 422 and "conversation" in reply.json()["detail"]


async def test_a_question_names_a_bounded_number_of_documents(
    client: httpx.AsyncClient, session: dict[str, str]
):
    body = {"question": "bell?", "document_ids": [f"{i:032x}" for i in range(101)]}
    assert (await client.post("/ask", json=body, headers=session)).status_code == 422
