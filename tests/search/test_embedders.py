"""The bundled wordllama embedder: our pooling must give wordllama's own vectors."""

from __future__ import annotations

import numpy as np
import pytest

from ragsvc.search.embedders import Vectors, WordLlamaEmbedder, embed_queries, normalise
from tests.support.fakes import HashEmbedder

TEXTS = [
    "What is the reward model?",
    "Attention is all you need. " * 80,  # long, so a batch pads the short ones a lot
    "Ünïcödé text — with dashes, “quotes” and numbers 3.14159.",
    "x",
    "GRPO foregoes the critic model, estimating the baseline from group scores instead.",
]


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def test_vectors_match_wordllamas_own_embedding(embedder: WordLlamaEmbedder):
    ours = embedder.embed_sync(TEXTS)
    theirs = normalise(embedder._model.embed(TEXTS, norm=True))
    assert ours.shape == theirs.shape == (len(TEXTS), 256)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_vectors_are_unit_length_and_an_empty_text_is_a_zero_vector(embedder: WordLlamaEmbedder):
    vectors = embedder.embed_sync(["", "a sentence about tokens"])
    assert not np.isnan(vectors).any()
    assert np.allclose(vectors[0], 0.0)
    assert np.isclose(np.linalg.norm(vectors[1]), 1.0)


def test_each_text_is_embedded_on_its_own(embedder: WordLlamaEmbedder):
    alone = embedder.embed_sync([TEXTS[0]])
    in_a_batch = embedder.embed_sync(TEXTS)
    np.testing.assert_allclose(alone[0], in_a_batch[0], atol=1e-6)


@pytest.mark.anyio
async def test_questions_go_through_embed_queries_where_an_embedder_has_it():
    class Asymmetric(HashEmbedder):
        async def embed_queries(self, texts: list[str]) -> Vectors:
            return -(await self.embed(texts))  # told apart from embed()

    plain, asymmetric = HashEmbedder(), Asymmetric()
    same = await embed_queries(plain, ["how deep is the harbour?"])
    apart = await embed_queries(asymmetric, ["how deep is the harbour?"])
    assert np.allclose(same, await plain.embed(["how deep is the harbour?"]))
    assert np.allclose(apart, -same)
