"""Which passages an answer draws on: the session's documents a question may use (404 for one
it does not have, 409 when none is searchable yet), then a section's passages when the
question names a section that exists, else hybrid retrieval (the document cards first for a
question about a whole document), numbered as the answer's sources."""

from __future__ import annotations

from dataclasses import dataclass

from ragsvc.answer.question_shapes import names_in, requested_section
from ragsvc.core.errors import DocumentNotFound, NoReadyDocuments
from ragsvc.core.quick_threads import run_quick
from ragsvc.core.schemas import Document, Source
from ragsvc.search.embedders import BlockingEmbed, Embedder, Vectors, embed_queries
from ragsvc.search.index import SessionIndex
from ragsvc.search.retrieval import Query, Retrieved, rank
from ragsvc.search.sections import section_hits
from ragsvc.storage.records import SessionState


@dataclass(frozen=True)
class Found:
    """The passages to answer from, which of them (1-based) to summarise, and the names
    in the question that no passage of the session holds."""

    hits: list[Retrieved]
    summarise: frozenset[int]
    unmentioned: tuple[str, ...] = ()
    question_vector: Vectors | None = None  # the question as its search embedded it


async def find_passages(index: SessionIndex, embedder: Embedder, query: Query) -> Found:
    """A section's passages when the question names one that exists; else retrieval, with
    the document cards summarised for a global question."""
    if section := _section_found(index, query):
        return section
    vectors = await embed_queries(embedder, query.texts)
    return _found(query, vectors, *await run_quick(_ranked, index, query, vectors, _names(query)))


def find_passages_here(index: SessionIndex, embed: BlockingEmbed, query: Query) -> Found:
    """`find_passages` in the calling (worker) thread, for an embedder that runs in this
    process: an answer reads its session and searches it in one thread hop."""
    if section := _section_found(index, query):
        return section
    vectors = embed(query.texts)
    return _found(query, vectors, *_ranked(index, query, vectors, _names(query)))


def _section_found(index: SessionIndex, query: Query) -> Found | None:
    section = requested_section(query.question)
    hits = section_hits(index, section, query.top_k, query.document_ids) if section else []
    return Found(hits, frozenset(range(1, len(hits) + 1))) if hits else None


def _names(query: Query) -> list[str]:
    return [] if query.global_question else names_in(query.question)


def _found(query: Query, vectors: Vectors, hits: list[Retrieved], unmentioned: list[str]) -> Found:
    """What retrieval found for `query` (`vectors`: its texts embedded, the question first)."""
    if query.global_question:
        cards = {n for n, hit in enumerate(hits, start=1) if hit.chunk.kind == "card"}
        return Found(hits, frozenset(cards), question_vector=vectors[0])
    return Found(hits, frozenset(), tuple(unmentioned), vectors[0])


def _ranked(
    index: SessionIndex, query: Query, vectors: Vectors, names: list[str]
) -> tuple[list[Retrieved], list[str]]:
    """Retrieval's blocking part and the names no chunk holds, in one thread hop: the
    search and the BM25 vocabulary both read the index."""
    return rank(index, query, vectors), index.unknown(names) if names else []


def wanted_documents(state: SessionState, document_ids: list[str] | None) -> frozenset[str] | None:
    """The documents a question is restricted to (None: all); 404 for one not in the session."""
    if not document_ids:
        return None
    wanted = frozenset(document_ids)
    if missing := wanted - state.documents.keys():
        raise DocumentNotFound(f"no document {sorted(missing)[0]!r} in this session")
    return wanted


def answerable_index(
    state: SessionState, wanted: frozenset[str] | None, embedder_name: str
) -> SessionIndex:
    """The session's index if a wanted document is in it (ready, or with the chunks embedded
    so far while it is ingested) and it was built by this embedder; else 409, saying
    whether the documents are still being ingested."""
    searchable = {d.id for d in state.documents.values() if _searchable(d)}
    if state.index is None or not (searchable & wanted if wanted else searchable):
        if still_ingesting(state, wanted):
            raise NoReadyDocuments(
                "the documents are still being ingested: ask again once they are ready "
                "(GET /documents/{id}/events tells when)"
            )
        raise NoReadyDocuments("upload a PDF with a text layer before asking")
    state.index.check_embedder(embedder_name)
    return state.index


def _searchable(document: Document) -> bool:
    return document.status == "ready" or (document.status == "processing" and document.chunks > 0)


def still_ingesting(state: SessionState, wanted: frozenset[str] | None) -> list[str]:
    """The documents asked about (all, without a filter) that are still `processing`."""
    return [
        d.id
        for d in state.documents.values()
        if d.status == "processing" and (wanted is None or d.id in wanted)
    ]


def numbered_sources(hits: list[Retrieved], documents: dict[str, Document]) -> list[Source]:
    """The hits as sources numbered from 1, which [n] markers in an answer refer to."""
    return [
        Source(
            n=n,
            document_id=hit.chunk.document_id,
            filename=documents[hit.chunk.document_id].filename,
            page=hit.chunk.page,
            score=round(hit.score, 5),
            text=hit.chunk.text,
            section=hit.chunk.section,
            language=hit.chunk.language,
        )
        for n, hit in enumerate(hits, start=1)
    ]
