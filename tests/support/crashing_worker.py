"""A page-range extractor for the PdfWorkers tests: on a file carrying MARK it kills its
worker process on every range but the first, as a worker crashing on a hostile file would.
Module-level, so the workers can import it."""

from __future__ import annotations

import os

from ragsvc.pdf.page_lines import PageLines, PageOptions, page_lines

MARK = "CRASH-THE-WORKER"


def crash_on_marked_files(
    data: bytes, start: int, stop: int, options: PageOptions
) -> list[PageLines]:
    if start > 0 and MARK.encode() in data:
        os._exit(1)
    return page_lines(data, start, stop, options)
