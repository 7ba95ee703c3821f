"""PDF bytes -> validated, parsed document (pages with their numbers, title, outline).

The only module that imports PyMuPDF. Everything here is blocking: callers run it in a
worker thread (PyMuPDF yields the GIL between page calls; measured lag stays in single ms).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pymupdf

from ragsvc.errors import NotAPdf, TooLarge, UnreadablePdf

# The PDF spec lets the header start anywhere in the first 1024 bytes.
_HEADER_WINDOW = 1024
# Damaged files are reported to the client; MuPDF's own stderr chatter would only be noise.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)
_JUNK_TITLES = re.compile(r"^(untitled|microsoft word|document\d*|\s*)$", re.IGNORECASE)


@dataclass
class ParsedDocument:
    """Text of every page (index 0 = page 1), plus what a global question needs."""

    pages: list[str]
    title: str | None
    outline: list[str] = field(default_factory=list)
    repaired: bool = False  # MuPDF had to rebuild a broken file: content may be missing

    @property
    def has_text(self) -> bool:
        return any(p.strip() for p in self.pages)


def check_pdf_magic(data: bytes) -> None:
    """Reject by content, not by name: no `%PDF-` header means not a PDF."""
    if not data:
        raise NotAPdf("the file is empty")
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise NotAPdf("the file does not start with a PDF header (%PDF-)")


def parse_pdf(
    data: bytes, filename: str, max_pages: int, on_page: Callable[[int, int], None] | None = None
) -> ParsedDocument:
    """Open, validate and extract a PDF; raises a RagError subclass on bad input.
    `on_page(page, pages)` is called after each page is extracted."""
    check_pdf_magic(data)
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises its own assortment for damaged files
        raise UnreadablePdf(f"{filename}: cannot be opened as a PDF ({exc})") from exc
    with doc:
        if doc.needs_pass:
            raise UnreadablePdf(f"{filename}: the PDF is encrypted with a password")
        if doc.page_count == 0:
            raise UnreadablePdf(f"{filename}: the PDF has no pages")
        if doc.page_count > max_pages:
            raise TooLarge(
                f"{filename}: {doc.page_count} pages, more than the limit of {max_pages}"
            )
        try:
            pages = []
            for page in doc:
                pages.append(_page_text(page))
                if on_page is not None:
                    on_page(len(pages), doc.page_count)
            title = _title(doc)
            outline = [str(entry[1]).strip() for entry in doc.get_toc(simple=True)]
        except Exception as exc:
            raise UnreadablePdf(f"{filename}: damaged PDF, text extraction failed ({exc})") from exc
        repaired = bool(doc.is_repaired)
    parsed = ParsedDocument(pages, title, [o for o in outline if o], repaired)
    if repaired and not parsed.has_text:
        raise UnreadablePdf(
            f"{filename}: the PDF is damaged (truncated?) and holds no readable text"
        )
    return parsed


def _page_text(page: pymupdf.Page) -> str:
    # Text blocks approximate paragraphs; blank lines between them keep that boundary.
    blocks = page.get_text("blocks", sort=False)
    return "\n\n".join(str(b[4]).strip() for b in blocks if b[6] == 0 and str(b[4]).strip())


def _title(doc: pymupdf.Document) -> str | None:
    meta = (doc.metadata or {}).get("title") or ""
    if meta and not _JUNK_TITLES.match(meta) and len(meta) > 3:
        return str(meta).strip()
    return _largest_text_on_first_page(doc[0])


def _largest_text_on_first_page(page: pymupdf.Page) -> str | None:
    """The run of spans set in the largest font on page 1, which is the title in most papers."""
    # Only horizontal lines: arXiv's rotated margin stamp is set larger than most titles.
    spans = [
        span
        for block in page.get_text("dict")["blocks"]
        for line in block.get("lines", [])
        if tuple(line.get("dir", (1, 0))) == (1, 0)
        for span in line["spans"]
        if span["text"].strip()
    ]
    if not spans:
        return None
    biggest = max(s["size"] for s in spans)
    title = " ".join(s["text"].strip() for s in spans if abs(s["size"] - biggest) < 0.5)
    return title[:300] or None
