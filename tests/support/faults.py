"""Faults injected for the tests of failures: a store whose writes fail as a full disk
would, and a small real filesystem that fills up."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ragsvc.core.schemas import Turn
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.records import SessionState
from tests.support.services import unavailable

T = TypeVar("T")


class FaultyStore(DiskStore):
    """The real disk store, whose next writes fail with the error the test sets."""

    def __init__(self, data_dir: Path, min_free_mb: float = 0) -> None:
        super().__init__(data_dir, min_free_mb=min_free_mb)
        self.updates_to_fail = 0
        self.turns_fail = False
        self.error = OSError(errno.EIO, "injected write failure")

    async def update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        if self.updates_to_fail:
            self.updates_to_fail -= 1
            raise self.error
        return await super().update(token_hash, mutate)

    def add_turn_blocking(self, token_hash: str, turn: Turn, keep: int) -> None:
        if self.turns_fail:  # `add_turn` and an answer composed in a thread both come here
            raise self.error
        super().add_turn_blocking(token_hash, turn, keep)


@contextmanager
def small_disk(path: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (needs root, as in CI), unmounted after."""
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        unavailable(f"cannot mount a small filesystem: {mounted.stderr.strip()}", "needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; remove it to free the space again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(bytes(65536))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler
