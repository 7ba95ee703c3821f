"""The container as operators run it: built by `make image` with no network inside the build
(on a local Debian base made by `make image-base`), run read-only with a tmpfs /tmp, healthy,
answering, stopped cleanly, and started again on its volume with the document still there.
Its entrypoint is ragsvc (`--help`, `worker`), its modules load from compiled bytecode, it
ships no package lists, translations, numpy test suites, pip, setuptools or hub client, and
`make image` on a base that is missing says to make one.
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
    left_out = ("pip", "setuptools", "_distutils_hack", "onnxruntime", "huggingface_hub", "hf_xet")
    modules = (*left_out, "ragsvc", "tokenizers", "wordllama")
    probe = f"import importlib.util as u, json; print(json.dumps([bool(u.find_spec(m)) for m in {modules}]))"  # noqa: E501
    found = docker("run", "--rm", "--entrypoint", "python", image, "-c", probe).stdout
    assert json.loads(found) == [False] * len(left_out) + [True] * 3


def test_the_entrypoint_is_ragsvc_so_arguments_are_its_own(image: str):
    helped = docker("run", "--rm", image, "--help", check=False)
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "worker" in helped.stdout
    worker = docker("run", "--rm", image, "worker", "--help", check=False)
    assert worker.returncode == 0, worker.stderr
    assert "Usage: ragsvc worker" in " ".join(worker.stdout.split())


# Every module the server imports to start, from ragsvc's own to numpy's and FastAPI's.
LOADED_FROM_BYTECODE = """
import json, os, sys
import ragsvc.cli, ragsvc.api.app_factory, ragsvc.worker.job_loop, numpy, faiss, pymupdf
cached = [m for m in list(sys.modules.values()) if getattr(m, "__cached__", None)]
print(json.dumps({
    "modules": len(cached),
    "uncompiled": sorted(m.__name__ for m in cached if not os.path.exists(m.__cached__)),
    "ragsvc": sum(m.__name__.startswith("ragsvc") for m in cached),
}))
"""


def test_modules_load_from_bytecode_compiled_into_the_read_only_image(image: str):
    ran = docker(
        "run", "--rm", "--read-only", "--entrypoint", "python", image, "-c", LOADED_FROM_BYTECODE
    )  # fmt: skip
    found = json.loads(ran.stdout)
    assert found["uncompiled"] == [] and found["ragsvc"] > 20 and found["modules"] > 300, found


def test_the_image_ships_no_package_lists_translations_or_numpy_test_suites(image: str):
    probe = (
        "import glob, json, numpy, os; print(json.dumps(["
        "os.listdir('/var/lib/apt/lists') if os.path.isdir('/var/lib/apt/lists') else [],"
        "sorted(set(os.listdir('/usr/share/locale')) - {'locale.alias'})"
        " if os.path.isdir('/usr/share/locale') else [],"
        "glob.glob(os.path.dirname(numpy.__file__) + '/**/tests', recursive=True)]))"
    )
    found = docker("run", "--rm", "--entrypoint", "python", image, "-c", probe).stdout
    assert json.loads(found) == [[], [], []]


def test_make_image_on_a_missing_base_says_how_to_make_one(image: str):
    built = subprocess.run(
        ["make", "image", "BASE=ragsvc-no-such-base:none", f"IMAGE={IMAGE}-never"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode != 0
    assert "make image-base && make image BASE=ragsvc-base:bookworm" in built.stderr
    assert "ragsvc-no-such-base:none" in built.stderr
