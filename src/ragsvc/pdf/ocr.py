"""OCR for pages that have an image but no text layer: Tesseract, run through PyMuPDF
(RAGSVC_OCR=auto), and whether it can run here at all."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ragsvc.pdf.mupdf import pymupdf


@dataclass(frozen=True)
class Ocr:
    """Tesseract (through PyMuPDF) for pages that have an image but no text layer."""

    language: str  # Tesseract's name: "eng", "deu", "eng+fra"
    dpi: int


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
