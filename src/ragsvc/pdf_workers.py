"""PDF page extraction in worker processes, the one way to a second core for parsing.

MuPDF holds the GIL while it extracts a page, so threads parse one page at a time however
many there are; worker processes do not share it. The server still opens and validates
each file; the workers extract ranges of its pages and send back plain tuples. The workers
are forked by multiprocessing's fork server, which imports PyMuPDF once beforehand, so each
starts in milliseconds; they start with the app rather than at the first upload.

A worker that dies on a hostile file breaks the pool: it is rebuilt, that file is refused,
and the server process lives on (the same crash in-process would take the server down).
Workers exit with the server, even a killed one.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from ragsvc.errors import UnreadablePdf
from ragsvc.orphans import exit_with
from ragsvc.pdf import PageLines, page_lines

log = logging.getLogger(__name__)

# Each range ships the whole file to a worker, which opens it again: one range per worker
# is fastest (DeepSeek-R1: 30 ms against 45 ms with two each), but a long document is cut
# into ranges of at most this many pages, so progress events keep coming.
MAX_RANGE_PAGES = 200
RangeExtractor = Callable[[bytes, int, int], list[PageLines]]  # (pdf, start, stop) -> pages
Futures = dict[Future[list[PageLines]], int]  # each range's future -> its first page


class PdfWorkers:
    """A pool of worker processes extracting the pages of a PDF in ranges. `extract_range`
    runs in the workers (a module-level function, so they can import it)."""

    def __init__(
        self,
        workers: int,
        *,
        max_range_pages: int = MAX_RANGE_PAGES,
        extract_range: RangeExtractor = page_lines,
    ) -> None:
        self.workers = workers
        self._max_range_pages = max_range_pages
        self._extract_range = extract_range
        self._lock = threading.Lock()
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ragsvc.pdf"])
        # Each worker exits with this process, even when it is killed (see orphans.py).
        executor = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=exit_with, initargs=(os.getpid(),)
        )
        # Start every worker now rather than during the first upload, from a thread: the
        # fork server imports PyMuPDF first (~0.7 s) and start-up need not wait for it.
        threading.Thread(target=_warm, args=(executor, self.workers), daemon=True).start()
        return executor

    def extract(
        self,
        data: bytes,
        filename: str,
        page_count: int,
        on_pages: Callable[[int], None] | None = None,
    ) -> list[PageLines]:
        """Blocking: every page's lines, in page order; `on_pages(n)` after each range,
        n being the number of pages extracted so far."""
        parts = min(page_count, max(self.workers, math.ceil(page_count / self._max_range_pages)))
        bounds = [round(i * page_count / parts) for i in range(parts + 1)]
        executor, futures = self._submit(data, list(zip(bounds, bounds[1:], strict=False)))
        try:
            done = _collect(futures, on_pages)
        except BrokenProcessPool as exc:
            self._restart(executor)
            raise UnreadablePdf(f"{filename}: the file crashed the PDF parser") from exc
        finally:
            for future in futures:
                future.cancel()
        return [page for start in sorted(done) for page in done[start]]

    def _submit(
        self, data: bytes, ranges: list[tuple[int, int]]
    ) -> tuple[ProcessPoolExecutor, Futures]:
        """Every range to the pool, rebuilt first if a worker died since the last file."""
        executor = self._executor
        try:
            return executor, self._submit_to(executor, data, ranges)
        except BrokenProcessPool:  # broken before this file (a worker was killed): rebuild
            executor = self._restart(executor)
            return executor, self._submit_to(executor, data, ranges)

    def _submit_to(
        self, executor: ProcessPoolExecutor, data: bytes, ranges: list[tuple[int, int]]
    ) -> Futures:
        extract = self._extract_range
        return {executor.submit(extract, data, start, stop): start for start, stop in ranges}

    def _restart(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is broken:  # not already replaced by a concurrent caller
                log.warning("a PDF page worker died; starting new ones")
                broken.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
            return self._executor

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _collect(
    futures: Futures, on_pages: Callable[[int], None] | None
) -> dict[int, list[PageLines]]:
    """Each range's pages by its first page, reporting the pages done as ranges finish."""
    done: dict[int, list[PageLines]] = {}
    extracted = 0
    for future in as_completed(futures):
        pages = done[futures[future]] = future.result()
        extracted += len(pages)
        if on_pages is not None:
            on_pages(extracted)
    return done


def _warm(executor: ProcessPoolExecutor, workers: int) -> None:
    try:
        for future in [executor.submit(int) for _ in range(workers)]:
            future.result()
    except Exception:  # shut down meanwhile, or broken: the next upload reports it
        log.debug("page workers did not warm up", exc_info=True)
