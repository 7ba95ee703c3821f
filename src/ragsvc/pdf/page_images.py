"""A PDF page as a PNG image, with a quoted passage highlighted: what a cited page looks like.

The image is bounded twice: by the width asked for (at most MAX_WIDTH) and by a pixel budget,
so a tall page (a receipt, a poster) is drawn smaller rather than larger than asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ragsvc.pdf.mupdf import pdf_from, pymupdf

MAX_WIDTH = 1200
MAX_PIXELS = 1200 * 1800  # about 6.5 MB of RGB while it is drawn
MIN_WORDS = 4  # a fallback search for a shorter part of the quote: fewer words mark noise


@dataclass(frozen=True)
class PageImage:
    png: bytes
    width: int
    height: int
    # Where the quote was found and marked, as fractions of the page (left, top, right,
    # bottom), so a viewer can scroll to it; None when it was not found.
    marked: tuple[float, float, float, float] | None = None

    @property
    def highlighted(self) -> bool:
        return self.marked is not None


def render_page(data: bytes, number: int, width: int, quote: str = "") -> PageImage:
    """Blocking: page `number` (1-based) of the PDF in `data`, `width` pixels wide at most;
    IndexError when it has no such page."""
    with pdf_from(data) as doc:
        if not 1 <= number <= doc.page_count:
            raise IndexError(number)
        page = doc[number - 1]
        marked = _highlight(page, quote) if quote.strip() else None
        scale = _scale(page.rect, min(width, MAX_WIDTH))
        pixmap = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False, annots=True)
        return PageImage(pixmap.tobytes("png"), pixmap.width, pixmap.height, marked)


def _scale(rect: pymupdf.Rect, width: int) -> float:
    """Points to pixels: `width` across, unless that would pass the pixel budget."""
    points_wide, points_high = float(rect.width), float(rect.height)
    by_width = width / max(points_wide, 1.0)
    scale = min(by_width, math.sqrt(MAX_PIXELS / max(points_wide * points_high, 1.0)))
    # MuPDF rounds each side up to whole pixels, which may pass the budget by a row or two
    while math.ceil(points_wide * scale) * math.ceil(points_high * scale) > MAX_PIXELS:
        scale *= 0.995
    return scale


def _highlight(page: pymupdf.Page, quote: str) -> tuple[float, float, float, float] | None:
    """Mark where `quote` stands on `page`. The source's text is normalised (ligatures,
    hyphens, spaces), so when the whole quote is not found, its first and last words are
    tried: a passage marked in part rather than not at all."""
    words = quote.split()
    tries = [" ".join(words)]
    if len(words) > 2 * MIN_WORDS:
        half = max(MIN_WORDS, len(words) // 2)
        tries += [" ".join(words[:half]), " ".join(words[-half:])]
    for text in tries:
        rects = page.search_for(text)
        if rects:
            page.add_highlight_annot(rects)
            return _fractions(rects, page.rect)
    return None


def _fractions(rects: list[pymupdf.Rect], page: pymupdf.Rect) -> tuple[float, float, float, float]:
    """The box around `rects`, as fractions of the page's width and height."""
    box = pymupdf.Rect(rects[0])
    for rect in rects[1:]:
        box |= rect
    left, top = (box.x0 - page.x0) / page.width, (box.y0 - page.y0) / page.height
    right, bottom = (box.x1 - page.x0) / page.width, (box.y1 - page.y0) / page.height
    return (_clamped(left), _clamped(top), _clamped(right), _clamped(bottom))


def _clamped(fraction: float) -> float:
    return round(min(max(float(fraction), 0.0), 1.0), 4)
