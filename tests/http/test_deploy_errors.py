"""Deployment mistakes say what to fix: a data directory the process cannot use stops
`serve` with one line naming it; a temporary directory that cannot take an upload's spooled
body makes /readyz and the upload 503s naming it, not a 400 blaming the client."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from ragsvc.cli import app as cli
from ragsvc.core.config import Settings
from ragsvc.pdf.page_workers import PdfWorkers, WorkerLimits
from tests.support.apps import app_client, client_on
from tests.support.fakes import fake_backends

pytestmark = pytest.mark.anyio


def test_serve_with_an_unusable_data_dir_exits_with_a_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data directory's parent should be")
    monkeypatch.setenv("RAGSVC_DATA_DIR", str(blocker / "data"))
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert str(blocker / "data") in result.output and "RAGSVC_DATA_DIR" in result.output
    assert "Traceback" not in result.output


async def test_an_unusable_temp_dir_is_a_503_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    settings = Settings(data_dir=tmp_path / "data")
    async with app_client(settings) as http:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
        ready = await http.get("/readyz")
        # over starlette's 1 MB in memory, the body is spooled to the temp dir
        body = {"files": ("big.pdf", b"%PDF-1.4\n" + b"0" * (2 * 2**20))}
        upload = await http.post("/upload", files=body)
    for reply in (ready, upload):
        assert reply.status_code == 503, reply.text
        assert str(tmp_path / "gone") in reply.json()["detail"]


async def test_readyz_waits_for_the_pdf_page_workers(settings: Settings):
    """Ready means an upload is served now: not while the page workers are still starting."""
    backends = fake_backends(settings)
    backends.pdf_workers = PdfWorkers(1, WorkerLimits(settings.parse_timeout_s, 512))
    warm = backends.pdf_workers.warm
    try:
        async with client_on(settings, backends) as http:
            await anyio.to_thread.run_sync(warm.wait, 30)  # the warm-up is over: then
            warm.clear()  # as if it were not, for the one thing this test looks at
            starting = await http.get("/readyz")
            warm.set()
            ready = await http.get("/readyz")
    finally:
        await anyio.to_thread.run_sync(backends.pdf_workers.close)
    assert starting.status_code == 503
    assert starting.json()["detail"] == "still starting the PDF page workers"
    assert ready.status_code == 200
