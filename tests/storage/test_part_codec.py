"""A document's part as one columnar record: every field of every chunk, the vectors and
the BM25 terms come back as they were written (unicode, NUL, lone surrogates, empty and
missing optional fields), and a record cut short or garbled is refused, not misread."""

from __future__ import annotations

import numpy as np
import pytest

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import DocumentPart
from ragsvc.storage.part_codec import FIELDS, CorruptPart, decode, encode

CHUNKS = [
    Chunk(id=7, document_id="d1", page=1, text="Owls hunt at night."),
    Chunk(
        id=8,
        document_id="d1",
        page=12,
        text="Ünïcode — 日本語, NUL\x00 and a lone surrogate \ud800 survive.",
        kind="references",
        section="Methods > Ünïts",
        language="de",
    ),
    Chunk(id=9, document_id="d1", page=3, text="", kind="card", section="", names="invoice 2024"),
    Chunk(id=2**40, document_id="d1", page=2**31, text="x" * 5000, section="Methods > Ünïts"),
]
TOKENS = [["owl", "hunt", "night"], ["ünïcod", "日本語", "\x00"], [], ["x" * 5000, "owl"]]


def part() -> DocumentPart:
    vectors = np.random.default_rng(0).standard_normal((len(CHUNKS), 16)).astype(np.float32)
    return DocumentPart.of_tokens(CHUNKS, vectors, TOKENS)


def test_every_field_comes_back_as_it_was_written():
    written = part()
    again = decode(encode(written))
    assert again.chunks == written.chunks
    assert [c.model_dump() for c in again.chunks] == [c.model_dump() for c in written.chunks]
    assert again.terms.tokens() == TOKENS
    assert again.vectors.dtype == np.float32 and np.array_equal(again.vectors, written.vectors)


def test_the_record_knows_every_field_of_a_chunk():
    assert set(FIELDS) == set(Chunk.model_fields)  # a new field needs a column


def test_a_part_without_chunks_comes_back_empty():
    again = decode(encode(DocumentPart.of_tokens([], np.zeros((0, 16), np.float32), [])))
    assert again.chunks == [] and again.terms.tokens() == [] and again.vectors.shape == (0, 16)


@pytest.mark.parametrize("cut", [0, 5, 20, 200, -1])
def test_a_record_cut_short_is_refused(cut: int):
    with pytest.raises(CorruptPart):
        decode(encode(part())[:cut])


def test_a_record_whose_columns_do_not_fit_is_refused():
    record = encode(part())
    with pytest.raises(CorruptPart):
        decode(record.replace(b'"chunks": 4', b'"chunks": 3'))
    with pytest.raises(CorruptPart):
        decode(record.replace(b'"card"', b'"deck"'))  # a kind Chunk does not have
    with pytest.raises(CorruptPart):
        decode(b"not a part at all")


def test_neither_the_terms_nor_the_vectors_read_keep_the_whole_record_alive():
    decoded = decode(encode(part()))  # an index keeps the terms as long as the session lives
    assert decoded.terms.ids.flags.owndata and decoded.terms.ends.flags.owndata
    # and a session's loading keeps every part's vectors until FAISS has copied them all
    assert decoded.vectors.flags.owndata
