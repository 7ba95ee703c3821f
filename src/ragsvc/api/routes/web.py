"""The web page at `/` and its static files: plain HTML, CSS and JS modules, no build step
and nothing from a CDN, so it works on a machine with no internet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parent.parent / "web"
# Everything the page loads comes from this server; nothing inline, nothing third-party.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

router = APIRouter(tags=["web"])


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(
        WEB / "index.html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> FileResponse:
    """For whatever asks at the conventional address; the page names the SVG itself."""
    return FileResponse(
        WEB / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=WEB), name="static")
