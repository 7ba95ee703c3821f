"""The disk store's leases, flocks on files: held by one holder at a time (this process's
other takers included), seen as held while they are, gone once released."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragsvc.storage.disk.file_leases import FileLease, is_leased


def test_a_held_lease_cannot_be_taken_again_until_released(tmp_path: Path):
    """(A refused take closes the file it opened: pytest turns the ResourceWarning of a file
    left for the garbage collector into an error.)"""
    path = tmp_path / "doc1"
    lease = FileLease.take(path)
    with pytest.raises(BlockingIOError):
        FileLease.take(path)
    lease.release()
    FileLease.take(path).release()


def test_a_lease_is_seen_as_held_while_it_is(tmp_path: Path):
    path = tmp_path / "doc1"
    assert not is_leased(path)  # never taken
    lease = FileLease.take(path)
    assert is_leased(path)
    assert is_leased(path)  # looking does not take it
    lease.release()
    assert not is_leased(path) and not path.exists()


def test_a_file_lease_cannot_be_handed_over(tmp_path: Path):
    lease = FileLease.take(tmp_path / "doc1")
    try:
        with pytest.raises(NotImplementedError, match="RAGSVC_STORE=postgres"):
            lease.hand_over(60)
        assert is_leased(tmp_path / "doc1")
    finally:
        lease.release()
