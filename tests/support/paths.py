"""Where things are: the repository, and the shared test data beside it (../shared)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
SHARED_DATA = ROOT.parent / "shared" / "data"  # real PDFs, read in place, never copied in
JS = ROOT / "tests" / "js"  # the JavaScript packages the e2e suite runs
