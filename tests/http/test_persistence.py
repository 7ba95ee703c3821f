"""State survives restarts, half-finished writes never show, concurrent writers all land."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest

from ragsvc.core.config import Settings
from ragsvc.sessions.session_tokens import hash_token
from tests.support.apps import app_client, app_of

pytestmark = pytest.mark.anyio
TEXT = ["Lighthouses guide ships past rocks.", "Foghorns sound when visibility drops."]


async def run_app(settings: Settings, work: Callable) -> object:
    async with app_client(settings) as http:
        return await work(http)


async def test_everything_survives_a_restart(settings: Settings, pdf: Callable):
    async def first_life(http: httpx.AsyncClient):
        up = await http.post("/upload", files={"files": ("sea.pdf", pdf(TEXT))})
        headers = {"Authorization": f"Bearer {up.json()['token']}", "Accept": "application/json"}
        answer = await http.post(
            "/ask", json={"question": "When do foghorns sound?"}, headers=headers
        )
        return headers, up.json()["documents"], answer.json()

    headers, documents, answer = await run_app(settings, first_life)

    async def second_life(http: httpx.AsyncClient):
        listed = await http.get("/documents", headers=headers)
        again = await http.post(
            "/ask", json={"question": "When do foghorns sound?"}, headers=headers
        )
        info = await http.get("/sessions/current", headers=headers)
        return listed.json()["documents"], again.json(), info.json()

    listed, again, info = await run_app(settings, second_life)
    assert listed == documents
    assert again["answer"] == answer["answer"]

    def unscored(sources: list[dict]) -> list[dict]:  # the remembered turn changes RRF scores
        return [{k: v for k, v in s.items() if k != "score"} for s in sources]

    assert unscored(again["sources"]) == unscored(answer["sources"])
    assert info["turns"] == 2


@pytest.mark.disk
async def test_failed_write_leaves_previous_state(settings: Settings, pdf: Callable):
    async def work(http: httpx.AsyncClient):
        up = await http.post("/upload", files={"files": ("sea.pdf", pdf(TEXT))})
        token = up.json()["token"]
        store = app_of(http).state.ragsvc.backends.store

        def explode(state):
            state.documents.clear()
            raise RuntimeError("disk on fire")

        with pytest.raises(RuntimeError):
            await store.update(hash_token(token), explode)
        return token, await http.get("/documents", headers={"Authorization": f"Bearer {token}"})

    token, listed = await run_app(settings, work)
    assert len(listed.json()["documents"]) == 1
    folder = settings.data_dir / "sessions" / hash_token(token)
    assert len(list(folder.glob("gen-*"))) == 1


@pytest.mark.disk
async def test_leftovers_of_a_crash_are_ignored(settings: Settings, pdf: Callable):
    async def upload(http: httpx.AsyncClient):
        up = await http.post("/upload", files={"files": ("sea.pdf", pdf(TEXT))})
        return up.json()["token"]

    token = await run_app(settings, upload)
    folder = settings.data_dir / "sessions" / hash_token(token)
    # A writer that died mid-commit: a staging folder, an unpublished generation, a temp file.
    (folder / ".gen-000009.abc").mkdir()
    (folder / "gen-000007").mkdir()
    (folder / ".CURRENT.tmp").write_text("gen-000007")

    async def after(http: httpx.AsyncClient):
        headers = {"Authorization": f"Bearer {token}"}
        listed = await http.get("/documents", headers=headers)
        more = await http.post(
            "/upload", files={"files": ("b.pdf", pdf(["Buoys mark channels."]))}, headers=headers
        )
        return listed, more, await http.get("/documents", headers=headers)

    listed, more, relisted = await run_app(settings, after)
    assert len(listed.json()["documents"]) == 1
    assert more.status_code == 201 and len(relisted.json()["documents"]) == 2
    assert [p.name for p in folder.glob("gen-*")] == [(folder / "CURRENT").read_text()]


async def test_concurrent_uploads_to_one_session_all_land(settings: Settings, pdf: Callable):
    async def work(http: httpx.AsyncClient):
        token = (await http.post("/sessions")).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        http.cookies.clear()

        async def upload(i: int) -> None:
            data = pdf([f"Document {i} describes harbour number {i}."])
            reply = await http.post("/upload", files={"files": (f"{i}.pdf", data)}, headers=headers)
            assert reply.status_code == 201

        async with anyio.create_task_group() as tasks:
            for i in range(8):
                tasks.start_soon(upload, i)
        return await http.get("/documents", headers=headers)

    listed = await run_app(settings, work)
    assert sorted(d["filename"] for d in listed.json()["documents"]) == [
        f"{i}.pdf" for i in range(8)
    ]


def test_store_refuses_paths_that_are_not_token_hashes(tmp_path: Path):
    from ragsvc.storage.disk.store import DiskStore

    store = DiskStore(tmp_path)
    with pytest.raises(ValueError):
        store._dir("../../etc")


async def test_writing_to_a_session_deleted_meanwhile_is_401(settings: Settings, pdf: Callable):
    async def work(http: httpx.AsyncClient):
        token = (await http.post("/sessions")).json()["token"]
        store = app_of(http).state.ragsvc.backends.store
        await store.delete_session(hash_token(token))
        from ragsvc.core.errors import SessionGone

        with pytest.raises(SessionGone):
            await store.update(hash_token(token), lambda state: None)
        with pytest.raises(SessionGone):
            await store.load_state(hash_token(token))

    await run_app(settings, work)
