"""Every example in docs/clients.md runs against a live server: curl and Python here, the
JavaScript ones in a real browser (marked e2e), those for another origin from a page on a
second loopback origin (another site: `localhost` against the server's `127.0.0.1`)."""

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
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.browser import chromium
from tests.support.fakes import fake_backends
from tests.support.paths import ROOT
from tests.support.pdfs import make_pdf
from tests.support.server import RAGSVC, serving_in_thread

DOC = (ROOT / "docs" / "clients.md").read_text()
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
    env["PATH"] = f"{RAGSVC.parent}{os.pathsep}{env.get('PATH', '')}"  # the `ragsvc` command
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=live["DIR"], env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_doc_has_the_examples_this_file_runs():
    assert len(blocks("bash")) == 4 and len(blocks("python")) == 3 and len(blocks("js")) == 5


def test_curl_upload_and_ask(live):
    out = run_bash(blocks("bash")[0], live)
    assert "event: sources" in out and "event: done" in out and "passing ship" in out


def test_the_terminal_client(live):
    out = run_bash(blocks("bash")[2], live)
    assert "paper.pdf: ready" in out and "export RAGSVC_TOKEN=" in out
    assert "passing ship" in out and "paper.pdf, page 2" in out


def test_the_terminal_client_for_scripts(live):
    out = run_bash(blocks("bash")[3], live)
    assert '"new_session": false' in out and '"status": "ready"' in out
    assert "passing ship" in out.splitlines()[-1]


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


def test_python_client(live):
    scope, out = run_python(blocks("python")[0], live)
    assert "passing ship" in out and scope["result"]["citations"]


def test_python_streaming(live):
    scope, out = run_python(blocks("python")[1], live)
    assert "passing ship" in out and scope["result"]["citations"]


def test_python_json(live):
    scope, out = run_python(blocks("python")[2], live)
    assert scope["answer"]["citations"] and "paper.pdf, page" in out


@pytest.mark.e2e
@pytest.mark.parametrize("index", [0, 1, 2])
def test_javascript(live, index: int):
    code = blocks("js")[index]
    code = re.sub(
        r'import \{ ([\w, ]+) \} from "([^"]+)";', r'const { \1 } = await import("\2");', code
    )
    pdf = base64.b64encode(make_pdf(["Notes on tides.", "More notes."])).decode()
    prelude = (
        f"const TOKEN = {live['TOKEN']!r};"
        f"const PDF_BYTES = Uint8Array.from(atob({pdf!r}), (c) => c.charCodeAt(0));"
    )
    with chromium() as browser:
        context = browser.new_context(bypass_csp=True)
        context.add_cookies(
            [{"name": "ragsvc_session", "value": live["TOKEN"], "url": live["BASE"]}]
        )
        page = context.new_page()
        page.goto(live["BASE"])
        result = page.evaluate(f"async () => {{ {prelude}\n{code}\n return result; }}")
    if index == 2:
        assert result == {"status": "ready", "pages": [1, 2], "sent": 1}  # every byte
    else:
        assert "passing ship" in result["text"]
        cited = result["data"]["citations"] if index == 0 else result["citations"]
        assert cited


def front_end() -> Starlette:
    """Another site's page, empty: the examples run in it."""
    page = HTMLResponse("<!doctype html><title>front-end</title>")
    return Starlette(routes=[Route("/", lambda request: page)])


@contextlib.contextmanager
def two_origins(tmp_path: Path, page_host: str = "localhost") -> Iterator[tuple[str, str]]:
    """(server URL, the URL of a page on another origin, allowed by RAGSVC_CORS_ORIGINS):
    on another site (`localhost`), or on the server's site at another port (`127.0.0.1`)."""
    with serving_in_thread(front_end()) as page:
        page = page.replace("127.0.0.1", page_host)
        config = Settings(data_dir=tmp_path / "data", cors_origins=[page])
        with serving_in_thread(create_app(config, fake_backends(config))) as base:
            yield base, page


def run_in_page(page_url: str, code: str, base: str) -> object:
    pdf = base64.b64encode(make_pdf(PAGES)).decode()
    prelude = (
        f"const BASE = {base!r};"
        f"const PDF_BYTES = Uint8Array.from(atob({pdf!r}), (c) => c.charCodeAt(0));"
    )
    with chromium() as browser:
        page = browser.new_page()
        page.goto(page_url)
        return page.evaluate(f"async () => {{ {prelude}\n{code}\n return result; }}")


@pytest.mark.e2e
@pytest.mark.parametrize(("index", "page_host"), [(3, "localhost"), (4, "127.0.0.1")])
def test_javascript_from_another_origin(tmp_path: Path, index: int, page_host: str):
    """The bearer token from another site; the cookie from another origin of the same site
    (Chromium does not send it to another site: a third-party cookie, see the doc)."""
    with two_origins(tmp_path, page_host) as (base, page):
        result = run_in_page(page, blocks("js")[index], base)
    assert "passing ship" in result["text"]  # type: ignore[index]


@pytest.mark.e2e
def test_an_origin_not_listed_is_refused_by_the_browser(tmp_path: Path):
    with two_origins(tmp_path) as (base, page):
        other = page.replace("localhost", "127.0.0.1")  # same page, an origin not listed
        code = (
            "let result; try { await fetch(`${BASE}/sessions`, { method: 'POST' });"
            " result = 'read'; } catch (error) { result = error.name; }"
        )
        assert run_in_page(other, code, base) == "TypeError"
        assert run_in_page(page, code, base) == "read"
