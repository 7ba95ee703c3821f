"""BM25 terms: the ones bm25s's own tokenizer makes, compound names also kept whole, and a
question's terms in every language of the session's documents."""

from __future__ import annotations

import Stemmer
from bm25s.tokenization import Tokenizer

from ragsvc.search.bm25_terms import query_terms, tokenize


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
