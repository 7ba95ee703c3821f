"""Debian's nginx, run as a process of its own with `docker/nginx.conf` (its upstreams pointed
at loopback replicas, its port at a free one): the proxy the replica suites test through.
Skips, saying so, where nginx is not installed (`make proxy`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.paths import ROOT
from tests.support.server import free_port
from tests.support.services import unavailable

SITE = ROOT / "docker" / "nginx.conf"  # read at each start: a run may point it at another
UPSTREAM = re.compile(r"(?m)^    server api\d:8000([^;]*);\n")  # with its parameters


def nginx_config(proxy_port: int, upstreams: list[str], scratch: Path) -> Path:
    """The site with loopback upstreams (each with the parameters of the site's own servers)
    and port, inside a main config of its own."""
    site = SITE.read_text()
    parameters = UPSTREAM.findall(site)
    assert parameters, f"no `server apiN:8000 ...;` line in {SITE}"
    servers = "".join(f"    server {address}{parameters[0]};\n" for address in upstreams)
    site = UPSTREAM.sub("", site)
    site = site.replace("upstream ragsvc {\n", "upstream ragsvc {\n" + servers)
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{proxy_port};")
    config = scratch / "nginx.conf"
    config.write_text(
        f"pid {scratch}/nginx.pid;\nerror_log {scratch}/nginx-error.log;\n"
        "events { worker_connections 512; }\n"
        f"http {{\n access_log off;\n client_body_temp_path {scratch}/body;\n"
        f" proxy_temp_path {scratch}/proxy;\n{site}\n}}\n"
    )
    return config


@contextmanager
def nginx(config: Path, port: int) -> Iterator[str]:
    """nginx running `config`, listening on `port`; yields its base URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        unavailable("nginx is not installed", "apt-get install nginx")
    log = config.parent / "nginx-stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [binary, "-c", str(config), "-p", str(config.parent), "-g", "daemon off;"],
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def in_front_of(replicas: list[str], scratch: Path) -> Iterator[str]:
    """nginx, with `docker/nginx.conf`, in front of these replicas (their base URLs), its
    files in `scratch` (made here); yields its base URL."""
    scratch.mkdir()
    port, upstreams = free_port(), [base.removeprefix("http://") for base in replicas]
    with nginx(nginx_config(port, upstreams, scratch), port) as base:
        yield base
