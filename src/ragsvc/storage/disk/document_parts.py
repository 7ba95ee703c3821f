"""One document's share of a session's index on disk: a folder holding `part.bin`, its
chunks, vectors and BM25 terms in one columnar record (storage/part_codec.py), written once
(snapshots.py names the parts a snapshot uses). Parts written before it, as `chunks.jsonl`
(a JSON line per chunk), `vectors.npy` and `tokens.json`, are still read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import DocumentPart
from ragsvc.storage.part_codec import decode, encode

RECORD = "part.bin"


def write_part(folder: Path, part: DocumentPart) -> None:
    """Write a document's part into an empty folder."""
    folder.mkdir(parents=True, exist_ok=False)
    (folder / RECORD).write_bytes(encode(part))


def read_part(folder: Path) -> DocumentPart:
    try:
        data = (folder / RECORD).read_bytes()
    except FileNotFoundError:
        if not (folder / "chunks.jsonl").exists():
            raise
        return read_old_part(folder)
    return decode(data)


def read_old_part(folder: Path) -> DocumentPart:
    """A part as written before `part.bin`."""
    with (folder / "chunks.jsonl").open() as lines:
        chunks = [Chunk.model_validate_json(line) for line in lines if line.strip()]
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    tokens = json.loads((folder / "tokens.json").read_text())
    return DocumentPart.of_tokens(chunks, vectors, tokens)
