"""Background ingestion: POST /upload?wait=false answers 202, progress streams as SSE."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import httpx
import numpy as np
import pytest

from ragsvc.core.config import Settings
from ragsvc.core.schemas import Chunk
from ragsvc.ingest import steps as preparation
from ragsvc.ingest.ingestion import _fail_interrupted
from ragsvc.ingest.steps import UploadedFile, new_document
from ragsvc.pdf import read as pdf_module
from ragsvc.search.embedders import Vectors
from ragsvc.search.index import SessionIndex
from ragsvc.sessions.session_tokens import hash_token
from ragsvc.storage.records import SessionState
from tests.support.apps import app_client, app_of, parse_sse
from tests.support.fakes import GatedEmbedder

pytestmark = pytest.mark.anyio
PAGES = [
    f"Page {i} tells of tides and lighthouses. Keepers log every passing ship." for i in range(1, 6)
]


async def events_of(http: httpx.AsyncClient, document_id: str, headers: dict, **extra) -> list:
    reply = await http.get(f"/documents/{document_id}/events", headers={**headers, **extra})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    return [(f["event"], f["id"], json.loads(f["data"])) for f in parse_sse(reply.text)]


async def test_a_deleted_document_has_no_events_even_while_its_log_is_kept(
    client, session, pdf: Callable
):
    files = {"files": ("t.pdf", pdf(PAGES))}
    reply = await client.post("/upload", params={"wait": "false"}, files=files, headers=session)
    [doc] = reply.json()["documents"]
    assert (await events_of(client, doc["id"], session))[-1][0] == "ready"  # log kept now
    assert (await client.delete(f"/documents/{doc['id']}", headers=session)).status_code == 204
    gone = await client.get(f"/documents/{doc['id']}/events", headers=session)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


async def test_upload_without_waiting_then_follow_progress(client, session, pdf: Callable):
    reply = await client.post(
        "/upload", params={"wait": "false"}, files={"files": ("t.pdf", pdf(PAGES))}, headers=session
    )
    assert reply.status_code == 202
    [doc] = reply.json()["documents"]
    assert doc["status"] == "processing" and doc["chunks"] == 0
    events = await events_of(client, doc["id"], session)
    names = [name for name, _, _ in events]
    assert names[:5] == ["page"] * 5 and names[-1] == "ready"
    assert [data["page"] for name, _, data in events if name == "page"] == [1, 2, 3, 4, 5]
    assert {data["pages"] for name, _, data in events if name == "page"} == {5}
    embedded = [data for name, _, data in events if name == "chunks"]
    assert embedded and embedded[-1]["embedded"] == embedded[-1]["chunks"]
    assert [i for _, i, _ in events] == [f"{doc['id']}:{n}" for n in range(len(events))]
    final = events[-1][2]
    assert (
        final["status"] == "ready"
        and final["pages"] == 5
        and final["chunks"] == embedded[-1]["chunks"]
    )
    listed = await client.get(f"/documents/{doc['id']}", headers=session)
    assert listed.json() == final
    answer = await client.post(
        "/ask",
        json={"question": "What do keepers log?"},
        headers={**session, "Accept": "application/json"},
    )
    assert answer.status_code == 200 and "passing ship" in answer.json()["answer"]
    # Resuming after the third event replays only what follows it.
    rest = await events_of(client, doc["id"], session, **{"Last-Event-ID": f"{doc['id']}:2"})
    assert rest == events[3:]


async def test_an_answer_says_which_documents_are_still_being_ingested(
    client, session, pdf: Callable
):
    ready = await client.post("/upload", files={"files": ("a.pdf", pdf(PAGES))}, headers=session)
    assert ready.status_code == 201
    app_of(client).state.ragsvc.ingestion.embedder = gated = GatedEmbedder()
    files = {"files": ("b.pdf", pdf(["Harbour pilots board ships at the outer buoy."]))}
    held = await client.post("/upload", params={"wait": "false"}, files=files, headers=session)
    [doc] = held.json()["documents"]
    asking = {**session, "Accept": "application/json"}
    answer = await client.post("/ask", json={"question": "What do keepers log?"}, headers=asking)
    assert answer.status_code == 200 and answer.json()["pending"] == [doc["id"]]
    only_b = {"question": "Where do pilots board?", "document_ids": [doc["id"]]}
    refused = await client.post("/ask", json=only_b, headers=asking)
    assert refused.status_code == 409 and "still being ingested" in refused.json()["detail"]
    gated.gate.set()
    await events_of(client, doc["id"], session)  # until it is ready
    answer = await client.post("/ask", json=only_b, headers=asking)
    assert answer.json()["pending"] == [] and "outer buoy" in answer.json()["answer"]


async def test_not_a_pdf_is_refused_before_the_202(client, session):
    reply = await client.post(
        "/upload",
        params={"wait": "false"},
        files={"files": ("n.pdf", b"plain text")},
        headers=session,
    )
    assert reply.status_code == 415 and "n.pdf" in reply.json()["detail"]


async def test_unusable_pdf_becomes_a_failed_document(client, session, pdf: Callable):
    locked = pdf(["secret"], password="pw")
    reply = await client.post(
        "/upload", params={"wait": "false"}, files={"files": ("l.pdf", locked)}, headers=session
    )
    assert reply.status_code == 202
    doc = reply.json()["documents"][0]
    events = await events_of(client, doc["id"], session)
    assert events[-1][0] == "failed" and "encrypted" in events[-1][2]["detail"]
    stored = (await client.get(f"/documents/{doc['id']}", headers=session)).json()
    assert stored["status"] == "failed"


async def test_a_document_not_ingesting_here_gets_its_final_event(client, session, pdf: Callable):
    up = await client.post("/upload", files={"files": ("t.pdf", pdf(PAGES))}, headers=session)
    doc = up.json()["documents"][0]
    events = await events_of(client, doc["id"], session)
    assert [name for name, _, _ in events] == ["ready"] and events[0][2] == doc
    missing = await client.get("/documents/nope/events", headers=session)
    assert missing.status_code == 404


async def test_deleting_a_document_while_it_is_ingested(settings: Settings, pdf: Callable):
    async with app_client(settings) as http:
        app_of(http).state.ragsvc.ingestion.embedder = gated = GatedEmbedder()
        data = pdf(PAGES)
        up = await http.post("/upload", params={"wait": "false"}, files={"files": ("t.pdf", data)})
        headers = {"Authorization": f"Bearer {up.json()['token']}"}
        doc = up.json()["documents"][0]
        again = await http.post(
            "/upload", params={"wait": "false"}, files={"files": ("t.pdf", data)}, headers=headers
        )
        assert again.json()["documents"][0]["id"] == doc["id"]  # same content, same document
        assert (await http.delete(f"/documents/{doc['id']}", headers=headers)).status_code == 204
        gated.gate.set()
        ingest = app_of(http).state.ragsvc.ingests.find(doc["id"], hash_token(up.json()["token"]))
        with anyio.fail_after(10):
            while not ingest.finished:
                await anyio.sleep(0.01)
        listed = await http.get("/documents", headers=headers)
        assert listed.json()["documents"] == []  # the finished ingest did not bring it back


async def test_a_stream_following_a_document_deleted_meanwhile_ends_saying_so(
    settings: Settings, pdf: Callable
):
    async with app_client(settings) as http:
        app_of(http).state.ragsvc.ingestion.embedder = gated = GatedEmbedder()
        up = await http.post("/upload?wait=false", files={"files": ("t.pdf", pdf(PAGES))})
        headers = {"Authorization": f"Bearer {up.json()['token']}"}
        doc = up.json()["documents"][0]
        followed: list = []

        async def follow() -> None:
            followed.extend(await events_of(http, doc["id"], headers))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(follow)
                await anyio.sleep(0.1)
                assert (await http.delete(f"/documents/{doc['id']}", headers=headers)).is_success
                gated.gate.set()
    name, _, data = followed[-1]
    assert name == "deleted"
    assert data["id"] == doc["id"] and "deleted" in data["detail"]
    assert "ready" not in [event for event, _, _ in followed]


@pytest.mark.disk
async def test_a_document_whose_ingest_died_becomes_failed(settings: Settings, tmp_path):
    """A `processing` record whose lease no live process holds was interrupted by a crash."""
    import subprocess
    import sys

    async with app_client(settings) as http:
        token = (await http.post("/sessions")).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        store = app_of(http).state.ragsvc.backends.store
        upload = UploadedFile("t.pdf", b"%PDF-1.7 whatever")
        alive, dead = new_document(upload), new_document(UploadedFile("u.pdf", b"%PDF-1.7 other"))

        def add(state):
            state.documents[alive.id] = alive
            state.documents[dead.id] = dead

        await store.update(hash_token(token), add)
        lease_dir = settings.data_dir / "sessions" / hash_token(token) / "leases"
        lease_dir.mkdir()
        # Another process takes the lease of `dead`, then exits (as a crashed worker would).
        holder = (
            "import sys; from pathlib import Path; "
            "from ragsvc.storage.disk.file_leases import FileLease; "
            "FileLease.take(Path(sys.argv[1])); print('held', flush=True)"
        )
        done = subprocess.run(
            [sys.executable, "-c", holder, str(lease_dir / dead.id)], capture_output=True, text=True
        )
        assert done.stdout.strip() == "held"
        lease = store.take_lease(hash_token(token), alive.id)  # this process is still on it
        try:
            listed = {
                d["id"]: d
                for d in (await http.get("/documents", headers=headers)).json()["documents"]
            }
            assert listed[alive.id]["status"] == "processing"
            assert (
                listed[dead.id]["status"] == "failed" and "interrupted" in listed[dead.id]["detail"]
            )
        finally:
            lease.release()
        relisted = (await http.get(f"/documents/{alive.id}", headers=headers)).json()
        assert relisted["status"] == "failed"  # its lease is gone now too


TOPICS = [
    "Herons wade in the shallow estuary at dawn and spear small fish.",
    "Lighthouse keepers trim the lamp wicks every evening before dusk.",
    "Glaciers carve deep valleys as they grind slowly down the mountains.",
    "Bakers knead rye dough twice and let it rise overnight in baskets.",
    "Volcanoes vent sulphur gas through fumaroles on their upper slopes.",
]


class SteppedEmbedder(GatedEmbedder):
    """Embeds the first call at once and holds the others until the gate opens (or fails
    them, with `fail`)."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.calls = 0
        self.texts: list[str] = []  # every text it was asked to embed
        self.fail = fail

    async def embed(self, texts: list[str]) -> Vectors:
        self.calls += 1
        self.texts += texts
        if self.calls > 1:
            await self.gate.wait()
            if self.fail:
                raise RuntimeError("the embedding backend went away")
        return self.embed_sync(texts)


async def upload_in_steps(
    http: httpx.AsyncClient, headers: dict, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> dict:
    """Upload without waiting, its chunks embedded three at a time (the card and pages 1-2
    first), and committed after every batch."""
    monkeypatch.setattr(preparation, "EMBED_BATCH", 3)
    monkeypatch.setattr(preparation, "PART_EVERY_S", 0.0)
    files = {"files": ("t.pdf", data)}
    up = await http.post("/upload", params={"wait": "false"}, files=files, headers=headers)
    return up.json()["documents"][0]


async def indexed_so_far(http: httpx.AsyncClient, document_id: str, headers: dict) -> dict:
    """The document once some of its chunks are committed (it is still processing)."""
    with anyio.fail_after(10):
        while True:
            doc = (await http.get(f"/documents/{document_id}", headers=headers)).json()
            if doc["chunks"]:
                return doc
            await anyio.sleep(0.01)


async def test_a_question_while_ingesting_is_answered_from_the_pages_so_far(
    client, session, settings: Settings, pdf: Callable, monkeypatch: pytest.MonkeyPatch
):
    app_of(client).state.ragsvc.ingestion.embedder = stepped = SteppedEmbedder()
    doc = await upload_in_steps(client, session, pdf(TOPICS), monkeypatch)
    so_far = await indexed_so_far(client, doc["id"], session)
    assert so_far["status"] == "processing" and so_far["chunks"] == 3
    asking = {**session, "Accept": "application/json"}
    early = await client.post(
        "/ask", json={"question": "What do lighthouse keepers trim?"}, headers=asking
    )
    body = early.json()
    assert early.status_code == 200 and body["pending"] == [doc["id"]]
    assert "lamp wicks" in body["answer"] and {s["page"] for s in body["sources"]} <= {1, 2}
    stepped.gate.set()
    events = await events_of(client, doc["id"], session)
    assert events[-1][0] == "ready" and events[-1][2]["chunks"] == 6
    late = await client.post("/ask", json={"question": "What do volcanoes vent?"}, headers=asking)
    assert late.json()["pending"] == [] and "fumaroles" in late.json()["answer"]
    chunk_pages = [s["page"] for s in late.json()["sources"]]
    assert sorted(chunk_pages) == sorted(set(chunk_pages))  # no chunk indexed twice
    await ask_after_a_restart(settings, asking, "What do volcanoes vent?", "fumaroles")


async def ask_after_a_restart(settings: Settings, headers: dict, question: str, told: str):
    """What another process, reading the store, answers."""
    async with app_client(settings) as restarted:
        again = await restarted.post("/ask", json={"question": question}, headers=headers)
        assert told in again.json()["answer"]


async def test_an_ingest_that_fails_takes_its_committed_chunks_with_it(
    client, session, pdf: Callable, monkeypatch: pytest.MonkeyPatch
):
    ingestion = app_of(client).state.ragsvc.ingestion
    embedder, ingestion.embedder = ingestion.embedder, (stepped := SteppedEmbedder(fail=True))
    doc = await upload_in_steps(client, session, pdf(TOPICS), monkeypatch)
    await indexed_so_far(client, doc["id"], session)
    stepped.gate.set()
    events = await events_of(client, doc["id"], session)
    assert events[-1][0] == "failed" and events[-1][2]["chunks"] == 0
    asking = {**session, "Accept": "application/json"}
    refused = await client.post("/ask", json={"question": "What do herons spear?"}, headers=asking)
    assert refused.status_code == 409 and "upload a PDF" in refused.json()["detail"]
    ingestion.embedder = embedder
    other = {"files": ("b.pdf", pdf(["Harbour pilots board ships at the outer buoy."]))}
    assert (await client.post("/upload", files=other, headers=session)).status_code == 201
    answer = await client.post("/ask", json={"question": "What do herons spear?"}, headers=asking)
    assert doc["id"] not in {s["document_id"] for s in answer.json()["sources"]}


def test_an_interrupted_document_leaves_the_index_with_its_committed_chunks():
    upload = UploadedFile("t.pdf", b"%PDF-")
    partly = new_document(upload).model_copy(update={"chunks": 2})
    index = SessionIndex("hash", 4)
    chunks = [Chunk(id=i, document_id=partly.id, page=1, text=f"part {i}") for i in range(2)]
    index.add(chunks, np.eye(2, 4, dtype=np.float32))
    state = SessionState({partly.id: partly}, index)
    listed = _fail_interrupted(state, {partly.id})
    assert listed[partly.id].status == "failed" and len(index) == 0


async def test_a_question_while_a_long_read_goes_on_is_answered_from_the_pages_read(
    client, session, settings: Settings, pdf: Callable, monkeypatch: pytest.MonkeyPatch
):
    # pages read two, then two more, then the last: each part committed (its first
    # embedding passes, the next waits for the gate, so reading pauses after pages 1-2)
    monkeypatch.setattr(pdf_module, "FIRST_WINDOW", 2)
    monkeypatch.setattr(preparation, "PART_EVERY_S", 0.0)
    app_of(client).state.ragsvc.ingestion.embedder = stepped = SteppedEmbedder()
    files = {"files": ("t.pdf", pdf(TOPICS))}
    up = await client.post("/upload", params={"wait": "false"}, files=files, headers=session)
    [doc] = up.json()["documents"]
    so_far = await indexed_so_far(client, doc["id"], session)
    assert so_far["status"] == "processing" and so_far["chunks"] == 3  # the card, pages 1-2
    asking = {**session, "Accept": "application/json"}
    early = await client.post(
        "/ask", json={"question": "What do lighthouse keepers trim?"}, headers=asking
    )
    assert early.json()["pending"] == [doc["id"]] and "lamp wicks" in early.json()["answer"]
    assert {s["page"] for s in early.json()["sources"]} <= {1, 2}
    stepped.gate.set()
    events = await events_of(client, doc["id"], session)
    assert events[-1][0] == "ready" and events[-1][2]["chunks"] == 6
    late = await client.post("/ask", json={"question": "What do volcanoes vent?"}, headers=asking)
    assert "fumaroles" in late.json()["answer"]
    pages = [s["page"] for s in late.json()["sources"]]
    assert sorted(pages) == sorted(set(pages))  # the parts' chunks were replaced, not kept
    # the card (searched with its file name's words) and the five pages: each text once
    assert len(stepped.texts) == len(set(stepped.texts)) == 6
    await ask_after_a_restart(settings, asking, "What do volcanoes vent?", "fumaroles")
