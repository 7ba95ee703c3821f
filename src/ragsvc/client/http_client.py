"""A typed Python client for ragsvc, on httpx and httpx-sse: what `ragsvc ask` and
`ragsvc upload` use, and what docs/clients.md shows. Answers and ingestions stream as
ragsvc's own typed events (events.py); a refusal raises `ProblemError` with its problem.

    with Client("http://localhost:8000") as rag:
        rag.upload("paper.pdf")                  # no token yet: the upload makes a session
        for event in rag.ask("What is this paper about?"):
            ...

A server that cannot be reached raises httpx's own errors (`httpx.TransportError`); a reply
that is not ragsvc's (a proxy's error page, another server at that URL) is a `ProblemError`
whose problem is not one of ragsvc's (`ProblemError.from_ragsvc`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import httpx
from httpx_sse import connect_sse

from ragsvc.core.schemas import Answer, Document, Problem, Turn, TurnList, UploadResult
from ragsvc.streams.event_codec import decode_event
from ragsvc.streams.events import AnswerEvent, IngestEvent

Progress = Callable[[int], None]  # told the bytes sent so far
PathLike = str | os.PathLike[str]
# core/errors.py's TYPE_BASE: the client does without that module (it imports Redis).
RAGSVC_PROBLEM = "urn:ragsvc:problem:"


class ProblemError(Exception):
    """The server refused: its problem+json, as `problem`."""

    def __init__(self, problem: Problem, retry_after: int | None = None) -> None:
        super().__init__(f"{problem.title}: {problem.detail}")
        self.problem = problem
        self.retry_after = retry_after  # seconds, when the server said when to try again

    @property
    def from_ragsvc(self) -> bool:
        """Whether a ragsvc server sent the problem (not a proxy, nor another server)."""
        return self.problem.type.startswith(RAGSVC_PROBLEM)


class Client:
    """One session of a ragsvc server (`token`), made by the first upload if not given;
    `api_key` is needed to make one where the server sets RAGSVC_API_KEYS."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120,
    ) -> None:
        self.token, self.api_key = token, api_key
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def create_session(self) -> str:
        """A new session; its token is kept for the next calls and returned."""
        self.token = str(self._call("POST", "/sessions")["token"])
        return self.token

    def upload(
        self,
        paths: PathLike | Iterable[PathLike],
        *,
        wait: bool = True,
        progress: Progress | None = None,
    ) -> list[Document]:
        """Upload PDFs (a path or several, str or Path): ready (or failed) when `wait`, else
        still processing (see `follow`). `progress(sent)` hears the bytes sent."""
        sent = [0]
        with _Files(as_paths(paths), sent, progress) as files:
            params = {} if wait else {"wait": "false"}
            result = UploadResult.model_validate(
                self._call("POST", "/upload", files=files, params=params)
            )
        self.token = result.token or self.token
        return result.documents

    def follow(self, document_id: str) -> Iterator[IngestEvent]:
        """A document's ingestion: pages, chunks, then its settled document."""
        yield from cast(
            Iterator[IngestEvent], self._stream("GET", f"/documents/{document_id}/events")
        )

    def ask(
        self, question: str, *, top_k: int | None = None, document_ids: list[str] | None = None
    ) -> Iterator[AnswerEvent]:
        """The answer as it streams: sources, tokens, then done or failed."""
        body = {"question": question, "top_k": top_k, "document_ids": document_ids}
        yield from cast(Iterator[AnswerEvent], self._stream("POST", "/ask", json=body))

    def answer(self, question: str, *, top_k: int | None = None) -> Answer:
        """The whole answer at once."""
        body = {"question": question, "top_k": top_k}
        accept = {"Accept": "application/json"}
        return Answer.model_validate(self._call("POST", "/ask", json=body, headers=accept))

    def documents(self) -> list[Document]:
        return [Document.model_validate(d) for d in self._call("GET", "/documents")["documents"]]

    def turns(self) -> list[Turn]:
        return TurnList.model_validate(self._call("GET", "/sessions/current/turns")).turns

    def delete_session(self) -> None:
        self._call("DELETE", "/sessions/current")
        self.token = None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        key = {"X-API-Key": self.api_key} if self.api_key else {}
        return {**auth, **key, **(extra or {})}

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = self._headers(kwargs.pop("headers", None))
        reply = self._http.request(method, path, headers=headers, **kwargs)
        _raise_for_problem(reply)
        if not reply.content:
            return None
        try:
            return reply.json()
        except ValueError as exc:
            raise ProblemError(_not_ragsvc(reply, "not JSON")) from exc

    def _stream(self, method: str, path: str, **kwargs: Any) -> Iterator[AnswerEvent | IngestEvent]:
        with connect_sse(self._http, method, path, headers=self._headers(), **kwargs) as source:
            if source.response.status_code >= 400:
                source.response.read()
                _raise_for_problem(source.response)
            if "text/event-stream" not in source.response.headers.get("content-type", ""):
                raise ProblemError(_not_ragsvc(source.response, "not an event stream"))
            for sse in source.iter_sse():
                yield decode_event(sse.event, sse.data)


def as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """One path or several, each a str or a path-like object."""
    if isinstance(paths, str | os.PathLike):
        return [Path(paths)]
    return [Path(path) for path in paths]


def _raise_for_problem(reply: httpx.Response) -> None:
    if reply.status_code >= 400:
        try:
            problem = Problem.model_validate(reply.json())
        except ValueError:
            problem = _not_ragsvc(reply, "not problem details")
        retry_after = reply.headers.get("retry-after", "")
        raise ProblemError(problem, int(retry_after) if retry_after.isdigit() else None)


def _not_ragsvc(reply: httpx.Response, what: str) -> Problem:
    """A reply no ragsvc server would send, as a problem of its own type."""
    kind = reply.headers.get("content-type", "no content type").split(";")[0]
    return Problem(
        type="about:blank", title=f"{reply.status_code} {reply.reason_phrase}".strip(),
        status=reply.status_code,
        detail=f"{reply.request.method} {reply.request.url} answered {reply.status_code} "
        f"{reply.reason_phrase} ({kind}), {what}: " + " ".join(reply.text.split())[:200],
    )  # fmt: skip


class _Files:
    """The multipart `files` of an upload, each read through a counter of bytes sent."""

    def __init__(self, paths: list[Path], sent: list[int], progress: Progress | None) -> None:
        self._paths, self._sent, self._progress = paths, sent, progress
        self._open: list[IO[bytes]] = []

    def __enter__(self) -> list[tuple[str, tuple[str, Any, str]]]:
        files = []
        for path in self._paths:
            handle = path.open("rb")
            self._open.append(handle)
            counted = _Counted(handle, self._sent, self._progress)
            files.append(("files", (path.name, counted, "application/pdf")))
        return files

    def __exit__(self, *exc: object) -> None:
        for handle in self._open:
            handle.close()


class _Counted:
    """A file whose reads are added to `sent` and reported."""

    def __init__(self, handle: IO[bytes], sent: list[int], progress: Progress | None) -> None:
        self._handle, self._sent, self._progress = handle, sent, progress

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._sent[0] += len(data)
        if self._progress is not None:
            self._progress(self._sent[0])
        return data

    def __getattr__(self, name: str) -> Any:  # seek, tell, name: the file's own
        return getattr(self._handle, name)
