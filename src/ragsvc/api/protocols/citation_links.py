"""Where a source can be seen: the preview of its cited page (GET
/documents/{document_id}/pages/{page}), and each [n] of an answer as a link to it, the way
OpenAI's APIs mark citations (`url_citation`: the span of the answer and the URL)."""

from __future__ import annotations

from typing import Any

from ragsvc.core.schemas import Quote, Source
from ragsvc.text.citation_markers import CITATION_MARKER


def page_url(base_url: str, source: Source) -> str:
    """The cited page's preview; `base_url` is the service's, root path included, ending in
    "/" (Starlette's `request.base_url`)."""
    return f"{base_url}documents/{source.document_id}/pages/{source.page}"


def source_title(source: Source) -> str:
    return f"[{source.n}] {source.filename}, page {source.page}"


def url_citations(
    answer: str, sources: list[Source], quotes: list[Quote], base_url: str
) -> list[dict[str, Any]]:
    """One citation per [n] marker of `answer` naming a source: the marker's offsets in the
    answer (characters), the page's URL and a title naming the file and page; and ragsvc's
    extras: n, document_id, filename, page, the quote it rests on and whether it was
    verified (`quotes`: one per such marker, in order, as the answer's `done` has them)."""
    by_n = {source.n: source for source in sources}
    markers = CITATION_MARKER.finditer(answer)
    cited = [(m, by_n[int(m.group(1))]) for m in markers if int(m.group(1)) in by_n]
    return [
        {
            "type": "url_citation",
            "start_index": marker.start(),
            "end_index": marker.end(),
            "url": page_url(base_url, source),
            "title": source_title(source),
            "n": source.n,
            "document_id": source.document_id,
            "filename": source.filename,
            "page": source.page,
            **_quoted(quotes, i),
        }
        for i, (marker, source) in enumerate(cited)
    ]


def _quoted(quotes: list[Quote], i: int) -> dict[str, Any]:
    if i >= len(quotes):
        return {}
    return {"quote": quotes[i].text, "verified": quotes[i].verified}
