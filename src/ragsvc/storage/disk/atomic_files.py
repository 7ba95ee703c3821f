"""Files that are never seen half-written: write to a temp file, fsync, rename over the
target; folders locked across threads and processes with flock(2); and the leftovers of
writes a crash or a full disk interrupted, recognised and removed."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

LEFTOVER_AGE_S = 600  # a temp file or folder this old belongs to no write still running


def atomic_write(path: Path, data: bytes | BinaryIO, *, durable: bool = True) -> None:
    """Readers see the old content or the new, never half; on failure nothing is left.
    `data`: bytes, or a file copied block by block. `durable`: on disk before returning
    (fsync), so a power loss keeps it too; without, a crash of the process still keeps it
    (the rename is atomic), a power loss may not."""
    tmp = temp_name(path)
    try:
        with tmp.open("wb") as out:
            if isinstance(data, bytes):
                out.write(data)
            else:
                shutil.copyfileobj(data, out)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def temp_name(path: Path) -> Path:
    """A hidden sibling of `path` that `is_leftover` recognises."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}")


def is_leftover(path: Path) -> bool:
    """A temp file or staging folder (hidden, made by `temp_name`) older than any write."""
    return path.name.startswith(".") and older_than_any_write(path)


def older_than_any_write(path: Path) -> bool:
    """Whether `path` was last changed longer ago than any write in progress could be."""
    try:
        return time.time() - path.lstat().st_mtime > LEFTOVER_AGE_S
    except FileNotFoundError:
        return False


def remove(path: Path) -> None:
    """Remove a file or a folder, whichever it is, if it is still there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Every file below `folder`, then the folder itself, on disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(folder)


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive flock on `lock_file` (created if need be)."""
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
