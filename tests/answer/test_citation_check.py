"""Citations you can verify: each [n] gets the verbatim passage of source n it rests on."""

from __future__ import annotations

from ragsvc.answer.citation_check import supporting_quotes, verbatim_quotes
from ragsvc.core.schemas import Source

OWLS = (
    "Barn owls hunt at night over open fields [3]. They locate voles by sound alone, "
    "even in complete darkness. Their nests are built in old barns, e.g. in Norfolk."
)
TIDES = "Spring tides follow the full and the new moon. Neap tides come in between."


def source(n: int, text: str, page: int = 1) -> Source:
    return Source(n=n, document_id="d", filename="f.pdf", page=page, score=1.0, text=text)


def test_quoted_sentences_are_found_verbatim_with_their_offsets():
    # as the extractive generator writes it: the paper's own [3] left out of the answer
    answer = (
        "Barn owls hunt at night over open fields. [1] "
        "Their nests are built in old barns, e.g. in Norfolk. [2]"
    )
    sources = [source(1, OWLS, page=4), source(2, OWLS, page=4)]
    first, second = supporting_quotes(answer, sources)
    assert first.text == "Barn owls hunt at night over open fields [3]."
    assert second.text == "Their nests are built in old barns, e.g. in Norfolk."
    for quote in (first, second):
        assert OWLS[quote.start : quote.end] == quote.text and quote.verified
        assert quote.page == 4
    assert first.claim == "Barn owls hunt at night over open fields."


def test_a_paraphrase_is_supported_and_an_invention_is_not():
    sources = [source(1, OWLS), source(2, TIDES)]
    answer = "Owls find voles in darkness by sound [1]. Tides are caused by the wind [2]."
    paraphrase, invention = supporting_quotes(answer, sources)
    assert paraphrase.verified and paraphrase.text.startswith("They locate voles by sound")
    assert not invention.verified  # only "tides" is in source 2: no sentence supports it
    assert invention.claim == "Tides are caused by the wind"  # not the full stop before it
    unrelated = supporting_quotes("Penguins swim in the Antarctic. [2]", sources)
    assert unrelated[0].text == "" and not unrelated[0].verified


def test_adjacent_markers_share_a_claim_and_unknown_sources_are_skipped():
    sources = [source(1, OWLS), source(2, OWLS)]
    quotes = supporting_quotes("Barn owls hunt at night [1][2], as noted [7].", sources)
    assert [q.n for q in quotes] == [1, 2]
    assert quotes[0].claim == quotes[1].claim == "Barn owls hunt at night"


def test_a_claim_of_several_sentences_quotes_the_span_they_come_from():
    answer = "Spring tides follow the full and the new moon. Neap tides come in between. [1]"
    [quote] = supporting_quotes(answer, [source(1, TIDES)])
    assert quote.text == TIDES and (quote.start, quote.end) == (0, len(TIDES)) and quote.verified


def test_a_sentence_rejoined_at_an_abbreviation_is_found_whatever_the_blanks():
    text = "Owls nest in old barns, e.g.  in Norfolk and Suffolk. Voles hide."
    [quote] = supporting_quotes("Owls nest in barns in Norfolk. [1]", [source(1, text)])
    assert quote.text == "Owls nest in old barns, e.g.  in Norfolk and Suffolk." and quote.verified


def test_a_paraphrase_is_read_in_its_source_language():
    text = "Die Leuchtturmwärter zündeten jeden Abend die Lampen an."
    answer = "Der Wärter zündet jeden Abend die Lampe an [1]."
    german = Source(n=1, document_id="d", filename="f.pdf", page=1, score=1.0, text=text)
    assert supporting_quotes(answer, [german.model_copy(update={"language": "de"})])[0].verified
    # read as English, "zündet"/"zündeten" and "Lampe"/"Lampen" differ, "der"/"die" count
    assert not supporting_quotes(answer, [german])[0].verified


def test_verbatim_sentences_are_quoted_as_matching_would_quote_them():
    answer = "Spring tides follow the full and the new moon. [1] Neap tides come in between. [2]"
    sources = [source(1, TIDES, page=3), source(2, TIDES, page=3)]
    assert verbatim_quotes(answer, sources) == supporting_quotes(answer, sources)


def test_a_claim_not_verbatim_or_a_mere_fragment_is_left_to_matching():
    sources = [source(1, OWLS)]
    assert verbatim_quotes("Owls find voles in darkness by sound [1].", sources) is None
    short = [source(1, "Owls nest. Voles hide in the long grass.")]
    assert verbatim_quotes("Owls nest. [1]", short) is None  # too short to judge by its words
    # inside a sentence: matching quotes the whole sentence it belongs to
    inside = [source(1, "So they locate voles by sound alone. Owls nest.")]
    assert verbatim_quotes("they locate voles by sound alone. [1]", inside) is None
    assert verbatim_quotes("Owls nest in barns at night. [1]", sources) is None
