"""A full disk is reported (507, an error event, /readyz 503), leaves nothing behind and is
recovered from once space is back; the leftovers of interrupted writes are swept."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ragsvc.core.config import Settings
from ragsvc.sessions.session_tokens import hash_token
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.records import SessionMeta
from tests.support.apps import parse_sse
from tests.support.faults import fill, small_disk
from tests.support.faulty_app import faulty_app
from tests.support.uploads import new_session

pytestmark = pytest.mark.anyio


@pytest.mark.disk
async def test_a_write_on_a_full_disk_is_507_and_a_stream_ends_with_its_error(
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


@pytest.mark.slow
async def test_a_really_full_disk_refuses_writes_serves_reads_and_recovers(
    tmp_path: Path, pdf: Callable
):
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
