"""Every example in docs/clients.md runs against a live server: curl and Python here, the
JavaScript ones in a real browser (marked e2e)."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragsvc.app import create_app
from ragsvc.config import Settings

from .conftest import fake_backends, make_pdf
from .server import serving_in_thread

DOC = (Path(__file__).resolve().parents[1] / "docs" / "clients.md").read_text()
PAGES = [
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "The keeper records every passing ship in a leather logbook.",
]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("clients")
    settings = Settings(data_dir=folder / "data")
    (folder / "paper.pdf").write_bytes(make_pdf(PAGES))
    with serving_in_thread(create_app(settings, fake_backends(settings))) as base:
        files = {"files": ("paper.pdf", (folder / "paper.pdf").read_bytes())}
        token = httpx.post(f"{base}/upload", files=files).json()["token"]
        yield {"BASE": base, "TOKEN": token, "DIR": str(folder)}


def run_bash(code: str, live: dict[str, str]) -> str:
    env = {**os.environ, "BASE": live["BASE"], "TOKEN": live["TOKEN"]}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=live["DIR"], env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_doc_has_the_examples_this_file_runs():
    assert len(blocks("bash")) == 2 and len(blocks("python")) == 2 and len(blocks("js")) == 3


def test_curl_upload_and_ask(live):
    out = run_bash(blocks("bash")[0], live)
    assert "event: sources" in out and "event: done" in out and "passing ship" in out


def test_curl_resume(live):
    out = run_bash(blocks("bash")[1], live)
    ids = re.findall(r"^id: (\S+)$", out, flags=re.MULTILINE)
    assert ids and ids[0].endswith(":2")  # the events after seq 1, nothing before
    assert "event: sources" not in out and "event: done" in out


def run_python(code: str, live: dict[str, str]) -> tuple[dict, str]:
    scope = {"BASE": live["BASE"], "TOKEN": live["TOKEN"]}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/clients.md", "exec"), scope)
    return scope, printed.getvalue()


def test_python_streaming(live):
    scope, out = run_python(blocks("python")[0], live)
    assert "passing ship" in out and scope["result"]["citations"]


def test_python_json(live):
    scope, out = run_python(blocks("python")[1], live)
    assert scope["answer"]["citations"] and "paper.pdf, page" in out


@pytest.mark.e2e
@pytest.mark.parametrize("index", [0, 1, 2])
def test_javascript(live, index: int):
    from .test_web_e2e import ARGS, CHROMIUM

    sync_api = pytest.importorskip("playwright.sync_api")
    code = blocks("js")[index]
    code = re.sub(
        r'import \{ (\w+) \} from "([^"]+)";', r'const { \1 } = await import("\2");', code
    )
    pdf = base64.b64encode(make_pdf(["Notes on tides.", "More notes."])).decode()
    prelude = (
        f"const TOKEN = {live['TOKEN']!r};"
        f"const PDF_BYTES = Uint8Array.from(atob({pdf!r}), (c) => c.charCodeAt(0));"
    )
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(bypass_csp=True)
        context.add_cookies(
            [{"name": "ragsvc_session", "value": live["TOKEN"], "url": live["BASE"]}]
        )
        page = context.new_page()
        page.goto(live["BASE"])
        result = page.evaluate(f"async () => {{ {prelude}\n{code}\n return result; }}")
        browser.close()
    if index == 2:
        assert result == {"status": "ready", "pages": [1, 2]}
    else:
        assert "passing ship" in result["text"]
        cited = result["data"]["citations"] if index == 0 else result["citations"]
        assert cited
