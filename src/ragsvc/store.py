"""Where sessions live: a Store protocol and its on-disk implementation.

Layout under `<data_dir>/sessions/<sha256 of token>/`:
    meta.json    created_at, expires_at (sliding)
    turns.json   the last turns, for follow-up questions
    CURRENT      name of the live generation folder
    gen-<n>/     documents.json + the SessionIndex files, written once, never modified
    lock         flock(2) target serialising writers across threads and processes

Writers build a new generation folder, then atomically replace CURRENT: a crash leaves
either the old or the new state, never a mix, and readers keep using the generation they
loaded (copy-on-write), so a search never runs against an index being modified.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

import anyio
from pydantic import BaseModel, TypeAdapter

from ragsvc.clock import now
from ragsvc.errors import SessionGone
from ragsvc.index import SessionIndex
from ragsvc.leases import FileLease, Lease, is_leased
from ragsvc.schemas import Document, Turn

T = TypeVar("T")
_DOCUMENTS = TypeAdapter(list[Document])
_TURNS = TypeAdapter(list[Turn])
_TOUCH_EVERY = timedelta(seconds=60)


class SessionMeta(BaseModel):
    token_hash: str
    created_at: datetime
    expires_at: datetime
    touched_at: datetime


@dataclass
class SessionState:
    """Documents and index of one generation; treat as read-only once published."""

    documents: dict[str, Document] = field(default_factory=dict)
    index: SessionIndex | None = None


class Store(Protocol):
    async def create_session(self, token_hash: str, ttl: timedelta) -> SessionMeta: ...
    async def get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None: ...
    async def delete_session(self, token_hash: str) -> None: ...
    async def load_state(self, token_hash: str) -> SessionState: ...
    async def update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T: ...
    async def turns(self, token_hash: str) -> list[Turn]: ...
    async def add_turn(self, token_hash: str, turn: Turn, keep: int) -> None: ...
    async def purge_expired(self) -> int: ...
    def writable(self) -> bool: ...
    def take_lease(self, token_hash: str, key: str) -> Lease: ...
    async def leased(self, token_hash: str, key: str) -> bool: ...


class DiskStore:
    def __init__(self, data_dir: Path, cache_size: int = 256) -> None:
        self.root = data_dir / "sessions"
        self.root.mkdir(parents=True, exist_ok=True)
        self._cache: OrderedDict[str, tuple[str, SessionState]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def _dir(self, token_hash: str) -> Path:
        if len(token_hash) != 64 or not all(c in "0123456789abcdef" for c in token_hash):
            raise ValueError("not a token hash")  # never let a caller steer the path
        return self.root / token_hash

    # sessions ---------------------------------------------------------------

    async def create_session(self, token_hash: str, ttl: timedelta) -> SessionMeta:
        at = now()
        meta = SessionMeta(token_hash=token_hash, created_at=at, expires_at=at + ttl, touched_at=at)

        def write() -> None:
            folder = self._dir(token_hash)
            folder.mkdir(parents=True, exist_ok=False)
            atomic_write(folder / "meta.json", meta.model_dump_json().encode())

        await anyio.to_thread.run_sync(write)
        return meta

    async def get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None:
        """The live session, its expiry slid forward; None when unknown or expired."""
        return await anyio.to_thread.run_sync(self._get_session, token_hash, ttl)

    def _get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None:
        path = self._dir(token_hash) / "meta.json"
        try:
            meta = SessionMeta.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        at = now()
        if meta.expires_at <= at:
            self._delete(token_hash)
            return None
        if at - meta.touched_at >= _TOUCH_EVERY:  # sliding expiry without a write per request
            meta = meta.model_copy(update={"expires_at": at + ttl, "touched_at": at})
            atomic_write(path, meta.model_dump_json().encode())
        return meta

    async def delete_session(self, token_hash: str) -> None:
        await anyio.to_thread.run_sync(self._delete, token_hash)

    def _delete(self, token_hash: str) -> None:
        folder = self._dir(token_hash)
        with self._cache_lock:
            self._cache.pop(token_hash, None)
        # Rename first so a concurrent reader sees the session gone at once, not half-deleted.
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        try:
            folder.rename(trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    async def purge_expired(self) -> int:
        return await anyio.to_thread.run_sync(self._purge_expired)

    def _purge_expired(self) -> int:
        """Delete expired sessions and the leftovers of interrupted deletes; count the first."""
        count = 0
        for folder in self.root.iterdir():
            if folder.name.startswith(".trash-"):
                shutil.rmtree(folder, ignore_errors=True)
            elif _expired(folder / "meta.json"):
                self._delete(folder.name)
                count += 1
        return count

    def writable(self) -> bool:
        return os.access(self.root, os.W_OK)

    # documents and index ----------------------------------------------------

    async def load_state(self, token_hash: str) -> SessionState:
        return await anyio.to_thread.run_sync(self._load_state, token_hash)

    def _load_state(self, token_hash: str) -> SessionState:
        folder = self._dir(token_hash)
        current = _read_current(folder)
        if current is None:
            return SessionState()
        with self._cache_lock:
            cached = self._cache.get(token_hash)
            if cached and cached[0] == current:
                self._cache.move_to_end(token_hash)
                return cached[1]
        state = _read_generation(folder / current)
        self._remember(token_hash, current, state)
        return state

    async def update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        """Run `mutate` on a private copy of the latest state, then publish it atomically."""
        return await anyio.to_thread.run_sync(self._update, token_hash, mutate)

    def _update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        folder = self._dir(token_hash)
        with _locked(folder):
            current = _read_current(folder)
            state = _read_generation(folder / current) if current else SessionState()
            result = mutate(state)
            name = _next_generation(folder)
            staging = folder / f".{name}.{uuid.uuid4().hex}"
            _write_generation(staging, state)
            staging.rename(folder / name)
            atomic_write(folder / "CURRENT", name.encode())
            self._remember(token_hash, name, state)
            for old in folder.glob("gen-*"):
                if old.name != name:
                    shutil.rmtree(old, ignore_errors=True)
        return result

    def _remember(self, token_hash: str, generation: str, state: SessionState) -> None:
        with self._cache_lock:
            self._cache[token_hash] = (generation, state)
            self._cache.move_to_end(token_hash)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # leases: "a live process is working on this" ----------------------------

    def take_lease(self, token_hash: str, key: str) -> Lease:
        """Blocking: claim `key` until released; a lease also ends with its process."""
        folder = self._dir(token_hash) / "leases"
        folder.mkdir(exist_ok=True)
        return FileLease.take(folder / key)

    async def leased(self, token_hash: str, key: str) -> bool:
        """Whether any process (this one included) holds the lease on `key` now."""
        return await anyio.to_thread.run_sync(is_leased, self._dir(token_hash) / "leases" / key)

    # turns ------------------------------------------------------------------

    async def turns(self, token_hash: str) -> list[Turn]:
        def read() -> list[Turn]:
            try:
                return _TURNS.validate_json((self._dir(token_hash) / "turns.json").read_bytes())
            except FileNotFoundError:
                return []

        return await anyio.to_thread.run_sync(read)

    async def add_turn(self, token_hash: str, turn: Turn, keep: int) -> None:
        def append() -> None:
            folder = self._dir(token_hash)
            if not folder.is_dir():
                return  # the session was deleted while the answer streamed: nothing to keep
            with _locked(folder):
                path = folder / "turns.json"
                turns = _TURNS.validate_json(path.read_bytes()) if path.exists() else []
                turns = [*turns, turn][-keep:] if keep else []
                atomic_write(path, _TURNS.dump_json(turns))

        await anyio.to_thread.run_sync(append)


# files ----------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file, fsync, rename over the target: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    if not folder.is_dir():
        raise SessionGone("the session was deleted or has expired")
    with (folder / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _expired(meta_path: Path) -> bool:
    try:
        meta = SessionMeta.model_validate_json(meta_path.read_bytes())
    except (FileNotFoundError, ValueError):
        return False  # not a session (yet): being created, or not ours
    return meta.expires_at <= now()


def _read_current(folder: Path) -> str | None:
    try:
        return (folder / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        if not (folder / "meta.json").exists():
            raise SessionGone("the session was deleted or has expired") from None
        return None


def _next_generation(folder: Path) -> str:
    numbers = [int(p.name[4:]) for p in folder.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _read_generation(folder: Path) -> SessionState:
    documents = _DOCUMENTS.validate_json((folder / "documents.json").read_bytes())
    index = SessionIndex.load(folder / "index") if (folder / "index").exists() else None
    return SessionState(documents={d.id: d for d in documents}, index=index)


def _write_generation(folder: Path, state: SessionState) -> None:
    folder.mkdir()
    (folder / "documents.json").write_bytes(_DOCUMENTS.dump_json(list(state.documents.values())))
    if state.index is not None:
        state.index.save(folder / "index")
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)
