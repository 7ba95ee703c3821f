"""The container as operators run it: built by `make image` with no network inside the build
(on a local Debian base made by `make image-base`), run read-only with a tmpfs /tmp, healthy,
answering, stopped cleanly, and started again on its volume with the document still there.
Slow; needs Docker's daemon (`make docker`, root, as in CI)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.apps import parse_sse
from tests.support.paths import ROOT
from tests.support.pdfs import make_pdf
from tests.support.services import unavailable

# The first test builds the base and the image: about 3 minutes on a machine that has
# neither (debootstrap, then the wheels and the build), past the suite's 120 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
IMAGE = "ragsvc-test"
PAGES = ["Herons hunt fish in shallow water at dawn.", "Kingfishers dive from perches."]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def image() -> str:
    try:
        if docker("info", check=False).returncode != 0:
            unavailable("Docker's daemon is not running", "make docker")
    except FileNotFoundError:
        unavailable("docker is not installed", "make docker")
    for target in (["image-base"], ["image", "BASE=ragsvc-base:bookworm", f"IMAGE={IMAGE}"]):
        built = subprocess.run(["make", *target], cwd=ROOT, capture_output=True, text=True)
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return IMAGE


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"ragsvc-test-{uuid.uuid4().hex[:8]}"
    yield name
    docker("volume", "rm", "-f", name, check=False)


def health(container: str) -> str:
    return docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()


def healthy(container: str, timeout: float = 90) -> str:
    """The container's base URL once Docker's health check says healthy."""
    deadline = time.monotonic() + timeout
    while (status := health(container)) != "healthy":
        logs = docker("logs", container).stderr[-3000:]
        assert status != "unhealthy" and time.monotonic() < deadline, logs
        time.sleep(0.5)
    port = docker("port", container, "8000/tcp").stdout.split(":")[-1].strip()
    return f"http://127.0.0.1:{port}"


def test_the_image_answers_stops_cleanly_and_keeps_its_data(image: str, volume: str):
    name = f"ragsvc-test-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "-d", "--name", name, "--init", "--read-only", "--tmpfs", "/tmp",
        "-p", "127.0.0.1::8000", "-v", f"{volume}:/data", image,
    )  # fmt: skip
    try:
        base = healthy(name)
        up = httpx.post(f"{base}/upload", files={"files": ("b.pdf", make_pdf(PAGES))}, timeout=60)
        assert up.status_code == 201, up.text
        who = {"Authorization": f"Bearer {up.json()['token']}"}
        asked = httpx.post(f"{base}/ask", json={"question": "herons?"}, headers=who, timeout=60)
        assert parse_sse(asked.text)[-1]["event"] == "done"
        started = time.monotonic()
        docker("stop", name)
        assert time.monotonic() - started < 10
        assert "Finished server process" in docker("logs", name).stderr
        docker("start", name)
        base = healthy(name)
        listed = httpx.get(f"{base}/documents", headers=who, timeout=10).json()["documents"]
        assert [(d["filename"], d["status"]) for d in listed] == [("b.pdf", "ready")]
    finally:
        docker("rm", "-f", name, check=False)


def test_a_data_volume_it_cannot_write_stops_it_with_one_line(image: str, tmp_path: Path):
    owned_by_root = tmp_path / "data"
    owned_by_root.mkdir(mode=0o755)
    ran = docker("run", "--rm", "-v", f"{owned_by_root}:/data", image, check=False)
    assert ran.returncode == 1
    assert "/data" in ran.stderr and "RAGSVC_DATA_DIR" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_the_image_ships_no_pip_and_not_the_unused_onnxruntime(image: str):
    modules = ("pip", "onnxruntime", "ragsvc")
    probe = f"import importlib.util as u, json; print(json.dumps([bool(u.find_spec(m)) for m in {modules}]))"  # noqa: E501
    found = docker("run", "--rm", "--entrypoint", "python", image, "-c", probe).stdout
    assert json.loads(found) == [False, False, True]
