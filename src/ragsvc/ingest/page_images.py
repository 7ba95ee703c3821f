"""Use case: a page of one of the session's documents as an image, for a citation to show.

Images are drawn in a worker thread from the PDF the store kept, and the last ones drawn are
cached in memory (by bytes, not count): a page opened from several citations, or by several
tabs, is drawn once. Their ETag is known before drawing, so a browser's revalidation
costs no drawing at all.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import anyio

from ragsvc.core.errors import PageNotFound
from ragsvc.core.schemas import Document
from ragsvc.pdf.page_images import MAX_WIDTH, PageImage, render_page
from ragsvc.storage.protocols import PdfStore

CACHE_BYTES = 32 * 2**20
DRAWING_AT_ONCE = 2  # each holds a PDF and up to MAX_PIXELS of pixmap while it draws
_DRAWING = "1"  # bump when images drawn from the same page change (a new highlight style)


@dataclass(frozen=True)
class PageRequest:
    document: Document
    page: int
    width: int
    quote: str = ""

    @property
    def etag(self) -> str:
        """Names the image before it is drawn: the same PDF, page, width and quote."""
        key = "\0".join([_DRAWING, self.document.sha256, str(self.page), str(self.width)])
        return '"' + hashlib.sha256(f"{key}\0{self.quote}".encode()).hexdigest()[:32] + '"'


@dataclass
class PageImages:
    store: PdfStore
    cache_bytes: int = CACHE_BYTES
    _cache: OrderedDict[tuple[str, str], PageImage] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _drawing: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(DRAWING_AT_ONCE)
    )

    async def image(self, token_hash: str, request: PageRequest) -> PageImage:
        """The page drawn (or the cached drawing); 404 when there is no such page to show."""
        document, key = request.document, (token_hash, request.etag)
        if not 1 <= request.page <= document.pages:
            detail = f"{document.filename} has no page {request.page} ({document.pages} pages)"
            raise PageNotFound(detail)
        if (cached := self._cached(key)) is not None:
            return cached
        image = await anyio.to_thread.run_sync(
            self._draw, token_hash, request, limiter=self._drawing
        )
        self._remember(key, image)
        return image

    def _draw(self, token_hash: str, request: PageRequest) -> PageImage:
        data = self.store.read_pdf(token_hash, request.document.id)
        if data is None:
            raise PageNotFound(
                f"{request.document.filename} was uploaded before its PDF was kept for page "
                "images; upload it again to see its pages"
            )
        width = min(request.width, MAX_WIDTH)
        try:
            return render_page(data, request.page, width, request.quote)
        except IndexError:
            raise PageNotFound(f"{request.document.filename} has no page {request.page}") from None

    def _cached(self, key: tuple[str, str]) -> PageImage | None:
        with self._lock:
            image = self._cache.get(key)
            if image is not None:
                self._cache.move_to_end(key)
            return image

    def _remember(self, key: tuple[str, str], image: PageImage) -> None:
        with self._lock:
            self._cache[key] = image
            held = sum(len(kept.png) for kept in self._cache.values())
            while held > self.cache_bytes and self._cache:
                _, dropped = self._cache.popitem(last=False)
                held -= len(dropped.png)
