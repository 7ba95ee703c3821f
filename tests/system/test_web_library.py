"""The page's documents and session in chromium: PDFs dropped anywhere are uploaded (not
opened by the browser), a deletion can be undone, the session's time left reads in words,
and the page has a favicon."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.support.pdfs import make_pdf
from tests.support.web_page import PAGES, open_page, served

pytestmark = pytest.mark.e2e

# Drag a PDF over the page and drop it on `target`, as a file manager would; returns
# whether the page took the drop (prevented the browser's own: opening the file).
DROP = """([target, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const files = new DataTransfer();
  files.items.add(new File([bytes], "dropped.pdf", { type: "application/pdf" }));
  const element = document.querySelector(target);
  const fire = (type) => {
    const event = new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: files });
    element.dispatchEvent(event);
    return event.defaultPrevented;
  };
  fire("dragenter");
  const over = fire("dragover");
  const overlay = getComputedStyle(document.getElementById("drop-overlay")).display;
  return { over, overlay, dropped: fire("drop") };
}"""


def server_documents(page) -> list[str]:
    reply = page.evaluate("async () => (await (await fetch('documents')).json()).documents")
    return [doc["filename"] for doc in reply]


@pytest.mark.parametrize("target", ["#turns", "header h1", "#ask-status"])
def test_a_pdf_dropped_anywhere_is_uploaded(browser, tmp_path: Path, target: str):
    with served(tmp_path) as base:
        page = open_page(browser, base)
        data = base64.b64encode(make_pdf(PAGES, title="Dropped Log")).decode()
        took = page.evaluate(DROP, [target, data])
        assert took == {"over": True, "overlay": "grid", "dropped": True}
        page.wait_for_selector("#documents .status.ready", timeout=20_000)
        assert page.get_attribute("#documents .name", "title") == "dropped.pdf"
        assert page.url == f"{base}/"  # still the page, not the PDF
        assert not page.locator("#drop-overlay").is_visible()
        page.context.close()


def test_a_deleted_document_comes_back_with_undo(browser, tmp_path: Path):
    pdf = tmp_path / "keeper.pdf"
    pdf.write_bytes(make_pdf(PAGES, title="The Keeper's Log"))
    with served(tmp_path) as base:
        page = open_page(browser, base)
        page.set_input_files("#file-input", str(pdf))
        page.wait_for_selector("#documents .status.ready", timeout=20_000)
        page.click("#documents .delete")
        assert page.locator("#documents li").count() == 0
        assert page.inner_text("#toast-text") == "Deleted The Keeper's Log."
        assert page.evaluate("document.activeElement.id") == "toast-undo"
        page.keyboard.press("Enter")  # Undo, by keyboard
        assert page.locator("#documents li").count() == 1 and page.is_hidden("#toast")
        assert page.evaluate("document.activeElement.className") == "delete"
        assert server_documents(page) == ["keeper.pdf"]  # never deleted there
        page.click("#documents .delete")
        page.click("#toast-close")  # delete now, without waiting for the toast to go
        page.wait_for_function(
            "async () => (await (await fetch('documents')).json()).documents.length === 0"
        )
        page.reload()
        page.wait_for_selector("#session-status:has-text('Session ends')")
        assert page.locator("#documents li").count() == 0
        page.context.close()


def test_a_question_asked_during_the_undo_time_is_not_answered_from_the_deleted(
    browser, tmp_path: Path
):
    pdf = tmp_path / "keeper.pdf"
    pdf.write_bytes(make_pdf(PAGES))
    with served(tmp_path) as base:
        page = open_page(browser, base)
        page.set_input_files("#file-input", str(pdf))
        page.wait_for_selector("#documents .status.ready", timeout=20_000)
        page.click("#documents .delete")
        page.fill("#question", "What does the keeper record?")
        page.click("#ask")
        page.wait_for_selector(".answer[data-done='error']", timeout=20_000)
        assert server_documents(page) == []  # deleted before the question was asked
        page.context.close()


def test_the_time_left_reads_in_words(browser, tmp_path: Path):
    with served(tmp_path, session_ttl=3 * 3600) as base:
        page = open_page(browser, base)
        status = page.locator("#session-status")
        assert status.inner_text() == "Session ends in 3 hours"
        assert re.search(r"\b20\d\d\b", status.get_attribute("title"))  # the exact time
        page.context.close()


def test_the_page_has_a_favicon(browser, tmp_path: Path):
    with served(tmp_path) as base:
        page = open_page(browser, base)
        href = page.evaluate("document.querySelector('link[rel=icon]').href")
        for url in (href, f"{base}/favicon.ico"):
            reply = page.request.get(url)
            assert reply.status == 200 and reply.headers["content-type"] == "image/svg+xml"
            assert reply.body().startswith(b"<svg")
        page.context.close()
