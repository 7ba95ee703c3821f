"""A page of a document as an image, the passage a citation rests on highlighted: what the
web page shows when a citation is opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from ragsvc.api.deps import SessionDep, StateDep
from ragsvc.api.problems import header, problem_responses
from ragsvc.ingest.page_images import PageRequest
from ragsvc.pdf.page_images import MAX_WIDTH

router = APIRouter(tags=["documents"])
# The image of a page never changes, but it is the session's: no shared cache keeps it.
CACHE_CONTROL = "private, max-age=86400"
PNG = "image/png"


@dataclass(frozen=True)
class PagePath:
    document_id: str
    page: int


def page_path(
    document_id: str,
    page: Annotated[int, Path(ge=1, description="1-based, as a source's `page`")],
) -> PagePath:
    return PagePath(document_id, page)


class PageParams(BaseModel):
    width: int = Field(800, ge=100, le=MAX_WIDTH, description="pixels")
    quote: str = Field(
        "", max_length=2000, description="text to highlight, such as a quote's `text` of `done`"
    )


@router.get(
    "/documents/{document_id}/pages/{page}",
    response_class=Response,
    responses={
        200: {
            "description": "The page as a PNG, `width` pixels wide (less for a page so tall "
            "that it would pass the pixel budget). `X-Highlighted: true` when the quote was "
            "found on the page and marked, and then `X-Highlight-Box` where: left, top, right, "
            "bottom as fractions of the page. An ETag; `If-None-Match` gets 304.",
            "headers": {
                "ETag": header("the image's: send it back as `If-None-Match`"),
                "Cache-Control": header(CACHE_CONTROL),
                "X-Highlighted": header("`true` when the quote was found and marked"),
                "X-Highlight-Box": header(
                    "left,top,right,bottom of the mark as fractions of the page", required=False
                ),
            },
            "content": {PNG: {"schema": {"type": "string", "format": "binary"}}},
        },
        304: {
            "description": "Not modified: the ETag of `If-None-Match`",
            "headers": {"ETag": header("the image's")},
        },
        **problem_responses(404, 422),
    },
    summary="A page of a document as an image, a quoted passage highlighted",
)
async def page_image(
    where: Annotated[PagePath, Depends(page_path)],
    params: Annotated[PageParams, Query()],
    request: Request,
    session: SessionDep,
    state: StateDep,
) -> Response:
    document = await state.ingestion.document(session.token_hash, where.document_id)  # 404
    wanted = PageRequest(document, where.page, params.width, params.quote)
    headers = {"ETag": wanted.etag, "Cache-Control": CACHE_CONTROL}
    if wanted.etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    image = await state.pages.image(session.token_hash, wanted)
    headers["X-Highlighted"] = "true" if image.highlighted else "false"
    if image.marked is not None:
        headers["X-Highlight-Box"] = ",".join(f"{v:.4f}" for v in image.marked)
    return Response(image.png, media_type=PNG, headers=headers)


def _etags(header: str) -> set[str]:
    """The ETags of an If-None-Match header; a weak one compares as its strong form."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
