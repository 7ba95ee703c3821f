"""The embedded store on its own: sessions made, found (an expired one deleted when asked
for), deleted and purged; a state changed by publishing a new version (a failed change
leaves the last one, and another process reads the same); leases and spooled uploads; and
only token hashes name a session's folder."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from ragsvc.core.clock import now
from ragsvc.core.errors import SessionGone
from ragsvc.core.schemas import Turn
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.records import SessionState
from tests.support.states import add_document, same_state

pytestmark = pytest.mark.anyio
TOKEN_HASH = "e" * 64
OTHER = "f" * 64
TTL = timedelta(hours=1)


@pytest.fixture
def store(tmp_path: Path) -> DiskStore:
    return DiskStore(tmp_path)


async def test_a_session_is_made_found_and_deleted(store: DiskStore):
    made = await store.create_session(TOKEN_HASH, TTL)
    found = await store.get_session(TOKEN_HASH, TTL)
    assert found == made and found.expires_at - found.created_at == TTL
    assert await store.get_session(OTHER, TTL) is None
    await store.delete_session(TOKEN_HASH)
    assert await store.get_session(TOKEN_HASH, TTL) is None
    assert list(store.root.iterdir()) == []


async def test_an_expired_session_is_none_and_deleted_when_asked_for(store: DiskStore):
    await store.create_session(TOKEN_HASH, timedelta(0))
    assert (store.root / TOKEN_HASH).is_dir()
    assert await store.get_session(TOKEN_HASH, TTL) is None
    assert not (store.root / TOKEN_HASH).exists()


async def test_the_purge_deletes_expired_sessions_only(store: DiskStore):
    await store.create_session(TOKEN_HASH, timedelta(0))
    await store.create_session(OTHER, TTL)
    assert await store.purge_expired() == 1
    assert [p.name for p in store.root.iterdir()] == [OTHER]


async def test_an_update_publishes_the_changed_state(store: DiskStore, tmp_path: Path):
    await store.create_session(TOKEN_HASH, TTL)

    def change(state: SessionState) -> str:
        add_document(state, "d1", "Owls hunt.")
        return "changed"

    assert await store.update(TOKEN_HASH, change) == "changed"
    expected = SessionState()
    add_document(expected, "d1", "Owls hunt.")
    assert same_state(await store.load_state(TOKEN_HASH), expected)
    elsewhere = DiskStore(tmp_path)  # another process: nothing cached
    assert same_state(await elsewhere.load_state(TOKEN_HASH), expected)


async def test_a_failed_update_leaves_the_last_state(store: DiskStore):
    await store.create_session(TOKEN_HASH, TTL)
    await store.update(TOKEN_HASH, lambda s: add_document(s, "d1", "Owls hunt."))
    before = await store.load_state(TOKEN_HASH)
    snapshots = sorted(p.name for p in (store.root / TOKEN_HASH).glob("gen-*"))

    def half_done(state: SessionState) -> None:
        add_document(state, "d2", "Hawks soar.")
        raise RuntimeError("the change failed half way")

    with pytest.raises(RuntimeError):
        await store.update(TOKEN_HASH, half_done)
    after = await store.load_state(TOKEN_HASH)
    assert same_state(after, before) and list(after.documents) == ["d1"]
    assert sorted(p.name for p in (store.root / TOKEN_HASH).glob("gen-*")) == snapshots


async def test_a_deleted_session_cannot_be_updated_or_read(store: DiskStore):
    await store.create_session(TOKEN_HASH, TTL)
    await store.delete_session(TOKEN_HASH)
    with pytest.raises(SessionGone):
        await store.update(TOKEN_HASH, lambda s: add_document(s, "d1", "Owls hunt."))
    with pytest.raises(SessionGone):
        await store.load_state(TOKEN_HASH)


async def test_a_lease_is_seen_while_held_and_an_upload_waits_spooled(store: DiskStore):
    await store.create_session(TOKEN_HASH, TTL)
    lease = store.take_lease(TOKEN_HASH, "d1")
    assert await store.leased(TOKEN_HASH, "d1") and not await store.leased(TOKEN_HASH, "d2")
    spooled = store.spool(TOKEN_HASH, "d1", io.BytesIO(b"%PDF-1.7 owls"))
    assert store.spooled(TOKEN_HASH, "d1").read() == b"%PDF-1.7 owls"
    spooled.remove()
    lease.release()
    assert not await store.leased(TOKEN_HASH, "d1")
    assert not list((store.root / TOKEN_HASH / "uploads").iterdir())


@pytest.mark.parametrize("name", ["../../etc", "E" * 64, "e" * 63, "e" * 64 + "/x", ""])
async def test_only_a_token_hash_names_a_session(store: DiskStore, name: str):
    with pytest.raises(ValueError, match="not a token hash"):
        await store.get_session(name, TTL)
    with pytest.raises(ValueError, match="not a token hash"):
        await store.create_session(name, TTL)
    with pytest.raises(ValueError, match="not a token hash"):
        await store.load_state(name)
    with pytest.raises(ValueError, match="not a token hash"):
        await store.delete_session(name)


async def test_a_turn_of_a_session_deleted_meanwhile_is_dropped_and_remakes_nothing(
    store: DiskStore,
):
    await store.create_session(TOKEN_HASH, timedelta(hours=1))
    turn = Turn(question="q", answer="a", at=now())
    await store.add_turn(TOKEN_HASH, turn, keep=6)
    await store.delete_session(TOKEN_HASH)
    await store.add_turn(TOKEN_HASH, turn, keep=6)  # its answer was streaming meanwhile
    assert not (store.root / TOKEN_HASH).exists()


async def test_a_sessions_folder_is_checked_however_often_it_is_looked_up(store: DiskStore):
    for _ in range(2):  # the second time from memory
        with pytest.raises(ValueError, match="not a token hash"):
            await store.add_turn(
                "../" + TOKEN_HASH[3:], Turn(question="q", answer="a", at=now()), 6
            )
