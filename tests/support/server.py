"""Run ragsvc as a real process (the console script `make run` uses) for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

RAGSVC = Path(sys.executable).with_name("ragsvc")
GUARDED_HTTP_PROTOCOL = "ragsvc.api.serving:GuardedHttpProtocol"  # as `ragsvc serve` runs it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, *args: str, **env: str) -> Iterator[str]:
    """Start `ragsvc serve [args]` on a free loopback port; yield its base URL; stop it after."""
    with server_process(data_dir, *args, **env) as (base, _):
        yield base


@contextmanager
def server_process(
    data_dir: Path,
    *args: str,
    popen: dict[str, Any] | None = None,
    port: int | None = None,
    **env: str,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`running_server`, also yielding the process (for tests that kill it themselves);
    `popen`: more arguments for subprocess.Popen; `port`: this one, not a free one."""
    port = port or free_port()
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RAGSVC_DATA_DIR": str(data_dir),
        **env,
    }
    log = (data_dir.parent / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [str(RAGSVC), "serve", *args], env=environment, stdout=log, stderr=log, **(popen or {})
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base, process
    finally:
        stop(process, 10)
        log.close()


def stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `grace` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def worker_process(log_dir: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`ragsvc worker` with these settings, once it takes jobs; stopped (SIGTERM) after."""
    port = free_port()
    log_path = log_dir / f"worker-{port}.log"
    environment = {**os.environ, "HOST": "127.0.0.1", "RAGSVC_WORKER_PORT": str(port), **env}
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(RAGSVC), "worker"], env=environment, stdout=log, stderr=log)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)  # its probes answer once it takes jobs
        yield process
    finally:
        stop(process, 20)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (zombies excluded), read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (not gone, not zombies)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def until_ready(base: str, timeout: float = 30) -> dict[str, str]:
    """/readyz's body once it answers 200 (the page workers start after the app does)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.get(f"{base}/readyz", timeout=5)
        if reply.status_code == 200 or time.monotonic() > deadline:
            assert reply.status_code == 200, reply.text
            return dict(reply.json())
        time.sleep(0.05)


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError("server not ready")


@contextmanager
def serving_in_thread(app: ASGIApp, **options: Any) -> Iterator[str]:
    """Serve an app object (e.g. with fake backends) with uvicorn on a loopback socket;
    `options` for uvicorn (those of `ragsvc serve`: serving.uvicorn_options)."""
    port = free_port()
    defaults = {"log_level": "warning", "http": GUARDED_HTTP_PROTOCOL}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **{**defaults, **options})
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # The lifespan loads the backends first: torch and MiniLM take over 10 s on a busy VM.
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        raise TimeoutError("the app did not start serving within 60 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
