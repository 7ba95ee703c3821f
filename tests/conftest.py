"""Shared fixtures: fast fake backends that really implement the protocols, PDFs made by
PyMuPDF, and an HTTP client on the app through ASGITransport with its lifespan running."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

import anyio
import httpx
import numpy as np
import pymupdf
import pytest
from fastapi import FastAPI

from ragsvc.answer.extractive import ExtractiveGenerator
from ragsvc.api.app import create_app
from ragsvc.core.config import Settings
from ragsvc.pdf.read import ParseLimits
from ragsvc.runtime.backends import Backends, make_store
from ragsvc.search.embedders import Vectors, normalise

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LIMITS = ParseLimits(max_pages=1000, max_page_chars=10**6, max_document_chars=10**8)


def unavailable(reason: str, hint: str = "") -> NoReturn:
    """Skip a test whose means are missing here; in CI (`CI` set) fail it instead: CI must
    really run every test."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run this test")
    pytest.skip(f"{reason}{f' ({hint})' if hint else ''}")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless chromium (tests/browser.py) shared by a module's tests."""
    from .browser import chromium

    with chromium() as instance:
        yield instance


TEST_REDIS = os.environ.get("RAGSVC_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of the tests' own (emptied after the test); unavailable if no Redis
    answers."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable(f"no Redis at {TEST_REDIS}: {exc}", "set RAGSVC_TEST_REDIS_URL")
    try:
        yield TEST_REDIS
    finally:
        client.flushdb()
        client.close()


TEST_POSTGRES = os.environ.get("RAGSVC_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")


@pytest.fixture
def database_url() -> Iterator[str]:
    """A schema of the test's own in the test database (dropped after the test), as a URL
    whose search_path points at it; unavailable if no PostgreSQL answers."""
    import psycopg

    schema = f"ragsvc_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(TEST_POSTGRES, autocommit=True, connect_timeout=2)
    except psycopg.Error as exc:
        unavailable(f"no PostgreSQL at {TEST_POSTGRES}: {exc}", "set RAGSVC_TEST_DATABASE_URL")
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            joiner = "&" if "?" in TEST_POSTGRES else "?"
            yield f"{TEST_POSTGRES}{joiner}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class HashEmbedder:
    """Deterministic bag-of-words hashing: texts sharing words get similar vectors."""

    name = "hash:128"

    def embed_sync(self, texts: list[str]) -> Vectors:
        rows = np.zeros((len(texts), 128), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                rows[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 128] += 1.0
        rows[:, 0] += 1e-3  # no all-zero rows
        return normalise(rows)

    async def embed(self, texts: list[str]) -> Vectors:
        return self.embed_sync(texts)


class GatedEmbedder(HashEmbedder):
    """Holds every embedding call until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = anyio.Event()

    async def embed(self, texts: list[str]) -> Vectors:
        await self.gate.wait()
        return self.embed_sync(texts)


def make_pdf(pages: list[str], *, title: str | None = None, password: str | None = None) -> bytes:
    """A real PDF with one text page per entry (empty string: a page without text)."""
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        if text:
            page.insert_textbox(pymupdf.Rect(56, 56, 540, 790), text, fontsize=10)
    if title:
        doc.set_metadata({"title": title})
    if password:
        data = doc.tobytes(
            encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw=password, user_pw=password
        )
    else:
        data = doc.tobytes()
    doc.close()
    return bytes(data)


@pytest.fixture
def pdf() -> Callable[..., bytes]:
    return make_pdf


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The tests' settings; with RAGSVC_TEST_STORE=postgres, on a schema of their own."""
    if os.environ.get("RAGSVC_TEST_STORE") == "postgres":
        url = request.getfixturevalue("database_url")
        return Settings(data_dir=tmp_path / "data", store="postgres", database_url=url)
    return Settings(data_dir=tmp_path / "data")


def fake_backends(settings: Settings) -> Backends:
    embedder = HashEmbedder()
    return Backends(
        embedder=embedder,
        generator=ExtractiveGenerator(embedder),
        store=make_store(settings),
    )


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app (fake backends, lifespan running) built from `settings`."""
    backends = fake_backends(settings)
    try:
        async with client_on(settings, backends) as http:
            yield http
    finally:
        await backends.store.aclose()  # backends passed in are the caller's to close


@asynccontextmanager
async def client_on(settings: Settings, backends: Backends) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app built from `settings` and `backends`, its lifespan running."""
    app = create_app(settings, backends)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def app_of(http: httpx.AsyncClient) -> FastAPI:
    """The app behind a client made by `app_client`."""
    transport = http._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


@pytest.fixture
async def session(client: httpx.AsyncClient) -> dict[str, str]:
    """Authorization headers of a fresh session."""
    reply = await client.post("/sessions")
    assert reply.status_code == 201
    client.cookies.clear()  # tests authenticate explicitly unless they test the cookie
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def parse_sse(body: str) -> list[dict[str, str]]:
    """Frames of an SSE body as dicts of field -> value; comment lines dropped."""
    frames = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if fields:
            frames.append(fields)
    return frames
