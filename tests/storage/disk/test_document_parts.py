"""One document's part of an index on disk: written once into a folder of its own, read back
whole (chunks, vectors, BM25 terms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragsvc.storage.disk.document_parts import read_part, write_part
from ragsvc.storage.records import SessionState
from tests.support.states import add_document


def test_a_part_reads_back_as_it_was_written(tmp_path: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.", "Ünïcode and NUL\x00 survive.")
    assert state.index is not None
    part = state.index.part("d1")
    write_part(tmp_path / "d1.1", part)
    again = read_part(tmp_path / "d1.1")
    assert again.chunks == part.chunks and again.tokens == part.tokens
    assert again.vectors.dtype == np.float32 and np.array_equal(again.vectors, part.vectors)


def test_a_part_is_written_once(tmp_path: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.")
    assert state.index is not None
    write_part(tmp_path / "d1.0", state.index.part("d1"))
    with pytest.raises(FileExistsError):
        write_part(tmp_path / "d1.0", state.index.part("d1"))
