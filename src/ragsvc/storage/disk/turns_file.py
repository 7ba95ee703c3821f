"""A session's conversation on disk: `turns.jsonl`, one turn per line, appended.

An answer adds its turn with one small append, not a rewrite: replacing a file costs about
a millisecond on ext4 (a rename over a file flushes it), an append some microseconds. Once
the file is larger than GROWTH times the kept turns at the size of the one just added, it is
compacted to the kept turns: it never holds more than GROWTH times them at their longest,
and turns of one size are compacted once every (GROWTH - 1) × kept answers. The file is
read from its end only, the kept turns' lines, so its length costs neither a reader nor a
compaction. (Compacting at twice the kept turns renamed a file every 7 answers: 0.07-0.1 ms
an answer.) Appends are not fsynced: a killed process keeps them, a power loss may tear the
last line, which reading skips. Callers hold the session's lock around `append_turn`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import ValidationError

from ragsvc.core.schemas import Turn
from ragsvc.storage.disk.atomic_files import atomic_write

log = logging.getLogger(__name__)
TURNS_FILE = "turns.jsonl"
GROWTH = 16  # the file holds up to this many times the kept turns before it is compacted
TAIL_BLOCK = 64 * 1024  # read from the file's end this many bytes at a time


def read_turns(folder: Path, keep: int) -> list[Turn]:
    """The last `keep` turns of the session in `folder`, oldest first."""
    if keep <= 0:
        return []
    try:
        lines = _last_lines(folder / TURNS_FILE, keep)
    except FileNotFoundError:
        return []
    return [turn for line in lines if (turn := _parsed(line)) is not None]


def _last_lines(path: Path, count: int) -> list[bytes]:
    """The last `count` lines of `path`, read from its end a block at a time (until the
    tail holds more than `count` line ends, so a line cut at its start is not among them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        start = os.fstat(fd).st_size
        tail = b""
        while start > 0 and tail.count(b"\n") <= count:
            block = min(TAIL_BLOCK, start)
            start -= block
            tail = os.pread(fd, block, start) + tail
    finally:
        os.close(fd)
    return tail.splitlines()[-count:]


def append_turn(folder: Path, turn: Turn, keep: int) -> None:
    """Add `turn`; keep no more than about GROWTH × `keep` turns (none when `keep` is 0)."""
    path = folder / TURNS_FILE
    if keep <= 0:
        path.unlink(missing_ok=True)
        return
    added = _line(turn)
    size = _append(path, added)
    if size <= GROWTH * keep * len(added):
        return
    kept = b"".join(line + b"\n" for line in _last_lines(path, keep))
    if len(kept) < size:  # it holds more than the kept turns
        atomic_write(path, kept, durable=False)


def _append(path: Path, data: bytes) -> int:
    """All of `data` at the end of `path`, or nothing: a full disk leaves the file as it
    was (and no empty file behind). Returns the file's size after."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            rest = memoryview(data)
            while rest:
                rest = rest[os.write(fd, rest) :]
        except BaseException:
            os.ftruncate(fd, size)
            if size == 0:
                path.unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)
    return size + len(data)


def _line(turn: Turn) -> bytes:
    return turn.model_dump_json().encode() + b"\n"


def _parsed(line: bytes) -> Turn | None:
    try:
        return Turn.model_validate_json(line)
    except ValidationError:  # torn by a power loss mid-append
        log.warning("skipped an unreadable turn")
        return None
