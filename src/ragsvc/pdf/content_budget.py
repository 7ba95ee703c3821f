"""What a PDF's pages cost to read, counted before any is read: pages may share one content
stream, which then inflates once per page that draws it. 2,000 pages pointing at one stream of
64 MiB of spaces make a 350 KB file that holds the page workers for their whole time limit;
counted here (each shared stream inflated once, without keeping it), it is 125 GB of content
and refused at once."""

from __future__ import annotations

import re
import zlib
from collections import Counter

from ragsvc.pdf.mupdf import pymupdf

_REFERENCE = re.compile(r"(\d+)\s+\d+\s+R")
_BLOCK = 1 << 20


def shared_content_bytes(doc: pymupdf.Document, limit: int) -> int:
    """The bytes the pages draw from content streams that several pages share, each
    stream's inflated size counted once for every page drawing it; the count stops soon
    after it passes `limit`. A stream drawn by one page is left to the per-page limits."""
    drawn = Counter(xref for page in range(doc.page_count) for xref in _contents(doc, page))
    total = 0
    for xref, pages in drawn.items():
        if pages > 1:
            total += pages * _inflated_size(doc, xref, limit // pages + 1)
            if total > limit:
                break
    return total


def _contents(doc: pymupdf.Document, page: int) -> list[int]:
    kind, value = doc.xref_get_key(doc.page_xref(page), "Contents")
    return [int(xref) for xref in _REFERENCE.findall(value)] if kind in ("xref", "array") else []


def _inflated_size(doc: pymupdf.Document, xref: int, cap: int) -> int:
    """The stream's size once decoded, counted up to `cap` (a Flate stream is inflated in
    blocks and dropped as it goes; any other is decoded by MuPDF)."""
    kind, value = doc.xref_get_key(xref, "Filter")
    if value not in ("/FlateDecode", "[/FlateDecode]"):
        return len(doc.xref_stream(xref) or b"")
    inflate, raw, size = zlib.decompressobj(), doc.xref_stream_raw(xref) or b"", 0
    while raw and size <= cap:
        size += len(inflate.decompress(raw, _BLOCK))
        raw = inflate.unconsumed_tail
    return size
