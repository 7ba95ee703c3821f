"""The periodic purge sweeps what interrupted writes left in a session's folder (staging
folders, temp files, snapshots that are not current, a session whose creation never
finished), and only what is older than any write still running."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ragsvc.core.config import Settings
from ragsvc.storage.disk.store import DiskStore

pytestmark = pytest.mark.anyio


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_the_leftovers_of_interrupted_writes_are_swept(settings: Settings):
    store = DiskStore(settings.data_dir)
    alive = "a" * 64
    await store.create_session(alive, timedelta(hours=1))
    await store.update(alive, lambda state: None)
    folder = store.root / alive
    staging, temp = folder / ".gen-000002.0123", folder / ".meta.json.4567"
    staging.mkdir()
    temp.write_bytes(b"half")
    stale_generation = folder / "gen-000000"
    stale_generation.mkdir()
    half_made = store.root / ("b" * 64)  # a session whose meta.json was never written
    half_made.mkdir()
    fresh = folder / ".turns.json.89ab"  # a write that may still be running
    fresh.write_bytes(b"...")
    for path in (staging, temp, stale_generation, half_made):
        age(path, 3600)
    await store.purge_expired()
    assert not staging.exists() and not temp.exists() and not stale_generation.exists()
    assert not half_made.exists()
    assert fresh.exists() and (folder / "gen-000001").exists()
    assert (await store.load_state(alive)).documents == {}
