"""Page-range extractors for the PdfWorkers tests: one that, on a file carrying MARK, kills
its worker process on every range but the first, as a worker crashing on a hostile file
would; two that raise errors which cannot be pickled, PyMuPDF's own and one holding a lock;
one that waits for a file the PDF's title names. Module-level, so the workers can import
them."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pymupdf

from ragsvc.pdf.page_lines import PageLines, PageOptions, page_lines

MARK = "CRASH-THE-WORKER"
GO = "GO-WHEN:"  # in a PDF's title, before the file `waits_for_go` waits for


def crash_on_marked_files(
    data: bytes, start: int, stop: int, options: PageOptions
) -> list[PageLines]:
    if start > 0 and MARK.encode() in data:
        os._exit(1)
    return page_lines(data, start, stop, options)


def mupdf_refuses(data: bytes, start: int, stop: int, options: PageOptions) -> list[PageLines]:
    """Raises PyMuPDF's FzErrorLimit ("Overly large image"), which holds a SWIG pointer."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        doc[start].get_pixmap(matrix=pymupdf.Matrix(1000, 1000))
    raise AssertionError("MuPDF rendered a page of 10^11 pixels")


class HoldsALock(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def raise_holding_a_lock(
    data: bytes, start: int, stop: int, options: PageOptions
) -> list[PageLines]:
    raise HoldsALock(f"pages {start}-{stop} hold a lock")


def never_ends(data: bytes, start: int, stop: int, options: PageOptions) -> list[PageLines]:
    """A range stuck in the parser, as on a PDF whose pages inflate to gigabytes."""
    import time

    time.sleep(3600)
    return page_lines(data, start, stop, options)


def waits_for_go(data: bytes, start: int, stop: int, options: PageOptions) -> list[PageLines]:
    """Extracts once the file named in the PDF's title after GO exists (a test looks at
    what the server handed the workers meanwhile)."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        go = Path(str(doc.metadata["title"]).split(GO, 1)[1])
    while not go.exists():
        time.sleep(0.01)
    return page_lines(data, start, stop, options)
