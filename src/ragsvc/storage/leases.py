"""Leases: proof that a live process is working on something (an ingest), so that work whose
lease nobody holds is known to have been interrupted, whatever the records still say. The
disk store holds them as flocks (disk/file_leases.py), the PostgreSQL store as rows renewed
by their process (postgres/row_leases.py)."""

from __future__ import annotations

from typing import Protocol


class Lease(Protocol):
    """Proof that a live process is working on something (an ingest)."""

    def release(self) -> None: ...

    def hand_over(self, for_s: float) -> None:
        """Blocking: let go of the lease but keep it alive `for_s` seconds, for a process
        elsewhere to take it over (`LeaseStore.take_over`): an ingest queued for a worker."""
        ...
