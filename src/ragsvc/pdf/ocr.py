"""OCR for pages that have an image but no text layer: Tesseract, run through PyMuPDF
(RAGSVC_OCR=auto), whether it can run here at all, and whether a page is small enough for it.

A page is rendered whole for OCR, so its size decides the memory it takes: a 200-inch page
(the largest a PDF may declare) is 3.6 billion pixels at 300 dpi. Such a page is refused
before it is rendered, by an estimate, rather than left to fail inside MuPDF or Tesseract
(where a failed allocation surfaces as an obscure error, or not at all in the server process).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ragsvc.core.errors import TooLarge
from ragsvc.pdf.mupdf import pymupdf

# OCR of a page takes, at its peak, about this much address space per pixel rendered:
# PyMuPDF's RGB render, the uncompressed PDF of it handed to Tesseract, and Tesseract's own
# grey and binary copies; on top comes what a page worker holds before it reads a page.
# Measured here (PyMuPDF 2.0, Tesseract 5.3, in page workers): 14 to 17 bytes a pixel; blank
# scans of 50 Mpx were read within 1024 MB, of 69 Mpx not; two real scans at 600 dpi
# (34 Mpx, estimated 714 MB) were read within 768 MB and not within 700 MB.
OCR_BYTES_PER_PIXEL = 16
WORKER_BASE_MB = 200  # a page worker's address space before it reads a page: 190 MB


@dataclass(frozen=True)
class Ocr:
    """Tesseract (through PyMuPDF) for pages that have an image but no text layer, at `dpi`,
    each page within `memory_mb` (RAGSVC_PARSE_MEMORY_MB: checked here too when pages are
    read in the server process, where no worker's limit would stop a huge render)."""

    language: str  # Tesseract's name: "eng", "deu", "eng+fra"
    dpi: int
    memory_mb: int


def check_ocr_size(page: pymupdf.Page, ocr: Ocr) -> None:
    """Raise TooLarge, naming the memory limit, for a page too large to render for OCR."""
    scale = ocr.dpi / 72
    width, height = (round(side * scale) for side in (page.rect.width, page.rect.height))
    need_mb = WORKER_BASE_MB + math.ceil(width * height * OCR_BYTES_PER_PIXEL / 2**20)
    if need_mb > ocr.memory_mb:
        raise TooLarge(
            f"page {page.number + 1} needs about {need_mb:,} MB to be read by OCR at"
            f" {ocr.dpi} dpi ({width:,} x {height:,} pixels), more than"
            f" RAGSVC_PARSE_MEMORY_MB ({ocr.memory_mb:,} MB) allows"
        )


@lru_cache(maxsize=1)
def tessdata() -> str:
    """Tesseract's language folder; PyMuPDF runs `tesseract` to find it: once per process."""
    return str(pymupdf.get_tessdata())


def ocr_unavailable(language: str) -> str | None:
    """Why OCR in `language` cannot run here (no Tesseract, a language missing), or None."""
    try:
        folder = Path(tessdata())
    except Exception as exc:  # PyMuPDF raises RuntimeError, or whatever its probe hit
        return f"Tesseract is not installed ({exc}); apt-get install tesseract-ocr"
    missing = [
        name for name in language.split("+") if not (folder / f"{name}.traineddata").exists()
    ]
    if missing:
        return f"Tesseract has no data for {', '.join(missing)} in {folder} (tesseract-ocr-<lang>)"
    return None
