"""One page -> its text lines with font size, weight, block and position, read from PyMuPDF's
span data (or from an OCR text page); tables replaced by rows. Runs in the page workers
(`page_lines`) or in the calling thread (`lines_of_page`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ragsvc.core.errors import TooLarge
from ragsvc.pdf.mupdf import pdf_from, pymupdf
from ragsvc.pdf.ocr import Ocr, check_ocr_size, tessdata
from ragsvc.pdf.parsed import Line
from ragsvc.pdf.tables import tables_as_rows
from ragsvc.text.normalise import normalise

_BOLD = 16  # PyMuPDF span flag
# MuPDF out of memory: its own allocation failing, or a Python callback's (OCR writes its
# output through one: "Director error: <class 'MemoryError'>").
_ALLOCATION_FAILED = re.compile(r"\b(m|re|c)alloc\b.*\bfailed\b|\bMemoryError\b")
# "dict" decodes every image by default: 1016 ms against 28 ms for the DeepSeek-R1 paper.
_TEXT_ONLY = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
PageLines = tuple[list[Line], float, bool]  # a page's lines, its height, read by OCR?


@dataclass(frozen=True)
class PageOptions:
    """How every page is read, in whichever process: its character limit, and OCR."""

    max_chars: int
    ocr: Ocr | None = None


def page_lines(data: bytes, start: int, stop: int, options: PageOptions) -> list[PageLines]:
    """Pages start..stop-1 of a PDF already validated by read.parse_pdf (run in the page
    workers)."""
    with pdf_from(data, pages_only=True) as doc:
        return [lines_of_page(doc[number], options) for number in range(start, stop)]


def lines_of_page(page: pymupdf.Page, options: PageOptions) -> PageLines:
    """The page's lines within its character limit, its height, and whether OCR read them."""
    max_chars = options.max_chars
    try:
        lines, ocr = _read_page(page, options.ocr)
    except Exception as exc:
        if refusal := _past_a_limit(exc, page.number + 1):
            raise refusal from exc
        raise
    if sum(len(line.text) for line in lines) > max_chars:
        raise TooLarge(f"page {page.number + 1} holds more than {max_chars:,} characters of text")
    return lines, float(page.rect.height), ocr


def _read_page(page: pymupdf.Page, ocr: Ocr | None) -> tuple[list[Line], bool]:
    """The page's lines, and whether OCR read them (a page with no text but an image)."""
    lines = _lines(page)
    if lines or ocr is None or not page.get_images():
        return lines, False
    check_ocr_size(page, ocr)
    textpage = page.get_textpage_ocr(
        language=ocr.language, dpi=ocr.dpi, full=True, tessdata=tessdata()
    )
    return _lines(page, textpage), True


def _past_a_limit(exc: Exception, number: int) -> TooLarge | None:
    """The refusal for a page that failed for want of memory (in MuPDF or in Tesseract under
    it), or past one of MuPDF's own limits ("Overly large image"); None for other failures."""
    if isinstance(exc, MemoryError) or _ALLOCATION_FAILED.search(str(exc)):
        return TooLarge(f"page {number} needs more memory than allowed (RAGSVC_PARSE_MEMORY_MB)")
    if isinstance(exc, pymupdf.mupdf.FzErrorLimit):
        return TooLarge(f"page {number} is past a limit of the PDF parser ({exc})")
    return None


def _lines(page: pymupdf.Page, textpage: pymupdf.TextPage | None = None) -> list[Line]:
    """Horizontal text lines of a page (or of its OCR text page) with their font size,
    weight, block and position."""
    lines = []
    found = page.get_text("dict", flags=_TEXT_ONLY, textpage=textpage)["blocks"]
    for number, block in enumerate(found):
        for line in block.get("lines", ()):
            if tuple(line.get("dir", (1, 0))) != (1, 0):
                continue  # rotated text (arXiv's margin stamp) is not content
            texts = [span["text"] for span in line["spans"]]
            spans = [s for s, t in zip(line["spans"], texts, strict=True) if t.strip()]
            if not spans:
                continue
            size = max([s["size"] for s in spans])
            bold = all(_is_bold(s) for s in spans)
            left, top, right, bottom = map(float, line["bbox"])
            text = normalise("".join(texts)).strip()
            lines.append(Line(text, size, bold, number, top, bottom, left, right))
    return tables_as_rows(lines)


def _is_bold(span: dict[str, Any]) -> bool:
    return bool(span["flags"] & _BOLD) or "bold" in str(span["font"]).lower()
