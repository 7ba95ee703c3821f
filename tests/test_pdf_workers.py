"""Page extraction in worker processes: the same document as in-process, progress as
ranges finish, and a pool whose worker died is rebuilt instead of failing every upload."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from ragsvc.errors import UnreadablePdf
from ragsvc.pdf import parse_pdf
from ragsvc.pdf_workers import PdfWorkers
from tests.test_layout import make_paper

PAPER = Path(__file__).parents[2] / "shared" / "data" / "DeepSeek_R1.pdf"


def long_pdf(pages: int) -> bytes:
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()
        page.insert_textbox(
            pymupdf.Rect(56, 56, 540, 790),
            f"Page {number} of the harbour log. " * 40,
            fontsize=10,
        )
    data = doc.tobytes()
    doc.close()
    return bytes(data)


@pytest.fixture(scope="module")
def pool() -> Iterator[PdfWorkers]:
    pool = PdfWorkers(2)
    pool.extract(long_pdf(4), "warm.pdf", 4)  # workers up before any timing-sensitive test
    yield pool
    pool.close()


def test_pool_and_in_process_parsing_give_the_same_document(pool: PdfWorkers):
    for data in [make_paper(), long_pdf(9)] + ([PAPER.read_bytes()] if PAPER.exists() else []):
        assert parse_pdf(data, "x.pdf", 1000, extractor=pool) == parse_pdf(data, "x.pdf", 1000)


def test_progress_counts_pages_as_ranges_finish(pool: PdfWorkers):
    seen: list[tuple[int, int]] = []
    parse_pdf(
        long_pdf(450),
        "log.pdf",
        1000,
        lambda done, total: seen.append((done, total)),
        extractor=pool,
    )
    assert len(seen) >= 3  # 450 pages: three ranges of at most 200 pages
    assert [total for _, total in seen] == [450] * len(seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == 450


def worker_pids(pool: PdfWorkers) -> list[int]:
    return [p.pid for p in pool._executor._processes.values() if p.pid]  # type: ignore[attr-defined]


def test_a_worker_killed_between_uploads_is_replaced(pool: PdfWorkers):
    data = long_pdf(6)
    victim = worker_pids(pool)[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.5)  # the executor notices the death and marks itself broken
    assert parse_pdf(data, "x.pdf", 100, extractor=pool) == parse_pdf(data, "x.pdf", 100)
    assert victim not in worker_pids(pool)


def test_a_worker_dying_mid_file_refuses_that_file_only(pool: PdfWorkers):
    big = long_pdf(600)

    def kill_soon() -> None:
        time.sleep(0.05)
        for pid in worker_pids(pool):
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    with pytest.raises(UnreadablePdf, match="crashed the PDF parser"):
        parse_pdf(big, "hostile.pdf", 1000, extractor=pool)
    killer.join()
    small = long_pdf(5)
    assert parse_pdf(small, "next.pdf", 100, extractor=pool) == parse_pdf(small, "next.pdf", 100)
