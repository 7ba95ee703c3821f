"""A read never fails because another process's write replaced the snapshot it was
reading: the reader reads CURRENT again and loads the newer one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ragsvc.core.config import Settings
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.records import SessionState

pytestmark = pytest.mark.anyio


class RacingStore(DiskStore):
    """A second process's store, whose reads another process's writes overtake: right after
    it has read CURRENT, `writer` publishes a new snapshot and removes the old one."""

    def __init__(self, data_dir: Path, writer: DiskStore, token_hash: str) -> None:
        super().__init__(data_dir)
        self.writer, self.token_hash, self.races = writer, token_hash, 3

    def _read_snapshot(self, folder: Path, name: str) -> SessionState:
        if self.races:
            self.races -= 1
            self.writer._update(self.token_hash, lambda state: None)
        return super()._read_snapshot(folder, name)


async def test_a_read_overtaken_by_another_processs_write_still_succeeds(
    settings: Settings, pdf: Callable
):
    writer = DiskStore(settings.data_dir)
    token_hash = "c" * 64
    await writer.create_session(token_hash, timedelta(hours=1))
    await writer.update(token_hash, lambda state: None)
    reader = RacingStore(settings.data_dir, writer, token_hash)
    state = await reader.load_state(token_hash)
    assert reader.races == 0 and state.documents == {}
    current = (writer.root / token_hash / "CURRENT").read_text()
    assert current == "gen-000004"  # one write before the reader, three while it read
