"""Fast fakes that really implement the backend protocols: a hashing embedder, one that
waits for the test's signal, a generator that records its prompts, one that takes its
time, and backends made of them."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import AsyncIterator

import anyio
import numpy as np

from ragsvc.answer.extractive import ExtractiveGenerator
from ragsvc.answer.prompts import Prompt
from ragsvc.core.config import Settings
from ragsvc.runtime.backends import Backends, make_store
from ragsvc.search.embedders import Vectors, normalise


class HashEmbedder:
    """Deterministic bag-of-words hashing: texts sharing words get similar vectors."""

    name = "hash:128"

    def embed_sync(self, texts: list[str]) -> Vectors:
        rows = np.zeros((len(texts), 128), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                rows[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 128] += 1.0
        rows[:, 0] += 1e-3  # no all-zero rows
        return normalise(rows)

    async def embed(self, texts: list[str]) -> Vectors:
        return self.embed_sync(texts)

    def embed_queries_blocking(self, texts: list[str]) -> Vectors:
        """It runs in this process: an answer embeds its question in its search's thread."""
        return self.embed_sync(texts)

    def embed_blocking(self, texts: list[str]) -> Vectors:
        return self.embed_sync(texts)


class RemoteHashEmbedder:
    """The hashing embedder as one behind a network would be: awaited, never blocking."""

    name = HashEmbedder.name

    async def embed(self, texts: list[str]) -> Vectors:
        await anyio.sleep(0)
        return HashEmbedder().embed_sync(texts)


class CountingEmbedder(HashEmbedder):
    """The hashing embedder, recording every text it was asked to embed."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def embed(self, texts: list[str]) -> Vectors:
        self.asked.extend(texts)
        return self.embed_sync(texts)


class GatedEmbedder(HashEmbedder):
    """Holds every embedding call until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = anyio.Event()

    async def embed(self, texts: list[str]) -> Vectors:
        await self.gate.wait()
        return self.embed_sync(texts)


def fake_backends(settings: Settings) -> Backends:
    embedder = HashEmbedder()
    return Backends(
        embedder=embedder,
        generator=ExtractiveGenerator(embedder),
        store=make_store(settings),
    )


class RecordingGenerator:
    """Keeps the prompts it is given; answers with a fixed cited sentence."""

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        self.prompts.append(prompt)
        yield "Noted [1]."


class SlowGenerator:
    """Yields a word every `pause` seconds; records whether its stream was closed early."""

    def __init__(self, words: int, pause: float) -> None:
        self.words, self.pause = words, pause
        self.sent = self.calls = self.completed = 0
        self.closed = threading.Event()
        self.finished = threading.Event()

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        self.calls += 1
        try:
            for i in range(self.words):
                self.sent += 1
                yield f"word{i} "
                await anyio.sleep(self.pause)
            self.completed += 1
            self.finished.set()
        finally:
            self.closed.set()
