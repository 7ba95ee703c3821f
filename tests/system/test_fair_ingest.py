"""One session's hostile uploads do not starve another's: four 350 KB PDFs whose 2,000 pages
all draw one 64 MiB stream used to hold both page workers for their whole time limit each,
so another session's upload, queued behind them, was ready minutes later. Slow: a server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.hostile_pdfs import shared_stream_bomb
from tests.support.pdfs import make_pdf
from tests.support.server import server_process

pytestmark = pytest.mark.slow


def _settled(base: str, who: dict[str, str], document_id: str, deadline: float) -> dict:
    while True:
        document = httpx.get(f"{base}/documents/{document_id}", headers=who).json()
        if document["status"] != "processing" or time.monotonic() > deadline:
            return dict(document)
        time.sleep(0.2)


def test_another_sessions_upload_is_ready_while_page_tree_bombs_wait(tmp_path: Path):
    bombs_ = [shared_stream_bomb(64, pages=2000, mark=f"bomb {i}") for i in range(4)]
    with server_process(tmp_path / "data") as (base, _):
        files = [("files", (f"bomb{i}.pdf", bomb)) for i, bomb in enumerate(bombs_)]
        bombs = httpx.post(f"{base}/upload?wait=false", files=files, timeout=60)
        assert bombs.status_code == 202, bombs.text
        started = time.monotonic()
        mine = httpx.post(
            f"{base}/upload?wait=false",
            files={"files": ("log.pdf", make_pdf([f"Page {i} of the log." for i in range(22)]))},
        )
        who = {"Authorization": f"Bearer {mine.json()['token']}"}
        document = _settled(base, who, mine.json()["documents"][0]["id"], started + 60)
        ready_after = time.monotonic() - started
        attacker = {"Authorization": f"Bearer {bombs.json()['token']}"}
        refused = [
            _settled(base, attacker, d["id"], time.monotonic() + 60)
            for d in bombs.json()["documents"]
        ]
    assert document["status"] == "ready"
    assert ready_after < 30, f"the other session's upload was ready after {ready_after:.0f} s"
    assert len(refused) == 4 and {d["status"] for d in refused} == {"failed"}
    assert all("streams they share" in d["detail"] for d in refused)
