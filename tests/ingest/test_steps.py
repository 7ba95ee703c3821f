"""The steps of ingesting one PDF, each on its own and without HTTP: screening uploads, a new
document, parsing and chunking it (and a part of it read so far), embedding in batches and
in parts, the embedder that remembers, committing into a state within the session's
quotas, and the documents in upload order."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from ragsvc.core.clock import now
from ragsvc.core.config import Settings
from ragsvc.core.errors import NotAPdf, QuotaExceeded, TooLarge
from ragsvc.core.schemas import Chunk, Document
from ragsvc.ingest import steps
from ragsvc.ingest.steps import (
    NO_TEXT_DETAIL,
    IngestOptions,
    Prepared,
    RememberingEmbedder,
    UploadedFile,
    commit,
    embed,
    in_upload_order,
    new_document,
    part_of,
    prepare,
    screen,
    within_quota,
)
from ragsvc.pdf.parsed import ParsedDocument
from ragsvc.pdf.read import parse_pdf
from ragsvc.runtime.app_state import options
from ragsvc.search.bm25_terms import tokens_of
from ragsvc.storage.records import SessionState
from tests.support.fakes import CountingEmbedder, HashEmbedder
from tests.support.pdfs import LIMITS, make_pdf

pytestmark = pytest.mark.anyio
OPTIONS = options(Settings(), IngestOptions)
EMBEDDER = "hash:128"
PAGES = [
    "Barn owls hunt voles at night using their acute hearing.",
    "Peregrine falcons stoop at over three hundred km per hour.",
]
FRENCH = [
    "Les chouettes chassent les campagnols la nuit grâce à leur ouïe très fine.",
    "Le faucon pèlerin pique à plus de trois cents kilomètres par heure.",
]


def upload_of(pages: list[str], name: str = "birds.pdf", title: str | None = None) -> UploadedFile:
    return UploadedFile(name, make_pdf(pages, title=title))


def document(doc_id: str, sha256: str, status: str = "ready", size: int = 0) -> Document:
    return Document(
        id=doc_id,
        filename=f"{doc_id}.pdf",
        sha256=sha256,
        size=size,
        pages=1,
        chunks=0,
        status=status,  # type: ignore[arg-type]
        created_at=now(),
    )


def embedded(doc: Document, *texts: str) -> Prepared:
    """A document prepared and embedded: one draft per text, with its vector."""
    drafts = [Chunk(id=-1, document_id=doc.id, page=1, text=text) for text in texts]
    vectors = HashEmbedder().embed_sync([d.search_text for d in drafts])
    return Prepared(doc.model_copy(update={"chunks": len(drafts)}), drafts, vectors)


def test_screening_refuses_an_empty_file_or_a_non_pdf_by_its_name():
    fine = upload_of(PAGES)
    screen([fine])
    with pytest.raises(NotAPdf, match=r"^empty\.pdf: the file is empty"):
        screen([fine, UploadedFile("empty.pdf", b"")])
    with pytest.raises(NotAPdf, match=r"^notes\.pdf: .*PDF header"):
        screen([UploadedFile("notes.pdf", b"these are my notes, not a PDF")])


def test_a_new_document_is_processing_with_the_uploads_hash_and_size():
    upload = upload_of(PAGES)
    doc = new_document(upload)
    assert (doc.status, doc.filename, doc.pages, doc.chunks) == ("processing", "birds.pdf", 0, 0)
    assert doc.sha256 == hashlib.sha256(upload.data).hexdigest()
    assert doc.size == len(upload.data)
    assert new_document(upload).id != doc.id  # the same file uploaded again: another document


def test_preparing_gives_a_ready_document_its_card_first_then_its_passages():
    upload = upload_of(PAGES, title="Birds of prey")
    item = prepare(upload, new_document(upload), OPTIONS)
    doc = item.document
    assert (doc.status, doc.pages, doc.title, doc.language) == ("ready", 2, "Birds of prey", "en")
    assert doc.chunks == len(item.drafts) and item.vectors is None
    card, *passages = item.drafts
    assert card.kind == "card" and card.text.startswith("Birds of prey")
    assert card.names == "birds" and all(p.names is None for p in passages)  # its file name
    assert [(p.kind, p.page) for p in passages] == [("text", 1), ("text", 2)]
    assert {(d.id, d.document_id) for d in item.drafts} == {(-1, doc.id)}  # ids come at commit


def test_without_document_cards_only_passages_are_drafted():
    upload = upload_of(PAGES, title="Birds of prey")
    item = prepare(upload, new_document(upload), dataclasses.replace(OPTIONS, document_cards=False))
    assert [d.kind for d in item.drafts] == ["text", "text"]
    assert item.document.chunks == 2


def test_drafts_carry_the_language_of_their_document():
    upload = upload_of(FRENCH, name="oiseaux.pdf")
    item = prepare(upload, new_document(upload), OPTIONS)
    assert item.document.language == "fr"
    assert {d.language for d in item.drafts} == {"fr"}


def test_a_pdf_without_text_is_no_text_with_the_reason():
    upload = upload_of(["", ""], name="scan.pdf")
    item = prepare(upload, new_document(upload), OPTIONS)
    assert (item.document.status, item.document.pages) == ("no_text", 2)
    assert item.document.detail == NO_TEXT_DETAIL and item.drafts == []


def test_a_document_past_its_chunks_is_too_large():
    upload = upload_of(PAGES)
    tight = dataclasses.replace(OPTIONS, max_chunks=2)  # a card and two passages
    with pytest.raises(TooLarge, match=r"^birds\.pdf: more than 2 chunks"):
        prepare(upload, new_document(upload), tight)
    assert prepare(upload, new_document(upload), dataclasses.replace(OPTIONS, max_chunks=3))


def test_a_part_read_so_far_keeps_its_document_processing():
    upload = upload_of(PAGES)
    doc = new_document(upload)
    part = part_of(parse_pdf(upload.data, upload.filename, LIMITS), doc, OPTIONS)
    assert part.document.status == "processing" and part.document.detail is None
    assert part.document.chunks == len(part.drafts) == 3 and part.document.pages == 2
    nothing_yet = part_of(ParsedDocument([[]], None), doc, OPTIONS)  # pages without text so far
    assert nothing_yet.document.status == "processing" and nothing_yet.document.detail is None
    assert nothing_yet.drafts == [] and nothing_yet.document.chunks == 0


def drafted(count: int) -> Prepared:
    doc = document("d1", "s1", status="processing")
    texts = [f"passage {i} about owl number {i}" for i in range(count)]
    return Prepared(doc, [Chunk(id=-1, document_id="d1", page=1, text=t) for t in texts])


async def test_embedding_fills_the_vectors_and_reports_each_batch(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(steps, "EMBED_BATCH", 2)
    item, reports = drafted(5), []
    await embed(HashEmbedder(), item, lambda done, total: reports.append((done, total)))
    assert reports == [(2, 5), (4, 5), (5, 5)]
    expected = HashEmbedder().embed_sync([d.search_text for d in item.drafts])
    assert item.vectors is not None and np.array_equal(item.vectors, expected)
    assert item.tokens == tokens_of(item.drafts)  # the BM25 terms, from the same texts


async def embedded_in_parts(monkeypatch: pytest.MonkeyPatch) -> tuple[Prepared, list[Prepared]]:
    """Five drafts embedded two at a time, with the parts handed over on the way."""
    monkeypatch.setattr(steps, "EMBED_BATCH", 2)
    monkeypatch.setattr(steps, "PART_EVERY_S", 0.0)
    item, parts = drafted(5), []

    async def on_part(part: Prepared) -> None:
        parts.append(part)

    await embed(HashEmbedder(), item, on_part=on_part)
    return item, parts


async def test_the_terms_made_with_the_vectors_are_the_ones_indexed(
    monkeypatch: pytest.MonkeyPatch,
):
    item, parts = await embedded_in_parts(monkeypatch)
    assert item.tokens is not None
    assert [p.tokens for p in parts] == [item.tokens[0:2], item.tokens[2:4]]
    item.tokens = [[f"made-once-{i}"] for i in range(5)]  # not made again at commit
    item.committed, state = 3, SessionState({"d1": item.document})
    commit(state, [item], EMBEDDER, OPTIONS, replace=True)
    assert state.index is not None
    indexed = state.index.terms(sorted(state.index.chunks)).tokens()
    assert indexed == [["made-once-3"], ["made-once-4"]]


async def test_embedding_hands_over_parts_of_the_drafts_embedded_so_far(
    monkeypatch: pytest.MonkeyPatch,
):
    item, parts = await embedded_in_parts(monkeypatch)
    assert [[d.text for d in p.drafts] for p in parts] == [
        [d.text for d in item.drafts[0:2]],
        [d.text for d in item.drafts[2:4]],  # the last batch is the whole item's to commit
    ]
    assert [(p.document.status, p.document.chunks, p.adds) for p in parts] == [
        ("processing", 2, False),  # the first part replaces what the document had
        ("processing", 4, True),  # later ones add to it
    ]
    assert item.vectors is not None
    for part, start in zip(parts, [0, 2], strict=True):
        assert np.array_equal(part.vectors, item.vectors[start : start + 2])
        assert all(p is not d for p, d in zip(part.drafts, item.drafts[start:], strict=False))
    assert item.committed == 4


async def test_a_remembering_embedder_embeds_each_text_once():
    counting = CountingEmbedder()
    remembering = RememberingEmbedder(counting)
    first = await remembering.embed(["owls", "hawks", "owls"])
    again = await remembering.embed(["hawks", "kites"])
    assert counting.asked == ["owls", "hawks", "kites"]
    assert first.shape == (3, 128) and np.array_equal(first[0], first[2])
    assert np.array_equal(again[0], first[1])
    assert np.array_equal(again[1], counting.embed_sync(["kites"])[0])
    assert remembering.name == counting.name


def test_committing_gives_chunk_ids_and_drops_content_already_in_the_session():
    state = SessionState()
    owls = embedded(document("d1", "s1"), "Owls hunt at night.")
    by_sha = commit(state, [owls], EMBEDDER, OPTIONS, replace=False)
    assert by_sha == {"s1": owls.document} and [c.id for c in owls.drafts] == [0]
    twin = embedded(document("d2", "s1"), "Owls hunt at night.")  # the same file, concurrently
    hawks = embedded(document("d3", "s3"), "Hawks soar.", "Hawks circle.")
    by_sha = commit(state, [twin, hawks], EMBEDDER, OPTIONS, replace=False)
    assert by_sha["s1"].id == "d1" and set(state.documents) == {"d1", "d3"}
    assert [c.id for c in hawks.drafts] == [1, 2] and [c.id for c in twin.drafts] == [-1]
    assert state.index is not None and sorted(state.index.chunks) == [0, 1, 2]


def test_replacing_drops_an_item_whose_processing_entry_was_deleted():
    state = SessionState({"d1": document("d1", "s1", status="processing")})
    kept = embedded(document("d1", "s1"), "Owls hunt at night.")
    deleted = embedded(document("d2", "s2", status="processing"), "Hawks soar.")
    commit(state, [deleted, kept], EMBEDDER, OPTIONS, replace=True)
    assert list(state.documents) == ["d1"] and state.documents["d1"].status == "ready"
    assert state.index is not None
    assert {c.document_id for c in state.index.chunks.values()} == {"d1"}


def test_a_whole_item_replaces_the_chunks_a_part_of_it_put_in_the_index():
    state = SessionState({"d1": document("d1", "s1", status="processing")})
    part = embedded(document("d1", "s1", status="processing"), "Owls hunt.")
    commit(state, [part], EMBEDDER, OPTIONS, replace=True)
    whole = embedded(document("d1", "s1"), "Owls hunt.", "Owls nest in barns.")
    commit(state, [whole], EMBEDDER, OPTIONS, replace=True)
    assert state.index is not None
    assert sorted(c.text for c in state.index.chunks.values()) == [
        "Owls hunt.",
        "Owls nest in barns.",
    ]


@pytest.mark.parametrize(
    ("limit", "what"),
    [
        ("max_session_documents", "documents"),
        ("max_session_chunks", "chunks"),
        ("max_session_mb", "MB of PDFs"),
    ],
)
def test_a_session_past_each_quota_is_refused(limit: str, what: str):
    state = SessionState()
    items = [
        embedded(document("d1", "s1", size=2**20), "Owls hunt."),
        embedded(document("d2", "s2", size=2**20), "Hawks soar."),
    ]
    commit(state, items, EMBEDDER, OPTIONS, replace=False)
    within_quota(state, dataclasses.replace(OPTIONS, **{limit: 2}))  # at the limit is fine
    with pytest.raises(QuotaExceeded, match=f"at most 1 {what}$"):
        within_quota(state, dataclasses.replace(OPTIONS, **{limit: 1}))
    more = embedded(document("d3", "s3", size=1), "Kites hover.")
    with pytest.raises(QuotaExceeded, match=f"at most 2 {what}$"):  # a commit checks it too
        commit(state, [more], EMBEDDER, dataclasses.replace(OPTIONS, **{limit: 2}), replace=False)


def test_documents_come_in_upload_order_each_once():
    owls, hawks = UploadedFile("owls.pdf", b"%PDF-owls"), UploadedFile("hawks.pdf", b"%PDF-hawks")
    by_sha = {owls.sha256: document("d1", owls.sha256), hawks.sha256: document("d2", hawks.sha256)}
    again = UploadedFile("owls again.pdf", owls.data)
    assert [d.id for d in in_upload_order(by_sha, [hawks, owls, again])] == ["d2", "d1"]
