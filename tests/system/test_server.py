"""A real uvicorn process with the embedded defaults: SSE over a socket, restarts, processes
sharing a data dir. Slow tier: the same behaviour is tested in-process over ASGI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.pdfs import make_pdf
from tests.support.server import running_server

PAGES = [
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "Storms in November close the harbour for days at a time.",
    "The keeper records every passing ship in a leather logbook.",
]


def read_stream(base: str, headers: dict, question: str) -> list[tuple[str, dict]]:
    """Read an /ask stream event by event, as a client on a socket would."""
    events: list[tuple[str, dict]] = []
    with httpx.stream(
        "POST", f"{base}/ask", json={"question": question}, headers=headers, timeout=30
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in reply.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    return events


@pytest.mark.slow
def test_default_backends_stream_a_cited_answer_and_survive_restart(tmp_path: Path):
    data = tmp_path / "data"
    with running_server(data) as base:
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["embedder"].startswith("wordllama")
        up = httpx.post(f"{base}/upload", files={"files": ("keeper.pdf", make_pdf(PAGES))})
        assert up.status_code == 201
        headers = {"Authorization": f"Bearer {up.json()['token']}"}
        events = read_stream(base, headers, "What does the keeper record in the logbook?")
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and names.count("token") > 3
    done = events[-1][1]
    assert "passing ship" in done["answer"]
    sources = events[0][1]["sources"]
    assert sources[done["citations"][0] - 1]["page"] == 3

    with running_server(data) as base:  # same data dir, new process
        again = read_stream(base, headers, "What does the keeper record in the logbook?")
        info = httpx.get(f"{base}/sessions/current", headers=headers).json()
    assert again[-1][1]["answer"] == done["answer"]
    assert info["turns"] == 2


@pytest.mark.slow
def test_processes_sharing_a_data_dir_see_each_others_writes(tmp_path: Path):
    """Two server processes on one data dir (workers, or replicas on a shared volume):
    requests alternate between them, and each must see what the other just wrote."""
    data = tmp_path / "data"
    with running_server(data) as one, running_server(data) as two:
        token = httpx.post(f"{one}/sessions").json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        servers = [one, two]
        for i, page in enumerate(PAGES):
            writer, reader = servers[i % 2], servers[(i + 1) % 2]
            files = {"files": (f"{i}.pdf", make_pdf([page]))}
            assert httpx.post(f"{writer}/upload", files=files, headers=headers).status_code == 201
            listed = httpx.get(f"{reader}/documents", headers=headers).json()["documents"]
            assert sorted(d["filename"] for d in listed) == [f"{n}.pdf" for n in range(i + 1)]
            answer = httpx.post(
                f"{reader}/ask",
                json={"question": PAGES[i]},
                headers={**headers, "Accept": "application/json"},
            ).json()
            assert answer["sources"][0]["filename"] == f"{i}.pdf"
        first = httpx.get(f"{one}/documents", headers=headers).json()["documents"][0]
        assert httpx.delete(f"{two}/documents/{first['id']}", headers=headers).status_code == 204
        assert httpx.get(f"{one}/documents/{first['id']}", headers=headers).status_code == 404
        assert httpx.get(f"{one}/sessions/current", headers=headers).json()["turns"] == 3
