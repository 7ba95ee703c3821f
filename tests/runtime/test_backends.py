"""The one place settings become backends: the defaults build the bundled embedder, the
extractive generator and the disk store; background ingests are queued only when the
settings say so; an unusable data directory is refused at start-up with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragsvc.answer.extractive import ExtractiveGenerator
from ragsvc.core.config import Settings
from ragsvc.ingest.job_queue import IngestQueue
from ragsvc.runtime.backends import (
    check_storage,
    make_backends,
    make_ingest_queue,
    takes_queued_ingests,
)
from ragsvc.search.embedders import WordLlamaEmbedder
from ragsvc.storage.disk.store import DataDirUnusable, DiskStore

pytestmark = pytest.mark.anyio


def queued(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        store="postgres",
        database_url="postgresql://127.0.0.1:5432/test",
        redis_url="redis://127.0.0.1:6379/9",
        ingest_queue="redis",
    )


async def test_the_defaults_build_the_bundled_embedder_extractive_answers_and_the_disk(
    tmp_path: Path,
):
    # The defaults but for the PDF page workers: starting processes is not this test's point.
    backends = make_backends(Settings(data_dir=tmp_path, parse_workers=0))
    try:
        assert isinstance(backends.embedder, WordLlamaEmbedder)
        assert backends.embedder.name.startswith("wordllama:")
        assert (await backends.embedder.embed(["owls hunt"])).shape == (1, 256)
        assert isinstance(backends.generator, ExtractiveGenerator)
        assert isinstance(backends.store, DiskStore)
        assert backends.store.root == tmp_path / "sessions" and backends.store.root.is_dir()
        assert backends.client is None and backends.pdf_workers is None
    finally:
        await backends.aclose()


async def test_ingests_are_queued_only_when_the_settings_say_so(tmp_path: Path):
    assert not takes_queued_ingests(Settings(data_dir=tmp_path))
    assert make_ingest_queue(Settings(data_dir=tmp_path)) is None
    assert takes_queued_ingests(queued(tmp_path))
    queue = make_ingest_queue(queued(tmp_path))
    assert isinstance(queue, IngestQueue)
    await queue.aclose()


def test_an_unusable_data_directory_is_refused_with_its_reason(tmp_path: Path):
    check_storage(Settings(data_dir=tmp_path / "data"))
    assert (tmp_path / "data" / "sessions").is_dir()
    (tmp_path / "a file").write_text("not a folder")
    under_a_file = tmp_path / "a file" / "data"
    with pytest.raises(DataDirUnusable, match=f"cannot use the data directory {under_a_file}"):
        check_storage(Settings(data_dir=under_a_file))
