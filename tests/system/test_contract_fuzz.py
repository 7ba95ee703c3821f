"""Schemathesis against a real `ragsvc serve`: generated requests to every
operation of the OpenAPI document, valid and not (wrong methods, missing fields, bad
types), must never get a server error, and every response must match what the document
says: status, content type, headers, body. Run through schemathesis's own command line,
with a bounded number of examples, so CI can afford it: slow tier.

The document describes an SSE event with its `data` parsed (so openapi-typescript links each
payload's type); on the wire `data` is that JSON as a string, which is how OpenAPI 3.2 and
schemathesis describe it (`contentMediaType` + `contentSchema`). The test hands schemathesis
the document with each frame's `data` restated that way: the payload schemas stay the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.pdfs import make_pdf
from tests.support.server import running_server

pytestmark = pytest.mark.slow
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 60  # per operation and phase: about a minute for them all here


def test_every_operation_answers_as_documented(tmp_path: Path):
    unlimited = {
        "RAGSVC_SESSION_RATE_PER_MINUTE": "0",
        "RAGSVC_ASK_RATE_PER_MINUTE": "0",
        "RAGSVC_FAILED_AUTH_PER_MINUTE": "0",
    }
    with running_server(tmp_path / "data", **unlimited) as base:
        files = {"files": ("gulls.pdf", make_pdf(["Gulls nest on the cliffs in spring."]))}
        token = httpx.post(f"{base}/upload", files=files).json()["token"]
        document = tmp_path / "openapi.json"
        document.write_text(json.dumps(as_on_the_wire(httpx.get(f"{base}/openapi.json").json())))
        run = subprocess.run(
            [str(SCHEMATHESIS), "run", str(document), "--url", base, "--checks", "all",
             "--max-examples", str(EXAMPLES), "--header", f"Authorization: Bearer {token}",
             "--generation-deterministic", "--report-dir", str(tmp_path / "report"),
             # deleting the session would leave every later request a 401
             "--exclude-name", "DELETE /sessions/current",
             # a request can fit the schema and still be refused, rightly: a file that is
             # not a PDF (415), a conversation that does not end with a question (422)
             "--exclude-checks", "positive_data_acceptance"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
    assert run.returncode == 0, run.stdout[-12000:]


def as_on_the_wire(document: dict[str, Any]) -> dict[str, Any]:
    """Each SSE frame's parsed `data` restated as the JSON string that carries it."""
    for schema in document["components"]["schemas"].values():
        data = schema.get("properties", {}).get("data")
        if data is not None and "$ref" in data:
            schema["properties"]["data"] = {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": data["$ref"]},
            }
    return document
