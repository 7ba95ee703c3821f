"""Background ingests on a queue (RAGSVC_INGEST_QUEUE=redis): API replicas queue `?wait=false`
uploads, `ragsvc worker` processes ingest them, and any replica streams their progress.
Runs on the machine's PostgreSQL and Redis; the worker runs here, in the test's event loop
(the replica suite runs it as a process)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from saq import Queue
from typer.testing import CliRunner

from ragsvc.api.probes import probe_server
from ragsvc.cli import app as cli
from ragsvc.core.config import Settings
from ragsvc.ingest.ingestion import INTERRUPTED_DETAIL
from ragsvc.runtime.app_state import AppState
from ragsvc.worker.job_loop import run_worker
from tests.support.apps import app_client, app_of, parse_sse
from tests.support.fakes import fake_backends
from tests.support.pdfs import make_pdf
from tests.support.server import free_port, worker_process

pytestmark = pytest.mark.anyio
PAGES = ["Herons hunt fish in shallow water at dawn.", "Kingfishers dive from perches."]


@pytest.fixture
def queued(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "unused",
        store="postgres",
        database_url=database_url,
        redis_url=redis_url,
        ingest_queue="redis",
        heartbeat_s=0.2,
    )


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[str]:
    """A worker taking jobs until the block ends (the hash embedder, as the apps use); yields
    the base URL of its probes."""
    settings = settings.model_copy(update={"worker_port": free_port()})  # its probes
    backends, stop = fake_backends(settings), anyio.Event()
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run_worker, settings, backends, stop)
            try:
                yield f"http://127.0.0.1:{settings.worker_port}"
            finally:
                stop.set()
    finally:
        await backends.store.aclose()


async def queue_upload(http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    reply = await http.post("/upload?wait=false", files={"files": ("b.pdf", make_pdf(PAGES))})
    assert reply.status_code == 202, reply.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {reply.json()['token']}"}, reply.json()["documents"][0]["id"]


async def test_a_queued_upload_is_ingested_by_a_worker_and_followed_on_any_replica(
    queued: Settings,
):
    async with app_client(queued) as a, app_client(queued) as b:
        headers, doc_id = await queue_upload(a)
        seen: list[dict[str, str]] = []

        async def follow() -> None:  # opened before any worker runs: it waits, heartbeating
            async with b.stream("GET", f"/documents/{doc_id}/events", headers=headers) as reply:
                assert reply.status_code == 200
                seen.extend(parse_sse((await reply.aread()).decode()))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(follow)
            await anyio.sleep(0.6)  # queued: no worker yet
            listed = await b.get(f"/documents/{doc_id}", headers=headers)
            assert listed.json()["status"] == "processing"
            with anyio.fail_after(20):
                async with worker(queued):
                    while (await a.get(f"/documents/{doc_id}", headers=headers)).json()[
                        "status"
                    ] == "processing":
                        await anyio.sleep(0.05)
        answer = await b.post(
            "/ask",
            json={"question": "Which birds dive from perches?"},
            headers={**headers, "Accept": "application/json"},
        )
    events = [f["event"] for f in seen if "event" in f]
    assert events[0] == "page" and events[-1] == "ready", events
    assert {"page", "chunks"} <= set(events)
    assert answer.status_code == 200 and answer.json()["sources"][0]["page"] == 2


async def test_an_upload_queued_longer_than_its_wait_fails_and_is_not_ingested_late(
    queued: Settings,
):
    impatient = queued.model_copy(update={"queue_wait_s": 0.5})
    async with app_client(impatient) as http:
        headers, doc_id = await queue_upload(http)
        await anyio.sleep(1.0)  # no worker took it in time
        failed = (await http.get(f"/documents/{doc_id}", headers=headers)).json()
        async with worker(impatient):
            await anyio.sleep(1.0)  # the worker takes the job, finds it no longer waiting
        later = (await http.get(f"/documents/{doc_id}", headers=headers)).json()
    assert failed["status"] == "failed" and failed["detail"] == INTERRUPTED_DETAIL
    assert later == failed


async def test_a_worker_answers_its_probes(queued: Settings):
    async with worker(queued) as probes, httpx.AsyncClient(base_url=probes) as http:
        with anyio.fail_after(10):
            while True:
                try:
                    ready = await http.get("/readyz")
                    break
                except httpx.TransportError:  # not listening yet
                    await anyio.sleep(0.05)
        alive = await http.get("/healthz")
    assert ready.status_code == 200 and ready.json()["embedder"] == "hash:128"
    assert alive.status_code == 200


async def test_a_worker_not_ready_answers_its_readiness_probe_with_a_503_problem(
    queued: Settings,
):
    backends = fake_backends(queued)
    state = AppState.build(queued, backends)
    try:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            app = probe_server(state, queued, listener).config.app
        # Not ready, as while its page workers start or Redis is away: here, draining.
        state.drain.begin()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as http:
            ready = await http.get("/readyz")
    finally:
        await state.aclose()
        await backends.store.aclose()
    assert ready.status_code == 503, ready.text  # not a 500, with a traceback in the log
    assert ready.json()["type"].endswith("shutting-down")


async def probed(http: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET `path` on a worker's probes, once they listen."""
    with anyio.fail_after(10):
        while True:
            try:
                return await http.get(path)
            except httpx.TransportError:  # not listening yet
                await anyio.sleep(0.05)


async def test_a_worker_serves_its_own_metrics_with_the_ingests_it_ran(queued: Settings):
    async with app_client(queued) as api:
        headers, doc_id = await queue_upload(api)
        async with worker(queued) as probes, httpx.AsyncClient(base_url=probes) as http:
            with anyio.fail_after(20):
                while (await api.get(f"/documents/{doc_id}", headers=headers)).json()[
                    "status"
                ] == "processing":
                    await anyio.sleep(0.05)
                # The worker counts a document once its final commit is done, a moment
                # after the document reads `ready`.
                while (
                    "ragsvc_documents_ingested_total{"
                    not in (reply := await probed(http, "/metrics")).text
                ):
                    await anyio.sleep(0.05)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    got = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }
    ready = frozenset({("status", "ready")})
    assert got[("ragsvc_documents_ingested_total", ready)] == 1
    assert got[("ragsvc_ingest_seconds_count", ready)] == 1
    assert got[("ragsvc_pages_ingested_total", frozenset())] == len(PAGES)
    assert got[("ragsvc_backend_seconds_count", frozenset({("backend", "embedder")}))] >= 1
    assert ("ragsvc_db_pool_max", frozenset()) in got


async def test_a_worker_serves_no_metrics_when_they_are_off(queued: Settings):
    quiet = queued.model_copy(update={"metrics": False})
    async with worker(quiet) as probes, httpx.AsyncClient(base_url=probes) as http:
        assert (await probed(http, "/healthz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 404


@pytest.mark.parametrize(
    ("arguments", "environment"),
    [
        (["--port", "{port}"], {"RAGSVC_WORKER_PORT": "{other}"}),  # the option first
        ([], {"RAGSVC_WORKER_PORT": "{port}", "PORT": "{other}"}),  # then the setting
        ([], {"RAGSVC_WORKER_PORT": None, "PORT": "{port}"}),  # PORT alone, as before it
    ],
    ids=["option", "setting", "port-alone"],
)
def test_the_worker_command_listens_where_told_and_says_so_in_one_line_when_taken(
    queued: Settings, arguments: list[str], environment: dict[str, str | None]
):
    env = {
        "RAGSVC_STORE": "postgres",
        "RAGSVC_DATABASE_URL": str(queued.database_url.get_secret_value()),  # type: ignore[union-attr]
        "RAGSVC_REDIS_URL": str(queued.redis_url),
        "RAGSVC_INGEST_QUEUE": "redis",
        "HOST": "127.0.0.1",
    }
    # Both ports taken (as `ragsvc serve` would hold one): the worker fails at once on the
    # port it chose, which its one line names, instead of running on a wrong one.
    with (
        socket.create_server(("127.0.0.1", 0)) as taken,
        socket.create_server(("127.0.0.1", 0)) as other,
    ):
        ports = {"port": str(taken.getsockname()[1]), "other": str(other.getsockname()[1])}
        told = {name: value and value.format(**ports) for name, value in environment.items()}
        arguments = [argument.format(**ports) for argument in arguments]
        result = CliRunner().invoke(cli, ["worker", *arguments], env={**env, **told})
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{ports['port']} " in result.output
    assert "RAGSVC_WORKER_PORT" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_a_worker_process_stops_cleanly_on_sigterm(tmp_path: Path, queued: Settings):
    env = {
        "RAGSVC_STORE": "postgres",
        "RAGSVC_DATABASE_URL": str(queued.database_url.get_secret_value()),  # type: ignore[union-attr]
        "RAGSVC_REDIS_URL": str(queued.redis_url),
        "RAGSVC_INGEST_QUEUE": "redis",
    }
    with worker_process(tmp_path, **env) as process:
        process.terminate()
        started = time.monotonic()
        code = process.wait(timeout=30)
        stopped_in = time.monotonic() - started
    assert code == 0, "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
    assert stopped_in < 10, f"the worker took {stopped_in:.1f} s to stop"


async def test_a_queue_that_refuses_an_upload_is_a_503_and_the_document_fails_at_once(
    queued: Settings,
):
    async with app_client(queued) as http:
        headers = {"Authorization": f"Bearer {(await http.post('/sessions')).json()['token']}"}
        http.cookies.clear()
        queue = app_of(http).state.ragsvc.queue
        working, queue.saq = queue.saq, Queue.from_url("redis://127.0.0.1:9/0")  # Redis down
        files = {"files": ("b.pdf", make_pdf(PAGES))}
        refused = await http.post("/upload?wait=false", files=files, headers=headers)
        listed = (await http.get("/documents", headers=headers)).json()["documents"]
        queue.saq = working  # closed with the app; the other one never got a connection
    assert refused.status_code == 503, refused.text
    assert "Redis" in refused.json()["detail"]
    assert [(d["status"], d["detail"]) for d in listed] == [("failed", INTERRUPTED_DETAIL)]


def test_the_worker_command_needs_the_queue_setting():
    result = CliRunner().invoke(cli, ["worker"], env={"RAGSVC_INGEST_QUEUE": "local"})
    assert result.exit_code == 2
    assert "RAGSVC_INGEST_QUEUE=redis" in result.output


def test_a_queue_needs_redis_and_postgres():
    with pytest.raises(ValueError, match="RAGSVC_INGEST_QUEUE=redis needs"):
        Settings(ingest_queue="redis", redis_url="redis://127.0.0.1:6379/9")
