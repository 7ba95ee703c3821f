"""Shared fixtures: the tests' settings (on PostgreSQL with RAGSVC_TEST_STORE=postgres), an
HTTP client on the app (fake backends, lifespan running), a session, PDFs, and the services
some suites need. What they are made of lives in tests/support/."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ragsvc.core.config import Settings
from tests.support.apps import app_client
from tests.support.pdfs import make_pdf
from tests.support.services import (
    REDIS_SERVER,
    TEST_POSTGRES,
    claim_redis_database,
    clear_redis_database,
    unavailable,
)


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A test that runs `ragsvc serve` or `ragsvc worker` in-process points the root logger
    at its own captured stderr; the next tests must not log to that stream once closed."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless chromium (tests/support/browser.py) shared by a module's tests."""
    from tests.support.browser import chromium

    with chromium() as instance:
        yield instance


@pytest.fixture(scope="session")
def redis_database() -> Iterator[str]:
    """A Redis database this run claimed, empty when claimed (other programs share the
    server); unavailable if no Redis answers or none is free."""
    import redis

    try:
        url = claim_redis_database(uuid.uuid4().hex)
    except redis.RedisError as exc:
        unavailable(f"no Redis at {REDIS_SERVER}: {exc}", "set RAGSVC_TEST_REDIS_SERVER")
    if url is None:
        unavailable(f"no empty Redis database at {REDIS_SERVER} to claim")
    try:
        yield url
    finally:
        clear_redis_database(url, keep_claim=False)


@pytest.fixture
def redis_url(redis_database: str) -> Iterator[str]:
    """The run's Redis database, emptied after the test (but for the run's claim)."""
    yield redis_database
    clear_redis_database(redis_database)


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
