"""The PostgreSQL store (RAGSVC_STORE=postgres): replicas share sessions, documents, chunks
and turns; concurrent writers on two replicas lose nothing; a change on one replica is used
by the next request on another; the schema comes from migrations run once. Runs against the
machine's PostgreSQL, in a schema of the test's own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from ragsvc.cli import app as cli
from ragsvc.core.clock import now
from ragsvc.core.config import Settings
from ragsvc.core.schemas import Chunk, Document, Turn
from ragsvc.ingest.ingestion import INTERRUPTED_DETAIL
from ragsvc.search.index import SessionIndex
from ragsvc.sessions.session_tokens import hash_token
from ragsvc.storage.postgres.store import PostgresStore
from ragsvc.storage.records import SessionState
from tests.support.apps import app_client, app_of
from tests.support.pdfs import make_pdf
from tests.support.relay import relay

pytestmark = pytest.mark.anyio
PAGES = ["Herons hunt fish in shallow water at dawn.", "Kingfishers dive from perches."]


def pg_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "unused", store="postgres", database_url=database_url)


@asynccontextmanager
async def replicas(settings: Settings, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`count` apps, each with its own store (pool and cache) on one database."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(app_client(settings)) for _ in range(count)]


async def new_session(http: httpx.AsyncClient) -> dict[str, str]:
    token = (await http.post("/sessions")).json()["token"]
    http.cookies.clear()
    return {"Authorization": f"Bearer {token}"}


async def ask(http: httpx.AsyncClient, headers: dict[str, str], question: str) -> httpx.Response:
    return await http.post(
        "/ask", json={"question": question}, headers={**headers, "Accept": "application/json"}
    )


def test_migrations_run_once_and_ragsvc_migrate_says_so(database_url: str):
    env = {"RAGSVC_STORE": "postgres", "RAGSVC_DATABASE_URL": database_url}
    first = CliRunner().invoke(cli, ["migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert (
        "applied: 0001_initial.sql, 0002_pdfs.sql, 0003_parts.sql, 0004_inverted_file_codes.sql"
        in first.output
    )
    again = CliRunner().invoke(cli, ["migrate"], env=env)
    assert again.exit_code == 0 and "up to date" in again.output
    with psycopg.connect(database_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations").fetchall()
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    assert versions == [(1,), (2,), (3,), (4,)]
    assert {"sessions", "documents", "parts", "chunks", "turns", "uploads", "pdfs", "leases"} <= {
        t for (t,) in tables
    }


def test_serve_with_an_unreachable_database_fails_at_start_in_one_line():
    env = {"RAGSVC_STORE": "postgres", "RAGSVC_DATABASE_URL": "postgresql://127.0.0.1:9/none"}
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 1
    assert "PostgreSQL (RAGSVC_DATABASE_URL) failed" in result.output
    assert "Traceback" not in result.output


async def test_an_upload_on_one_replica_is_asked_and_deleted_on_the_others(
    tmp_path: Path, database_url: str
):
    async with replicas(pg_settings(tmp_path, database_url), 3) as (a, b, c):
        headers = await new_session(a)
        up = await a.post(
            "/upload", files={"files": ("birds.pdf", make_pdf(PAGES))}, headers=headers
        )
        assert up.status_code == 201, up.text
        doc_id = up.json()["documents"][0]["id"]
        answer = await ask(b, headers, "Which birds dive from perches?")
        assert answer.status_code == 200, answer.text
        assert answer.json()["sources"][0]["page"] == 2
        assert "Kingfishers" in answer.json()["answer"]
        assert (await c.delete(f"/documents/{doc_id}", headers=headers)).status_code == 204
        # a and b loaded the session before the delete: the generation tells them it changed
        assert (await a.get("/documents", headers=headers)).json()["documents"] == []
        gone = await ask(b, headers, "Which birds dive from perches?")
        assert gone.status_code == 409, gone.text


async def test_concurrent_uploads_from_two_replicas_all_land(tmp_path: Path, database_url: str):
    settings = pg_settings(tmp_path, database_url)
    async with replicas(settings, 2) as pair:
        headers = await new_session(pair[0])

        async def upload(i: int) -> None:
            data = make_pdf([f"Document {i} describes harbour number {i}."])
            files = {"files": (f"{i}.pdf", data)}
            reply = await pair[i % 2].post("/upload", files=files, headers=headers)
            assert reply.status_code == 201, reply.text

        async with anyio.create_task_group() as tasks:
            for i in range(8):
                tasks.start_soon(upload, i)
    fresh = PostgresStore(database_url)  # nothing cached: what the database holds
    try:
        state = await fresh.load_state(hash_token(headers["Authorization"][7:]))
    finally:
        await fresh.aclose()
    assert sorted(d.filename for d in state.documents.values()) == [f"{i}.pdf" for i in range(8)]
    assert state.index is not None
    assert sorted(state.index.document_ids()) == sorted(state.documents)


async def test_everything_survives_a_restart(tmp_path: Path, database_url: str):
    settings = pg_settings(tmp_path, database_url)
    async with app_client(settings) as first:
        headers = await new_session(first)
        up = await first.post(
            "/upload", files={"files": ("b.pdf", make_pdf(PAGES))}, headers=headers
        )
        answer = await ask(first, headers, "When do herons hunt?")
    async with app_client(settings) as second:
        listed = await second.get("/documents", headers=headers)
        again = await ask(second, headers, "When do herons hunt?")
        info = await second.get("/sessions/current", headers=headers)
    assert listed.json()["documents"] == up.json()["documents"]
    assert again.json()["answer"] == answer.json()["answer"]
    assert info.json()["turns"] == 2  # the first answer's turn was kept for follow-ups


async def test_background_uploads_are_ingested_and_orphans_fail(tmp_path: Path, database_url: str):
    async with replicas(pg_settings(tmp_path, database_url), 2) as (a, b):
        headers = await new_session(a)
        files = {"files": ("b.pdf", make_pdf(PAGES))}
        up = await a.post("/upload?wait=false", files=files, headers=headers)
        assert up.status_code == 202, up.text
        doc_id = up.json()["documents"][0]["id"]
        with anyio.fail_after(20):
            while (await b.get(f"/documents/{doc_id}", headers=headers)).json()[
                "status"
            ] != "ready":
                await anyio.sleep(0.05)
        store = a._transport.app.state.ragsvc.backends.store  # type: ignore[attr-defined]
        token_hash = hash_token(headers["Authorization"][7:])
        held = await anyio.to_thread.run_sync(store.take_lease, token_hash, "held")
        await store.update(token_hash, lambda s: _add_processing(s, ["held", "orphan"]))
        listed = {
            d["id"]: d for d in (await b.get("/documents", headers=headers)).json()["documents"]
        }
        await anyio.to_thread.run_sync(held.release)
    assert listed["held"]["status"] == "processing"  # a live process holds its lease
    assert listed["orphan"]["status"] == "failed"
    assert listed["orphan"]["detail"] == INTERRUPTED_DETAIL


def _add_processing(state: SessionState, ids: list[str]) -> None:
    for doc_id in ids:
        state.documents[doc_id] = _document(doc_id)


def _document(doc_id: str, title: str | None = None) -> Document:
    return Document(
        id=doc_id,
        filename=f"{doc_id}.pdf",
        sha256=doc_id,
        pages=0,
        chunks=0,
        status="processing",
        title=title,
        created_at=now(),
    )


async def test_expired_sessions_are_refused_and_purged(tmp_path: Path, database_url: str):
    async with app_client(pg_settings(tmp_path, database_url)) as http:
        headers = await new_session(http)
        await http.post("/upload", files={"files": ("b.pdf", make_pdf(PAGES))}, headers=headers)
        kept = await new_session(http)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE sessions SET expires_at = now() - interval '1 second'"
                " WHERE token_hash = %s",
                (hash_token(headers["Authorization"][7:]),),
            )
            # expired by a change this process did not make: seen once it looks again (its
            # memory of sessions found lasts RECHECK_S), as it would after that second
            app_of(http).state.ragsvc.sessions.memo.forget(hash_token(headers["Authorization"][7:]))
            assert (await http.get("/documents", headers=headers)).status_code == 401
            assert (await http.get("/documents", headers=kept)).status_code == 200
            rows = conn.execute("SELECT count(*) FROM sessions").fetchone()
            chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()
    assert rows == (1,) and chunks == (0,)  # its documents and chunks went with it


async def test_text_with_nul_characters_is_kept_whole(database_url: str):
    """Real PDFs hold NUL characters, which PostgreSQL's text and jsonb types refuse."""
    store = PostgresStore(database_url)
    token_hash = hash_token("nul")
    document = _document("d1", title="a\x00title")
    chunk = Chunk(id=0, document_id="d1", page=1, text="before\x00after")
    turn = Turn(question="why\x00?", answer="because", at=now())

    def add(state: SessionState) -> None:
        state.documents["d1"] = document
        state.index = SessionIndex("hash:128", 4)
        state.index.add([chunk], np.ones((1, 4), dtype=np.float32))

    try:
        await store.create_session(token_hash, timedelta(hours=1))
        await store.update(token_hash, add)
        await store.add_turn(token_hash, turn, keep=4)
    finally:
        await store.aclose()
    fresh = PostgresStore(database_url)  # nothing cached: read back from the database
    try:
        conversation = await fresh.read_conversation(token_hash, 4, lambda read: read)
    finally:
        await fresh.aclose()
    assert conversation.state.documents == {"d1": document}
    assert conversation.state.index is not None
    assert conversation.state.index.chunks == {0: chunk}
    assert conversation.turns == [turn]


# The pool reconnects with a back-off (1 s, then longer): the first probe after the database
# comes back may fall before its next attempt (CI saw a 503 there once).
RECOVERY_S = 15.0


async def ready_within(http: httpx.AsyncClient, seconds: float) -> httpx.Response:
    """/readyz, asked every 0.2 s until it answers 200 or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        reply = await http.get("/readyz")
        if reply.status_code == 200 or time.monotonic() > deadline:
            return reply
        await anyio.sleep(0.2)


@pytest.mark.slow  # a request waits out the pool's 5 s for a connection
async def test_a_database_outage_is_a_503_naming_it_and_service_resumes_after(
    tmp_path: Path, database_url: str
):
    with relay("127.0.0.1", 5432) as cut_able:
        url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{cut_able.port}")
        assert url != database_url
        async with app_client(pg_settings(tmp_path, url)) as http:
            headers = await new_session(http)
            cut_able.cut()
            not_ready = await http.get("/readyz")
            refused = await http.get("/documents", headers=headers)
            cut_able.restore()
            ready = await ready_within(http, RECOVERY_S)
            listed = await http.get("/documents", headers=headers)
    assert not_ready.status_code == 503 and "PostgreSQL" in not_ready.json()["detail"]
    assert refused.status_code == 503 and "PostgreSQL" in refused.json()["detail"]
    assert ready.status_code == 200
    assert listed.status_code == 200 and listed.json()["documents"] == []
