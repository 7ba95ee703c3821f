"""The disk store keeps loaded sessions within RAGSVC_CACHE_MB, the least recently used
dropped first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ragsvc.core.config import Settings
from ragsvc.core.schemas import Chunk
from ragsvc.search.index import SessionIndex
from ragsvc.storage.disk.store import DiskStore
from tests.support.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


async def test_loaded_sessions_are_bounded_by_bytes(settings: Settings):
    store = DiskStore(settings.data_dir, cache_mb=0.5)
    sessions = [f"{i:064x}" for i in range(3)]
    for token_hash in sessions:
        await store.create_session(token_hash, timedelta(hours=1))
        await store.update(token_hash, lambda state: setattr(state, "index", big_index()))
        await store.load_state(token_hash)
    assert store.cache.bytes <= 0.5 * 2**20 + big_index().nbytes  # the newest may exceed
    assert store.cache.get(sessions[0], "gen-000001") is None  # the oldest was dropped
    assert store.cache.get(sessions[-1], "gen-000001") is not None


def big_index() -> SessionIndex:
    """An index of about 0.3 MB."""
    index = SessionIndex("hash:128", 128)
    chunks = [Chunk(id=i, document_id="d", page=1, text=f"tide {i} " * 20) for i in range(300)]
    index.reserve_ids(len(chunks))
    index.add(chunks, HashEmbedder().embed_sync([c.text for c in chunks]))
    return index
