"""A session's documents and index on disk, as snapshots, each a numbered folder:

    gen-<n>/documents.json   every document of the session
    gen-<n>/index.json       the embedder, the next chunk id, the documents in the index
    gen-<n>/inverted_file    past APPROXIMATE_FROM chunks, the inverted file (as FAISS
                             serializes it: its training, each chunk's code and id)
    gen-<n>/lists.npy        and the list of each chunk, chunks in id order (index.json
                             says how many vectors it was trained on)
    docs/<document id>.<n>/  one document's chunks, vectors and BM25 terms in one
                             columnar record (document_parts.py, storage/part_codec.py),
                             n its newest chunk's id
    CURRENT                  the name of the live snapshot

A snapshot is small and names the document parts it uses; a part is written once, when its
document is first published with these chunks, and shared by every later snapshot (a
document committed as it was read gets a new part each time, each named for its newest
chunk). So a change writes what it adds, not the whole session again. Publishing writes the
new parts and the snapshot under temporary names, then replaces CURRENT atomically; what a
failed publish wrote is removed, and what no snapshot uses any more is removed once CURRENT
has moved on. Blocking throughout; callers hold the session's lock to publish.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter

from ragsvc.core.schemas import Document
from ragsvc.search.index import DocumentPart, SessionIndex
from ragsvc.search.inverted_file import TrainedLists
from ragsvc.storage.disk.atomic_files import atomic_write, fsync_dir, fsync_tree
from ragsvc.storage.disk.document_parts import read_part, write_part
from ragsvc.storage.memory import collection_paused
from ragsvc.storage.records import SessionState

_DOCUMENTS = TypeAdapter(list[Document])
INVERTED_FILE, LISTS = "inverted_file", "lists.npy"


def read_snapshot(session: Path, name: str) -> SessionState:
    """The state a snapshot describes; FileNotFoundError if it was replaced meanwhile."""
    folder = session / name
    documents = _DOCUMENTS.validate_json((folder / "documents.json").read_bytes())
    index: SessionIndex | None = None
    if (folder / "index.json").exists():
        meta = json.loads((folder / "index.json").read_text())
        with collection_paused():
            parts = (read_part(session / "docs" / name) for name in meta["documents"])
            index = SessionIndex.from_parts(meta["embedder"], meta["dim"], meta["next_id"], parts)
        if "trained_on" in meta:  # no training again, nor encoding the vectors again
            file = np.fromfile(folder / INVERTED_FILE, dtype=np.uint8)
            lists = np.load(folder / LISTS, allow_pickle=False)
            index.restore_inverted_file(TrainedLists(file, meta["trained_on"], lists))
    return SessionState(documents={d.id: d for d in documents}, index=index)


def publish(session: Path, state: SessionState) -> str:
    """Write `state` as the next snapshot and make it current; returns its name. On any
    failure nothing of it is left and CURRENT still names the previous one."""
    name = _next_name(session)
    staging = session / f".{name}.{uuid.uuid4().hex}"
    added: list[Path] = []
    try:
        _write_new_parts(session, state, added)
        staging.mkdir()
        _write_snapshot(staging, state)
        staging.rename(session / name)
        atomic_write(session / "CURRENT", name.encode())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if current_name(session) != name:
            for path in [session / name, *added]:
                shutil.rmtree(path, ignore_errors=True)
        raise
    return name


def remove_unused(session: Path) -> None:
    """Remove the snapshots other than the current one, and the document parts it does
    not use (a reader still on an older one reads CURRENT again, see DiskStore)."""
    current = current_name(session)
    if current is None:
        return
    used = {current, *_documents_of(session / current)}
    unused = [
        path
        for path in [*session.glob("gen-*"), *(session / "docs").glob("[!.]*")]
        if path.name not in used
    ]
    for path in unused:
        shutil.rmtree(path, ignore_errors=True)


def current_name(session: Path) -> str | None:
    try:
        return (session / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        return None


def _write_new_parts(session: Path, state: SessionState, added: list[Path]) -> None:
    """Write the parts of documents no earlier snapshot stored, listing each in `added`
    once it is complete."""
    if state.index is None:
        return
    for doc_id, name in state.index.part_names().items():
        final = session / "docs" / name
        if not final.exists():
            _write_part(final, state.index.part(doc_id))
            added.append(final)
    if added:
        fsync_dir(session / "docs")


def _write_part(final: Path, part: DocumentPart) -> None:
    staging = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    try:
        write_part(staging, part)
        fsync_tree(staging)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_snapshot(folder: Path, state: SessionState) -> None:
    documents = list(state.documents.values())
    (folder / "documents.json").write_bytes(_DOCUMENTS.dump_json(documents))
    if state.index is not None:
        meta = {
            "embedder": state.index.embedder_name,
            "dim": state.index.dim,
            "next_id": state.index.next_id,
            "documents": list(state.index.part_names().values()),  # their parts' names
        }
        if (trained := state.index.trained_lists()) is not None:
            (folder / INVERTED_FILE).write_bytes(trained.file.tobytes())
            np.save(folder / LISTS, trained.lists, allow_pickle=False)
            meta["trained_on"] = trained.trained_on
        (folder / "index.json").write_text(json.dumps(meta))
    fsync_tree(folder)


def _documents_of(snapshot: Path) -> list[str]:
    try:
        return list(json.loads((snapshot / "index.json").read_text())["documents"])
    except FileNotFoundError:
        return []


def _next_name(session: Path) -> str:
    numbers = [int(p.name[4:]) for p in session.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"
