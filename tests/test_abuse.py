"""Hold under abuse (issue 10): each test names the case of the issue it reproduces. The app
runs in-process over ASGI with the fake backends unless a case needs a socket."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from ragsvc.app import create_app
from ragsvc.config import Settings
from ragsvc.disk_store import DiskStore
from ragsvc.embeddings import Vectors
from ragsvc.store import SessionMeta, SessionState
from ragsvc.tokens import hash_token

from .conftest import GatedEmbedder, HashEmbedder, app_client, app_of, fake_backends, parse_sse
from .faults import FaultyStore, fill, small_disk
from .server import alive, descendants, server_process

pytestmark = pytest.mark.anyio


async def new_session(http: httpx.AsyncClient) -> dict[str, str]:
    reply = await http.post("/sessions")
    http.cookies.clear()  # each caller says who it is
    return {"Authorization": f"Bearer {reply.json()['token']}"}


async def upload_later(http: httpx.AsyncClient, pdf: Callable, text: str, who: dict[str, str]):
    files = {"files": (f"{text[:8]}.pdf", pdf([text]))}
    return await http.post("/upload", params={"wait": "false"}, files=files, headers=who)


async def test_case3_one_session_cannot_evict_or_cancel_anothers_work(
    settings: Settings, pdf: Callable
):
    """Work is admitted per session and per process; a full hub refuses, it never cancels."""
    settings.max_ingests, settings.max_ingests_per_session = 3, 2
    async with app_client(settings) as http:
        app_of(http).state.ragsvc.ingestion.embedder = gated = GatedEmbedder()
        victim, mallory, mallory2 = [await new_session(http) for _ in range(3)]
        accepted = await upload_later(http, pdf, "The victim's harbour log.", victim)
        assert accepted.status_code == 202  # and running until the gate opens
        for text in ["Mallory one.", "Mallory two."]:
            assert (await upload_later(http, pdf, text, mallory)).status_code == 202
        refused = await upload_later(http, pdf, "Mallory three.", mallory)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert refused.json()["type"] == "urn:ragsvc:problem:too-much-in-progress"
        full = await upload_later(http, pdf, "Another session of Mallory's.", mallory2)
        assert full.status_code == 503 and full.json()["type"] == "urn:ragsvc:problem:overloaded"
        gated.gate.set()
        url = f"/documents/{accepted.json()['documents'][0]['id']}"
        with anyio.fail_after(10):
            while (doc := (await http.get(url, headers=victim)).json())["status"] == "processing":
                await anyio.sleep(0.01)
        assert doc["status"] == "ready"


# case 7: hostile input answered as problems, and failures that still end their stream ----


async def test_case7_a_page_tree_claiming_a_billion_pages_is_unreadable_not_500(
    client: httpx.AsyncClient, session: dict[str, str], pdf: Callable
):
    claimed = pdf(["One real page."]).replace(b"/Count 1", b"/Count 1000000000")
    reply = await client.post("/upload", files={"files": ("huge.pdf", claimed)}, headers=session)
    assert reply.status_code == 422, reply.text
    assert reply.json()["type"] == "urn:ragsvc:problem:unreadable-pdf"


@pytest.mark.parametrize("seq", ["²", "1²", "9" * 5000])
async def test_case7_a_last_event_id_that_is_no_number_starts_a_fresh_answer(
    client: httpx.AsyncClient, session: dict[str, str], pdf: Callable, seq: str
):
    files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    # Header bytes are latin-1 to the server: b"\xb2" arrives as "²", a digit to str.isdigit.
    last_event_id = f"0123abcd:{seq}".encode("latin-1")
    headers = {**session, "Last-Event-ID": last_event_id}
    reply = await client.post("/ask", json={"question": "When is the bell rung?"}, headers=headers)
    assert reply.status_code == 200 and "event: done" in reply.text


class BrokenEmbedder(HashEmbedder):
    """An embedder with a bug: not a RagError, just an exception."""

    async def embed(self, texts: list[str]) -> Vectors:
        raise RuntimeError("a bug in the embedder")


@asynccontextmanager
async def faulty_app(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FaultyStore]]:
    backends = fake_backends(settings)
    backends.store = store = FaultyStore(settings.data_dir, settings.min_free_mb)
    app = create_app(settings, backends)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, store


async def settled(http: httpx.AsyncClient, document: dict, who: dict[str, str]) -> list[dict]:
    """The document's ingestion events, once it has settled."""
    reply = await http.get(f"/documents/{document['id']}/events", headers=who)
    return [{"event": f["event"], **json.loads(f["data"])} for f in parse_sse(reply.text)]


async def test_case7_an_unexpected_error_in_background_ingestion_fails_the_document(
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


async def test_case7_a_failed_write_at_the_end_of_an_ingest_fails_the_document(
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


async def test_case7_a_failed_write_after_the_last_token_ends_the_stream_with_an_error(
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


# case 8: helper processes die with the server ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("args", [(), ("--workers", "2")], ids=["one process", "two workers"])
def test_case8_no_helper_process_outlives_a_killed_server(tmp_path: Path, args: tuple[str, ...]):
    import os
    import signal
    import time

    with server_process(tmp_path / "data", *args) as (_, server):
        # page workers (two per server process) start in the background: wait for them
        expected = 3 if not args else 8  # fork server + 2 workers, per uvicorn worker
        deadline = time.monotonic() + 30
        while len(helpers := descendants(server.pid)) < expected:
            assert time.monotonic() < deadline, f"only {len(helpers)} helper processes"
            time.sleep(0.1)
        os.kill(server.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while alive(helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
    survivors = alive(helpers)
    for pid in survivors:  # a failing run leaves nothing behind either
        os.kill(pid, signal.SIGKILL)
    assert survivors == set(), "helper processes outlived the killed server"


# case 4: a full disk is reported, leaves nothing behind, and is swept ----------------------


async def test_case4_a_write_on_a_full_disk_is_507_and_a_stream_ends_with_its_error(
    settings: Settings, pdf: Callable
):
    async with faulty_app(settings) as (http, store):
        store.error = OSError(errno.ENOSPC, "No space left on device")
        who = await new_session(http)
        files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
        store.updates_to_fail = 1
        full = await http.post("/upload", files=files, headers=who)
        assert full.status_code == 507 and full.headers["retry-after"]
        assert full.json()["type"] == "urn:ragsvc:problem:storage-full"
        assert (await http.post("/upload", files=files, headers=who)).status_code == 201
        store.turns_fail = True
        reply = await http.post("/ask", json={"question": "When is the bell rung?"}, headers=who)
    frames = parse_sse(reply.text)
    assert frames[-1]["event"] == "error" and json.loads(frames[-1]["data"])["status"] == 507


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_case4_the_leftovers_of_interrupted_writes_are_swept(settings: Settings):
    store = DiskStore(settings.data_dir)
    alive = "a" * 64
    await store.create_session(alive, timedelta(hours=1))
    await store.update(alive, lambda state: None)
    folder = store.root / alive
    staging, temp = folder / ".gen-000002.0123", folder / ".meta.json.4567"
    staging.mkdir()
    temp.write_bytes(b"half")
    stale_generation = folder / "gen-000000"
    stale_generation.mkdir()
    half_made = store.root / ("b" * 64)  # a session whose meta.json was never written
    half_made.mkdir()
    fresh = folder / ".turns.json.89ab"  # a write that may still be running
    fresh.write_bytes(b"...")
    for path in (staging, temp, stale_generation, half_made):
        age(path, 3600)
    await store.purge_expired()
    assert not staging.exists() and not temp.exists() and not stale_generation.exists()
    assert not half_made.exists()
    assert fresh.exists() and (folder / "gen-000001").exists()
    assert (await store.load_state(alive)).documents == {}


@pytest.mark.slow
async def test_case4_a_really_full_disk(tmp_path: Path, pdf: Callable):
    """A filesystem of 8 MB that fills up: 507s and an error event, /readyz 503 naming the
    cause, no folder or staging left, reads still served, and all well once space is back."""
    with small_disk(tmp_path / "disk", "8m") as disk:
        settings = Settings(data_dir=disk / "data", min_free_mb=1)
        async with faulty_app(settings) as (http, store):
            who = await new_session(http)
            files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
            assert (await http.post("/upload", files=files, headers=who)).status_code == 201
            await expire_touch(store, who)
            filler = fill(disk)
            before = sorted(p.name for p in store.root.rglob("*"))
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "disk is full" in ready.json()["detail"]
            assert (await http.post("/sessions")).status_code == 507
            more = {"files": ("k.pdf", pdf(["The keeper logs every ship."]))}
            assert (await http.post("/upload", files=more, headers=who)).status_code == 507
            assert (await http.get("/sessions/current", headers=who)).status_code == 200
            question = {"question": "When is the bell rung?"}
            frames = parse_sse((await http.post("/ask", json=question, headers=who)).text)
            assert frames[-1]["event"] == "error"
            assert json.loads(frames[-1]["data"])["status"] == 507
            assert sorted(p.name for p in store.root.rglob("*")) == before  # nothing left
            filler.unlink()
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.post("/upload", files=more, headers=who)).status_code == 201


async def expire_touch(store: DiskStore, who: dict[str, str]) -> None:
    """Make the session's next request slide its expiry (a write on a read path)."""
    token_hash = hash_token(who["Authorization"].removeprefix("Bearer "))
    meta_path = store.root / token_hash / "meta.json"
    meta = SessionMeta.model_validate_json(meta_path.read_bytes())
    old = meta.model_copy(update={"touched_at": meta.touched_at - timedelta(hours=1)})
    meta_path.write_bytes(old.model_dump_json().encode())


# case 5: a reader never fails because a writer replaced the generation it was reading ------


class RacingStore(DiskStore):
    """A second process's store, whose reads another process's writes overtake: right after
    it has read CURRENT, `writer` publishes a new generation and removes the old one."""

    def __init__(self, data_dir: Path, writer: DiskStore, token_hash: str) -> None:
        super().__init__(data_dir)
        self.writer, self.token_hash, self.races = writer, token_hash, 3

    def _read_generation(self, folder: Path) -> SessionState:
        if self.races:
            self.races -= 1
            self.writer._update(self.token_hash, lambda state: None)
        return super()._read_generation(folder)


async def test_case5_a_read_overtaken_by_another_processs_write_still_succeeds(
    settings: Settings, pdf: Callable
):
    writer = DiskStore(settings.data_dir)
    token_hash = "c" * 64
    await writer.create_session(token_hash, timedelta(hours=1))
    await writer.update(token_hash, lambda state: None)
    reader = RacingStore(settings.data_dir, writer, token_hash)
    state = await reader.load_state(token_hash)
    assert reader.races == 0 and state.documents == {}
    current = (writer.root / token_hash / "CURRENT").read_text()
    assert current == "gen-000004"  # one write before the reader, three while it read
