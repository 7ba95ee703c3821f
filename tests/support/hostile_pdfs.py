"""Hostile PDFs made on the spot, each small on disk and sized to run fast in CI: a page
whose compressed content stream inflates to far more text than a page holds, a stream of
nothing but whitespace, a document of many ordinary pages, and a scan too large to OCR."""

from __future__ import annotations

import pymupdf

_LINE = b"(" + b"lorem ipsum dolor sit amet " * 20 + b") Tj 0 -1 Td\n"


def with_content(content: bytes, pages: int = 1) -> bytes:
    """A PDF whose pages all draw `content` (a raw content stream, stored deflated); /F1
    names a font the page has."""
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page()
        page.insert_text((50, 50), "x", fontsize=8)  # gives the page a font resource
        font = page.get_fonts()[0][4]
        doc.update_stream(page.get_contents()[0], content.replace(b"/F1", f"/{font}".encode()))
    data = doc.tobytes(deflate=True, garbage=3)
    doc.close()
    return bytes(data)


def text_bomb(megabytes: float) -> bytes:
    """One page drawing `megabytes` of text (tiny, off the page too): ~4 KB per MB."""
    lines = int(megabytes * 2**20 / len(_LINE))
    return with_content(b"BT /F1 1 Tf 10 800 Td\n" + _LINE * lines + b"ET\n")


def whitespace_bomb(megabytes: float) -> bytes:
    """One page whose content is `megabytes` of spaces: nothing to show, work to parse."""
    return with_content(b" " * int(megabytes * 2**20))


def huge_scan(side: float = 14_400) -> bytes:
    """One square page of `side` points (14,400, 200 inches, is the most a PDF may declare)
    covered by a tiny image and holding no text: OCR would render it whole, 3.6 billion
    pixels at 300 dpi."""
    doc = pymupdf.open()
    page = doc.new_page(width=side, height=side)
    pixels = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 8, 8), False)
    pixels.clear_with(200)
    page.insert_image(page.rect, pixmap=pixels)
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def shared_stream_bomb(megabytes: float, pages: int, mark: str = "x") -> bytes:
    """`pages` pages all drawing one content stream of `megabytes` of spaces: a few hundred
    KB on disk, `pages` times the stream once read page by page (`mark`: files differ)."""
    doc = pymupdf.open()
    first = doc.new_page()
    first.insert_text((50, 50), mark, fontsize=8)
    xref = first.get_contents()[0]
    doc.update_stream(xref, b" " * int(megabytes * 2**20))
    for _ in range(pages - 1):
        doc.xref_set_key(doc.new_page().xref, "Contents", f"{xref} 0 R")
    data = doc.tobytes(deflate=True, garbage=3)
    doc.close()
    return bytes(data)
