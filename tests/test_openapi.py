"""The committed OpenAPI document matches the code (run `make openapi` after API changes)."""

from __future__ import annotations

from pathlib import Path

from ragsvc.openapi_export import openapi_document, render

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_committed_openapi_is_current():
    assert COMMITTED.read_text() == render(), "stale: run `make openapi` and commit the result"


def test_every_contract_route_is_documented():
    paths = openapi_document()["paths"]
    expected = {
        ("post", "/sessions"), ("get", "/sessions/current"), ("delete", "/sessions/current"),
        ("post", "/upload"), ("get", "/documents"), ("get", "/documents/{document_id}"),
        ("delete", "/documents/{document_id}"), ("post", "/ask"), ("get", "/ask"),
        ("get", "/healthz"), ("get", "/readyz"),
    }  # fmt: skip
    documented = {(method, path) for path, item in paths.items() for method in item}
    assert expected <= documented
    upload = paths["/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "files" in upload["schema"]["properties"]
    assert "text/event-stream" in paths["/ask"]["post"]["responses"]["200"]["content"]
