"""The services some tests need (Redis, PostgreSQL, a browser, Tesseract, Docker): a test
whose means are missing here skips, saying why; in CI (`CI` set) it fails instead."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str, hint: str = "") -> NoReturn:
    """Skip a test whose means are missing here; in CI (`CI` set) fail it instead: CI must
    really run every test."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run this test")
    pytest.skip(f"{reason}{f' ({hint})' if hint else ''}")


TEST_REDIS = os.environ.get("RAGSVC_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


TEST_POSTGRES = os.environ.get("RAGSVC_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")
