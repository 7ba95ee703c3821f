"""The web page in chromium, as the browser tests drive it: a server with fake backends, the
page opened with its session, a PDF uploaded and a question answered, axe-core's findings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.fakes import fake_backends
from tests.support.paths import JS
from tests.support.server import serving_in_thread

AXE = JS / "node_modules" / "axe-core" / "axe.min.js"
LONG_TITLE = "Extraordinary Lighthouse Chronicles of the Northernmost Archipelagos"
PAGES = [
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "The keeper records every passing ship in a leather logbook.",
]


@contextlib.contextmanager
def served(tmp_path: Path, generator: Any = None, **settings: Any) -> Iterator[str]:
    config = Settings(data_dir=tmp_path / "data", **settings)
    backends = fake_backends(config)
    if generator is not None:
        backends.generator = generator
    with serving_in_thread(create_app(config, backends)) as base:
        yield base


def open_page(browser: Any, base: str, query: str = "", **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    page.goto(f"{base}/{query}")
    page.wait_for_selector("#session-status:has-text('Session ends')")
    return page


def upload_and_ask(page: Any, pdf: Path, question: str) -> None:
    page.set_input_files("#file-input", str(pdf))
    page.wait_for_selector("#documents .status.ready", timeout=20_000)
    ask(page, question)


def ask(page: Any, question: str) -> None:
    answered = page.locator(".answer[data-done]").count()
    page.fill("#question", question)
    page.click("#ask")
    page.wait_for_function(
        "(n) => document.querySelectorAll(\".answer[data-done='true']\").length > n",
        arg=answered,
        timeout=20_000,
    )


def box_inside(page: Any, selector: str, width: int, height: int | None = None) -> None:
    """`selector` is shown, and within the viewport's width (and height, if given)."""
    element = page.locator(selector).first
    assert element.is_visible(), selector
    box = element.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    if height is not None:
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box)


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """axe-core's violations of these impacts on the page as it is now (the page's context
    must bypass its CSP: axe is injected as an inline script)."""
    page.add_script_tag(path=str(AXE))
    report = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        (found["id"], found["impact"], [node["target"] for node in found["nodes"]])
        for found in report["violations"]
        if found["impact"] in impacts
    ]
