"""The extractive generator: quotes only the sources, cites them, reads in document order."""

from __future__ import annotations

import re

import pytest

from ragsvc.extractive import ExtractiveGenerator
from ragsvc.prompts import NOT_FOUND, Prompt
from ragsvc.schemas import Source

from .conftest import HashEmbedder

pytestmark = pytest.mark.anyio


def source(n: int, page: int, text: str) -> Source:
    return Source(n=n, document_id="d", filename="p.pdf", page=page, score=1.0, text=text)


async def answer(question: str, *sources: Source) -> str:
    return await ExtractiveGenerator(HashEmbedder()).compose(Prompt(question, list(sources)))


async def test_the_documents_own_reference_markers_do_not_become_citations():
    text = "Additive attention outperforms dot product attention without scaling [3, 4]."
    result = await answer(
        "Does additive attention outperform dot product attention?", source(1, 4, text)
    )
    assert re.findall(r"\[[^\]]*\]", result) == ["[1]"]
    assert "without scaling" in result


async def test_every_sentence_is_quoted_from_a_source_and_cited():
    sources = [
        source(1, 7, "We used the Adam optimizer with a warmup schedule for training."),
        source(2, 3, "The encoder stack has six identical layers with residual connections."),
    ]
    result = await answer("Which optimizer was used for training?", *sources)
    for sentence, n in re.findall(r"(.+?) \[(\d+)\]\s*", result):
        assert sentence.strip() in sources[int(n) - 1].text


async def test_sentences_come_in_document_order():
    # The same words in another order score alike, so both are kept; rank 1 is on page 9.
    sources = [
        source(1, 9, "Attention layers map queries to keys in this model."),
        source(2, 2, "In this model attention layers map queries to keys."),
    ]
    result = await answer("How do attention layers map queries to keys?", *sources)
    assert result.count("[") == 2
    assert result.index("[2]") < result.index("[1]")  # page 2 reads before page 9


async def test_nothing_relevant_says_so_and_shows_the_closest_passage():
    result = await answer(
        "What is the boiling point of mercury?", source(1, 1, "Herons wade in rivers at dawn.")
    )
    assert result.startswith(NOT_FOUND) and result.endswith("[1]")
