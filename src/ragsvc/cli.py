"""Command line: `ragsvc serve` (what `make run` does)."""

from __future__ import annotations

import typer
import uvicorn

from ragsvc.config import Settings

app = typer.Typer(help="ragsvc: chat with your PDFs.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """ragsvc command line."""


@app.command()
def serve(
    workers: int = typer.Option(1, help="worker processes sharing RAGSVC_DATA_DIR"),
) -> None:
    """Serve the API on HOST:PORT with the settings from the environment (RAGSVC_*)."""
    settings = Settings()
    uvicorn.run(
        "ragsvc.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
    )
