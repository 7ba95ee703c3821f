"""An answer's [n] markers as links to the cited pages, with the quote each rests on."""

from __future__ import annotations

from ragsvc.api.protocols.citation_links import page_url, url_citations
from ragsvc.core.schemas import Quote
from tests.support.answer_plans import SOURCE

OTHER = SOURCE.model_copy(update={"n": 2, "document_id": "d2", "filename": "b.pdf", "page": 7})


def test_a_page_url_is_under_the_services_base():
    assert page_url("https://x.test/rag/", OTHER) == "https://x.test/rag/documents/d2/pages/7"


def test_each_marker_naming_a_source_is_a_citation_with_its_quote():
    answer = "Owls hunt [1]. Falcons dive [2][9]. Owls again [1]."
    quotes = [
        Quote(n=n, claim="c", text=f"q{i}", start=0, end=2, page=1, verified=i != 1)
        for i, n in enumerate([1, 2, 1])
    ]
    cited = url_citations(answer, [SOURCE, OTHER], quotes, "/")
    assert [answer[c["start_index"] : c["end_index"]] for c in cited] == ["[1]", "[2]", "[1]"]
    assert [c["quote"] for c in cited] == ["q0", "q1", "q2"]  # [9] names no source
    assert [c["verified"] for c in cited] == [True, False, True]
    assert cited[1] == {
        "type": "url_citation",
        "start_index": 28,
        "end_index": 31,
        "url": "/documents/d2/pages/7",
        "title": "[2] b.pdf, page 7",
        "n": 2,
        "document_id": "d2",
        "filename": "b.pdf",
        "page": 7,
        "quote": "q1",
        "verified": False,
    }
