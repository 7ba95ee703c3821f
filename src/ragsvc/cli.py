"""Command line: `ragsvc serve` (what `make run` does), `ragsvc migrate` (the PostgreSQL
schema), `ragsvc worker` (queued ingests), `ragsvc eval` (answer quality on a QA set, what
`make eval` runs), and the client of a running server, `ragsvc upload` and `ragsvc ask`
(client/commands.py).

Only typer and the client are imported here at start: `ragsvc --help`, `upload` and `ask`
never load the server's libraries (FastAPI, uvicorn, NumPy, FAISS, PyMuPDF, psycopg, ...),
which took seconds. Each server command imports what it needs when it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from ragsvc.client import commands as client_commands

if TYPE_CHECKING:
    from ragsvc.core.config import Settings

# No locals in a traceback: they would print the session token and the settings' secrets.
app = typer.Typer(
    help="ragsvc: chat with your PDFs.", no_args_is_help=True, pretty_exceptions_show_locals=False
)
app.command("upload")(client_commands.upload)
app.command("ask")(client_commands.ask)


@app.callback()
def main() -> None:
    """ragsvc command line."""


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(show_default=False, help="address to listen on (else HOST, or 127.0.0.1)"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, show_default=False, help="port to listen on (else PORT, or 8000)"
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="worker processes sharing RAGSVC_DATA_DIR")] = 1,
) -> None:
    """Serve the API with the settings from the environment (RAGSVC_*)."""
    from ragsvc.api.serving import serve_forever
    from ragsvc.core.config import Settings
    from ragsvc.core.orphans import SUPERVISOR_PID
    from ragsvc.runtime.logging_setup import configure_logging
    from ragsvc.runtime.shared_metrics import shared_by_workers

    settings = Settings()
    # Given options win over HOST/PORT (RAGSVC_HOST/RAGSVC_PORT); the app never reads them,
    # only uvicorn's listener does, so its workers need not be told.
    listen = {"host": host, "port": port}
    settings = settings.model_copy(update={k: v for k, v in listen.items() if v is not None})
    configure_logging(settings)
    if workers > 1 and not settings.redis_url:
        # Each process keeps its answers and rate limits: a resume that reaches another
        # worker would start the answer again.
        raise typer.BadParameter(
            "several workers need shared state: set RAGSVC_REDIS_URL", param_hint="--workers"
        )
    if workers > 1:  # each worker process exits with this supervisor, even a killed one
        os.environ[SUPERVISOR_PID] = str(os.getpid())
    _check_storage(settings)
    _check_listening(settings.host, settings.port)
    with shared_by_workers(workers):  # /metrics adds up the workers' metrics
        serve_forever(settings, workers)


def _check_listening(host: str, port: int) -> None:
    """Fail now, in one line, when HOST:PORT cannot be listened on (taken, or no address of
    this machine), rather than once the app is loaded, in uvicorn's log."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        typer.echo(
            f"ragsvc: cannot listen on {host}:{port} ({reason}): "
            "choose another with --host/--port (or HOST/PORT)",
            err=True,
        )
        raise typer.Exit(1) from exc


def _check_storage(settings: Settings) -> None:
    """Fail now, in one line, rather than in each worker's lifespan: an unusable data
    directory, or a database that does not answer (its schema is migrated here)."""
    import psycopg

    from ragsvc.runtime.backends import check_storage
    from ragsvc.storage.disk.store import DataDirUnusable

    try:
        check_storage(settings)
    except DataDirUnusable as exc:
        typer.echo(f"ragsvc: {exc}", err=True)
        raise typer.Exit(1) from exc
    except psycopg.Error as exc:
        _database_failed(exc)


def _database_failed(exc: Exception) -> NoReturn:
    typer.echo(f"ragsvc: PostgreSQL (RAGSVC_DATABASE_URL) failed: {exc}".strip(), err=True)
    raise typer.Exit(1) from exc


def _migrate(settings: Settings) -> list[str]:
    import psycopg

    from ragsvc.storage.postgres.migrate import migrate

    if settings.database_url is None:
        raise typer.BadParameter("set RAGSVC_DATABASE_URL", param_hint="RAGSVC_DATABASE_URL")
    try:
        return migrate(settings.database_url.get_secret_value())
    except psycopg.Error as exc:
        _database_failed(exc)


@app.command()
def worker(
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            show_default=False,
            help="port of its /healthz and /readyz probes (else RAGSVC_WORKER_PORT, 8001)",
        ),
    ] = None,
) -> None:
    """Ingest the uploads queued by API replicas (RAGSVC_INGEST_QUEUE=redis) until SIGTERM."""
    import anyio

    from ragsvc.api.probes import ProbePortUnavailable
    from ragsvc.core.config import Settings
    from ragsvc.runtime.backends import takes_queued_ingests
    from ragsvc.runtime.logging_setup import configure_logging
    from ragsvc.worker.job_loop import run_worker

    settings = Settings()
    if port is not None:
        settings = settings.model_copy(update={"worker_port": port})
    configure_logging(settings)
    if not takes_queued_ingests(settings):
        raise typer.BadParameter(
            "set RAGSVC_INGEST_QUEUE=redis (with RAGSVC_REDIS_URL and RAGSVC_STORE=postgres)",
            param_hint="RAGSVC_INGEST_QUEUE",
        )
    _check_storage(settings)
    try:
        anyio.run(run_worker, settings)
    except ProbePortUnavailable as exc:  # `ragsvc serve`, or another worker, has the port
        typer.echo(f"ragsvc worker: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the PostgreSQL schema at RAGSVC_DATABASE_URL, then exit."""
    from ragsvc.core.config import Settings

    applied = _migrate(Settings())
    typer.echo("applied: " + ", ".join(applied) if applied else "the schema is up to date")


@app.command("eval")
def evaluate_command(
    qa_files: Annotated[
        list[Path], typer.Argument(exists=True, help="QA sets, one JSON object per line")
    ],
    pdf_dir: Annotated[Path, typer.Option("--pdf-dir", exists=True, file_okay=False)],
    compare: Annotated[bool, typer.Option(help="also run the other configurations")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    show_misses: Annotated[bool, typer.Option("--misses", help="list non-first ranks")] = False,
) -> None:
    """Measure answer quality (page hits, MRR, citations, key terms stated, answer recall,
    unanswerable questions said so, wrong refusals, latency) per set, kind of question and
    document; questions asked in a row, alone, and with a set's documents in one session;
    the tutorial LangChain stack too where its packages are (the [bench] extra)."""
    import anyio

    from ragsvc.core.config import Settings
    from ragsvc.eval import evaluate, tables, tutorial_stack
    from ragsvc.eval.qa_sets import read_sets

    lines, settings = read_sets(qa_files), Settings()
    if compare:
        reports = anyio.run(evaluate.compare, lines, pdf_dir, settings)
    else:
        modes = (evaluate.IN_A_ROW, evaluate.ALONE, evaluate.ONE_SESSION)
        reports = anyio.run(evaluate.evaluate, lines, pdf_dir, settings, evaluate.DEFAULTS, modes)
    if absent := tutorial_stack.missing():
        typer.echo(f"(no tutorial stack row: it needs {absent}, pip install '.[bench]')", err=True)
    else:
        reports += evaluate.baseline_reports(lines, pdf_dir)
    typer.echo(tables.render(reports, as_json=as_json, misses=show_misses))
