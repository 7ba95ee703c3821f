"""Failures still end their stream: an unexpected error or a failed write during an ingest
fails the document (its events end with `failed`), and a failed write after the last token
ends the answer's stream with an error event."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ragsvc.core.config import Settings
from ragsvc.search.embedders import Vectors
from tests.support.apps import app_client, app_of, parse_sse
from tests.support.fakes import HashEmbedder
from tests.support.faulty_app import faulty_app
from tests.support.uploads import new_session, settled, upload_later

pytestmark = pytest.mark.anyio


class BrokenEmbedder(HashEmbedder):
    """An embedder with a bug: not a RagError, just an exception."""

    async def embed(self, texts: list[str]) -> Vectors:
        raise RuntimeError("a bug in the embedder")


async def test_an_unexpected_error_in_background_ingestion_fails_the_document(
    settings: Settings, pdf: Callable
):
    async with app_client(settings) as http:
        app_of(http).state.ragsvc.ingestion.embedder = BrokenEmbedder()
        who = await new_session(http)
        reply = await upload_later(http, pdf, "Tides and lighthouses.", who)
        [document] = reply.json()["documents"]
        final = (await settled(http, document, who))[-1]
        assert final["event"] == "failed" and "see the server log" in final["detail"]
        stored = (await http.get(f"/documents/{document['id']}", headers=who)).json()
        assert stored["status"] == "failed" and stored["detail"] == final["detail"]


@pytest.mark.disk
async def test_a_failed_write_at_the_end_of_an_ingest_fails_the_document(
    settings: Settings, pdf: Callable
):
    async with faulty_app(settings) as (http, store):
        who = await new_session(http)
        store.updates_to_fail = 0
        reply = await upload_later(http, pdf, "Tides and lighthouses.", who)
        store.updates_to_fail = 1  # the commit of the ingested document
        [document] = reply.json()["documents"]
        final = (await settled(http, document, who))[-1]
        assert final["event"] == "failed"
        stored = (await http.get(f"/documents/{document['id']}", headers=who)).json()
        assert stored["status"] == "failed" and stored["detail"] == final["detail"]


@pytest.mark.disk
async def test_a_failed_write_after_the_last_token_ends_the_stream_with_an_error(
    settings: Settings, pdf: Callable
):
    async with faulty_app(settings) as (http, store):
        who = await new_session(http)
        files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
        assert (await http.post("/upload", files=files, headers=who)).status_code == 201
        store.turns_fail = True  # recording the turn fails once the answer is written
        reply = await http.post("/ask", json={"question": "When is the bell rung?"}, headers=who)
    frames = parse_sse(reply.text)
    assert [f["event"] for f in frames][-1] == "error"
    assert json.loads(frames[-1]["data"])["status"] == 500
