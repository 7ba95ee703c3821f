"""`/docs` (Swagger UI) and `/redoc` (ReDoc) with their files served from the
`fastapi-offline` package, so both work on a machine with no internet (FastAPI's own pages
load them from a CDN). Neither page holds an inline script: Swagger UI's options are in
`web/swagger-init.js`, and the policy allows scripts from this server only."""

from __future__ import annotations

from html import escape
from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"  # the package's swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js
# Both renderers set inline style attributes; ReDoc also starts its search index in a worker
# made from a blob: URL.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; font-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = escape(request.scope.get("root_path", ""))
    return _page(
        "ragsvc API",
        f'<link rel="stylesheet" href="{root}{ASSETS}/swagger-ui.css">',
        f'<div id="swagger-ui"></div><script src="{root}{ASSETS}/swagger-ui-bundle.js"></script>'
        f'<script src="{root}/static/swagger-init.js" data-spec="{root}/openapi.json"></script>',
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = escape(request.scope.get("root_path", ""))
    return _page(
        "ragsvc API",
        "",
        f'<redoc spec-url="{root}/openapi.json"></redoc>'
        f'<script src="{root}{ASSETS}/redoc.standalone.js"></script>',
    )


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>{head}</head><body>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


def mount_assets(app: FastAPI) -> None:
    static = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
