"""The page's answers in chromium: Markdown shown rendered and inert, citation chips that
open the cited page drawn by the server, copy and regenerate, and past answers that come
back after a reload with their chips, sources and quotes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pymupdf
import pytest

from ragsvc.answer.prompts import Prompt
from tests.support.pdfs import make_pdf
from tests.support.web_page import PAGES, ask, open_page, served, upload_and_ask

pytestmark = pytest.mark.e2e
HOSTILE_MARKDOWN = """The keeper keeps a **leather logbook** of *every* ship [2].

- it is `leather`
- it lists [ships](https://example.org/ships)

<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">
[run me](javascript:window.pwned=3) and [data](data:text/html,hi)

```
[1] stays text in code
```"""


class MarkdownGenerator:
    """Answers in Markdown, with HTML and links an injected passage might smuggle in."""

    def __init__(self) -> None:
        self.calls = 0

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        self.calls += 1
        for line in HOSTILE_MARKDOWN.splitlines(keepends=True):
            yield line


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "keeper.pdf"
    path.write_bytes(make_pdf(PAGES))
    return path


def test_markdown_is_rendered_and_html_in_it_stays_inert(browser, tmp_path: Path, pdf: Path):
    with served(tmp_path, MarkdownGenerator()) as base:
        page = open_page(browser, base)
        upload_and_ask(page, pdf, "What does the keeper keep?")
        answer = page.locator(".answer")
        assert answer.locator("strong").inner_text() == "leather logbook"
        assert answer.locator("em").inner_text() == "every"
        assert answer.locator("li").count() == 2
        assert answer.locator("li code").inner_text() == "leather"
        assert answer.locator("a").count() == 1  # only the https link is a link
        link = answer.locator("a")
        assert link.get_attribute("href") == "https://example.org/ships"
        assert link.get_attribute("rel") == "noopener noreferrer nofollow"
        assert answer.locator("script, img, iframe").count() == 0
        assert "<script>window.pwned = 1</script>" in answer.inner_text()  # shown as text
        assert "run me" in answer.inner_text()
        assert answer.locator("pre code").inner_text() == "[1] stays text in code"
        assert answer.locator(".cite").count() == 1
        assert page.evaluate("window.pwned") is None
        page.context.close()


def test_a_citation_chip_opens_the_cited_page_with_the_passage_highlighted(
    browser, tmp_path: Path, pdf: Path
):
    with served(tmp_path) as base:
        page = open_page(browser, base)
        upload_and_ask(page, pdf, "What does the keeper record in the logbook?")
        chip = page.locator(".answer .cite").first
        assert chip.inner_text() == "1" and "page 2" in chip.get_attribute("aria-label")
        with page.expect_response("**/pages/2?*") as drawn:
            chip.click()
        assert drawn.value.status == 200 and drawn.value.headers["x-highlighted"] == "true"
        image = page.locator("#source-page")
        image.wait_for(state="visible")
        assert image.evaluate("(img) => img.complete && img.naturalWidth") >= 300
        assert "Page 2 of keeper.pdf" in image.get_attribute("alt")
        page.keyboard.press("Escape")
        assert page.is_hidden("#source")
        # the sources are chips too: one opens its source and page, without a quote
        page.locator(".sources .chip").first.click()
        assert page.is_visible("#source") and page.locator("#source-text mark").count() == 0
        page.context.close()


def test_the_panel_scrolls_to_the_passage_marked_low_on_its_page(browser, tmp_path: Path):
    pdf = tmp_path / "low.pdf"
    with pymupdf.open() as doc:  # the passage at the foot of an A4 page
        doc.new_page().insert_text((72, 800), "The keeper records every passing ship.")
        doc.save(pdf)
    with served(tmp_path) as base:
        page = open_page(browser, base, viewport={"width": 1280, "height": 700})
        upload_and_ask(page, pdf, "What does the keeper record?")
        page.click(".answer .cite")
        page.locator("#source-page").wait_for(state="visible")
        page.wait_for_function("() => document.getElementById('source').scrollTop > 100")
        mark = page.evaluate(
            """() => { const img = document.getElementById('source-page');
                       const panel = document.getElementById('source').getBoundingClientRect();
                       const box = img.dataset.box.split(',').map(Number);
                       const y = img.getBoundingClientRect().top + img.height * box[1];
                       return y > panel.top && y < panel.bottom; }"""
        )
        assert mark  # the marked line is in view
        page.context.close()


def test_past_answers_come_back_after_a_reload_as_they_were(browser, tmp_path: Path, pdf: Path):
    with served(tmp_path, MarkdownGenerator()) as base:
        page = open_page(browser, base)
        upload_and_ask(page, pdf, "What does the keeper keep?")
        fresh = page.inner_html("#turns")
        page.reload()
        page.wait_for_selector(".answer[data-done='true']", timeout=20_000)
        assert page.inner_html("#turns") == fresh  # chips, sources, Markdown: all of it
        assert page.locator(".sources .chip").count() >= 1
        page.click(".answer .cite")
        assert "leather logbook" in page.inner_text("#source-text mark")  # the quote, kept
        page.context.close()


def test_copy_puts_the_answer_on_the_clipboard_and_regenerate_asks_again(
    browser, tmp_path: Path, pdf: Path
):
    generator = MarkdownGenerator()
    with served(tmp_path, generator) as base:
        page = open_page(browser, base, permissions=["clipboard-read", "clipboard-write"])
        upload_and_ask(page, pdf, "What does the keeper keep?")
        page.click(".turn .copy")
        page.wait_for_selector("#ask-status:has-text('Answer copied.')")
        assert page.evaluate("navigator.clipboard.readText()") == HOSTILE_MARKDOWN
        page.click(".turn .regenerate")
        page.wait_for_function(
            "() => document.querySelectorAll(\".answer[data-done='true']\").length === 2",
            timeout=20_000,
        )
        questions = page.locator(".question").all_inner_texts()
        assert questions == ["What does the keeper keep?"] * 2 and generator.calls == 2
        assert page.locator(".regenerate:visible").count() == 1  # on the last answer only
        ask(page, "And the lamp?")
        assert page.locator(".regenerate:visible").count() == 1
        page.context.close()
