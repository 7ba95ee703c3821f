"""The embedded Store: sessions in folders under `<data_dir>/sessions/<sha256 of token>/`:

    meta.json    created_at, expires_at (sliding)
    turns.jsonl  the last turns, for follow-up questions (turns_file.py)
    CURRENT, gen-<n>/, docs/   documents and index, in snapshots (snapshots.py)
    lock         flock(2) target serialising writers across threads and processes
    leases/      flock(2) leases of documents being ingested
    uploads/     files waiting for their background ingest
    pdfs/        the PDFs of ingested documents, for their page images

Writers publish a new snapshot, then atomically replace CURRENT: a crash leaves either
the old or the new state, never a mix, and readers keep using the snapshot they loaded
(copy-on-write), so a search never runs against an index being modified. A write
that fails (a full disk) leaves nothing behind; what a crash left is swept by the periodic
purge. A read never fails because of a concurrent writer, nor because of a write of its own.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

import anyio

from ragsvc.core.clock import now
from ragsvc.core.errors import SessionGone
from ragsvc.core.quick_threads import run_quick
from ragsvc.core.schemas import Turn
from ragsvc.storage.disk.atomic_files import (
    atomic_write,
    is_leftover,
    locked,
    older_than_any_write,
    remove,
)
from ragsvc.storage.disk.file_leases import FileLease, is_leased
from ragsvc.storage.disk.snapshots import publish, read_snapshot, remove_unused
from ragsvc.storage.disk.turns_file import append_turn, read_turns
from ragsvc.storage.leases import Lease
from ragsvc.storage.memory import release_freed_memory
from ragsvc.storage.records import Conversation, SessionMeta, SessionState
from ragsvc.storage.session_cache import SessionCache

T = TypeVar("T")
log = logging.getLogger(__name__)
_TOUCH_EVERY = timedelta(seconds=60)
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")
_READ_ATTEMPTS = 5  # a snapshot can vanish under a reader when a writer replaces it
PDFS = "pdfs"  # the kept PDFs of ingested documents, by document id
_DIRS_KEPT = 4096  # session folder paths remembered


class DataDirUnusable(Exception):
    """RAGSVC_DATA_DIR cannot be created or written: a start-up error that says what to fix."""

    def __init__(self, data_dir: Path, exc: OSError) -> None:
        super().__init__(
            f"cannot use the data directory {data_dir} ({exc.strerror or exc}): give this "
            f"process (uid {os.getuid()}) a writable RAGSVC_DATA_DIR, for example a volume "
            "owned by that uid"
        )


class DiskStore:
    def __init__(self, data_dir: Path, cache_mb: float = 512, min_free_mb: float = 0) -> None:
        self.root = data_dir / "sessions"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):  # made by another user (a root-owned mount)
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self.root))
        except OSError as exc:
            raise DataDirUnusable(data_dir, exc) from exc
        self.cache = SessionCache(int(cache_mb * 2**20))
        self._dirs: dict[str, Path] = {}  # token hash -> its folder's path
        self._min_free = int(min_free_mb * 2**20)

    def _dir(self, token_hash: str) -> Path:
        # Remembered: an answer looks its folder up four times, ~15 µs each made afresh.
        folder = self._dirs.get(token_hash)
        if folder is None:
            if not _TOKEN_HASH.fullmatch(token_hash):
                raise ValueError("not a token hash")  # never let a caller steer the path
            if len(self._dirs) >= _DIRS_KEPT:
                self._dirs.clear()
            folder = self._dirs[token_hash] = self.root / token_hash
        return folder

    # sessions ---------------------------------------------------------------

    async def create_session(self, token_hash: str, ttl: timedelta) -> SessionMeta:
        meta = SessionMeta.new(token_hash, ttl)
        await anyio.to_thread.run_sync(self._create_session, meta)
        return meta

    def _create_session(self, meta: SessionMeta) -> None:
        folder = self._dir(meta.token_hash)
        folder.mkdir(parents=True, exist_ok=False)
        try:
            atomic_write(folder / "meta.json", meta.model_dump_json().encode())
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # no half-made session left behind
            raise

    async def get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None:
        """The live session, its expiry slid forward; None when unknown or expired."""
        return await run_quick(self._get_session, token_hash, ttl)

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
            meta = _touched(path, meta, at, ttl)
        return meta

    async def delete_session(self, token_hash: str) -> None:
        await anyio.to_thread.run_sync(self._delete, token_hash)
        await anyio.to_thread.run_sync(release_freed_memory)

    def _delete(self, token_hash: str) -> None:
        folder = self._dir(token_hash)
        self.cache.drop(token_hash)
        # Rename first so a concurrent reader sees the session gone at once, not half-deleted.
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        try:
            folder.rename(trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    async def purge_expired(self) -> int:
        purged = await anyio.to_thread.run_sync(self._purge_expired)
        if purged:
            await anyio.to_thread.run_sync(release_freed_memory)
        return purged

    def _purge_expired(self) -> int:
        """Delete expired sessions and sweep what interrupted writes and deletes left;
        count the sessions deleted."""
        count = 0
        for folder in self.root.iterdir():
            if folder.name.startswith(".trash-"):
                shutil.rmtree(folder, ignore_errors=True)
            elif _expired(folder / "meta.json"):
                self._delete(folder.name)
                count += 1
            elif folder.is_dir():
                self._sweep(folder)
        return count

    def _sweep(self, folder: Path) -> None:
        """Remove a session folder whose creation failed, or the leftovers of failed writes
        in a live one (under its lock, so no write in progress is touched)."""
        if not (folder / "meta.json").exists():
            if older_than_any_write(folder):
                shutil.rmtree(folder, ignore_errors=True)
            return
        with locked(folder / "lock"):
            for path in [*folder.iterdir(), *(folder / "docs").glob(".*")]:
                if is_leftover(path):
                    remove(path)
            remove_unused(folder)
            _sweep_spooled(folder)

    @property
    def cache_bytes(self) -> int:
        return self.cache.bytes

    async def aclose(self) -> None:
        """Nothing held open: files are opened per operation."""

    async def health(self) -> str | None:
        """Why the store cannot take writes now, or None when it can (a few syscalls)."""
        if not os.access(self.root, os.W_OK):
            return f"the data directory {self.root.parent} is not writable"
        temp = tempfile.gettempdir()  # where upload bodies over 1 MB are spooled
        if not os.access(temp, os.W_OK):
            return f"the temporary directory {temp} is not writable (TMPDIR)"
        free = shutil.disk_usage(self.root).free
        if free < self._min_free:
            return f"the data directory's disk is full ({free / 2**20:.0f} MB free)"
        return None

    # documents and index ----------------------------------------------------

    async def load_state(self, token_hash: str) -> SessionState:
        return await anyio.to_thread.run_sync(self._load_state, token_hash)

    def _load_state(self, token_hash: str) -> SessionState:
        folder = self._dir(token_hash)
        for _ in range(_READ_ATTEMPTS - 1):
            try:
                return self._load_current(token_hash, folder)
            except FileNotFoundError:  # replaced meanwhile: CURRENT names a newer one now
                continue
        return self._load_current(token_hash, folder)

    def _load_current(self, token_hash: str, folder: Path) -> SessionState:
        current = _read_current(folder)
        if current is None:
            return SessionState()
        if (cached := self.cache.get(token_hash, current)) is not None:
            return cached
        state = self._read_snapshot(folder, current)
        self.cache.put(token_hash, current, state)
        return state

    def _read_snapshot(self, folder: Path, name: str) -> SessionState:
        return read_snapshot(folder, name)

    async def update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        """Run `mutate` on a private copy of the latest state, then publish it atomically."""
        return await anyio.to_thread.run_sync(self._update, token_hash, mutate)

    def _update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        folder = self._session_folder(token_hash)
        with locked(folder / "lock"):
            state = self._private_copy(token_hash, folder)
            result = mutate(state)
            name = publish(folder, state)
            self.cache.put(token_hash, name, state)
            remove_unused(folder)
        return result

    def _private_copy(self, token_hash: str, folder: Path) -> SessionState:
        """The latest state, to change: a copy of the cached one when it is current (no
        read from disk), else read afresh."""
        current = _read_current(folder)
        if current is None:
            return SessionState()
        if (cached := self.cache.get(token_hash, current)) is not None:
            index = cached.index.copy() if cached.index is not None else None
            return SessionState(dict(cached.documents), index)
        return self._read_snapshot(folder, current)

    def _session_folder(self, token_hash: str) -> Path:
        folder = self._dir(token_hash)
        if not folder.is_dir():
            raise SessionGone("the session was deleted or has expired")
        return folder

    # leases: "a live process is working on this" ----------------------------

    def take_lease(self, token_hash: str, key: str) -> Lease:
        """Blocking: claim `key` until released; a lease also ends with its process."""
        folder = self._dir(token_hash) / "leases"
        folder.mkdir(exist_ok=True)
        return FileLease.take(folder / key)

    def take_over(self, token_hash: str, key: str) -> Lease | None:
        """Blocking: the lease of `key` if no live process holds it (flocks are never
        handed over: they end with their process)."""
        try:
            return self.take_lease(token_hash, key)
        except BlockingIOError:
            return None

    async def leased(self, token_hash: str, key: str) -> bool:
        """Whether any process (this one included) holds the lease on `key` now."""
        return await anyio.to_thread.run_sync(is_leased, self._dir(token_hash) / "leases" / key)

    # uploads waiting for their background ingest ---------------------------------

    def spool(self, token_hash: str, key: str, content: BinaryIO) -> SpooledFile:
        """Blocking: copy the upload to `uploads/<key>` block by block (removed with the
        session, or by the purge once no live process holds the lease of `key`)."""
        folder = self._dir(token_hash) / "uploads"
        folder.mkdir(exist_ok=True)
        path = folder / key
        atomic_write(path, content)
        return SpooledFile(path)

    def spooled(self, token_hash: str, key: str) -> SpooledFile:
        return SpooledFile(self._dir(token_hash) / "uploads" / key)

    # the PDFs of ingested documents, in `pdfs/<document id>` ---------------------

    def keep_pdf(self, token_hash: str, document_id: str, content: BinaryIO) -> None:
        folder = self._session_folder(token_hash) / PDFS
        folder.mkdir(exist_ok=True)
        atomic_write(folder / document_id, content)

    def read_pdf(self, token_hash: str, document_id: str) -> bytes | None:
        try:
            return (self._dir(token_hash) / PDFS / document_id).read_bytes()
        except FileNotFoundError:
            return None

    def drop_pdf(self, token_hash: str, document_id: str) -> None:
        (self._dir(token_hash) / PDFS / document_id).unlink(missing_ok=True)

    # turns ------------------------------------------------------------------

    async def turns(self, token_hash: str, keep: int) -> list[Turn]:
        return await anyio.to_thread.run_sync(read_turns, self._dir(token_hash), keep)

    async def read_conversation(
        self, token_hash: str, keep: int, then: Callable[[Conversation], T]
    ) -> T:
        def load() -> T:
            state = self._load_state(token_hash)
            return then(Conversation(state, read_turns(self._dir(token_hash), keep)))

        return await run_quick(load)  # one thread hop, not two (core/quick_threads.py)

    async def add_turn(self, token_hash: str, turn: Turn, keep: int) -> None:
        await run_quick(self.add_turn_blocking, token_hash, turn, keep)

    def add_turn_blocking(self, token_hash: str, turn: Turn, keep: int) -> None:
        folder = self._dir(token_hash)
        try:
            with locked(folder / "lock"):
                append_turn(folder, turn, keep)
        except FileNotFoundError:
            if folder.is_dir():
                raise
            # the session was deleted while the answer streamed: nothing to keep


@dataclass(frozen=True)
class SpooledFile:
    path: Path

    def read(self) -> bytes:
        return self.path.read_bytes()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def keep(self) -> None:
        """Move it from the session's `uploads/` to its `pdfs/`: a rename, no copy."""
        kept = self.path.parent.parent / PDFS
        kept.mkdir(exist_ok=True)
        self.path.replace(kept / self.path.name)


def _touched(path: Path, meta: SessionMeta, at: datetime, ttl: timedelta) -> SessionMeta:
    """The session's expiry slid forward, if the disk takes the write; a read never fails
    on it (the expiry slides on a later request)."""
    touched = meta.model_copy(update={"expires_at": at + ttl, "touched_at": at})
    try:
        atomic_write(path, touched.model_dump_json().encode())
    except OSError as exc:
        log.warning("could not slide the expiry of a session: %s", exc)
        return meta
    return touched


def _sweep_spooled(folder: Path) -> None:
    """Remove uploads whose ingest a crash interrupted: no live process holds their lease."""
    for spooled in (folder / "uploads").glob("*"):
        if not is_leased(folder / "leases" / spooled.name):
            spooled.unlink(missing_ok=True)


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
