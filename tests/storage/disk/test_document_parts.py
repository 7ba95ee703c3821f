"""One document's part of an index on disk: written once into a folder of its own, read back
whole (chunks, vectors, BM25 terms); a part written in the older format (a JSON line per
chunk) still reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ragsvc.search.index import DocumentPart
from ragsvc.storage.disk.document_parts import RECORD, read_part, write_part
from ragsvc.storage.records import SessionState
from tests.support.states import add_document


def owls_part() -> DocumentPart:
    """One document's part, its text with characters a format could lose."""
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.", "Ünïcode and NUL\x00 survive.")
    assert state.index is not None
    return state.index.part("d1")


def test_a_part_reads_back_as_it_was_written(tmp_path: Path):
    part = owls_part()
    write_part(tmp_path / "d1.1", part)
    again = read_part(tmp_path / "d1.1")
    assert again.chunks == part.chunks and again.terms.tokens() == part.terms.tokens()
    assert again.vectors.dtype == np.float32 and np.array_equal(again.vectors, part.vectors)


def test_a_part_is_written_once(tmp_path: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.")
    assert state.index is not None
    write_part(tmp_path / "d1.0", state.index.part("d1"))
    with pytest.raises(FileExistsError):
        write_part(tmp_path / "d1.0", state.index.part("d1"))


def write_old_part(folder: Path, part: DocumentPart) -> None:
    """A part as the store wrote them before `part.bin`."""
    folder.mkdir(parents=True)
    with (folder / "chunks.jsonl").open("w") as out:
        for chunk in part.chunks:
            out.write(chunk.model_dump_json() + "\n")
    np.save(folder / "vectors.npy", part.vectors, allow_pickle=False)
    (folder / "tokens.json").write_text(json.dumps(part.terms.tokens()))


def test_a_part_is_one_columnar_record(tmp_path: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.")
    assert state.index is not None
    write_part(tmp_path / "d1.0", state.index.part("d1"))
    assert [p.name for p in (tmp_path / "d1.0").iterdir()] == [RECORD]


def test_a_part_in_the_old_format_still_reads(tmp_path: Path):
    part = owls_part()
    write_old_part(tmp_path / "d1.1", part)
    again = read_part(tmp_path / "d1.1")
    assert again.chunks == part.chunks and again.terms.tokens() == part.terms.tokens()
    assert np.array_equal(again.vectors, part.vectors)


def test_a_missing_part_is_not_found(tmp_path: Path):
    with pytest.raises(FileNotFoundError):  # a reader overtaken by a writer reads CURRENT again
        read_part(tmp_path / "d1.0")
