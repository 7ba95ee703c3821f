"""The memory that loaded sessions took is given back to the system once they are deleted,
measured in a fresh interpreter. Slow tier."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_memory_is_given_back_after_sessions_are_deleted(tmp_path: Path):
    """In a fresh interpreter: load ten sessions of 3,000 chunks, delete them, and most of
    the memory they took is returned to the system."""
    script = f"""
import anyio, numpy as np
from datetime import timedelta
from pathlib import Path
from ragsvc.storage.disk.store import DiskStore
from ragsvc.search.index import SessionIndex
from ragsvc.storage.memory import release_freed_memory
from ragsvc.core.schemas import Chunk

def rss():
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0])

def fill(state):
    state.index = SessionIndex("e", 128)
    chunks = [Chunk(id=i, document_id="d", page=1, text=f"word{{i}} " * 150) for i in range(3000)]
    state.index.reserve_ids(3000)
    state.index.add(chunks, np.random.rand(3000, 128).astype("float32"))

async def main():
    store = DiskStore(Path({str(tmp_path)!r}))
    start = rss()
    hashes = [f"{{i:064x}}" for i in range(10)]
    for token_hash in hashes:
        await store.create_session(token_hash, timedelta(hours=1))
        await store.update(token_hash, fill)
    loaded = rss()
    for token_hash in hashes:
        await store.delete_session(token_hash)
    print(start, loaded, rss())

anyio.run(main)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    start, loaded, deleted = map(int, result.stdout.split())
    assert deleted - start < (loaded - start) / 2, (start, loaded, deleted)
