"""Run ragsvc as a real process (the console script `make run` uses) for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

RAGSVC = Path(sys.executable).with_name("ragsvc")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, *args: str, **env: str) -> Iterator[str]:
    """Start `ragsvc serve [args]` on a free loopback port; yield its base URL; stop it after."""
    port = free_port()
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RAGSVC_DATA_DIR": str(data_dir),
        **env,
    }
    log = (data_dir.parent / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [str(RAGSVC), "serve", *args], env=environment, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


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
