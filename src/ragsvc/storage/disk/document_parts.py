"""One document's share of a session's index on disk: a folder holding its chunks
(`chunks.jsonl`), their vectors (`vectors.npy`) and their BM25 terms (`tokens.json`), written
once (snapshots.py names the parts a snapshot uses)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import DocumentPart


def write_part(folder: Path, part: DocumentPart) -> None:
    """Write a document's part into an empty folder."""
    folder.mkdir(parents=True, exist_ok=False)
    with (folder / "chunks.jsonl").open("w") as out:
        for chunk in part.chunks:
            out.write(chunk.model_dump_json() + "\n")
    np.save(folder / "vectors.npy", part.vectors, allow_pickle=False)
    (folder / "tokens.json").write_text(json.dumps(part.tokens))


def read_part(folder: Path) -> DocumentPart:
    with (folder / "chunks.jsonl").open() as lines:
        chunks = [Chunk.model_validate_json(line) for line in lines if line.strip()]
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    tokens = json.loads((folder / "tokens.json").read_text())
    return DocumentPart(chunks, vectors, tokens)
