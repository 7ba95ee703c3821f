"""Page images of a session's documents: drawn from the kept PDF, cached by bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import BinaryIO

import pytest

from ragsvc.core.errors import PageNotFound
from ragsvc.core.schemas import Document
from ragsvc.ingest.page_images import PageImages, PageRequest
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio


class CountingPdfs:
    """A PdfStore holding one PDF, counting its reads."""

    def __init__(self, data: bytes | None) -> None:
        self.data, self.reads = data, 0

    def keep_pdf(self, token_hash: str, document_id: str, content: BinaryIO) -> None:
        self.data = content.read()

    def read_pdf(self, token_hash: str, document_id: str) -> bytes | None:
        self.reads += 1
        return self.data

    def drop_pdf(self, token_hash: str, document_id: str) -> None:
        self.data = None


def document(pages: int = 2, sha256: str = "a" * 64) -> Document:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Document(
        id="d1", filename="k.pdf", sha256=sha256, pages=pages, chunks=2, status="ready",
        created_at=at,
    )  # fmt: skip


async def test_a_page_is_drawn_once_then_cached_and_the_cache_is_bounded():
    pdfs = CountingPdfs(make_pdf(["One.", "Two."]))
    pages = PageImages(pdfs)
    first = await pages.image("t", PageRequest(document(), 1, 300))
    assert await pages.image("t", PageRequest(document(), 1, 300)) is first and pdfs.reads == 1
    pages.cache_bytes = len(first.png)  # room for one image
    await pages.image("t", PageRequest(document(), 2, 300))
    await pages.image("t", PageRequest(document(), 1, 300))
    assert pdfs.reads == 3  # page 1 was pushed out by page 2


def test_the_etag_names_the_pdf_the_page_the_width_and_the_quote():
    tags = {
        PageRequest(document(), 1, 300).etag,
        PageRequest(document(), 2, 300).etag,
        PageRequest(document(), 1, 400).etag,
        PageRequest(document(), 1, 300, "a quote").etag,
        PageRequest(document(sha256="b" * 64), 1, 300).etag,
    }
    assert len(tags) == 5 and PageRequest(document(), 1, 300).etag in tags


async def test_no_page_or_no_kept_pdf_is_page_not_found():
    with pytest.raises(PageNotFound, match="no page 3"):
        await PageImages(CountingPdfs(make_pdf(["One."]))).image(
            "t", PageRequest(document(), 3, 300)
        )
    with pytest.raises(PageNotFound, match="upload it again"):
        await PageImages(CountingPdfs(None)).image("t", PageRequest(document(), 1, 300))
