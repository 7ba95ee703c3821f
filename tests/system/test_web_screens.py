"""The page on a phone (390 px) and a desktop (1280 px), light and dark: screenshots taken
(into the test's temporary folder, not kept), nothing wider than the screen, the parts in
view, dark colours when the system asks for them, and no axe-core violation of any impact."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pymupdf
import pytest

from tests.support.pdfs import make_pdf
from tests.support.services import unavailable
from tests.support.web_page import AXE, PAGES, axe_violations, box_inside, open_page, served
from tests.system.test_web_answers import MarkdownGenerator

pytestmark = pytest.mark.e2e
ALL_IMPACTS = ("minor", "moderate", "serious", "critical")
# The relative luminance of an element's computed background colour (0 black, 1 white).
LUMINANCE = """(selector) => {
  const [r, g, b] = getComputedStyle(document.querySelector(selector)).backgroundColor
    .match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number)
    .map((c) => c / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_screens_in_both_themes(browser, tmp_path: Path, scheme: str, width: int, height: int):
    if not AXE.exists():
        unavailable("axe-core is not installed (tests/js)", "make js-deps")
    pdf = tmp_path / "keeper.pdf"
    pdf.write_bytes(make_pdf(PAGES, title="The Keeper's Log"))
    with served(tmp_path, MarkdownGenerator()) as base:
        page = open_page(
            browser,
            base,
            viewport={"width": width, "height": height},
            color_scheme=scheme,
            bypass_csp=True,  # axe is injected as an inline script
        )
        page.set_input_files("#file-input", str(pdf))
        page.wait_for_selector("#documents .status.ready", timeout=20_000)
        page.fill("#question", "What does the keeper keep?")
        page.click("#ask")
        page.wait_for_selector(".answer[data-done='true']", timeout=20_000)
        background = page.evaluate(LUMINANCE, "section")
        assert background < 0.05 if scheme == "dark" else background > 0.9
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for selector in ["#new-session", "#drop", "#documents li", ".answer .cite", ".sources"]:
            box_inside(page, selector, width)
        shot(page, tmp_path / f"answer-{width}-{scheme}.png", width)
        assert axe_violations(page, ALL_IMPACTS) == []

        page.click(".answer .cite >> nth=0")
        page.locator("#source-page").wait_for(state="visible")
        box_inside(page, "#source", width)
        box_inside(page, "#source-page", width)
        shot(page, tmp_path / f"source-{width}-{scheme}.png", width)
        assert axe_violations(page, ALL_IMPACTS) == []
        page.keyboard.press("Escape")

        page.click("#documents .delete")  # the undo toast
        box_inside(page, "#toast", width)
        shot(page, tmp_path / f"undo-{width}-{scheme}.png", width)
        assert axe_violations(page, ALL_IMPACTS) == []
        page.context.close()


def shot(page, path: Path, width: int) -> None:
    """A screenshot of the viewport, also into $RAGSVC_TEST_SCREENSHOTS if set (to look at)."""
    page.screenshot(path=str(path))
    if keep := os.environ.get("RAGSVC_TEST_SCREENSHOTS"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    image = pymupdf.Pixmap(str(path))
    assert image.width == width and path.stat().st_size > 10_000
