"""The backends as the metrics see them: each embedding and each generation timed (a
generation's first piece too), each failed call counted by backend and a bounded kind of
error, and the PDFs the page workers are extracting counted. The app state wraps whatever
backends it is given, once (runtime/app_state.py), so no backend knows of metrics and no
code asks which backend it is."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial

import httpx
import openai

from ragsvc.answer.generators import Generator, composed_here
from ragsvc.answer.prompts import Prompt
from ragsvc.core.errors import BackendUnavailable
from ragsvc.core.schemas import Usage
from ragsvc.pdf.page_lines import PageLines, PageOptions
from ragsvc.pdf.read import PageExtractor
from ragsvc.runtime.metrics import Metrics
from ragsvc.search.embedders import (
    BlockingEmbed,
    Embedder,
    Vectors,
    embed_queries,
    passages_embedded_here,
    queries_embedded_here,
)

EMBEDDER, GENERATOR = "embedder", "generator"  # the `backend` label
# The `error` label: timeout, connection, rate_limited, server_error, refused, unavailable
# (another reason a backend gave up), other (a bug, say: its traceback is logged).


def error_kind(exc: BaseException) -> str:
    """What kind of failure `exc` is, one of a few names (a metric label must not grow)."""
    cause = exc.__cause__ if isinstance(exc, BackendUnavailable) and exc.__cause__ else exc
    if isinstance(cause, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(cause, openai.APIConnectionError | httpx.TransportError | ConnectionError):
        return "connection"
    if isinstance(cause, openai.RateLimitError):
        return "rate_limited"
    if isinstance(cause, openai.APIStatusError):
        return "server_error" if cause.status_code >= 500 else "refused"
    return "unavailable" if isinstance(exc, BackendUnavailable) else "other"


def backend_name(backend: object) -> str:
    """A backend's `name` (`openai:gpt-4o-mini`), or its class's name if it has none."""
    return str(getattr(backend, "name", "") or type(backend).__name__)


class TimedEmbedder:
    """An embedder whose calls, passages and questions alike, are timed and counted."""

    def __init__(self, embedder: Embedder, metrics: Metrics) -> None:
        self.inner, self._metrics = embedder, metrics
        queries, passages = queries_embedded_here(embedder), passages_embedded_here(embedder)
        self.embed_queries_blocking: BlockingEmbed | None = (
            None if queries is None else partial(self._timed_blocking, queries)
        )
        self.embed_blocking: BlockingEmbed | None = (
            None if passages is None else partial(self._timed_blocking, passages)
        )

    @property
    def name(self) -> str:
        return self.inner.name

    async def embed(self, texts: list[str]) -> Vectors:
        return await self._timed(lambda: self.inner.embed(texts))

    async def embed_queries(self, texts: list[str]) -> Vectors:
        return await self._timed(lambda: embed_queries(self.inner, texts))

    async def _timed(self, call: Callable[[], Awaitable[Vectors]]) -> Vectors:
        with self._observed():
            return await call()

    def _timed_blocking(self, embed: BlockingEmbed, texts: list[str]) -> Vectors:
        with self._observed():
            return embed(texts)

    @contextmanager
    def _observed(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self._metrics.backend_errors.labels(EMBEDDER, error_kind(exc)).inc()
            raise
        self._metrics.backend_time.labels(EMBEDDER).observe(time.perf_counter() - started)


class TimedGenerator:
    """A generator whose first piece and whole generation are timed, and failures counted.
    A generation stopped early (its clients left) is neither: it did not end."""

    def __init__(self, generator: Generator, metrics: Metrics) -> None:
        self.inner, self._metrics = generator, metrics
        self.name = backend_name(generator)
        compose = composed_here(generator)
        self.compose_here: Callable[[Prompt], list[str]] | None = (
            None if compose is None else partial(self._timed_compose, compose)
        )

    def _timed_compose(self, compose: Callable[[Prompt], list[str]], prompt: Prompt) -> list[str]:
        """A whole answer composed at once: its first piece and its end are the same."""
        started = time.perf_counter()
        try:
            pieces = compose(prompt)
        except Exception as exc:
            self._metrics.backend_errors.labels(GENERATOR, error_kind(exc)).inc()
            raise
        elapsed = time.perf_counter() - started
        self._metrics.generator_first_piece.observe(elapsed)
        self._metrics.backend_time.labels(GENERATOR).observe(elapsed)
        return pieces

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Usage]:
        started = time.perf_counter()
        pieces = self.inner.stream(prompt)
        first = True
        try:
            async for piece in pieces:
                if first:
                    self._metrics.generator_first_piece.observe(time.perf_counter() - started)
                    first = False
                yield piece
        except Exception as exc:
            self._metrics.backend_errors.labels(GENERATOR, error_kind(exc)).inc()
            raise
        finally:  # on an early stop too: closing it closes the upstream connection
            if (close := getattr(pieces, "aclose", None)) is not None:
                await close()
        self._metrics.backend_time.labels(GENERATOR).observe(time.perf_counter() - started)


class CountedExtractor:
    """Page workers counting the PDFs they are extracting now (called from threads)."""

    def __init__(self, extractor: PageExtractor) -> None:
        self.inner = extractor
        self.running = 0
        self._lock = threading.Lock()

    def extract(
        self,
        data: bytes,
        filename: str,
        pages: tuple[int, PageOptions],
        on_pages: Callable[[int], None] | None = None,
        start: int = 0,
    ) -> list[PageLines]:
        with self._lock:
            self.running += 1
        try:
            return self.inner.extract(data, filename, pages, on_pages, start)
        finally:
            with self._lock:
                self.running -= 1
