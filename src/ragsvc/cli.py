"""Command line: `ragsvc serve` (what `make run` does)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import typer
import uvicorn

from ragsvc.config import Settings

app = typer.Typer(help="ragsvc: chat with your PDFs.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """ragsvc command line."""


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="worker processes sharing RAGSVC_DATA_DIR")] = 1,
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


@app.command("eval")
def evaluate_command(
    qa_file: Annotated[Path, typer.Argument(exists=True, help="QA set, one JSON per line")],
    pdf_dir: Annotated[Path, typer.Option("--pdf-dir", exists=True, file_okay=False)],
    show_misses: Annotated[bool, typer.Option("--misses", help="list non-first ranks")] = False,
) -> None:
    """Measure retrieval (hit@k by page, MRR) with the configured backends."""
    from ragsvc.evaluate import evaluate

    report = anyio.run(evaluate, qa_file, pdf_dir, Settings())
    typer.echo(report.table())
    if show_misses:
        for miss in report.misses:
            typer.echo(f"- {miss}")
