"""The `ragsvc` program itself: `--help` (and the client commands) load none of the server's
libraries, and `serve --host/--port` win over HOST/PORT. The client commands' behaviour is
tested in tests/client/test_commands.py, the server commands' start-up checks next to what
they check (tests/http/test_deploy_errors.py, tests/worker/)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragsvc.cli import app as cli
from tests.support.server import RAGSVC, _wait_ready, free_port, stop

# What the server commands import, and `--help` should not: together they took seconds.
HEAVY = {
    "fastapi", "starlette", "uvicorn", "sse_starlette", "numpy", "faiss", "pymupdf", "fitz",
    "wordllama", "bm25s", "psycopg", "redis", "openai", "prometheus_client", "anyio",
}  # fmt: skip


def imported_by(*args: str) -> set[str]:
    """The top-level packages `ragsvc args` imports, from Python's own import log."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    run = subprocess.run([str(RAGSVC), *args], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines[1:]}


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["ask", "--help"]])
def test_help_loads_none_of_the_servers_libraries(args: list[str]):
    imported = imported_by(*args)
    assert "typer" in imported and "httpx" in imported  # the log was read
    assert imported & HEAVY == set()


def test_serve_refuses_a_port_out_of_range():
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in " ".join(result.output.split())


@pytest.mark.slow
def test_serve_host_and_port_win_over_the_environment(tmp_path: Path):
    env_port, port = free_port(), free_port()
    env = {
        **os.environ,
        "HOST": "203.0.113.7",  # not this machine's: serving there would fail to bind
        "PORT": str(env_port),
        "RAGSVC_DATA_DIR": str(tmp_path / "data"),
    }
    args = [str(RAGSVC), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        try:
            _wait_ready(f"http://127.0.0.1:{port}", server)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", env_port), timeout=5).close()
        finally:
            stop(server, 10)


def test_serve_on_a_port_taken_stops_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAGSVC_DATA_DIR", str(tmp_path / "data"))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--host", "127.0.0.1", "--port", str(port)])
    assert result.exit_code == 1, result.output
    [line] = result.output.splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
