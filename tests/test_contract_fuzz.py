"""Schemathesis against the app (issue 10): generated requests to every operation of the
OpenAPI document, valid and not (wrong methods, missing fields, bad types), must never get
a server error, and every response must match what the document says: status, content
type, headers, body. Bounded, so CI can run it: slow tier."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient

from ragsvc.app import create_app
from ragsvc.config import Settings

from .conftest import make_pdf

pytestmark = pytest.mark.slow
EXAMPLES = 100  # per operation: about 20 s for them all here
# The app is built at import (schemathesis reads its document then) but touches no disk
# until the fixture below runs its lifespan; the fixture removes what it made.
DATA = Path(tempfile.gettempdir()) / f"ragsvc-fuzz-{os.getpid()}"
SETTINGS = Settings(
    data_dir=DATA, session_rate_per_minute=0, ask_rate_per_minute=0, failed_auth_per_minute=0
)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[TestClient, str]]:
    """The app with its lifespan (and the embedded backends) running, and the token of a
    session holding a document."""
    try:
        with TestClient(APP) as client:
            files = {"files": ("gulls.pdf", make_pdf(["Gulls nest on the cliffs in spring."]))}
            yield client, client.post("/upload", files=files).json()["token"]
    finally:
        shutil.rmtree(DATA, ignore_errors=True)


@schema.parametrize()
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, served: tuple[TestClient, str]
) -> None:
    client, token = served
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, session=client)
