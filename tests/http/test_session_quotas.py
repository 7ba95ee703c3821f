"""Per-session quotas: a session past its quota of documents, chunks or megabytes is refused
and stays within it, and an upload writes what it adds, not the whole session again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ragsvc.core.config import Settings
from tests.support.apps import app_client, app_of
from tests.support.pdfs import make_pdf as pdf_of_pages
from tests.support.uploads import new_session, padded_pdf, settled, upload

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("quota", "what"),
    [
        ({"max_session_documents": 2}, "documents"),
        ({"max_session_chunks": 4}, "chunks"),
        ({"max_session_mb": 0.5}, "MB of PDFs"),
    ],
)
async def test_a_session_past_its_quota_is_refused_and_stays_within_it(
    settings: Settings, quota: dict[str, float], what: str
):
    for name, value in quota.items():
        setattr(settings, name, value)
    async with app_client(settings) as http:
        who = await new_session(http)
        first = pdf_of_pages(["Gulls nest on the cliffs."])
        assert (await upload(http, first, who=who)).status_code == 201
        more = [padded_pdf(f"Page {i} of the harbour log. " * 20, 0) for i in range(3)]
        more[-1] = padded_pdf("The last one is large. " * 20, 1)
        for params in ({}, {"wait": "false"}):
            files = [("files", (f"{i}.pdf", data)) for i, data in enumerate(more)]
            reply = await http.post("/upload", files=files, params=params, headers=who)
            if reply.status_code == 202:  # chunks are known only once ingested
                final = (await settled(http, reply.json()["documents"][-1], who))[-1]
                assert final["event"] == "failed" and what in final["detail"]
                continue
            assert reply.status_code == 413 and what in reply.json()["detail"]
            assert reply.json()["type"] == "urn:ragsvc:problem:quota-exceeded"
        listed = (await http.get("/documents", headers=who)).json()["documents"]
    ready = [d for d in listed if d["status"] == "ready"]
    assert len(ready) <= settings.max_session_documents
    assert sum(d["chunks"] for d in ready) <= settings.max_session_chunks
    assert sum(d["size"] for d in listed) <= settings.max_session_mb * 2**20


def written_since(folder: Path, since: float) -> int:
    """Bytes of the files under `folder` written since `since` (a time.time())."""
    return sum(
        path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file() and path.stat().st_mtime >= since
    )


@pytest.mark.disk
async def test_an_upload_writes_what_it_adds_not_the_whole_session_again(
    settings: Settings,
):
    async with app_client(settings) as http:
        who = await new_session(http)
        for n in range(8):
            pages = [f"Log {n}, page {i}: the tide turned at noon. " * 25 for i in range(10)]
            files = {"files": (f"{n}.pdf", pdf_of_pages(pages))}
            assert (await http.post("/upload", files=files, headers=who)).status_code == 201
        folder = next(app_of(http).state.ragsvc.backends.store.root.iterdir())
        stored = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        time.sleep(0.01)  # mtimes of what follows are later than anything stored so far
        since = time.time()
        small = {"files": ("small.pdf", pdf_of_pages(["Gulls nest on the cliffs."]))}
        assert (await http.post("/upload", files=small, headers=who)).status_code == 201
        written = written_since(folder, since)
    assert written < stored / 5, f"{written} bytes written for a small upload, {stored} stored"
