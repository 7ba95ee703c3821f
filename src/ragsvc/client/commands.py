"""`ragsvc upload` and `ragsvc ask`: a terminal client of a running server (ragsvc.client).
Uploads show the bytes sent, then each document's pages and chunks, as progress bars; an
answer streams to the terminal as it comes, followed by the sources it cites."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from ragsvc.client.http_client import Client, ProblemError
from ragsvc.core.schemas import Document, Source
from ragsvc.streams.events import (
    ChunksEmbedded,
    DocumentDeleted,
    DocumentSettled,
    DoneEvent,
    FailedEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)

URL = Annotated[str, typer.Option(envvar="RAGSVC_URL", help="the server")]
TOKEN = Annotated[str | None, typer.Option(envvar="RAGSVC_TOKEN", help="the session's token")]
err = Console(stderr=True)


def upload(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="PDFs")],
    url: URL = "http://127.0.0.1:8000",
    token: TOKEN = None,
) -> None:
    """Upload PDFs into the session (a new one without a token) and follow their ingestion."""
    with Client(url, token) as rag, _refusals():
        with _bars() as bars:
            total = sum(path.stat().st_size for path in files)
            sending = bars.add_task("uploading", total=total)
            sent = lambda n: bars.update(sending, completed=n)  # noqa: E731
            documents = rag.upload(files, wait=False, progress=sent)
            settled = [_followed(rag, doc, bars) for doc in documents]
        for doc in settled:
            detail = f": {doc.detail}" if doc.detail else ""
            typer.echo(
                f"{doc.filename}: {doc.status}, {doc.pages} pages, {doc.chunks} chunks{detail}"
            )
        if rag.token != token:
            typer.echo(f"new session: export RAGSVC_TOKEN={rag.token}")


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    url: URL = "http://127.0.0.1:8000",
    token: TOKEN = None,
    top_k: Annotated[int | None, typer.Option(help="sources to answer from")] = None,
) -> None:
    """Ask; the answer streams to the terminal, then the sources it cites."""
    sources: list[Source] = []
    with Client(url, token) as rag, _refusals():
        for event in rag.ask(question, top_k=top_k):
            if isinstance(event, SourcesEvent):
                sources = event.sources
            elif isinstance(event, TokenEvent):
                typer.echo(event.text, nl=False)
            elif isinstance(event, FailedEvent):
                raise ProblemError(event.problem)
            else:
                typer.echo()
                _cited(event, sources)


def _cited(done: DoneEvent, sources: list[Source]) -> None:
    for n in done.citations:
        typer.echo(f"[{n}] {sources[n - 1].filename}, page {sources[n - 1].page}")


def _followed(rag: Client, document: Document, bars: Progress) -> Document:
    """The document once settled, its pages then chunks shown as they are done."""
    pages = bars.add_task(f"{document.filename}: pages", total=None)
    chunks = bars.add_task(f"{document.filename}: chunks", total=None)
    for event in rag.follow(document.id):
        match event:
            case PageParsed(done, total):
                bars.update(pages, completed=done, total=total)
            case ChunksEmbedded(done, total):
                bars.update(chunks, completed=done, total=total)
            case DocumentSettled() | DocumentDeleted():
                return _as_settled(event, document)
    return document


def _as_settled(event: DocumentSettled | DocumentDeleted, document: Document) -> Document:
    if isinstance(event, DocumentSettled):
        return event.document
    # deleted by another client while it was ingested
    return document.model_copy(update={"status": "failed", "detail": event.detail})


def _bars() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
        console=err, transient=True,
    )  # fmt: skip


@contextmanager
def _refusals() -> Iterator[None]:
    """A refusal ends the command with its problem on stderr and exit status 1."""
    try:
        yield
    except ProblemError as exc:
        typer.echo()
        err.print(f"ragsvc: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
