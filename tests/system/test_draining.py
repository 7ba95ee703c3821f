"""SIGTERM to a real `ragsvc serve` while an answer streams (a rolling update, a scale-down):
the answer finishes within RAGSVC_DRAIN_S, or ends with an `error` event saying to ask again
once that has passed, and the process exits soon after, never cutting a stream mid-body."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.hostile_pdfs import with_content
from tests.support.pdfs import make_pdf
from tests.support.server import server_process

pytestmark = pytest.mark.slow
# uvicorn raises the signal it caught again once it has shut down: -SIGTERM, not SIGKILL's
EXITED_ON_ITS_OWN = (0, -signal.SIGTERM)


def _llm_env(llm: FakeOpenAI) -> dict[str, str]:
    return {
        "RAGSVC_GENERATOR": "openai",
        "RAGSVC_OPENAI_BASE_URL": llm.base_url,
        "RAGSVC_OPENAI_API_KEY": "test",
        "RAGSVC_LLM_MODEL": "fake-chat",
    }


def _events_after_sigterm(base: str, process: subprocess.Popen[bytes]) -> Iterator[dict]:
    """An answer's events, SIGTERM sent to the server once its first token arrived."""
    up = httpx.post(f"{base}/upload", files={"files": ("h.pdf", make_pdf(["Herons fish."]))})
    who = {"Authorization": f"Bearer {up.json()['token']}"}
    with httpx.stream(
        "POST", f"{base}/ask", json={"question": "herons?"}, headers=who, timeout=60
    ) as stream:
        name = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                yield {"event": name, **json.loads(line.removeprefix("data: "))}
                if name == "token" and process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    process.returncode = -1  # sent once; poll() below reads the real code


def _exit_after(process: subprocess.Popen[bytes]) -> float:
    process.returncode = None
    started = time.monotonic()
    process.wait(timeout=60)
    return time.monotonic() - started


def test_an_answer_in_flight_at_sigterm_finishes_and_the_process_exits(tmp_path: Path):
    with FakeOpenAI(chunk_delay=0.05, repeat=12).running() as llm:  # about 3 s of answer
        with server_process(tmp_path / "data", **_llm_env(llm)) as (base, process):
            events = list(_events_after_sigterm(base, process))
            waited = _exit_after(process)
    assert events[-1]["event"] == "done", events[-1]
    assert events[-1]["answer"].count("herons?") >= 10  # the whole reply, not a cut one
    assert process.returncode in EXITED_ON_ITS_OWN
    assert waited < 5


def test_an_answer_past_the_drain_time_ends_with_an_error_event(tmp_path: Path):
    with FakeOpenAI(chunk_delay=0.05, repeat=60).running() as llm:  # about 15 s of answer
        env = {**_llm_env(llm), "RAGSVC_DRAIN_S": "1"}
        with server_process(tmp_path / "data", **env) as (base, process):
            started = time.monotonic()
            events = list(_events_after_sigterm(base, process))
            ended = time.monotonic() - started
            waited = _exit_after(process)
    assert events[-1]["event"] == "error"
    assert events[-1]["type"].endswith("shutting-down") and events[-1]["status"] == 503
    assert ended < 6, f"the stream took {ended:.1f} s to end after a 1 s drain"
    assert process.returncode in EXITED_ON_ITS_OWN
    assert waited < 5


def test_sigterm_during_a_long_extraction_exits_within_the_drain_time(tmp_path: Path):
    """A PDF whose pages take half a minute to extract, uploaded without waiting: SIGTERM
    stops its extraction once the drain time is over, rather than waiting for its end."""
    bomb = with_content(b" " * (64 * 2**20), pages=120)  # ~2 MB on disk, slow to parse
    env = {"RAGSVC_DRAIN_S": "1", "RAGSVC_PARSE_TIMEOUT_S": "600"}
    with server_process(tmp_path / "data", **env) as (base, process):
        up = httpx.post(f"{base}/upload?wait=false", files={"files": ("slow.pdf", bomb)})
        assert up.status_code == 202
        time.sleep(2)  # the page workers are at it
        process.send_signal(signal.SIGTERM)
        waited = _exit_after(process)
    assert process.returncode in EXITED_ON_ITS_OWN
    assert waited < 8, f"exited {waited:.1f} s after SIGTERM with a 1 s drain"
