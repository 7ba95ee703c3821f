"""The backends as /metrics sees them: embeddings and generations timed (a generation's first
piece too; one stopped early is not a whole one), failures counted by backend and a bounded
kind of error, the wrappers invisible to their callers (names, query embeddings, closing),
and the PDFs under extraction counted."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import anyio
import httpx
import numpy as np
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ragsvc.answer.extractive import ExtractiveGenerator
from ragsvc.answer.generators import OpenAIGenerator, Sampling, composed_here
from ragsvc.answer.prompts import Prompt
from ragsvc.core.errors import BackendUnavailable
from ragsvc.core.schemas import Source, Usage
from ragsvc.pdf.page_lines import PageLines, PageOptions
from ragsvc.runtime.metrics import Metrics
from ragsvc.runtime.observed_backends import (
    CountedExtractor,
    TimedEmbedder,
    TimedGenerator,
    backend_name,
    error_kind,
)
from ragsvc.search.embedders import Vectors, embed_queries, queries_embedded_here
from tests.support.fakes import HashEmbedder, RemoteHashEmbedder

pytestmark = pytest.mark.anyio
REQUEST = httpx.Request("POST", "http://llm.invalid/v1/chat/completions")
PROMPT = Prompt("Why?", [], [])


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


def of(backend: str) -> frozenset[tuple[str, str]]:
    return frozenset({("backend", backend)})


def errors(backend: str, kind: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return "ragsvc_backend_errors_total", frozenset({("backend", backend), ("error", kind)})


class QuestionsApart(HashEmbedder):
    """An embedder that embeds questions its own way (as E5 does)."""

    async def embed_queries(self, texts: list[str]) -> Vectors:
        return -self.embed_sync(texts)


class Failing(HashEmbedder):
    async def embed(self, texts: list[str]) -> Vectors:
        raise BackendUnavailable("embedding backend failed") from openai.APITimeoutError(REQUEST)


async def test_embeddings_are_timed_and_questions_still_embedded_as_the_embedder_wants():
    metrics = Metrics()
    plain, apart = TimedEmbedder(HashEmbedder(), metrics), TimedEmbedder(QuestionsApart(), metrics)
    assert plain.name == "hash:128"
    await plain.embed(["herons hunt"])
    asked = await embed_queries(apart, ["which birds hunt?"])
    assert np.allclose(asked, -HashEmbedder().embed_sync(["which birds hunt?"]))
    assert np.allclose(
        await embed_queries(plain, ["x y"]), HashEmbedder().embed_sync(["x y"])
    )  # no embed_queries of its own: embedded as any text
    got = samples(metrics)
    assert got[("ragsvc_backend_seconds_count", of("embedder"))] == 3
    with pytest.raises(BackendUnavailable):
        await TimedEmbedder(Failing(), metrics).embed(["x"])
    got = samples(metrics)
    assert got[errors("embedder", "timeout")] == 1
    assert got[("ragsvc_backend_seconds_count", of("embedder"))] == 3  # a failure is no call


async def test_an_embedder_in_this_process_embeds_questions_blocking_timed_and_counted():
    metrics = Metrics()
    here, remote = (
        TimedEmbedder(HashEmbedder(), metrics),
        TimedEmbedder(RemoteHashEmbedder(), metrics),
    )
    embed = queries_embedded_here(here)
    assert embed is not None and queries_embedded_here(remote) is None
    assert np.allclose(embed(["owls hunt"]), HashEmbedder().embed_sync(["owls hunt"]))
    assert samples(metrics)[("ragsvc_backend_seconds_count", of("embedder"))] == 1
    failing = TimedEmbedder(FailingHere(), metrics).embed_queries_blocking
    assert failing is not None
    with pytest.raises(BackendUnavailable):
        failing(["x"])
    assert samples(metrics)[errors("embedder", "timeout")] == 1


class FailingHere(HashEmbedder):
    def embed_queries_blocking(self, texts: list[str]) -> Vectors:
        raise BackendUnavailable("embedding backend failed") from openai.APITimeoutError(REQUEST)


async def test_an_answer_composed_in_a_thread_is_timed_as_its_first_piece_and_its_end():
    metrics = Metrics()
    here = TimedGenerator(ExtractiveGenerator(HashEmbedder()), metrics)
    assert composed_here(TimedGenerator(ExtractiveGenerator(RemoteHashEmbedder()), metrics)) is None
    assert composed_here(TimedGenerator(Pieces(["a"]), metrics)) is None
    compose = composed_here(here)
    assert compose is not None
    source = Source(n=1, document_id="d", filename="d.pdf", page=1, score=1.0, text=OWLS)
    pieces = compose(Prompt("What do barn owls hunt?", [source]))
    assert "".join(pieces).startswith("Barn owls hunt voles") and len(pieces) > 3
    got = samples(metrics)
    assert got[("ragsvc_generator_first_piece_seconds_count", frozenset())] == 1
    assert got[("ragsvc_backend_seconds_count", of("generator"))] == 1


OWLS = "Barn owls hunt voles at night using their acute hearing. They nest in old barns."


class Pieces:
    """A generator yielding its pieces with a pause, then failing if told; records closing."""

    def __init__(self, pieces: list[str | Usage], fail: Exception | None = None) -> None:
        self.pieces, self.fail, self.closed = pieces, fail, False

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Usage]:
        try:
            for piece in self.pieces:
                await anyio.sleep(0.01)
                yield piece
            if self.fail is not None:
                raise self.fail
        finally:
            self.closed = True


async def test_a_generation_is_timed_to_its_first_piece_and_its_end():
    metrics = Metrics()
    inner = Pieces(
        ["Herons ", "hunt.", Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)]
    )
    pieces = [p async for p in TimedGenerator(inner, metrics).stream(PROMPT)]
    assert pieces == inner.pieces and inner.closed
    got = samples(metrics)
    assert got[("ragsvc_generator_first_piece_seconds_count", frozenset())] == 1
    assert got[("ragsvc_backend_seconds_count", of("generator"))] == 1
    first = got[("ragsvc_generator_first_piece_seconds_sum", frozenset())]
    assert 0.01 <= first < got[("ragsvc_backend_seconds_sum", of("generator"))]


async def test_a_generation_stopped_early_is_closed_and_neither_whole_nor_failed():
    metrics = Metrics()
    inner = Pieces(["a", "b", "c"])
    stream = TimedGenerator(inner, metrics).stream(PROMPT)
    assert await anext(stream) == "a"
    await stream.aclose()  # type: ignore[attr-defined]  # the client pressed Stop
    assert inner.closed  # the upstream request ends with it
    got = samples(metrics)
    assert got[("ragsvc_generator_first_piece_seconds_count", frozenset())] == 1
    assert ("ragsvc_backend_seconds_count", of("generator")) not in got
    assert not [name for name, _ in got if name == "ragsvc_backend_errors_total"]


async def test_a_generation_failing_midway_is_counted_by_kind_and_raised_as_it_was():
    metrics = Metrics()
    refused = openai.InternalServerError(
        "upstream broke", response=httpx.Response(502, request=REQUEST), body=None
    )
    failure = BackendUnavailable("LLM backend failed mid-answer")
    failure.__cause__ = refused
    stream = TimedGenerator(Pieces(["a"], fail=failure), metrics).stream(PROMPT)
    with pytest.raises(BackendUnavailable) as raised:
        _ = [p async for p in stream]
    assert raised.value is failure
    assert samples(metrics)[errors("generator", "server_error")] == 1


def status_error(kind: type[openai.APIStatusError], status: int) -> openai.APIStatusError:
    return kind("refused", response=httpx.Response(status, request=REQUEST), body=None)


@pytest.mark.parametrize(
    ("cause", "kind"),
    [
        (openai.APITimeoutError(REQUEST), "timeout"),
        (httpx.ReadTimeout("slow", request=REQUEST), "timeout"),
        (openai.APIConnectionError(request=REQUEST), "connection"),
        (httpx.ConnectError("refused", request=REQUEST), "connection"),
        (status_error(openai.RateLimitError, 429), "rate_limited"),
        (status_error(openai.InternalServerError, 503), "server_error"),
        (status_error(openai.BadRequestError, 400), "refused"),
        (ValueError("a chunk that is no JSON"), "unavailable"),
        (None, "unavailable"),
    ],
)
def test_a_backends_failure_is_one_of_a_few_kinds(cause: Exception | None, kind: str):
    failure = BackendUnavailable("the backend failed")
    failure.__cause__ = cause
    assert error_kind(failure) == kind


def test_an_error_that_is_not_a_backends_is_other():
    assert error_kind(RuntimeError("a bug")) == "other"
    assert error_kind(KeyError("x")) == "other"


def test_backends_are_named_as_build_info_reports_them():
    client = openai.AsyncOpenAI(api_key="x", base_url="http://llm.invalid/v1")
    assert backend_name(OpenAIGenerator(client, "qwen2.5", Sampling(0.1, 10))) == "openai:qwen2.5"
    assert backend_name(ExtractiveGenerator(HashEmbedder())) == "extractive"
    assert backend_name(Pieces([])) == "Pieces"  # no name: its class's
    assert TimedGenerator(Pieces([]), Metrics()).name == "Pieces"


class HeldExtractor:
    """Page extraction that waits for the test's signal."""

    def __init__(self) -> None:
        self.started, self.go = threading.Event(), threading.Event()

    def extract(
        self,
        data: bytes,
        filename: str,
        pages: tuple[int, PageOptions],
        on_pages: object = None,
        start: int = 0,
    ) -> list[PageLines]:
        self.started.set()
        self.go.wait(5)
        if data == b"broken":
            raise ValueError("a broken file")
        return []


async def test_the_pdfs_under_extraction_are_counted_until_each_ends():
    held = HeldExtractor()
    counted = CountedExtractor(held)
    options = PageOptions(max_chars=1000)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(anyio.to_thread.run_sync, counted.extract, b"pdf", "a.pdf", (1, options))
        await anyio.to_thread.run_sync(held.started.wait, 5)
        assert counted.running == 1
        held.go.set()
    assert counted.running == 0
    with pytest.raises(ValueError):
        counted.extract(b"broken", "b.pdf", (1, options))
    assert counted.running == 0
