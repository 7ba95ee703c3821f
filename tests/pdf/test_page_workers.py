"""Page extraction in worker processes: the same document as in-process, progress as
ranges finish, a pool whose worker died is rebuilt instead of failing every upload, and an
error raised in a worker comes back with its message even when it cannot be pickled.
Crashes come from a deterministic hook, not from timed kills."""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from ragsvc.core.errors import ShuttingDown, TooLarge, UnreadablePdf
from ragsvc.pdf.page_lines import PageOptions, page_lines
from ragsvc.pdf.page_workers import PdfWorkers, WorkerError, WorkerLimits, portable
from ragsvc.pdf.parsed import ParsedDocument
from ragsvc.pdf.read import Listeners, parse_pdf
from tests.support.crashing_worker import (
    GO,
    MARK,
    HoldsALock,
    crash_on_marked_files,
    mupdf_refuses,
    never_ends,
    raise_holding_a_lock,
    waits_for_go,
)
from tests.support.paths import SHARED_DATA
from tests.support.pdfs import LIMITS, make_paper

WORKER_LIMITS = WorkerLimits(timeout_s=60, memory_mb=1024)
PAPER = SHARED_DATA / "DeepSeek_R1.pdf"


def long_pdf(pages: int, title: str | None = None) -> bytes:
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()
        page.insert_textbox(
            pymupdf.Rect(56, 56, 540, 790),
            f"Page {number} of the harbour log. " * 40,
            fontsize=10,
        )
    if title:
        doc.set_metadata({"title": title})
    data = doc.tobytes()
    doc.close()
    return bytes(data)


@pytest.fixture(scope="module")
def pool() -> Iterator[PdfWorkers]:
    pool = PdfWorkers(2, WORKER_LIMITS)
    pool.extract(
        long_pdf(4), "warm.pdf", (4, PageOptions(10**6))
    )  # workers up before any timing-sensitive test
    yield pool
    pool.close()


def test_pool_and_in_process_parsing_give_the_same_document(pool: PdfWorkers):
    for data in [make_paper(), long_pdf(9)] + ([PAPER.read_bytes()] if PAPER.exists() else []):
        assert parse_pdf(data, "x.pdf", LIMITS, extractor=pool) == parse_pdf(data, "x.pdf", LIMITS)


def test_progress_counts_pages_as_ranges_finish():
    seen: list[tuple[int, int]] = []
    pool = PdfWorkers(2, WORKER_LIMITS, max_range_pages=3)
    try:
        listeners = Listeners(on_page=lambda done, total: seen.append((done, total)))
        parse_pdf(long_pdf(10), "log.pdf", LIMITS, listeners, pool)
    finally:
        pool.close()
    assert len(seen) == 4  # ten pages: four ranges of at most three pages
    assert [total for _, total in seen] == [10] * 4
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == 10


def test_a_long_read_is_handed_over_as_it_goes(pool: PdfWorkers):
    data = long_pdf(20)
    for extractor in (pool, None):
        parts: list[ParsedDocument] = []
        seen: list[int] = []
        listeners = Listeners(lambda done, _, seen=seen: seen.append(done), parts.append, 0.0)
        whole = parse_pdf(data, "log.pdf", LIMITS, listeners, extractor)
        # windows of 8, 8 and 4 pages: the first two handed over, the third is the end
        assert [len(part.pages) for part in parts] == [8, 16]
        assert parts[1].pages == whole.pages[:16] and whole == parse_pdf(data, "log.pdf", LIMITS)
        assert seen == sorted(seen) and seen[-1] == 20


def test_pages_from_a_start(pool: PdfWorkers):
    data = long_pdf(6)
    options = PageOptions(10**6)
    assert pool.extract(data, "x.pdf", (6, options), start=2) == page_lines(data, 2, 6, options)


def worker_pids(pool: PdfWorkers) -> list[int]:
    return [p.pid for p in pool._executor._processes.values() if p.pid]  # type: ignore[attr-defined]


def test_a_worker_killed_between_uploads_is_replaced(pool: PdfWorkers):
    data = long_pdf(6)
    victim = worker_pids(pool)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not pool._executor._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)  # until the executor has noticed the death
    assert parse_pdf(data, "x.pdf", LIMITS, extractor=pool) == parse_pdf(data, "x.pdf", LIMITS)
    assert victim not in worker_pids(pool)


def test_a_worker_dying_mid_file_refuses_that_file_only():
    pool = PdfWorkers(2, WORKER_LIMITS, extract_range=crash_on_marked_files)
    try:
        hostile = long_pdf(6, title=MARK)
        with pytest.raises(UnreadablePdf, match="crashed the PDF parser"):
            parse_pdf(hostile, "hostile.pdf", LIMITS, extractor=pool)
        data = long_pdf(6)
        assert parse_pdf(data, "next.pdf", LIMITS, extractor=pool) == parse_pdf(
            data, "next.pdf", LIMITS
        )
    finally:
        pool.close()


def mupdf_error() -> Exception:
    """PyMuPDF's error for a page it will not render: it holds a SWIG pointer."""
    try:
        mupdf_refuses(long_pdf(1), 0, 1, PageOptions(10**6))
    except Exception as exc:
        return exc
    raise AssertionError("no error")


class TwoArguments(Exception):
    """Pickles, but cannot be rebuilt from its pickle: __init__ wants what args lacks."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@pytest.mark.parametrize(
    "make",
    [mupdf_error, lambda: HoldsALock("held"), lambda: TwoArguments("two", 2)],
    ids=["PyMuPDF's", "holding a lock", "not rebuilt from its pickle"],
)
def test_an_error_that_cannot_cross_a_process_boundary_is_made_portable(make):
    exc = make()
    with pytest.raises(TypeError):  # as the executor would have found
        pickle.loads(pickle.dumps(exc))
    crossed = pickle.loads(pickle.dumps(portable(exc)))
    assert isinstance(crossed, WorkerError)
    assert str(crossed) == str(exc) and crossed.kind == type(exc).__qualname__


def test_an_error_that_can_cross_is_left_as_it_is():
    refused = TooLarge("page 3 holds more than 10 characters of text")
    assert portable(refused) is refused
    crossed = pickle.loads(pickle.dumps(refused))
    assert type(crossed) is TooLarge and crossed.detail == refused.detail


@pytest.mark.parametrize(
    ("extract", "message", "kind"),
    [
        (mupdf_refuses, "Overly large image", "FzErrorLimit"),
        (raise_holding_a_lock, "pages 0-1 hold a lock", "HoldsALock"),
    ],
)
def test_an_error_raised_in_a_worker_comes_back_with_its_message(extract, message, kind):
    """Before, the executor sent back its own failure to pickle the error instead:
    "cannot pickle 'SwigPyObject' object"."""
    pool = PdfWorkers(1, WORKER_LIMITS, extract_range=extract)
    try:
        with pytest.raises(WorkerError, match=message) as raised:
            pool.extract(long_pdf(1), "x.pdf", (1, PageOptions(10**6)))
        assert raised.value.kind == kind
        with pytest.raises(UnreadablePdf, match=f"x.pdf: damaged PDF, .*{message}"):
            parse_pdf(long_pdf(1), "x.pdf", LIMITS, extractor=pool)
    finally:
        pool.close()


def test_an_abort_ends_an_extraction_under_way_at_once():
    pool = PdfWorkers(2, WORKER_LIMITS, extract_range=never_ends)
    failed: list[BaseException] = []

    def extract() -> None:
        try:
            pool.extract(long_pdf(2), "stuck.pdf", (2, PageOptions(10**6)))
        except BaseException as exc:
            failed.append(exc)

    reading = threading.Thread(target=extract)
    reading.start()
    try:
        time.sleep(1)  # the ranges are in the workers
        started = time.monotonic()
        pool.abort()
        reading.join(timeout=10)
        assert not reading.is_alive()
        assert time.monotonic() - started < 5
        assert isinstance(failed[0], ShuttingDown)
        with pytest.raises(ShuttingDown):  # and nothing restarts
            pool.extract(long_pdf(1), "next.pdf", (1, PageOptions(10**6)))
    finally:
        pool.close()


def test_the_workers_read_the_pdf_from_a_private_copy_removed_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Not through the pool's pipe, where each range took its own copy of the bytes (a
    40 MB PDF in two ranges: 0.5 s against 0.3 s from a file)."""
    temporary, go = tmp_path / "tmp", tmp_path / "go"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    pool = PdfWorkers(2, WORKER_LIMITS, extract_range=waits_for_go)
    data, options = long_pdf(4, title=f"{GO}{go}"), PageOptions(10**6)
    read: list[object] = []
    reading = threading.Thread(
        target=lambda: read.append(pool.extract(data, "x.pdf", (4, options)))
    )
    try:
        reading.start()
        deadline = time.monotonic() + 10
        while not written(temporary, len(data)) and time.monotonic() < deadline:
            time.sleep(0.01)
        [copy] = copies_in(temporary)
        assert copy.read_bytes() == data
        assert copy.stat().st_mode & 0o777 == 0o600  # only the server's user reads it
        go.touch()
        reading.join(10)
        assert read == [page_lines(data, 0, 4, options)]
        assert not copies_in(temporary)
    finally:
        go.touch()
        reading.join(10)
        pool.close()


def copies_in(folder: Path) -> list[Path]:
    """The PDFs' temporary copies for the workers in `folder` (the fork server's socket
    folder is there too)."""
    return list(folder.glob("ragsvc-pages-*"))


def written(folder: Path, size: int) -> bool:
    """Whether a copy in `folder` holds `size` bytes (it is made empty, then written)."""
    return any(copy.stat().st_size >= size for copy in copies_in(folder))
