"""The typed events of an answer and of an ingest, as clients import them
(`from ragsvc.events import DoneEvent`); they live in `ragsvc.streams.events`."""

from ragsvc.streams.events import (
    AnswerEvent,
    ChunksEmbedded,
    DocumentDeleted,
    DocumentSettled,
    DoneEvent,
    FailedEvent,
    IngestEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)

__all__ = [
    "AnswerEvent",
    "ChunksEmbedded",
    "DocumentDeleted",
    "DocumentSettled",
    "DoneEvent",
    "FailedEvent",
    "IngestEvent",
    "PageParsed",
    "SourcesEvent",
    "TokenEvent",
]
