"""Three `ragsvc serve` replicas and one `ragsvc worker` sharing PostgreSQL and Redis, behind
nginx (Debian's package, run with `docker/nginx.conf`, its upstreams pointed at loopback
ports). Through the proxy: what one replica writes the others serve; an answer whose replica
is SIGKILLed mid-stream resumes on a survivor and ends with `generation-lost`; a replica
killed mid-upload loses no acknowledged document; queued uploads are ingested by the worker,
and one whose worker is killed fails; rate limits hold across replicas. Slow: three servers,
a worker and a proxy start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.apps import parse_sse
from tests.support.fake_openai import FakeOpenAI
from tests.support.nginx_proxy import in_front_of
from tests.support.pdfs import make_pdf
from tests.support.server import server_process, worker_process

pytestmark = pytest.mark.slow
PAGES = ["Herons hunt fish in shallow water at dawn.", "Kingfishers dive from perches."]
REPLICAS = 3


@dataclass
class Deployment:
    base: str  # the proxy
    replicas: list[tuple[str, subprocess.Popen[bytes]]]
    worker: subprocess.Popen[bytes]


@contextmanager
def deployed(tmp_path: Path, shared: tuple[str, str], **env: str) -> Iterator[Deployment]:
    """Replicas and a worker on PostgreSQL and Redis (`shared`: their URLs), behind nginx."""
    database_url, redis_url = shared
    settings = {
        "RAGSVC_STORE": "postgres",
        "RAGSVC_DATABASE_URL": database_url,
        "RAGSVC_REDIS_URL": redis_url,
        "RAGSVC_INGEST_QUEUE": "redis",
        "RAGSVC_PARSE_WORKERS": "1",
        **env,
    }
    with ExitStack() as stack:
        (tmp_path / "data").mkdir()
        replicas = [
            stack.enter_context(server_process(tmp_path / "data", **settings))
            for _ in range(REPLICAS)
        ]
        worker = stack.enter_context(worker_process(tmp_path, **settings))
        proxied = in_front_of([base for base, _ in replicas], tmp_path / "nginx")
        yield Deployment(stack.enter_context(proxied), replicas, worker)


@pytest.fixture
def shared(database_url: str, redis_url: str) -> tuple[str, str]:
    return database_url, redis_url


def upload(base: str) -> dict[str, str]:
    reply = httpx.post(f"{base}/upload", files={"files": ("b.pdf", make_pdf(PAGES))}, timeout=60)
    assert reply.status_code == 201, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def test_what_one_replica_writes_every_replica_serves(tmp_path: Path, shared: tuple[str, str]):
    with deployed(tmp_path, shared) as deployment:
        base, replicas = deployment.base, deployment.replicas
        who = upload(base)  # through the proxy: on one of the replicas
        for replica, _ in replicas:
            listed = httpx.get(f"{replica}/documents", headers=who, timeout=10)
            assert [d["filename"] for d in listed.json()["documents"]] == ["b.pdf"]
        for _ in range(REPLICAS):  # round robin: each replica answers one
            reply = httpx.post(f"{base}/ask", json={"question": "herons?"}, headers=who)
            assert reply.status_code == 200 and parse_sse(reply.text)[-1]["event"] == "done"
        [document] = httpx.get(f"{base}/documents", headers=who).json()["documents"]
        assert httpx.delete(f"{base}/documents/{document['id']}", headers=who).status_code == 204
        for replica, _ in replicas:
            listed = httpx.get(f"{replica}/documents", headers=who, timeout=10)
            assert listed.json()["documents"] == []


def test_an_answer_whose_replica_is_killed_resumes_through_the_proxy(
    tmp_path: Path, shared: tuple[str, str]
):
    with FakeOpenAI(chunk_delay=0.05, repeat=40).running() as llm:  # about 10 s of answer
        llm_env = {
            "RAGSVC_GENERATOR": "openai",
            "RAGSVC_OPENAI_BASE_URL": llm.base_url,
            "RAGSVC_OPENAI_API_KEY": "test",
            "RAGSVC_LLM_MODEL": "fake-chat",
        }
        with deployed(tmp_path, shared, **llm_env) as deployment:
            base, replicas = deployment.base, deployment.replicas
            who = upload(base)
            (victim, process), seen = replicas[0], []
            with httpx.stream(
                "POST", f"{victim}/ask", json={"question": "herons?"}, headers=who, timeout=30
            ) as stream:
                answer_id = stream.headers["x-answer-id"]
                for line in stream.iter_lines():
                    if line.startswith("id: "):
                        seen.append(line.removeprefix("id: "))
                    if len(seen) == 5:
                        break
            time.sleep(0.3)  # the copy in Redis follows the stream within milliseconds
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            started = time.monotonic()
            resumed = httpx.post(
                f"{base}/ask",
                json={"question": "herons?"},
                headers={**who, "Last-Event-ID": seen[-1]},
                timeout=30,
            )
            waited = time.monotonic() - started
    assert resumed.status_code == 200 and resumed.headers["x-answer-id"] == answer_id
    frames = parse_sse(resumed.text)
    assert frames[0]["id"] == f"{answer_id}:5"  # continues right after the last event seen
    assert [f["event"] for f in frames[:-1]] == ["token"] * (len(frames) - 1)
    problem = json.loads(frames[-1]["data"])
    assert frames[-1]["event"] == "error" and problem["type"].endswith("generation-lost")
    assert waited < 10, f"the lost answer took {waited:.1f} s to end"


def test_a_replica_killed_mid_upload_loses_no_acknowledged_document(
    tmp_path: Path, shared: tuple[str, str]
):
    text = "Page {} of the harbour almanac lists the tides and the ships at anchor. "
    big = make_pdf([text.format(i) * 25 for i in range(1500)])  # seconds of ingesting
    with deployed(tmp_path, shared) as deployment:
        base, replicas = deployment.base, deployment.replicas
        who = upload(base)  # acknowledged: 201
        (victim, process) = replicas[1]
        failed: list[BaseException] = []

        def send() -> None:
            try:
                files = {"files": ("big.pdf", big)}
                httpx.post(f"{victim}/upload", files=files, headers=who, timeout=60)
            except httpx.HTTPError as exc:
                failed.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)  # mid-upload: the body, or the parse that follows it
        os.kill(process.pid, signal.SIGKILL)
        sender.join(timeout=30)
        process.wait()
        assert failed, "the upload was acknowledged before the kill: nothing was tested"
        listed = httpx.get(f"{base}/documents", headers=who, timeout=10).json()["documents"]
        asked = httpx.post(f"{base}/ask", json={"question": "herons?"}, headers=who, timeout=30)
    assert [(d["filename"], d["status"]) for d in listed] == [("b.pdf", "ready")]
    assert parse_sse(asked.text)[-1]["event"] == "done"


def test_rate_limits_hold_across_replicas_behind_the_proxy(tmp_path: Path, shared: tuple[str, str]):
    with deployed(tmp_path, shared, RAGSVC_ASK_RATE_PER_MINUTE="4") as deployment:
        base = deployment.base
        who = upload(base)
        statuses = [
            httpx.post(f"{base}/ask", json={"question": "herons?"}, headers=who).status_code
            for _ in range(REPLICAS * 2)
        ]
    assert statuses == [200] * 4 + [429] * (REPLICAS * 2 - 4)


def follow(base: str, document_id: str, who: dict[str, str], stop_after: int | None = None):
    """The document's events through the proxy (the first `stop_after` of them, if given)."""
    frames: list[dict[str, str]] = []
    url = f"{base}/documents/{document_id}/events"
    with httpx.stream("GET", url, headers=who, timeout=60) as stream:
        block: dict[str, str] = {}
        for line in stream.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                block[name] = value
                continue
            if "event" in block:
                frames.append(block)
                if stop_after is not None and len(frames) >= stop_after:
                    break
            block = {}
    return frames


def queue(base: str, who: dict[str, str] | None, name: str, data: bytes) -> tuple[dict, str]:
    files = {"files": (name, data)}
    reply = httpx.post(f"{base}/upload?wait=false", files=files, headers=who, timeout=60)
    assert reply.status_code == 202, reply.text
    who = who or {"Authorization": f"Bearer {reply.json()['token']}"}
    return who, reply.json()["documents"][0]["id"]


def test_queued_uploads_are_ingested_by_the_worker_and_a_killed_one_fails(
    tmp_path: Path, shared: tuple[str, str]
):
    text = "Page {} of the harbour almanac lists the tides and the ships at anchor. "
    big = make_pdf([text.format(i) * 25 for i in range(1500)])  # seconds of ingesting
    with deployed(tmp_path, shared) as deployment:
        base = deployment.base
        who, small_id = queue(base, None, "b.pdf", make_pdf(PAGES))
        events = [f["event"] for f in follow(base, small_id, who)]
        asked = httpx.post(f"{base}/ask", json={"question": "herons?"}, headers=who, timeout=30)
        _, big_id = queue(base, who, "big.pdf", big)
        assert follow(base, big_id, who, stop_after=1)[0]["event"] == "page"  # the worker has it
        os.kill(deployment.worker.pid, signal.SIGKILL)
        started = time.monotonic()
        lost = follow(base, big_id, who)[-1]
        waited = time.monotonic() - started
        deadline = time.monotonic() + 40  # its lease lapses 15 s after the worker died
        while (status := document_status(base, big_id, who)) == "processing":
            assert time.monotonic() < deadline, "the killed worker's document stayed processing"
            time.sleep(0.5)
    assert events[0] == "page" and events[-1] == "ready"
    assert parse_sse(asked.text)[-1]["event"] == "done"
    assert lost["event"] == "error" and json.loads(lost["data"])["type"].endswith("generation-lost")
    assert waited < 10, f"the lost ingest took {waited:.1f} s to end its stream"
    assert status == "failed"


def document_status(base: str, document_id: str, who: dict[str, str]) -> str:
    return str(httpx.get(f"{base}/documents/{document_id}", headers=who).json()["status"])
