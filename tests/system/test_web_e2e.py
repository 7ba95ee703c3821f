"""The web page in a real browser: Debian's chromium, driven by Playwright (its own browser
download does not work here). Upload through the page, ask, see a streamed, cited answer;
lose the network mid-answer and see the same answer resume."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragsvc.api.app_factory import create_app
from ragsvc.api.serving import uvicorn_options
from ragsvc.core.config import Settings
from tests.support.fakes import SlowGenerator, fake_backends
from tests.support.path_proxy import PathProxy
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("root_path", ["", "/rag"])
def test_upload_ask_and_open_a_citation(browser, tmp_path: Path, root_path: str):
    """At the root, and under a path behind a proxy (RAGSVC_ROOT_PATH): the page, its
    scripts and every call it makes."""
    pdf = tmp_path / "keeper.pdf"
    pdf.write_bytes(
        make_pdf(
            [
                "The lighthouse keeper lights the lamp at dusk every evening.",
                "Storms in November close the harbour for days at a time.",
                "The keeper records every passing ship in a leather logbook.",
            ],
            title="The Keeper's Year",
        )
    )
    settings = Settings(data_dir=tmp_path / "data", root_path=root_path)
    app = create_app(settings)  # the real default backends
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serving_in_thread(app, **uvicorn_options(settings)))
        if root_path:  # the page as a browser reaches it, through a proxy
            base = stack.enter_context(serving_in_thread(PathProxy(base, root_path)))
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}{root_path}/")
        page.wait_for_selector("#session-status:has-text('Session ends')")
        page.set_input_files("#file-input", str(pdf))
        page.wait_for_selector("#documents .status.ready", timeout=20_000)
        assert "The Keeper's Year" in page.inner_text("#documents")
        page.fill("#question", "What does the keeper record in the logbook?")
        page.click("#ask")
        page.wait_for_selector(".answer[data-done='true']", timeout=20_000)
        answer = page.inner_text(".answer")
        assert "passing ship" in answer
        assert "page" not in page.inner_text("#source-title")  # panel still closed
        page.click(".answer .cite >> nth=0")
        assert page.is_visible("#source")
        assert "keeper.pdf, page 3" in page.inner_text("#source-title")
        assert "leather logbook" in page.inner_text("#source-text")
        assert "leather logbook" in page.inner_text("#source-text mark")  # the quote, marked
        assert page.is_hidden("#source-check")  # and it supports the sentence
        shot = tmp_path / "answer.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page.reload()  # the conversation is the server's: it is there again
        page.wait_for_selector(".answer[data-done='true']", timeout=20_000)
        assert "logbook" in page.inner_text(".question") and "passing ship" in answer
        assert page.inner_text(".answer") == answer
        page.close()
    assert errors == []


class FlakyNetwork:
    """Cuts the first /ask stream after a few frames; notes each reconnection's id."""

    def __init__(self, app: ASGIApp, frames_before_cut: int = 6) -> None:
        self.app, self.frames_before_cut = app, frames_before_cut
        self.resumed: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/ask":
            return await self.app(scope, receive, send)
        last_event_id = dict(scope["headers"]).get(b"last-event-id")
        if last_event_id is not None:
            self.resumed.append(last_event_id.decode())
            return await self.app(scope, receive, send)
        return await self.app(scope, receive, self._cutting(send))

    def _cutting(self, send: Send) -> Send:
        sent = 0

        async def cut_after_a_few(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += 1
                if sent > self.frames_before_cut:  # uvicorn drops the socket on this error
                    raise ConnectionResetError("network cut by the test")
            await send(message)

        return cut_after_a_few


def test_an_answer_resumes_after_the_network_drops(browser, tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", sse_retry_ms=300, resume_grace_s=10)
    backends = fake_backends(settings)
    backends.generator = generator = SlowGenerator(words=30, pause=0.1)
    app = create_app(settings, backends)
    network = FlakyNetwork(app)

    with serving_in_thread(network) as base:
        context = browser.new_context()
        page = context.new_page()
        page.goto(base)
        page.wait_for_selector("#session-status:has-text('Session ends')")
        pdf = tmp_path / "h.pdf"
        pdf.write_bytes(make_pdf(["The harbour master rings the bell at noon."]))
        page.set_input_files("#file-input", str(pdf))
        page.wait_for_selector("#documents .status.ready", timeout=20_000)
        page.fill("#question", "When is the bell rung?")
        page.click("#ask")
        page.wait_for_selector(".answer[data-done='true']", timeout=20_000)
        answer = page.inner_text(".answer")
        context.close()
    assert answer.strip() == "".join(f"word{i} " for i in range(30)).strip()
    assert network.resumed, "the browser never reconnected: the network did not really drop"
    assert generator.calls == 1  # resumed, not asked again


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/docs", ".opblock-summary-path[data-path='/ask']"),  # Swagger UI lists the routes
        ("/redoc", "h2:has-text('Ask; the answer streams as SSE')"),  # ReDoc renders them
        ("/rag/docs", ".opblock-summary-path[data-path='/ask']"),  # behind a proxy, under /rag
    ],
)
def test_api_docs_render_offline_under_their_policy(browser, tmp_path: Path, path, rendered):
    """Every file the page asks for comes from this server (anything else is aborted, as
    on a machine with no internet), and the page's own policy refuses nothing it needs."""
    root_path = "/rag" if path.startswith("/rag/") else ""
    settings = Settings(data_dir=tmp_path / "data", root_path=root_path)
    app = create_app(settings, fake_backends(settings))
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serving_in_thread(app, **uvicorn_options(settings)))
        if root_path:
            base = stack.enter_context(serving_in_thread(PathProxy(base, root_path)))
        page = browser.new_page()
        elsewhere: list[str] = []
        refused: list[str] = []

        def only_here(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            if url.startswith(base) or url.startswith(("data:", "blob:")):
                route.continue_()  # type: ignore[attr-defined]
            else:
                elsewhere.append(url)
                route.abort()  # type: ignore[attr-defined]

        page.route("**/*", only_here)
        page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: refused.append(str(error)))
        page.goto(base + path)
        page.wait_for_selector(rendered, timeout=20_000)
        # ReDoc's "API docs by Redocly" badge is an image on its CDN: refused by the
        # policy, and the page does without it.
        needed = [text for text in refused if "cdn.redoc.ly/redoc/logo-mini.svg" not in text]
        assert elsewhere == [] and needed == []
