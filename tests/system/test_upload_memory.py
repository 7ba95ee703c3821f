"""Background uploads do not pile up in the server's memory: twenty 43 MB `?wait=false`
uploads at once are spooled to disk on their way in (the multipart parser's temporary files,
then the session's spool), not held whole in the process. Read off a real server's RSS."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pymupdf
import pytest

from tests.support.server import server_process

pytestmark = pytest.mark.slow
MB = 2**20


def _large_pdf(megabytes: int) -> bytes:
    """A one-page PDF carrying `megabytes` of incompressible bytes (an attached file)."""
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "A ledger of tides, with its raw soundings attached.")
    doc.embfile_add("soundings.bin", os.urandom(megabytes * MB))
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def test_twenty_large_background_uploads_leave_the_server_near_its_idle_size(tmp_path: Path):
    body = _large_pdf(43)
    env = {"RAGSVC_MAX_INGESTS_PER_SESSION": "20", "RAGSVC_SESSION_RATE_PER_MINUTE": "0"}
    with server_process(tmp_path / "data", **env) as (base, process):
        idle = _rss_mb(process.pid)
        peak, done = [idle], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak.append(_rss_mb(process.pid))
                time.sleep(0.02)

        def upload(_: int) -> int:
            files = {"files": ("ledger.pdf", body)}
            return httpx.post(f"{base}/upload?wait=false", files=files, timeout=120).status_code

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with ThreadPoolExecutor(20) as pool:
                statuses = list(pool.map(upload, range(20)))
        finally:
            done.set()
            sampler.join()
    assert statuses == [202] * 20
    grew = max(peak) - idle
    assert grew < 250, f"the server grew by {grew:.0f} MB (idle {idle:.0f} MB)"
