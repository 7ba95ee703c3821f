"""`ragsvc upload` and `ragsvc ask`: a terminal client of a running server (ragsvc.client).
Uploads show the bytes sent, then each document's pages and chunks, as progress bars; an
answer streams to the terminal as it comes, followed by the sources it cites. With `--json`
each prints one JSON object for scripts instead (docs/clients.md); failures are one line
and an exit status of their own (failures.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from ragsvc.client.failures import REFUSED, Failure, fail, reported
from ragsvc.client.http_client import Client, ProblemError
from ragsvc.core.schemas import Document, Source
from ragsvc.streams.events import (
    AnswerEvent,
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
API_KEY = Annotated[
    str | None,
    typer.Option(envvar="RAGSVC_API_KEY", help="a key to make a session (RAGSVC_API_KEYS)"),
]
JSON = Annotated[bool, typer.Option("--json", help="print one JSON object (for scripts)")]
TIMEOUT = Annotated[
    float, typer.Option(envvar="RAGSVC_TIMEOUT", min=0.1, help="seconds to wait for a reply")
]
err = Console(stderr=True)


# Each parameter of a command is one of its options, hence more than five.
def upload(  # noqa: PLR0913
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="PDFs")],
    url: URL = "http://127.0.0.1:8000",
    token: TOKEN = None,
    api_key: API_KEY = None,
    as_json: JSON = False,
    timeout: TIMEOUT = 120,
) -> None:
    """Upload PDFs into the session (a new one without a token) and follow their ingestion."""
    with reported(url, timeout, as_json):
        with Client(url, token, api_key=api_key, timeout=timeout) as rag:
            settled = _uploaded(rag, files, quiet=as_json)
    if as_json:
        documents = [doc.model_dump(mode="json") for doc in settled]
        new = rag.token != token
        typer.echo(json.dumps({"token": rag.token, "new_session": new, "documents": documents}))
    else:
        _listed(settled, None if rag.token == token else rag.token)
    if failed := [doc for doc in settled if doc.status == "failed"]:
        message = f"{len(failed)} of {len(settled)} documents failed: {failed[0].filename}"
        fail(Failure(REFUSED, f"{message}: {failed[0].detail}"), as_json=False)


def ask(  # noqa: PLR0913
    question: Annotated[str, typer.Argument(help="the question")],
    url: URL = "http://127.0.0.1:8000",
    token: TOKEN = None,
    top_k: Annotated[int | None, typer.Option(help="sources to answer from")] = None,
    as_json: JSON = False,
    timeout: TIMEOUT = 120,
) -> None:
    """Ask; the answer streams to the terminal, then the sources it cites."""
    with reported(url, timeout, as_json), Client(url, token, timeout=timeout) as rag:
        if as_json:
            typer.echo(rag.answer(question, top_k=top_k).model_dump_json())
        else:
            _streamed(rag, question, top_k)


def _uploaded(rag: Client, files: list[Path], quiet: bool) -> list[Document]:
    """The documents once settled, with progress bars unless `quiet`."""
    with _bars(quiet) as bars:
        total = sum(path.stat().st_size for path in files)
        sending = bars.add_task("uploading", total=total)
        sent = lambda n: bars.update(sending, completed=n)  # noqa: E731
        documents = rag.upload(files, wait=False, progress=sent)
        return [_followed(rag, doc, bars) for doc in documents]


def _listed(settled: list[Document], new_token: str | None) -> None:
    for doc in settled:
        detail = f": {doc.detail}" if doc.detail else ""
        typer.echo(f"{doc.filename}: {doc.status}, {doc.pages} pages, {doc.chunks} chunks{detail}")
    if new_token:
        typer.echo(f"new session: export RAGSVC_TOKEN={new_token}")


def _streamed(rag: Client, question: str, top_k: int | None) -> None:
    """The answer as it comes, then the sources it cites."""
    sources: list[Source] = []
    mid_line = False  # a failure is reported on a line of its own
    try:
        for event in rag.ask(question, top_k=top_k):
            sources, mid_line = _shown(event, sources), isinstance(event, TokenEvent)
    finally:
        if mid_line:
            typer.echo()


def _shown(event: AnswerEvent, sources: list[Source]) -> list[Source]:
    """Show one event of the answer; the sources so far."""
    match event:
        case SourcesEvent():
            return event.sources
        case TokenEvent():
            typer.echo(event.text, nl=False)
        case FailedEvent():
            raise ProblemError(event.problem)
        case DoneEvent():
            typer.echo()
            _cited(event, sources)
    return sources


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


def _bars(quiet: bool) -> Progress:
    """Bars on stderr, when it is a terminal: in a log they would only add blank lines."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
        console=err, transient=True, disable=quiet or not err.is_terminal,
    )  # fmt: skip
