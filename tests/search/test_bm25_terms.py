"""BM25 terms: the ones bm25s's own tokenizer makes, compound names also kept whole, and a
question's terms in every language of the session's documents."""

from __future__ import annotations

import re

import pytest
import Stemmer
from bm25s.tokenization import Tokenizer

from ragsvc.core.schemas import Chunk
from ragsvc.search.bm25_terms import _COMPOUND, query_terms, tokenize, tokens_of


def test_bm25_terms_are_the_ones_bm25s_makes():
    texts = [
        "The DeepSeek-R1-Zero model reaches pass@1 of 71.0% on AIME 2024.",
        "",
        "the of and",  # stop words only
        "Ünïcode façade naïve résumé ÉCOLE İstanbul ß ﬁne",
        "GRPO grpo Grpo, running runs ran; généralisation",
        "x y z 7",  # words of one character are not terms
    ]
    reference = Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en")
    expected = reference.tokenize(texts, update_vocab=True, return_as="string", show_progress=False)
    compounds = [["deepseek-r1-zero", "pass@1", "71.0"], [], [], [], [], []]
    assert tokenize(texts) == [
        [term for term in terms if term] + extra
        for terms, extra in zip(expected, compounds, strict=True)
    ]


def test_compound_names_are_found_whole():
    assert tokenize(["What does P{Q}R mean in GPT-4o's pass@k, at 28.4 BLEU?"])[0][-4:] == [
        "p{q}r",
        "gpt-4o",
        "pass@k",
        "28.4",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a-b- deepseek-r1-zero. x..y _a-b a_-b foo-- --bar a-b c-d é-ü 3.14.15 a.b-c@d/e+f{g}h",
        "word" * 50 + "-x " + "-" * 30 + " ab" * 20 + "/",
    ],
)
def test_compound_names_are_those_of_the_plain_pattern(text: str):
    """The pattern tried once per word finds what the plain one finds, letter by letter."""
    plain = re.compile(r"\w+(?:[-@+/.{}]+\w+)+")
    assert tokenize([text])[0][-len(plain.findall(text.lower())) :] == plain.findall(text.lower())
    assert _COMPOUND.findall(text) == plain.findall(text)


def test_the_terms_of_chunks_are_made_from_their_search_texts_once_known():
    chunks = [
        Chunk(id=1, document_id="d", page=1, text="Owls hunt voles.", section="2 Owls"),
        Chunk(id=2, document_id="d", page=1, text="Les chouettes chassent.", language="fr"),
    ]
    assert tokens_of(chunks) == [tokenize([chunks[0].search_text])[0], tokenize(
        [chunks[1].search_text], "fr")[0]]  # fmt: skip
    assert tokens_of(chunks, ["gulls", "mouettes"]) == [["gull"], ["mouet"]]


def test_a_questions_terms_are_its_terms_in_each_language_each_once():
    question = "Wann brennen die Lampen im Hafen?"
    german, english = tokenize([question], "de")[0], tokenize([question], "en")[0]
    assert german == ["wann", "brenn", "lamp", "haf"]  # "die", "im": German stop words
    assert english == ["wann", "brennen", "die", "lampen", "im", "hafen"]
    assert query_terms(question, ["de", "en"]) == german + english[1:]  # "wann" once
    assert query_terms(question, ["de"]) == german
    assert query_terms(question, []) == english  # no documents yet: English


def test_a_question_is_searched_without_the_words_it_is_asked_with():
    terms = query_terms("How many pilots does the P{Q}R harbour need?", ["en"])
    assert terms == ["pilot", "harbour", "need", "p{q}r"]  # bm25s drops one-letter words
    assert query_terms("what does it do?", ["en"]) == tokenize(["what does it do?"])[0]
