"""Debian's chromium driven by Playwright (Playwright's own browser download does not work
here): the launch every browser test shares (conftest's `browser` fixture is one)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.services import unavailable

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium, closed after; unavailable (a failure in CI) where Playwright or
    chromium is missing."""
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        unavailable("Playwright is not installed", "make test-e2e installs it")
    if not Path(CHROMIUM).exists():
        unavailable("chromium is not installed", "make browser, as root")
    with sync_api.sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()
