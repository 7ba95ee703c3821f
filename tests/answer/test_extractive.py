"""The extractive generator: quotes only the sources, cites them, reads in document order."""

from __future__ import annotations

import re

import pytest

from ragsvc.answer import extractive
from ragsvc.answer.extractive import ExtractiveGenerator
from ragsvc.answer.prompts import NOT_FOUND, Prompt
from ragsvc.core.schemas import Source
from ragsvc.search.embedders import Vectors
from tests.support.fakes import HashEmbedder

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


async def test_a_comparison_states_both_sides_in_document_order():
    # Both sides score alike, so both are kept; rank 1 is on page 9.
    sources = [
        source(1, 9, "Encoder layers map queries to keys with attention in this model."),
        source(2, 2, "Decoder layers map queries to keys with attention in this model."),
    ]
    question = "How do encoder and decoder layers differ in mapping queries to keys?"
    result = await answer(question, *sources)
    assert result.count("[") == 2
    assert result.index("[2]") < result.index("[1]")  # page 2 reads before page 9


async def test_other_questions_quote_one_passage():
    sources = [
        source(1, 9, "Encoder layers map queries to keys. To keys, encoder layers map queries."),
        source(2, 2, "Encoder layers map queries to keys, as decoder layers do."),
    ]
    result = await answer("How do encoder layers map queries to keys?", *sources)
    assert len(set(re.findall(r"\[(\d)\]", result))) == 1  # all three sentences match alike
    assert result.count("[") == result.count(". [")  # each its own sentence, cited


async def test_a_sentence_announcing_a_list_brings_its_items():
    text = (
        "We use three kinds of regularization during training:\n\n"
        "Dropout is applied to every sub-layer output. Label smoothing of 0.1 softens the "
        "targets. Checkpoint averaging smooths the weights."
    )
    result = await answer("Which kinds of regularization are used in training?", source(1, 7, text))
    assert "Dropout" in result and "Label smoothing" in result and "Checkpoint" in result


async def test_a_sentence_pointing_to_a_section_is_never_the_answer():
    text = (
        "Section 5 reports the training time of the model. "
        "The model trained for twelve hours on eight GPUs in total."
    )
    result = await answer("How long did the model take to train?", source(1, 1, text))
    assert "Section 5" not in result and "twelve hours" in result


async def test_nothing_relevant_says_so_and_shows_the_closest_passage():
    result = await answer(
        "What is the boiling point of mercury?", source(1, 1, "Herons wade in rivers at dawn.")
    )
    assert result.startswith(NOT_FOUND) and result.endswith("[1]")


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    async def embed(self, texts: list[str]) -> Vectors:
        self.embedded += texts
        return await super().embed(texts)

    def embed_blocking(self, texts: list[str]) -> Vectors:
        self.embedded += texts
        return super().embed_blocking(texts)


async def test_sentences_are_embedded_once_and_answers_stay_the_same():
    embedder = CountingEmbedder()
    generator = ExtractiveGenerator(embedder)
    text = "We used the Adam optimizer with a warmup schedule. The encoder has six layers."
    prompt = Prompt("Which optimizer was used?", [source(1, 7, text)])
    first = await generator.compose(prompt)
    embedded = len(embedder.embedded)
    assert await generator.compose(prompt) == first
    assert embedder.embedded[embedded:] == ["Which optimizer was used?"]  # only the question
    fresh = await ExtractiveGenerator(HashEmbedder()).compose(prompt)
    assert fresh == first


async def test_the_questions_search_vector_serves_instead_of_embedding_it_again():
    embedder = CountingEmbedder()
    generator = ExtractiveGenerator(embedder)
    text = "We used the Adam optimizer with a warmup schedule. The encoder has six layers."
    question = "Which optimizer was used?"
    searched = Prompt(
        question, [source(1, 7, text)], question_vector=embedder.embed_sync([question])[0]
    )
    first = await generator.compose(searched)
    assert question not in embedder.embedded
    assert first == await ExtractiveGenerator(HashEmbedder()).compose(
        Prompt(question, searched.sources)
    )
    embedder.embedded.clear()
    assert generator.compose_blocking(searched) == first and embedder.embedded == []


class QueryAwareEmbedder(CountingEmbedder):
    """Embeds questions apart, as E5 does ("query: "): its search vector is not a sentence's."""

    async def embed_queries(self, texts: list[str]) -> Vectors:
        return await self.embed([f"query: {text}" for text in texts])


async def test_an_embedder_embedding_questions_apart_embeds_the_question_as_a_sentence():
    embedder = QueryAwareEmbedder()
    question = "Which optimizer was used?"
    searched = Prompt(
        question,
        [source(1, 7, "We used the Adam optimizer with a warmup schedule.")],
        question_vector=(await embedder.embed_queries([question]))[0],
    )
    await ExtractiveGenerator(embedder).compose(searched)
    assert question in embedder.embedded


async def test_the_memo_of_sentence_vectors_is_bounded(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(extractive, "MEMO_SENTENCES", 2)
    embedder = CountingEmbedder()
    generator = ExtractiveGenerator(embedder)
    for n in range(5):
        text = f"Sentence number {n} talks about optimizers and warmup schedules."
        await generator.compose(Prompt("Which optimizer?", [source(1, n, text)]))
    first = "Sentence number 0 talks about optimizers and warmup schedules."
    embedder.embedded.clear()
    await generator.compose(Prompt("Which optimizer?", [source(1, 0, first)]))
    assert first in embedder.embedded  # dropped from the memo, so embedded again


async def test_a_sentence_asking_a_question_brings_the_answer_after_it():
    text = (
        "What is backup withholding? Payers must withhold and pay to the treasury 24% of "
        "such payments. This is called backup withholding. Interest and dividends may be "
        "subject to it. Rents are listed in part two."
    )
    result = await answer("what % is backup withholding", source(1, 2, text))
    assert "24%" in result
    assert "Rents" not in result  # two sentences after the question at most


async def test_a_question_asking_how_many_prefers_the_sentence_with_a_number():
    sources = [
        source(1, 1, "Several agencies take part in the research program today."),
        source(2, 5, "Fourteen agencies take part in the research program today."),
    ]
    result = await answer("how many agencies take part in the research program?", *sources)
    assert result == "Fourteen agencies take part in the research program today. [2]"
    other = await answer("which agencies take part in the research program?", *sources)
    assert other.endswith("[1]")  # the same passages, no number asked for


async def test_a_summary_leaves_out_the_fragments_a_forms_opening_is_cut_into():
    text = (
        "Form W-12 (Rev. May 2020).\n\nForm W-12\n\n(Rev.\n\nMay 2020)\n\n"
        "Request for a certificate of residence for tide gauge owners. "
        "Give it to the harbour master."
    )
    prompt = Prompt("what is this form for?", [source(1, 1, text)], summarise=frozenset({1}))
    result = await ExtractiveGenerator(HashEmbedder()).compose(prompt)
    assert "Request for a certificate of residence" in result
    assert "(Rev. [" not in result and result.count("Form W-12") == 1


async def test_a_caption_is_not_the_answer_the_sentence_stating_the_figure_is():
    text = (
        "Table 2: BLEU scores of the big model on English-German and English-French. "
        "The big model reaches 28.4 BLEU on English-German, beating all earlier models."
    )
    result = await answer(
        "What BLEU score does the big model reach on English-German?", source(1, 8, text)
    )
    assert result.startswith("The big model reaches 28.4 BLEU")


async def test_a_question_asking_what_something_is_prefers_the_defining_sentence():
    sources = [
        source(
            1, 3, "Harbour Dues apply to every ship in the harbour, in or with a cargo product."
        ),
        source(2, 9, "Harbour Dues means the fees, keys and papers a ship pays in the harbour."),
    ]
    result = await answer("Harbour Dues - what is that", *sources)
    assert result.startswith("Harbour Dues means")
    other = await answer("when do Harbour Dues apply?", *sources)
    assert other.endswith("[1]")  # the same passages, no definition asked for


async def test_a_contents_line_or_an_outline_is_never_the_answer():
    contents = "10.4.5 404 Not Found ........ 66 10.4.11 410 Gone ........ 68"
    outline = "Outline: 1 Not Found; 2 Gone; 3 Tides."
    text = f"{contents}\n\n{outline}\n\nHarbour masters keep a log of every ship."
    for question in ("404 Not Found or 410 Gone?", "what is in section 2 Gone?"):
        result = await answer(question, source(1, 2, text))
        assert "...." not in result and "Outline" not in result
