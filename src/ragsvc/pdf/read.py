"""PDF bytes -> validated, parsed document: per page, its text blocks and headings, plus the
title and outline.

Everything here is blocking: callers run it in a worker thread, and a file of several pages
has its pages extracted by worker processes (`page_workers.py`), because MuPDF holds the GIL
while it reads a page. A long document can be read window by window, the reader handed the
pages read so far as it goes (`Listeners.on_part`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from ragsvc.core.errors import NotAPdf, RagError, TooLarge, UnreadablePdf
from ragsvc.pdf.content_budget import shared_content_bytes
from ragsvc.pdf.layout import lay_out, title_of
from ragsvc.pdf.mupdf import let_go, pymupdf
from ragsvc.pdf.ocr import Ocr
from ragsvc.pdf.page_lines import PageLines, PageOptions, lines_of_page
from ragsvc.pdf.parsed import ParsedDocument
from ragsvc.text.normalise import normalise

# The PDF spec lets the header start anywhere in the first 1024 bytes.
PDF_HEADER_WINDOW = 1024
# A document read with `on_part` is read in windows of FIRST_WINDOW pages, then as many as
# were read before (8, 8, 16, 32, ...), so a long document costs few windows.
FIRST_WINDOW = 8


@dataclass(frozen=True)
class ParseLimits:
    """The work one PDF may cost: pages, and characters of text per page and in all (a
    page of a few KB can inflate to megabytes of text); with `ocr`, seconds of OCR for
    each page that has no text layer."""

    max_pages: int
    max_page_chars: int
    max_document_chars: int
    ocr: Ocr | None = None
    max_shared_content: int = 512 * 2**20  # bytes drawn from streams pages share


class PageExtractor(Protocol):
    """Extracts every page of an opened, validated PDF elsewhere (see page_workers.py)."""

    def extract(
        self,
        data: bytes,
        filename: str,
        pages: tuple[int, PageOptions],
        on_pages: Callable[[int], None] | None = None,
        start: int = 0,
    ) -> list[PageLines]:
        """Pages `start` up to the count of `pages` (count, how each page is read);
        `on_pages(n)` as they are done, n counting from `start`."""
        ...


def check_pdf_magic(data: bytes) -> None:
    """Reject by content, not by name: no `%PDF-` header means not a PDF."""
    if not data:
        raise NotAPdf("the file is empty")
    if b"%PDF-" not in data[:PDF_HEADER_WINDOW]:
        raise NotAPdf("the file does not start with a PDF header (%PDF-)")


@dataclass(frozen=True)
class Listeners:
    """Who hears of a PDF as it is read: `on_page(pages_done, pages)` as pages are
    extracted; `on_part(document so far)`, for a document whose pages take long to read,
    every `part_every_s` at most (laid out from the pages read so far alone)."""

    on_page: Callable[[int, int], None] | None = None
    on_part: Callable[[ParsedDocument], None] | None = None
    part_every_s: float = 0.0  # the caller's pace (ingest's PART_EVERY_S); 0: every window


NO_LISTENERS = Listeners()


def parse_pdf(
    data: bytes,
    filename: str,
    limits: ParseLimits,
    listeners: Listeners = NO_LISTENERS,
    extractor: PageExtractor | None = None,
) -> ParsedDocument:
    """Open, validate and extract a PDF within `limits`; raises a RagError subclass on bad
    input or past a limit. `extractor`, when given, extracts the pages in other processes."""
    check_pdf_magic(data)
    source = _Source(data, filename, limits, listeners, extractor)
    on_part = listeners.on_part
    with _open_checked(source) as doc:
        meta_title, outline = _metadata(doc, source.filename)
        assemble = partial(_assembled, meta_title=meta_title, outline=outline)
        parts = (lambda pages: on_part(assemble(pages, repaired=False))) if on_part else None
        extracted = _extract(doc, source, parts)
        repaired = bool(doc.is_repaired)
    parsed = assemble(extracted, repaired=repaired)
    if repaired and not parsed.has_text:
        raise UnreadablePdf(
            f"{filename}: the PDF is damaged (truncated?) and holds no readable text"
        )
    return parsed


def _assembled(
    extracted: list[PageLines], *, meta_title: str, outline: list[str], repaired: bool
) -> ParsedDocument:
    """The document laid out from its pages' lines."""
    pages = [lines for lines, _, _ in extracted]
    return ParsedDocument(
        pages=lay_out(pages, [height for _, height, _ in extracted]),
        title=title_of(meta_title, pages[0]),
        outline=outline,
        repaired=repaired,
        ocr_pages=sum(ocr for _, _, ocr in extracted),
    )


@dataclass(frozen=True)
class _Source:
    """One PDF being parsed: its bytes and name, its limits, where its pages are extracted
    and who hears of the progress."""

    data: bytes
    filename: str
    limits: ParseLimits
    listeners: Listeners
    extractor: PageExtractor | None

    def progress(self, pages: int) -> Callable[[int], None]:
        """Tell `on_page` how many of the `pages` are done."""
        on_page = self.listeners.on_page
        return (lambda done: on_page(done, pages)) if on_page else (lambda done: None)


@contextmanager
def _open_checked(source: _Source) -> Iterator[pymupdf.Document]:
    """The opened PDF if it can be used at all; closed after (or when it is refused), its
    bytes let go (mupdf.pdf_from says why)."""
    try:
        doc = pymupdf.open(stream=source.data, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises its own assortment for damaged files
        raise UnreadablePdf(f"{source.filename}: cannot be opened as a PDF ({exc})") from exc
    try:
        _check_usable(doc, source)
        yield doc
    finally:
        let_go(doc)


def _check_usable(doc: pymupdf.Document, source: _Source) -> None:
    try:
        _refuse_unusable(doc, source.filename, source.limits.max_pages)
        _refuse_costly(doc, source.filename, source.limits.max_shared_content)
    except RagError:
        raise
    except Exception as exc:  # e.g. a page tree claiming 10^9 pages
        raise UnreadablePdf(f"{source.filename}: damaged PDF ({exc})") from exc


def _refuse_costly(doc: pymupdf.Document, filename: str, limit: int) -> None:
    """Refuse, before reading a page, a document whose pages share content past `limit`."""
    if (drawn := shared_content_bytes(doc, limit)) > limit:
        raise TooLarge(
            f"{filename}: its pages draw more than {drawn / 2**20:,.0f} MB of content from "
            f"streams they share, more than the limit of {limit / 2**20:,.0f} MB"
        )


def _refuse_unusable(doc: pymupdf.Document, filename: str, max_pages: int) -> None:
    if doc.needs_pass:
        raise UnreadablePdf(f"{filename}: the PDF is encrypted with a password")
    if doc.page_count == 0:
        raise UnreadablePdf(f"{filename}: the PDF has no pages")
    if doc.page_count > max_pages:
        raise TooLarge(f"{filename}: {doc.page_count} pages, more than the limit of {max_pages}")


def _metadata(doc: pymupdf.Document, filename: str) -> tuple[str, list[str]]:
    """The metadata title and the outline; a failure means damage."""
    try:
        meta_title = normalise(str((doc.metadata or {}).get("title") or "")).strip()
        outline = [normalise(str(entry[1])).strip() for entry in doc.get_toc(simple=True)]
    except Exception as exc:
        detail = f"{filename}: damaged PDF, its metadata are unreadable ({exc})"
        raise UnreadablePdf(detail) from exc
    return meta_title, [entry for entry in outline if entry]


def _extract(
    doc: pymupdf.Document, source: _Source, on_part: Callable[[list[PageLines]], None] | None
) -> list[PageLines]:
    """Every page's lines: in worker processes when there are any, else here; within the
    limits of characters per page and in all. With `on_part`, window by window, handing it
    the pages read so far every `part_every_s` of the listeners at most."""
    count, every_s = doc.page_count, source.listeners.part_every_s
    options = PageOptions(source.limits.max_page_chars, source.limits.ocr)
    extracted: list[PageLines] = []
    began = last_part = time.monotonic()
    while len(extracted) < count:
        start = len(extracted)
        stop = _window_end(start, count, time.monotonic() - began, every_s) if on_part else count
        extracted += _extract_window(doc, source, options, start, stop)
        _check_total(extracted, source)
        if on_part and stop < count and time.monotonic() - last_part >= every_s:
            on_part(extracted)
            last_part = time.monotonic()
    return extracted


def _window_end(start: int, count: int, spent: float, every_s: float) -> int:
    """Where the next window of pages ends: FIRST_WINDOW pages, then as many as were read
    before (few windows for a long document), or every page left when, at the pace so far,
    they take less than `every_s` (a document read fast is read in two)."""
    if start and spent / start * (count - start) < every_s:
        return count
    return min(count, start + max(FIRST_WINDOW, start))


def _extract_window(
    doc: pymupdf.Document, source: _Source, options: PageOptions, start: int, stop: int
) -> list[PageLines]:
    """Pages start..stop-1; a failure that is not a limit means damage."""
    progress = source.progress(doc.page_count)
    try:
        if source.extractor is not None:
            return source.extractor.extract(
                source.data,
                source.filename,
                (stop, options),
                lambda done: progress(start + done),
                start=start,
            )
        return _extract_here(doc, range(start, stop), options, progress)
    except TooLarge as exc:  # a page past its limit: name the file
        raise TooLarge(f"{source.filename}: {exc.detail}") from exc
    except RagError:
        raise
    except Exception as exc:
        detail = f"{source.filename}: damaged PDF, text extraction failed ({exc})"
        raise UnreadablePdf(detail) from exc


def _check_total(extracted: list[PageLines], source: _Source) -> None:
    total = sum(len(line.text) for lines, _, _ in extracted for line in lines)
    if total > source.limits.max_document_chars:
        detail = f"more than {source.limits.max_document_chars:,} characters of text"
        raise TooLarge(f"{source.filename}: {detail}")


def _extract_here(
    doc: pymupdf.Document,
    numbers: range,
    options: PageOptions,
    progress: Callable[[int], None],
) -> list[PageLines]:
    extracted = []
    for number in numbers:
        extracted.append(lines_of_page(doc[number], options))
        progress(number + 1)
    return extracted
