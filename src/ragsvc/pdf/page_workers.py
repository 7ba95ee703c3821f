"""PDF page extraction in worker processes, the one way to a second core for parsing.

MuPDF holds the GIL while it extracts a page, so threads parse one page at a time however
many there are; worker processes do not share it. The server still opens and validates
each file; the workers read it from a temporary copy (not through the pool's pipe, which
copied the bytes once per range), extract ranges of its pages and send back plain tuples.
The workers are forked by multiprocessing's fork server, which imports PyMuPDF once
beforehand, so each starts in milliseconds; they start with the app rather than at the
first upload.

An error raised in a worker comes back as it was when it can be pickled (ragsvc's own
errors can), else as a `WorkerError` holding its type and message as strings: PyMuPDF's
carry a SWIG pointer, and the executor would send back its failure to pickle that instead.

A worker that dies on a hostile file breaks the pool: it is rebuilt, the file is tried once
more (another file's crash may have broken it) and then refused, and the server process
lives on (the same crash in-process would take the server down). Each file has a wall-time
budget (past it the workers are killed and rebuilt) and each worker a memory limit.
Workers exit with the server, even a killed one.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import resource
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass

from ragsvc.core.errors import ShuttingDown, TooLarge, UnreadablePdf
from ragsvc.core.orphans import exit_with
from ragsvc.pdf.page_lines import PageLines, PageOptions, page_lines

log = logging.getLogger(__name__)

# Each range ships the whole file to a worker, which opens it again: one range per worker
# is fastest (DeepSeek-R1: 30 ms against 45 ms with two each), but a long document is cut
# into ranges of at most this many pages, so progress events keep coming.
MAX_RANGE_PAGES = 200
RangeExtractor = Callable[[bytes, int, int, PageOptions], list[PageLines]]  # pdf, start, stop
Futures = dict[Future[list[PageLines]], int]  # each range's future -> its first page


class WorkerError(Exception):
    """An error raised in a page worker that could not be pickled back to the server as it
    was: the name of its type and its message, as plain strings (parse_pdf reports it as a
    damaged file, with the message)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)  # the arguments pickle rebuilds it from
        self.kind, self.message = kind, message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class WorkerLimits:
    """What one PDF may cost the workers: wall time for all its pages, and memory (the
    address space of each worker)."""

    timeout_s: float
    memory_mb: int


class PdfWorkers:
    """A pool of worker processes extracting the pages of a PDF in ranges, within limits.
    `extract_range` runs in the workers (a module-level function, so they can import it)."""

    def __init__(
        self,
        workers: int,
        limits: WorkerLimits,
        *,
        max_range_pages: int = MAX_RANGE_PAGES,
        extract_range: RangeExtractor = page_lines,
    ) -> None:
        self.workers, self.limits = workers, limits
        self._max_range_pages = max_range_pages
        self._extract_range = extract_range
        self._lock = threading.Lock()
        self._aborted = False  # shutting down: no restart, no second try
        self.warm = threading.Event()  # set once the first workers have started (/readyz)
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ragsvc.pdf.page_lines"])  # imported once, not per worker
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(), self.limits.memory_mb),
        )
        # Start every worker now rather than during the first upload, from a thread: the
        # fork server imports PyMuPDF first (~0.7 s) and start-up need not wait for it.
        threading.Thread(
            target=_warm, args=(executor, self.workers, self.warm), daemon=True
        ).start()
        return executor

    def extract(
        self,
        data: bytes,
        filename: str,
        pages: tuple[int, PageOptions],
        on_pages: Callable[[int], None] | None = None,
        start: int = 0,
    ) -> list[PageLines]:
        """Blocking: the lines of pages `start` up to the count of `pages` (count, how each
        page is read), in page order; `on_pages(n)` after each range, n pages being done.
        A pool broken meanwhile (a worker died, on this file or on another) is rebuilt and
        the file tried once more."""
        if self._aborted:
            raise ShuttingDown(f"{filename}: the server is shutting down")
        try:
            return self._extract(data, filename, pages, on_pages, start)
        except BrokenProcessPool as exc:
            if self._aborted:
                raise ShuttingDown(f"{filename}: the server stopped reading it") from exc
            log.warning("the PDF page workers broke during %s; trying it once more", filename)
        try:
            return self._extract(data, filename, pages, on_pages, start)
        except BrokenProcessPool as exc:
            raise UnreadablePdf(f"{filename}: the file crashed the PDF parser") from exc

    def _extract(
        self,
        data: bytes,
        filename: str,
        pages: tuple[int, PageOptions],
        on_pages: Callable[[int], None] | None,
        start: int,
    ) -> list[PageLines]:
        stop, options = pages
        count = stop - start
        parts = min(count, max(self.workers, math.ceil(count / self._max_range_pages)))
        bounds = [start + round(i * count / parts) for i in range(parts + 1)]
        ranges = list(zip(bounds, bounds[1:], strict=False))
        with _shared_copy(data) as path:
            executor, futures = self._submit(path, ranges, options)
            try:
                done = _collect(futures, on_pages, self.limits.timeout_s)
            except TimeoutError as exc:  # a worker may be stuck in MuPDF: kill them all
                self._restart(executor, kill=True)
                detail = f"extracting its text took longer than {self.limits.timeout_s:g} s"
                raise TooLarge(detail) from exc  # parse_pdf names the file
            except BrokenProcessPool:
                self._restart(executor)
                raise
            finally:
                for future in futures:
                    future.cancel()
        return [page for start in sorted(done) for page in done[start]]

    def _submit(
        self, path: str, ranges: list[tuple[int, int]], options: PageOptions
    ) -> tuple[ProcessPoolExecutor, Futures]:
        """Every range of the PDF at `path` to the pool, rebuilt first if a worker died
        since the last file."""
        executor = self._executor
        try:
            return executor, self._submit_to(executor, path, ranges, options)
        except BrokenProcessPool:  # broken before this file (a worker was killed): rebuild
            executor = self._restart(executor)
            return executor, self._submit_to(executor, path, ranges, options)

    def _submit_to(
        self,
        executor: ProcessPoolExecutor,
        path: str,
        ranges: list[tuple[int, int]],
        options: PageOptions,
    ) -> Futures:
        extract = self._extract_range
        return {
            executor.submit(_extract_in_worker, extract, path, start, stop, options): start
            for start, stop in ranges
        }

    def _restart(self, broken: ProcessPoolExecutor, kill: bool = False) -> ProcessPoolExecutor:
        with self._lock:
            if self._aborted:
                raise ShuttingDown("the server is shutting down")
            if self._executor is broken:  # not already replaced by a concurrent caller
                log.warning("restarting the PDF page workers")
                if kill:
                    _kill_workers(broken)
                broken.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
            return self._executor

    def abort(self) -> None:
        """Shutting down: kill the workers, so every extraction under way ends at once (with
        ShuttingDown) instead of running to its end or its time limit; nothing restarts."""
        with self._lock:
            self._aborted = True
            if self._executor._pending_work_items:  # idle workers just exit with the pool
                _kill_workers(self._executor)
                self._executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _start_worker(server_pid: int, memory_mb: int) -> None:
    """In each worker: exit with the server (see core/orphans.py), and never use more than
    `memory_mb` of address space (a decompression bomb then fails, the server lives on)."""
    exit_with(server_pid)
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@contextmanager
def _shared_copy(data: bytes) -> Iterator[str]:
    """The PDF as a temporary file (private to this user) for the workers to read, removed
    after. Through the pool's pipe each range took its own copy of the bytes: handing
    DeepSeek-R1's 1.3 MB to two ranges took 5 ms against 0.5 ms by file, and a 40 MB PDF of
    400 pages was extracted in 0.53-0.57 s against 0.34-0.38 s (medians of 6, measured)."""
    with tempfile.NamedTemporaryFile(prefix="ragsvc-pages-", suffix=".pdf") as copy:
        copy.write(data)
        copy.flush()
        yield copy.name


def _extract_in_worker(
    extract: RangeExtractor, path: str, start: int, stop: int, options: PageOptions
) -> list[PageLines]:
    """In a worker: `extract` on the PDF at `path`, its error made fit to cross back to
    the server."""
    try:
        with open(path, "rb") as pdf:
            data = pdf.read()
        return extract(data, start, stop, options)
    except Exception as exc:
        crossing = portable(exc)
        if crossing is exc:
            raise
        raise crossing from exc  # the chain reaches the server as the remote traceback's text


def portable(exc: Exception) -> Exception:
    """`exc` if it survives pickling, else a WorkerError with its type's name and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # TypeError for a SWIG pointer, or whatever its class's pickling hits
        return WorkerError(type(exc).__qualname__, str(exc))
    return exc


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    # Python 3.11's executor cannot stop a running task; its processes are private, but
    # killing them is the only way to end a page stuck in MuPDF.
    for process in list(executor._processes.values()):
        process.kill()


def _collect(
    futures: Futures, on_pages: Callable[[int], None] | None, timeout_s: float
) -> dict[int, list[PageLines]]:
    """Each range's pages by its first page, reporting the pages done as ranges finish;
    TimeoutError past `timeout_s` for them all."""
    done: dict[int, list[PageLines]] = {}
    extracted = 0
    for future in as_completed(futures, timeout=timeout_s):
        pages = done[futures[future]] = future.result()
        extracted += len(pages)
        if on_pages is not None:
            on_pages(extracted)
    return done


def _warm(executor: ProcessPoolExecutor, workers: int, warm: threading.Event) -> None:
    try:
        for future in [executor.submit(int) for _ in range(workers)]:
            future.result()
    except Exception:  # shut down meanwhile, or broken: the next upload reports it
        log.debug("page workers did not warm up", exc_info=True)
    finally:
        warm.set()
