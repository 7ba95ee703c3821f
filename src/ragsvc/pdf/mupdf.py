"""PyMuPDF, imported for the whole package with its add-ons masked and its stderr chatter off;
the one module that imports it (the other modules of `pdf/` take it from here)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

# PyMuPDF 2 imports its optional add-ons, pymupdf.layout and pymupdf4llm, when it is imported:
# onnxruntime and an ONNX model among them, 0.25 s and 55 MB per process (measured), in the
# server and in every page worker. ragsvc reads fonts and positions itself and calls neither;
# a None entry makes those imports fail, which PyMuPDF expects and skips. (This changes
# nothing if PyMuPDF was imported before.)
for _addon in ("pymupdf.layout", "pymupdf4llm"):
    sys.modules.setdefault(_addon, None)  # type: ignore[arg-type]

import pymupdf  # noqa: E402

# Damaged files are reported to the client; MuPDF's own stderr chatter would only be noise.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)


class _PagesOnly(pymupdf.Document):  # type: ignore[misc]
    """A PDF opened for its pages alone. PyMuPDF loads the outline as it opens a document:
    in the page workers, which never read it, 13% of what is not the text itself (2 ms of
    the ~50 ms a worker takes on 11 pages of DeepSeek-R1, whose outline has 24 entries)."""

    def _loadOutline(self) -> None:
        return None


@contextmanager
def pdf_from(data: bytes, *, pages_only: bool = False) -> Iterator[pymupdf.Document]:
    """The PDF in `data`, opened (`pages_only`: without its outline); closed after, and let
    go of `data`. A Document and its pages refer to each other, so it lives on until the
    garbage collector's next full pass, and it keeps the bytes it was opened from: 20
    background uploads of 43 MB held 860 MB."""
    doc = (_PagesOnly if pages_only else pymupdf.Document)(stream=data, filetype="pdf")
    try:
        yield doc
    finally:
        let_go(doc)


def let_go(doc: pymupdf.Document) -> None:
    """Close `doc` and drop its reference to the bytes it was opened from (see pdf_from)."""
    doc.close()
    doc.stream = None


__all__ = ["let_go", "pdf_from", "pymupdf"]
