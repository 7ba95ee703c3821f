"""The disk store's leases: "a live process is working on this", held as flock(2) on a file.

The kernel drops an flock when its process dies, so a lease outlives neither a crash nor a
restart: work whose lease nobody holds was interrupted, whatever the records still say.
Works across the worker processes and replicas sharing a data directory.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass
class FileLease:
    """A `storage.leases.Lease` held as an flock on `path`."""

    handle: IO[bytes]
    path: Path

    @classmethod
    def take(cls, path: Path) -> FileLease:
        """Blocking: claim the lease; raises BlockingIOError if another holder has it."""
        handle = path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            handle.close()  # refused: the file is not ours to keep open
            raise
        return cls(handle, path)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
        self.handle.close()

    def hand_over(self, for_s: float) -> None:
        # An flock ends with its holder: nothing outlives the process to hand over.
        raise NotImplementedError("a queue of ingests needs RAGSVC_STORE=postgres")


def is_leased(path: Path) -> bool:
    """Whether any process (this one included) holds the lease at `path` now."""
    try:
        with path.open("rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False
