"""PDFs for the tests, made with PyMuPDF (the real papers of ../shared/data are read where
they are, never copied into the repository)."""

from __future__ import annotations

import pymupdf

from ragsvc.pdf.read import ParseLimits

LIMITS = ParseLimits(max_pages=1000, max_page_chars=10**6, max_document_chars=10**8)


def make_pdf(pages: list[str], *, title: str | None = None, password: str | None = None) -> bytes:
    """A real PDF with one text page per entry (empty string: a page without text)."""
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        if text:
            page.insert_textbox(pymupdf.Rect(56, 56, 540, 790), text, fontsize=10)
    if title:
        doc.set_metadata({"title": title})
    if password:
        data = doc.tobytes(
            encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw=password, user_pw=password
        )
    else:
        data = doc.tobytes()
    doc.close()
    return bytes(data)


PAPER = [
    [("1 Introduction", "Tide tables predict water levels. They matter to harbour pilots.")],
    [
        ("2 Method", "We measured tides for a year. Gauges logged every minute."),
        ("2.1 Gauges", "Pressure gauges sat on the harbour floor. Each was calibrated weekly."),
    ],
    [
        ("2.2 Corrections", "Air pressure changes were removed. Wind effects were modelled."),
        ("3 Results", "Predictions erred by four centimetres. Storm surges were missed."),
    ],
]


def make_paper() -> bytes:
    """Pages with bold 12 pt headings, 10 pt body text, a running header and page numbers."""
    doc = pymupdf.open()
    for number, sections in enumerate(PAPER, start=1):
        page = doc.new_page()
        page.insert_text((72, 30), "Journal of Harbour Studies, vol. 7", fontsize=8)
        y = 90.0
        for heading, body in sections:
            page.insert_text((72, y), heading, fontsize=12, fontname="hebo")
            y += 22
            page.insert_textbox(pymupdf.Rect(72, y, 520, y + 60), body, fontsize=10)
            y += 80
        page.insert_text((300, 820), str(number), fontsize=9)
    data = doc.tobytes()
    doc.close()
    return bytes(data)
