"""Whether OCR can run here: a reason when Tesseract or one of its languages is missing,
None when it can; the probe itself never raises (the slow OCR tests are in test_ocr.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ragsvc.pdf.ocr import ocr_unavailable, tessdata


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    tessdata.cache_clear()  # the folder is found once per process: find it anew
    yield
    tessdata.cache_clear()


def test_the_probe_says_why_ocr_cannot_run_or_nothing(fresh_probe: None):
    reason = ocr_unavailable("eng")
    assert reason is None or "Tesseract" in reason
    missing = ocr_unavailable("eng+xyz")  # no Tesseract knows a language named xyz
    assert missing is not None and "Tesseract" in missing


def test_languages_without_their_data_are_named(
    fresh_probe: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))  # PyMuPDF's probe looks here first
    (tmp_path / "eng.traineddata").write_bytes(b"")
    (tmp_path / "deu.traineddata").write_bytes(b"")
    assert ocr_unavailable("eng") is None
    assert ocr_unavailable("deu+eng") is None
    assert ocr_unavailable("eng+fra+ita") == (
        f"Tesseract has no data for fra, ita in {tmp_path} (tesseract-ocr-<lang>)"
    )
