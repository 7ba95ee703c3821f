"""The conversation file: appended, bounded, tolerant of a torn line, upgrades the old format."""

from __future__ import annotations

import errno
import itertools
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ragsvc.core.schemas import Turn
from ragsvc.storage.disk import turns_file as turn_log
from ragsvc.storage.disk.turns_file import TURNS_FILE, append_turn, read_turns


def turn(n: int) -> Turn:
    return Turn(question=f"q{n}", answer=f"a{n}", at=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_last_turns_are_kept_and_the_file_stays_bounded(tmp_path: Path):
    for n in range(200):
        append_turn(tmp_path, turn(n), keep=3)
    assert [t.question for t in read_turns(tmp_path, keep=3)] == ["q197", "q198", "q199"]
    assert len((tmp_path / TURNS_FILE).read_bytes().splitlines()) <= turn_log.GROWTH * 3


def test_turns_of_every_length_keep_the_file_under_growth_times_the_kept_at_their_longest(
    tmp_path: Path,
):
    sizes = [len(turn_log._line(long_turn(n))) for n in range(200)]
    for n in range(200):
        append_turn(tmp_path, long_turn(n), keep=3)
        size = (tmp_path / TURNS_FILE).stat().st_size
        assert size <= turn_log.GROWTH * 3 * max(sizes[: n + 1])
    assert [t.question for t in read_turns(tmp_path, keep=3)] == ["q197", "q198", "q199"]


@pytest.mark.parametrize("block", [7, 64, 4096])
@pytest.mark.parametrize("keep", [1, 3, 6])
def test_the_last_turns_are_read_whatever_blocks_the_tail_is_read_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, keep: int
):
    monkeypatch.setattr(turn_log, "TAIL_BLOCK", block)
    for n in range(40):
        append_turn(tmp_path, long_turn(n), keep=6)
    questions = [t.question for t in read_turns(tmp_path, keep=keep)]
    assert questions == [f"q{n}" for n in range(40 - keep, 40)]


def test_reading_the_last_turns_reads_the_files_tail_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    lines = b"".join(turn_log._line(long_turn(n)) for n in range(60))  # never compacted
    size = (tmp_path / TURNS_FILE).write_bytes(lines)
    real_pread, read = os.pread, []
    monkeypatch.setattr(
        turn_log.os, "pread", lambda fd, n, at: read.append(n) or real_pread(fd, n, at)
    )
    monkeypatch.setattr(turn_log, "TAIL_BLOCK", 1024)
    assert [t.question for t in read_turns(tmp_path, keep=3)] == ["q57", "q58", "q59"]
    assert 0 < sum(read) < size / 4


def test_an_append_far_below_the_bound_does_not_read_the_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    append_turn(tmp_path, turn(1), keep=6)
    monkeypatch.setattr(turn_log.os, "pread", lambda *args: pytest.fail("read back"))
    monkeypatch.setattr(Path, "read_bytes", lambda path: pytest.fail(f"read {path}"))
    append_turn(tmp_path, turn(2), keep=6)  # 2 turns of 96: counting them is not needed


def test_compacting_reads_only_the_kept_turns_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real_pread, read = os.pread, []
    monkeypatch.setattr(
        turn_log.os, "pread", lambda fd, n, at: read.append(n) or real_pread(fd, n, at)
    )
    monkeypatch.setattr(Path, "read_bytes", lambda path: pytest.fail(f"read {path}"))
    monkeypatch.setattr(turn_log, "TAIL_BLOCK", 256)
    sizes = []
    for n in range(40 * turn_log.GROWTH):
        append_turn(tmp_path, long_turn(n), keep=3)
        sizes.append((tmp_path / TURNS_FILE).stat().st_size)
    assert sum(b < a for a, b in itertools.pairwise(sizes)) > 1  # compacted, more than once
    assert read and max(read) <= 256  # the tail, block by block, never the whole file


def long_turn(n: int) -> Turn:
    """Turns whose lengths swing between a few words and some thousand characters."""
    return Turn(
        question=f"q{n}", answer="a" * (n * 7919 % 3001), at=datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_a_torn_last_line_is_skipped(tmp_path: Path):
    append_turn(tmp_path, turn(1), keep=6)
    with (tmp_path / TURNS_FILE).open("ab") as out:
        out.write(b'{"question": "q2", "ans')  # a power loss in the middle of an append
    assert [t.question for t in read_turns(tmp_path, keep=6)] == ["q1"]


def test_no_history_keeps_nothing(tmp_path: Path):
    append_turn(tmp_path, turn(1), keep=6)
    append_turn(tmp_path, turn(2), keep=0)
    assert read_turns(tmp_path, keep=6) == []


@pytest.mark.parametrize("earlier", [0, 1])
def test_a_turn_the_disk_cannot_take_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier: int
):
    for n in range(earlier):
        append_turn(tmp_path, turn(n), keep=6)
    path = tmp_path / TURNS_FILE
    before = path.read_bytes() if path.exists() else None
    real_write, writes = os.write, []

    def part_then_full(fd: int, data: memoryview) -> int:
        writes.append(fd)
        if len(writes) == 1:
            return real_write(fd, bytes(data[:5]))  # a short write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(turn_log.os, "write", part_then_full)
    with pytest.raises(OSError):
        append_turn(tmp_path, turn(9), keep=6)
    assert (path.read_bytes() if path.exists() else None) == before


def test_turns_kept_before_sources_were_load_without_them(tmp_path: Path):
    old = b'{"question": "q0", "answer": "a0 [1]", "at": "2026-01-01T00:00:00Z"}\n'
    (tmp_path / TURNS_FILE).write_bytes(old)
    append_turn(tmp_path, turn(1), keep=6)
    first, second = read_turns(tmp_path, keep=6)
    assert (first.answer, first.sources, first.quotes) == ("a0 [1]", [], [])
    assert second.question == "q1"
