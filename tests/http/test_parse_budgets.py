"""PDF bombs (text, wall time, memory, whitespace) are refused within their parse budgets
while the server stays responsive, a page too large to render for OCR is refused naming the
memory limit, and a document past its text or chunk budget is refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from ragsvc.core.config import Settings
from ragsvc.pdf.page_workers import PdfWorkers, WorkerLimits
from tests.support.apps import app_client, client_on
from tests.support.fakes import fake_backends
from tests.support.hostile_pdfs import huge_scan, text_bomb, whitespace_bomb
from tests.support.pdfs import make_pdf as pdf_of_pages
from tests.support.uploads import settled, upload

pytestmark = pytest.mark.anyio
T = TypeVar("T")


@asynccontextmanager
async def parsing_app(settings: Settings, workers: int = 2) -> AsyncIterator[httpx.AsyncClient]:
    """The app with real page workers (none: pages read in the server process), under the
    settings' parse limits."""
    backends = fake_backends(settings)
    limits = WorkerLimits(settings.parse_timeout_s, settings.parse_memory_mb)
    backends.pdf_workers = PdfWorkers(workers, limits) if workers else None
    try:
        async with client_on(settings, backends) as http:
            yield http
    finally:
        if backends.pdf_workers is not None:
            await anyio.to_thread.run_sync(backends.pdf_workers.close)


async def max_lag_while(http: httpx.AsyncClient, work: Awaitable[T]) -> tuple[T, float]:
    """`work`'s result, and the slowest /healthz answer while it ran."""
    lags: list[float] = []
    result: list[T] = []

    async def run() -> None:
        result.append(await work)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        while not result:
            started = time.perf_counter()
            await http.get("/healthz")
            lags.append(time.perf_counter() - started)
            await anyio.sleep(0.02)
    return result[0], max(lags)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("limits", "bomb", "reason"),
    [
        ({"max_page_chars": 20_000}, lambda: text_bomb(2), "characters of text"),
        ({"parse_timeout_s": 0.5}, lambda: text_bomb(40), "took longer than 0.5 s"),
        ({"parse_memory_mb": 256}, lambda: text_bomb(20), "more memory than allowed"),
        # 240 MB of spaces: about 0.8 s of parsing with PyMuPDF 2.0 (80 MB took 0.33 s, too
        # close to the budget to fail the parse every time)
        ({"parse_timeout_s": 0.3}, lambda: whitespace_bomb(240), "took longer than 0.3 s"),
    ],
    ids=["text per page", "wall time", "memory", "whitespace"],
)
async def test_a_bomb_is_refused_within_its_budget_and_the_server_stays_responsive(
    settings: Settings, limits: dict[str, Any], bomb: Callable[[], bytes], reason: str
):
    for name, value in limits.items():
        setattr(settings, name, value)
    async with parsing_app(settings) as http:
        data = bomb()
        reply, lag = await max_lag_while(http, upload(http, data))
        assert reply.status_code == 413, reply.text
        assert reason in reply.json()["detail"] and "bomb.pdf" in reply.json()["detail"]
        assert lag < 0.5, f"/healthz took {lag:.2f} s during the parse"
        later = await upload(http, pdf_of_pages(["Gulls nest on the cliffs."]))
        assert later.status_code == 201  # the workers serve the next file


@pytest.mark.slow
async def test_a_bomb_uploaded_without_waiting_becomes_a_failed_document(
    settings: Settings,
):
    settings.max_page_chars = 20_000
    async with parsing_app(settings) as http:
        reply = await upload(http, text_bomb(2), wait="false")
        [document] = reply.json()["documents"]
        who = {"Authorization": f"Bearer {reply.json()['token']}"}
        final = (await settled(http, document, who))[-1]
    assert final["event"] == "failed" and "characters of text" in final["detail"]


@pytest.mark.parametrize("workers", [2, 0], ids=["page workers", "server process"])
async def test_a_page_too_large_to_render_for_ocr_is_refused_naming_the_memory_limit(
    settings: Settings, workers: int
):
    """Before, a 200-inch scan answered 422 "text extraction failed (cannot pickle
    'SwigPyObject' object)" from the workers: MuPDF's refusal to render it could not cross
    back to the server. Refused before rendering, it needs no Tesseract."""
    settings.ocr = "auto"
    async with parsing_app(settings, workers) as http:
        reply = await upload(http, huge_scan())
        assert reply.status_code == 413, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["type"] == "urn:ragsvc:problem:too-large"
        assert problem["detail"].startswith("bomb.pdf: page 1 needs about ")
        assert "to be read by OCR at 300 dpi (60,000 x 60,000 pixels)" in problem["detail"]
        assert problem["detail"].endswith("more than RAGSVC_PARSE_MEMORY_MB (1,024 MB) allows")
        later = await upload(http, pdf_of_pages(["Gulls nest on the cliffs."]))
        assert later.status_code == 201  # the workers serve the next file


@pytest.mark.parametrize(
    ("limits", "reason"),
    [({"max_chunks": 10}, "chunks of text"), ({"max_document_chars": 2_000}, "characters")],
)
async def test_a_document_past_its_text_or_chunk_budget_is_refused(
    settings: Settings, limits: dict[str, int], reason: str
):
    for name, value in limits.items():
        setattr(settings, name, value)
    async with app_client(settings) as http:
        pages = [f"Page {i} of the harbour log. " * 30 for i in range(12)]
        reply = await upload(http, pdf_of_pages(pages))
    assert reply.status_code == 413 and reason in reply.json()["detail"]
