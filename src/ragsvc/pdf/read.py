"""PDF bytes -> validated, parsed document: per page, its text blocks and headings, plus the
title and outline. The only module that imports PyMuPDF.

Layout is read from PyMuPDF's span data in one pass per page: a heading is a short line set
in bold or in a larger size than the body text (the most common size); running headers,
footers and bare page numbers (short lines at the page's top or bottom that repeat across
pages) are dropped. Everything here is blocking: callers run it in a worker thread, and a
file of several pages has its pages extracted by worker processes (`pdf_workers.py`),
because MuPDF holds the GIL while it reads a page.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import groupby
from pathlib import Path
from typing import Any, Protocol

# PyMuPDF 2 imports its optional add-ons, pymupdf.layout and pymupdf4llm, when it is imported:
# onnxruntime and an ONNX model among them, 0.25 s and 55 MB per process (measured), in the
# server and in every page worker. ragsvc reads fonts and positions itself and calls neither;
# a None entry makes those imports fail, which PyMuPDF expects and skips. (This changes
# nothing if PyMuPDF was imported before.)
for _addon in ("pymupdf.layout", "pymupdf4llm"):
    sys.modules.setdefault(_addon, None)  # type: ignore[arg-type]

import pymupdf  # noqa: E402

from ragsvc.core.errors import NotAPdf, RagError, TooLarge, UnreadablePdf  # noqa: E402
from ragsvc.pdf.parsed import Block, Line, ParsedDocument  # noqa: E402
from ragsvc.pdf.tables import tables_as_rows  # noqa: E402
from ragsvc.text.normalise import normalise  # noqa: E402

# Damaged files are reported to the client; MuPDF's own stderr chatter would only be noise.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)
# The PDF spec lets the header start anywhere in the first 1024 bytes.
_HEADER_WINDOW = 1024
_JUNK_TITLES = re.compile(r"^(untitled|microsoft word|document\d*|\s*)$", re.IGNORECASE)
_BOLD = 16  # PyMuPDF span flag
_MARGIN = 0.07  # top and bottom share of the page where running headers and footers live
_MAX_HEADING = 100
_ALLOCATION_FAILED = re.compile(r"\b(m|re|c)alloc\b.*\bfailed\b")  # MuPDF, out of memory
# "dict" decodes every image by default: 1016 ms against 28 ms for the DeepSeek-R1 paper.
_TEXT_ONLY = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
# A document that takes long to ingest is committed as it goes, every PART_EVERY_S at most:
# here as its pages are read, in preparation.py as its chunks are embedded. Pages are read
# in windows of FIRST_WINDOW pages, then as many as were read before (8, 8, 16, 32, ...),
# so a long document costs few windows.
PART_EVERY_S = 2.0
FIRST_WINDOW = 8


@dataclass(frozen=True)
class Ocr:
    """Tesseract (through PyMuPDF) for pages that have an image but no text layer."""

    language: str  # Tesseract's name: "eng", "deu", "eng+fra"
    dpi: int


@dataclass(frozen=True)
class ParseLimits:
    """The work one PDF may cost: pages, and characters of text per page and in all (a
    page of a few KB can inflate to megabytes of text); with `ocr`, seconds of OCR for
    each page that has no text layer."""

    max_pages: int
    max_page_chars: int
    max_document_chars: int
    ocr: Ocr | None = None


PageLines = tuple[list[Line], float, bool]  # a page's lines, its height, read by OCR?


@dataclass(frozen=True)
class PageOptions:
    """How every page is read, in whichever process: its character limit, and OCR."""

    max_chars: int
    ocr: Ocr | None = None


class PageExtractor(Protocol):
    """Extracts every page of an opened, validated PDF elsewhere (see pdf_workers)."""

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
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise NotAPdf("the file does not start with a PDF header (%PDF-)")


@dataclass(frozen=True)
class Listeners:
    """Who hears of a PDF as it is read: `on_page(pages_done, pages)` as pages are
    extracted; `on_part(document so far)`, for a document whose pages take long to read,
    every PART_EVERY_S at most (laid out from the pages read so far alone)."""

    on_page: Callable[[int, int], None] | None = None
    on_part: Callable[[ParsedDocument], None] | None = None


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
    source = _Source(data, filename, limits, listeners.on_page, extractor)
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
        pages=_structure(pages, [height for _, height, _ in extracted]),
        title=_title(meta_title, pages[0]),
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
    on_page: Callable[[int, int], None] | None
    extractor: PageExtractor | None

    def progress(self, pages: int) -> Callable[[int], None]:
        """Tell `on_page` how many of the `pages` are done."""
        on_page = self.on_page
        return (lambda done: on_page(done, pages)) if on_page else (lambda done: None)


def _open_checked(source: _Source) -> pymupdf.Document:
    """The opened PDF if it can be used at all; closed again when it is refused."""
    try:
        doc = pymupdf.open(stream=source.data, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises its own assortment for damaged files
        raise UnreadablePdf(f"{source.filename}: cannot be opened as a PDF ({exc})") from exc
    try:
        _refuse_unusable(doc, source.filename, source.limits.max_pages)
    except RagError:
        doc.close()
        raise
    except Exception as exc:  # e.g. a page tree claiming 10^9 pages
        doc.close()
        raise UnreadablePdf(f"{source.filename}: damaged PDF ({exc})") from exc
    return doc


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
    the pages read so far every PART_EVERY_S at most."""
    count = doc.page_count
    options = PageOptions(source.limits.max_page_chars, source.limits.ocr)
    extracted: list[PageLines] = []
    began = last_part = time.monotonic()
    while len(extracted) < count:
        start = len(extracted)
        stop = _window_end(start, count, time.monotonic() - began) if on_part else count
        extracted += _extract_window(doc, source, options, start, stop)
        _check_total(extracted, source)
        if on_part and stop < count and time.monotonic() - last_part >= PART_EVERY_S:
            on_part(extracted)
            last_part = time.monotonic()
    return extracted


def _window_end(start: int, count: int, spent: float) -> int:
    """Where the next window of pages ends: FIRST_WINDOW pages, then as many as were read
    before (few windows for a long document), or every page left when, at the pace so far,
    they take less than PART_EVERY_S (a document read fast is read in two)."""
    if start and spent / start * (count - start) < PART_EVERY_S:
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
        extracted.append(_page_lines(doc[number], options))
        progress(number + 1)
    return extracted


def page_lines(data: bytes, start: int, stop: int, options: PageOptions) -> list[PageLines]:
    """Pages start..stop-1 of a PDF already validated by parse_pdf (run in pool workers)."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        return [_page_lines(doc[number], options) for number in range(start, stop)]


def _page_lines(page: pymupdf.Page, options: PageOptions) -> PageLines:
    max_chars = options.max_chars
    try:
        lines, ocr = _read_page(page, options.ocr)
    except Exception as exc:
        if isinstance(exc, MemoryError) or _ALLOCATION_FAILED.search(str(exc)):
            raise TooLarge(f"page {page.number + 1} needs more memory than allowed") from exc
        raise
    if sum(len(line.text) for line in lines) > max_chars:
        raise TooLarge(f"page {page.number + 1} holds more than {max_chars:,} characters of text")
    return lines, float(page.rect.height), ocr


def _read_page(page: pymupdf.Page, ocr: Ocr | None) -> tuple[list[Line], bool]:
    """The page's lines, and whether OCR read them (a page with no text but an image)."""
    lines = _lines(page)
    if lines or ocr is None or not page.get_images():
        return lines, False
    tessdata = _tessdata()
    textpage = page.get_textpage_ocr(
        language=ocr.language, dpi=ocr.dpi, full=True, tessdata=tessdata
    )
    return _lines(page, textpage), True


@lru_cache(maxsize=1)
def _tessdata() -> str:
    """Tesseract's language folder; PyMuPDF runs `tesseract` to find it: once per process."""
    return str(pymupdf.get_tessdata())


def ocr_unavailable(language: str) -> str | None:
    """Why OCR in `language` cannot run here (no Tesseract, a language missing), or None."""
    try:
        folder = Path(_tessdata())
    except Exception as exc:  # PyMuPDF raises RuntimeError, or whatever its probe hit
        return f"Tesseract is not installed ({exc}); apt-get install tesseract-ocr"
    missing = [
        name for name in language.split("+") if not (folder / f"{name}.traineddata").exists()
    ]
    if missing:
        return f"Tesseract has no data for {', '.join(missing)} in {folder} (tesseract-ocr-<lang>)"
    return None


def _lines(page: pymupdf.Page, textpage: pymupdf.TextPage | None = None) -> list[Line]:
    """Horizontal text lines of a page (or of its OCR text page) with their font size,
    weight, block and position."""
    lines = []
    found = page.get_text("dict", flags=_TEXT_ONLY, textpage=textpage)["blocks"]
    for number, block in enumerate(found):
        for line in block.get("lines", []):
            spans = [s for s in line["spans"] if s["text"].strip()]
            if not spans or tuple(line.get("dir", (1, 0))) != (1, 0):
                continue  # rotated text (arXiv's margin stamp) is not content
            text = normalise("".join(s["text"] for s in line["spans"])).strip()
            size = max(s["size"] for s in spans)
            bold = all(_is_bold(s) for s in spans)
            left, top, right, bottom = (float(v) for v in line["bbox"])
            lines.append(Line(text, size, bold, number, top, bottom, left, right))
    return tables_as_rows(lines)


def _is_bold(span: dict[str, Any]) -> bool:
    return bool(span["flags"] & _BOLD) or "bold" in str(span["font"]).lower()


def _structure(pages: list[list[Line]], heights: list[float]) -> list[list[Block]]:
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[round(line.size, 1)] += len(line.text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    furniture = _running_furniture(pages, heights)
    return [
        _blocks([line for line in lines if not _furniture(line, height, furniture)], body)
        for lines, height in zip(pages, heights, strict=True)
    ]


def _running_furniture(pages: list[list[Line]], heights: list[float]) -> set[str]:
    """Shapes of margin lines that repeat on several pages: running headers, footers and
    page numbers (digits are ignored when comparing, so "3" and "4" are the same)."""
    seen: Counter[str] = Counter()
    for lines, height in zip(pages, heights, strict=True):
        seen.update({_shape(line.text) for line in lines if _in_margin(line, height)})
    repeats = max(3, len(pages) // 3)
    return {key for key, count in seen.items() if count >= repeats}


def _furniture(line: Line, height: float, furniture: set[str]) -> bool:
    """Not content: a running header or footer, an author's e-mail line, or the markers
    of a plot read as text ("G G G G G G")."""
    if _in_margin(line, height) and _shape(line.text) in furniture:
        return True
    if _EMAIL.search(line.text) and len(line.text.split()) <= 12:
        return True
    words = line.text.split()
    letters = sum(len(w) == 1 and w.isalpha() for w in words)
    return len(words) >= 6 and letters >= 0.7 * len(words)


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", text.strip().lower())


def _in_margin(line: Line, height: float) -> bool:
    return line.bottom < height * _MARGIN or line.top > height * (1 - _MARGIN)


def _blocks(lines: list[Line], body: float) -> list[Block]:
    """A page's lines as blocks: each table one block (its caption, then a line per row),
    the rest as text and heading blocks."""
    blocks: list[Block] = []
    for table, group in groupby(lines, key=lambda line: line.table):
        if table >= 0:
            blocks.append(Block("\n".join(line.text for line in group), table=True))
        else:
            blocks += _text_blocks(list(group), body)
    return blocks


def _text_blocks(lines: list[Line], body: float) -> list[Block]:
    """Group lines into text blocks; heading lines become blocks of their own (pieces on
    the same baseline, such as "3.1" and "Encoder and Decoder Stacks", join)."""
    blocks: list[Block] = []
    text: list[str] = []
    heading: list[str] = []
    previous: Line | None = None
    for line in lines:
        if _is_heading(line, previous, body):
            _flush(blocks, text, heading=False)
            if heading and previous is not None and abs(line.top - previous.top) > 2:
                _flush(blocks, heading, heading=True)
            heading.append(line.text)
        else:
            _flush(blocks, heading, heading=True)
            if previous is not None and line.block != previous.block:
                _flush(blocks, text, heading=False)
            text.append(line.text)
        previous = line
    _flush(blocks, heading, heading=True)
    _flush(blocks, text, heading=False)
    return blocks


def _flush(blocks: list[Block], parts: list[str], *, heading: bool) -> None:
    if parts:
        blocks.append(Block((" " if heading else "\n").join(parts), heading=heading))
        parts.clear()


_NUMBERED = re.compile(r"^(\d+(\.\d+)*\.?|[A-Z]\.?)(\s+\S|$)")
_SECTION_NUMBER = re.compile(r"\d+(\.\d+)*\.?|[A-Z]\.")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_FORMULA = re.compile(r"[{}~=<>^|\\]")
_URL = re.compile(r"https?://|www\.|\bdoi\b|\.(?:com|org|edu|html?)\b", re.IGNORECASE)


def _is_heading(line: Line, previous: Line | None, body: float) -> bool:
    """Short, emphasised, and shaped like a title: numbered and bold, larger than the body,
    or bold and opening its block (which keeps bold words inside a paragraph out)."""
    text = line.text.strip()
    if not _titlelike(text):
        return False
    opens_block = previous is None or previous.block != line.block or previous.top == line.top
    if line.size >= body + 1.0:
        return True
    return line.bold and (bool(_NUMBERED.match(text)) or opens_block)


def _titlelike(text: str) -> bool:
    """Font alone misleads (an OCR layer's sizes, a URL set in monospace, a formula, a
    table's numbers): a heading is also short, starts a phrase, mostly letters, no URL."""
    if _SECTION_NUMBER.fullmatch(text):
        return True  # "3.1", set apart from its title on the same line
    if not text or len(text) > _MAX_HEADING or text.endswith((".", ":", ",", ";", "-")):
        return False
    if not text[0].isalnum() or text[0].islower() or _URL.search(text) or _FORMULA.search(text):
        return False  # a continued sentence, a reference's link, an equation
    visible = text.replace(" ", "")
    return sum(c.isalpha() for c in visible) >= 0.6 * len(visible)


def _title(meta_title: str, first_page: list[Line]) -> str | None:
    if meta_title and not _JUNK_TITLES.match(meta_title) and len(meta_title) > 3:
        return meta_title
    if not first_page:
        return None
    biggest = max(line.size for line in first_page)
    title = " ".join(line.text for line in first_page if abs(line.size - biggest) < 0.5)
    return title[:300] or None
