"""The ingestion use case on a real disk store, without HTTP: a session's documents, one of
them (404 when it has none such), a document deleted with its chunks, and a `processing`
document whose ingest died with its process, failed when the documents are read; no PDF
kept for a document deleted as it was being kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import anyio
import pytest

from ragsvc.core.config import Settings
from ragsvc.core.errors import DocumentNotFound
from ragsvc.ingest.ingestion import INTERRUPTED_DETAIL, Ingestion
from ragsvc.ingest.steps import IngestOptions, UploadedFile
from ragsvc.runtime.app_state import options
from ragsvc.storage.disk.store import DiskStore
from tests.support.fakes import HashEmbedder
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio
TOKEN_HASH = "b" * 64
OWLS = UploadedFile("owls.pdf", make_pdf(["Barn owls hunt voles at night."]))
HAWKS = UploadedFile("hawks.pdf", make_pdf(["Red kites and buzzards soar over hills."]))


@pytest.fixture
async def ingestion(tmp_path: Path) -> Ingestion:
    store = DiskStore(tmp_path)
    await store.create_session(TOKEN_HASH, timedelta(hours=1))
    return Ingestion(store, HashEmbedder(), None, options(Settings(), IngestOptions))


async def test_a_document_of_the_session_is_found_and_another_is_404(ingestion: Ingestion):
    [owls] = await ingestion.ingest_files(TOKEN_HASH, [OWLS])
    assert await ingestion.document(TOKEN_HASH, owls.id) == owls
    with pytest.raises(DocumentNotFound, match="'elsewhere'"):
        await ingestion.document(TOKEN_HASH, "elsewhere")


async def test_a_deleted_document_leaves_with_its_chunks(ingestion: Ingestion):
    owls, hawks = await ingestion.ingest_files(TOKEN_HASH, [OWLS, HAWKS])
    await ingestion.delete_document(TOKEN_HASH, owls.id)
    state = await ingestion.store.load_state(TOKEN_HASH)
    assert list(state.documents) == [hawks.id]
    assert state.index is not None
    assert {c.document_id for c in state.index.chunks.values()} == {hawks.id}
    with pytest.raises(DocumentNotFound):
        await ingestion.delete_document(TOKEN_HASH, owls.id)


async def test_a_processing_document_nobody_holds_the_lease_of_is_failed_when_read(
    ingestion: Ingestion,
):
    [queued], [job] = await ingestion.register_uploads(TOKEN_HASH, [OWLS])
    assert (await ingestion.document(TOKEN_HASH, queued.id)).status == "processing"  # leased
    job.lease.release()  # as when its process dies
    job.spooled.remove()
    failed = await ingestion.document(TOKEN_HASH, queued.id)
    assert (failed.status, failed.detail) == ("failed", INTERRUPTED_DETAIL)


async def test_a_document_deleted_while_its_pdf_is_kept_leaves_no_pdf(ingestion: Ingestion):
    """The delete lands between the final commit and the PDF being kept (it then finds no
    PDF to drop): the PDF must not outlive the document."""
    store = ingestion.store
    keep = store.keep_pdf

    def deleted_first(token_hash: str, document_id: str, content: BinaryIO) -> None:
        anyio.from_thread.run(ingestion.delete_document, token_hash, document_id)
        keep(token_hash, document_id, content)

    store.keep_pdf = deleted_first  # type: ignore[method-assign]
    [owls] = await ingestion.ingest_files(TOKEN_HASH, [OWLS])
    assert owls.id not in await ingestion.documents(TOKEN_HASH)
    assert store.read_pdf(TOKEN_HASH, owls.id) is None
