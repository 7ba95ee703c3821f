"""A session's state on disk as snapshots: publishing writes the next one and makes CURRENT
name it (or, failing, leaves nothing of it), document parts are shared by the snapshots
that use them, what the current one does not use is removed, and a snapshot reads back as
the state it was written from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ragsvc.search import index as index_module
from ragsvc.search import inverted_file
from ragsvc.storage.disk import snapshots
from ragsvc.storage.disk.snapshots import current_name, publish, read_snapshot, remove_unused
from ragsvc.storage.records import SessionState
from tests.search.test_kept_inverted_file import no_training
from tests.storage.disk.test_document_parts import write_old_part
from tests.support.states import EMBEDDER, add_document, copy_of, remove_document, same_state


@pytest.fixture
def session(tmp_path: Path) -> Path:
    folder = tmp_path / "session"
    folder.mkdir()
    return folder


def test_a_snapshot_reads_back_as_the_state_it_was_written_from(session: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.", "Owls nest in barns.")
    add_document(state, "d2", "Hawks soar.")
    name = publish(session, state)
    assert same_state(read_snapshot(session, name), state)
    empty = publish(session, SessionState())
    assert same_state(read_snapshot(session, empty), SessionState())


def test_a_session_written_in_the_old_format_still_loads_and_grows(session: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.", "Owls nest in barns.")
    add_document(state, "d2", "Hawks soar.")
    name = publish(session, state)
    assert state.index is not None
    for doc_id, part_name in state.index.part_names().items():  # as an older version wrote
        shutil.rmtree(session / "docs" / part_name)
        write_old_part(session / "docs" / part_name, state.index.part(doc_id))
    loaded = read_snapshot(session, name)
    assert same_state(loaded, state)
    later = copy_of(loaded)
    add_document(later, "d3", "Kites hover.")
    assert same_state(read_snapshot(session, publish(session, later)), later)


def test_a_large_session_keeps_its_inverted_files_training_and_loads_untrained(
    session: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 3)
    state = SessionState()  # 16 chunks at least: one a list of the inverted file
    add_document(state, "d1", *(f"Owls hunt mice number {n}." for n in range(10)))
    add_document(state, "d2", *(f"Hawks soar over hill {n}." for n in range(10)))
    name = publish(session, state)  # trains it: no question did
    assert state.index is not None and (session / name / snapshots.INVERTED_FILE).exists()
    monkeypatch.setattr(inverted_file, "_trained", no_training)
    loaded = read_snapshot(session, name)
    assert loaded.index is not None and loaded.index._approximate is not None
    assert same_state(loaded, state)
    query = EMBEDDER.embed_sync(["owls"])[0]
    assert loaded.index.dense_search(query, 2) == state.index.dense_search(query, 2)


def test_publishing_makes_current_name_the_new_snapshot(session: Path):
    assert current_name(session) is None
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.")
    first = publish(session, state)
    later = copy_of(state)
    add_document(later, "d2", "Hawks soar.")
    second = publish(session, later)
    assert (first, second) == ("gen-000001", "gen-000002")
    assert current_name(session) == second
    assert same_state(read_snapshot(session, first), state)  # a reader on it still reads it


def test_a_part_is_shared_by_the_snapshots_that_use_it(session: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.")
    publish(session, state)
    [part] = (session / "docs").iterdir()
    written = part.stat().st_ino
    later = copy_of(state)
    add_document(later, "d2", "Hawks soar.")
    publish(session, later)
    remove_unused(session)
    assert sorted(p.name for p in (session / "docs").iterdir()) == ["d1.0", "d2.1"]
    assert (session / "docs" / "d1.0").stat().st_ino == written  # not written again


def test_only_what_the_current_snapshot_uses_is_kept(session: Path):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.")
    add_document(state, "d2", "Hawks soar.")
    publish(session, state)
    later = copy_of(state)
    remove_document(later, "d1")
    add_document(later, "d3", "Kites hover.")
    current = publish(session, later)
    remove_unused(session)
    assert [p.name for p in session.glob("gen-*")] == [current]
    assert sorted(p.name for p in (session / "docs").iterdir()) == ["d2.1", "d3.2"]
    assert same_state(read_snapshot(session, current), later)


def test_a_failed_publish_leaves_nothing_and_current_unchanged(
    session: Path, monkeypatch: pytest.MonkeyPatch
):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.")
    first = publish(session, state)
    before = sorted(p.relative_to(session) for p in session.rglob("*"))
    later = copy_of(state)
    add_document(later, "d2", "Hawks soar.")

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshots, "atomic_write", disk_full)
    with pytest.raises(OSError):
        publish(session, later)
    assert current_name(session) == first
    assert sorted(p.relative_to(session) for p in session.rglob("*")) == before
