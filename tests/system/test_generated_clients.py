"""Clients generated from openapi/openapi.json alone call a live server correctly: a Python
client made by openapi-python-client, and TypeScript types made by openapi-typescript used
with openapi-fetch (tests/js/generated_client.ts, compiled by tsc --strict and run by Node).
Before either, `redocly lint` finds nothing in the document. The examples of docs/clients.md's
"Generated clients" run too, generated from the live server's /openapi.json as they say."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.apps import parse_sse
from tests.support.fakes import fake_backends
from tests.support.paths import JS, ROOT
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread
from tests.support.services import unavailable

pytestmark = pytest.mark.e2e
DOCUMENT = ROOT / "openapi" / "openapi.json"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
BIN = JS / "node_modules" / ".bin"
PAGES = [
    "Barn owls hunt voles at night using their acute hearing.",
    "Peregrine falcons stoop at over three hundred km per hour.",
]
OTHER_PAGES = ["Swifts sleep on the wing."]  # uploaded without waiting: a new document
QUESTION = "What do barn owls hunt?"
CLIENTS_DOC = (ROOT / "docs" / "clients.md").read_text()
KEEPER = [  # the pages docs/clients.md's examples ask about
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "The keeper records every passing ship in a leather logbook.",
]
PACKAGE = "ragsvc_generated"  # the Python client's package, in a temporary directory
# The client's strict compile: tests/js/generated_client.ts next to the generated types.
TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "NodeNext",
        "moduleResolution": "NodeNext",
        "lib": ["ES2022", "DOM", "DOM.AsyncIterable"],
        "types": ["node"],
        "strict": True,
        "noEmitOnError": True,
        "skipLibCheck": True,
        "outDir": "out",
    },
    "files": ["generated_client.ts"],
}


def examples(language: str) -> list[str]:
    """The code blocks of docs/clients.md's section "Generated clients"."""
    section = CLIENTS_DOC.split("\n## Generated clients\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def tool(name: str) -> str:
    found = BIN / name
    if shutil.which("node") is None or not found.exists():
        unavailable(f"Node.js and {name} (tests/js) are not installed", "make js-deps")
    return str(found)


# Redocly CLI reports its use to redocly.com and looks for a newer version on npm: tests touch
# no network but loopback.
OFFLINE = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}


def run(*command: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **OFFLINE}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("generated") / "data")
    with serving_in_thread(create_app(settings, fake_backends(settings))) as base:
        yield base


def test_redocly_finds_nothing_in_the_document():
    report = run(tool("redocly"), "lint", str(DOCUMENT), "--format=json", cwd=ROOT)
    totals = json.loads(report)["totals"]
    assert totals == {"errors": 0, "warnings": 0, "ignored": 0}, report


@contextlib.contextmanager
def importable(folder: Path, package: str) -> Iterator[None]:
    """`package` importable from `folder`, and forgotten after."""
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n.split(".")[0] == package]:
            del sys.modules[name]


def typescript_project(folder: Path, source: Path | str) -> None:
    """`folder` set up to compile `source` as generated_client.ts (tsconfig, Node's packages)."""
    (folder / "node_modules").symlink_to(JS / "node_modules")
    (folder / "package.json").write_text('{"type": "module"}')
    (folder / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    target = folder / "generated_client.ts"
    if isinstance(source, Path):
        shutil.copy(source, target)
    else:
        target.write_text(source)


@pytest.fixture(scope="module")
def python_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported from a temporary directory, forgotten after."""
    if not GENERATOR.exists():
        unavailable("openapi-python-client is not installed", "make test-e2e installs [e2e]")
    folder = tmp_path_factory.mktemp("python-client")
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [str(GENERATOR), "generate", "--path", str(DOCUMENT), "--meta", "none",
         "--output-path", str(folder / PACKAGE)],
        check=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    with importable(folder, PACKAGE):
        yield importlib.import_module(PACKAGE)


def generated(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def pdf_body(pages: list[str] = PAGES) -> Any:
    files = generated("types").File(io.BytesIO(make_pdf(pages)), "birds.pdf", "application/pdf")
    return generated("models").UploadBody(files=[files])


def session_client(package: ModuleType, base: str) -> Any:
    """A client of a new session, made by a first upload."""
    with package.Client(base_url=base) as anonymous:
        created = generated("api.documents.upload").sync(client=anonymous, body=pdf_body())
    assert created.documents[0].status.value == "ready" and created.token
    return package.AuthenticatedClient(base_url=base, token=created.token)


def test_the_generated_python_client(python_client: ModuleType, served: str):
    with session_client(python_client, served) as client:
        answered = generated("api.ask.answer").sync_detailed(
            client=client, body=generated("models").AskRequest(question=QUESTION)
        )
        queued = generated("api.documents.upload").sync_detailed(
            client=client, body=pdf_body(OTHER_PAGES), wait=False
        )
    answer = answered.parsed
    assert isinstance(answer, generated("models").Answer), answered.content
    assert "voles" in answer.answer and answer.citations == [1]
    assert answer.sources[0].filename == "birds.pdf" and answer.sources[0].page == 1
    assert answered.headers["X-Answer-Id"]
    assert queued.status_code == 202
    assert queued.parsed.documents[0].status.value == "processing"


def test_the_generated_python_client_reads_a_stream_whole(python_client, served: str):
    with session_client(python_client, served) as client:
        stream = generated("api.ask.ask").sync(
            client=client, body=generated("models").AskRequest(question=QUESTION)
        )
    events = [frame["event"] for frame in parse_sse(stream)]
    assert events[0] == "sources" and events[-1] == "done"


def test_typescript_types_and_openapi_fetch(served: str, tmp_path: Path):
    tsc, generate = tool("tsc"), tool("openapi-typescript")
    typescript_project(tmp_path, JS / "generated_client.ts")
    # Optional request fields with a default are optional (the tool's default says otherwise).
    run(generate, str(DOCUMENT), "-o", str(tmp_path / "schema.ts"), "--default-non-nullable",
        "false")  # fmt: skip
    run(tsc, "-p", str(tmp_path))
    pdfs = [tmp_path / "birds.pdf", tmp_path / "swifts.pdf"]
    for path, pages in zip(pdfs, [PAGES, OTHER_PAGES], strict=True):
        path.write_bytes(make_pdf(pages))
    script = str(tmp_path / "out" / "generated_client.js")
    read = json.loads(run("node", script, served, QUESTION, *map(str, pdfs)))
    assert read["queued"] == {"status": 202, "document": "processing"}
    assert "voles" in read["answer"]["text"] and read["answer"]["citations"] == [1]
    assert read["answer"]["filename"] == "birds.pdf" and read["answer"]["id"]
    stream = read["stream"]
    assert stream["events"][0] == "sources" and stream["events"][-1] == "done"
    assert stream["text"] == stream["answer"] and "voles" in stream["text"]
    assert stream["firstPage"] == 1 and stream["citations"] == [1] and stream["id"]
    assert "voles" in read["chat"]["content"] and read["chat"]["sources"] >= 1


def test_the_docs_examples(served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tsc = tool("tsc")
    if not GENERATOR.exists():
        unavailable("openapi-python-client is not installed", "make test-e2e installs [e2e]")
    (tmp_path / "paper.pdf").write_bytes(make_pdf(KEEPER))
    files = {"files": ("paper.pdf", (tmp_path / "paper.pdf").read_bytes())}
    token = httpx.post(f"{served}/upload", files=files).json()["token"]
    typescript_project(tmp_path, f"const BASE = {served!r}; const TOKEN = {token!r};\n"
                       + examples("ts")[0])  # fmt: skip
    env = {**os.environ, "BASE": served, "PATH": os.pathsep.join(
        [str(GENERATOR.parent), str(BIN), os.environ["PATH"]])}  # fmt: skip
    generation = subprocess.run(["bash", "-euo", "pipefail", "-c", examples("sh")[0]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert generation.returncode == 0, generation.stderr
    run(tsc, "-p", str(tmp_path))
    printed = run("node", str(tmp_path / "out" / "generated_client.js"))
    assert "] paper.pdf, page 2" in printed
    monkeypatch.chdir(tmp_path)  # the Python example opens paper.pdf
    out = io.StringIO()
    with importable(tmp_path, "ragsvc_client"), contextlib.redirect_stdout(out):
        code = compile(examples("py")[0], "docs/clients.md", "exec")
        exec(code, {"BASE": served, "TOKEN": token})
    assert out.getvalue().startswith("ready\n") and "] paper.pdf, page 2" in out.getvalue()
