"""Files never seen half-written: a write replaces the old content whole or leaves it as it
was, with no temp file behind; temp files are leftovers once older than any write."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from ragsvc.storage.disk import atomic_files
from ragsvc.storage.disk.atomic_files import (
    LEFTOVER_AGE_S,
    atomic_write,
    is_leftover,
    remove,
    temp_name,
)


def test_a_write_replaces_the_content_whole(tmp_path: Path):
    path = tmp_path / "meta.json"
    atomic_write(path, b"old")
    atomic_write(path, b"new", durable=False)
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_content_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
):
    path = tmp_path / "meta.json"
    atomic_write(path, b"old")

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_files.os, failing, disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_temp_file_is_a_leftover_once_older_than_any_write(tmp_path: Path):
    temp = temp_name(tmp_path / "meta.json")
    temp.write_bytes(b"half")
    assert temp.name.startswith(".meta.json.")
    assert not is_leftover(temp)  # a write may still be under way
    assert is_leftover(aged(temp, LEFTOVER_AGE_S + 5))
    assert not is_leftover(aged(temp, LEFTOVER_AGE_S - 60))
    visible = tmp_path / "meta.json"
    visible.write_bytes(b"{}")
    assert not is_leftover(aged(visible, 10 * LEFTOVER_AGE_S))  # not a temp file
    assert not is_leftover(tmp_path / ".gone")


def test_remove_takes_a_file_or_a_folder_if_still_there(tmp_path: Path):
    folder, file = tmp_path / "folder", tmp_path / "file"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "x").write_bytes(b"x")
    file.write_bytes(b"y")
    for path in [folder, file, tmp_path / "never there"]:
        remove(path)
    assert list(tmp_path.iterdir()) == []
