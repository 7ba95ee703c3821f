"""API models (the wire shapes of ../shared/API.md) and the records persisted per session."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ragsvc.text.sentences import without_signposts

DocumentStatus = Literal["processing", "ready", "no_text", "failed"]
SECTION_SEPARATOR = " > "  # between the headings of a chunk's `section`, outermost first


class Document(BaseModel):
    id: str
    filename: str
    sha256: str
    size: int = Field(0, description="bytes of the uploaded file")
    pages: int
    chunks: int
    status: DocumentStatus
    detail: str | None = None
    title: str | None = None
    language: str | None = Field(
        None, description="ISO 639-1 code of its text's language, told from its stop words"
    )
    created_at: datetime


class Chunk(BaseModel):
    """One retrievable passage; `page` is the 1-based PDF page it comes from."""

    id: int
    document_id: str
    page: int
    text: str
    kind: Literal["text", "card", "references"] = "text"
    section: str | None = None
    language: str = "en"  # its document's: how BM25 stems it
    # A card's: the words its document goes by (its file name's), which users ask with
    # ("what is the invoice about?", "tldr of this license"); searched, never quoted.
    names: str | None = None

    @property
    def search_text(self) -> str:
        """What is embedded and BM25-indexed: the section title (or a card's names) gives a
        passage context; sentences about the paper's layout ("Section 5 has ...") are left
        out."""
        text = without_signposts(self.text)
        context = self.section or self.names
        return f"{context}. {text}" if context else text


class TurnList(BaseModel):
    """The session's kept conversation, oldest first (RAGSVC_HISTORY_TURNS of them)."""

    turns: list[Turn]


class SessionCreated(BaseModel):
    token: str
    expires_at: datetime


class SessionInfo(BaseModel):
    created_at: datetime
    expires_at: datetime
    documents: list[Document]
    turns: int


class UploadResult(BaseModel):
    token: str | None = Field(None, description="only when this call created the session")
    documents: list[Document]


class DocumentList(BaseModel):
    documents: list[Document]


# At most this many documents to restrict a question to, each id of at most 64 characters.
MAX_DOCUMENT_IDS = 100
DocumentIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=MAX_DOCUMENT_IDS)
]


class AskRequest(BaseModel):
    question: str = Field(min_length=1)
    top_k: int | None = Field(None, ge=1, le=50, strict=True)  # `true` is not 1
    document_ids: DocumentIds | None = None


class Source(BaseModel):
    n: int = Field(description="1-based; what [n] markers in the answer refer to")
    document_id: str
    filename: str
    page: int = Field(description="1-based PDF page")
    score: float
    text: str
    section: str | None = Field(
        None,
        description="the headings the passage stands under, outermost first, joined by ' > '",
    )
    language: str = Field(
        "en", description="ISO 639-1 code of its document's language: how its words are stemmed"
    )


class Quote(BaseModel):
    """What one [n] of an answer rests on: the passage of source n that supports the words
    before the marker, verbatim from the source's `text`."""

    n: int = Field(description="the source, as in [n]")
    claim: str = Field(description="the answer's words this [n] closes")
    text: str = Field(description="verbatim: the source's `text[start:end]`; empty if none")
    start: int = Field(description="offset of the quote in the source's `text`")
    end: int
    page: int = Field(description="the source's page")
    verified: bool = Field(
        description="false when no passage of the source holds most of the claim's content words"
    )


class Turn(BaseModel):
    """A question and its answer, with what the answer cited, so a page shows a past answer
    as it showed it fresh. Turns kept before sources were stored have none."""

    question: str
    answer: str
    at: datetime
    sources: list[Source] = Field(default_factory=list, description="as the `sources` event")
    quotes: list[Quote] = Field(default_factory=list, description="as the `done` event's")


class Usage(BaseModel):
    """Tokens an answer took, as the generator's backend counted them or, where it counts
    none (the extractive generator), with the bundled Llama tokenizer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Timings(BaseModel):
    retrieval_ms: float
    first_token_ms: float | None = None
    total_ms: float


class Answer(BaseModel):
    answer: str
    sources: list[Source]
    citations: list[int]
    quotes: list[Quote] = Field(description="one per [n] in the answer, in order")
    found: bool = Field(
        True,
        description="false when the answer says the documents do not hold what was asked "
        "(the closest passages are still its sources)",
    )
    pending: list[str] = Field(
        description="documents asked about that are still being ingested: only their pages"
        " indexed so far were searched",
    )
    timings: Timings


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
