"""Layers you can check: only the web layer imports the web framework. Domain modules and use
cases load in a fresh interpreter without FastAPI or Starlette, so they can be used (and
tested) without HTTP."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import ragsvc

# The web layer: routes, dependencies, the SSE wire format, HTTP errors and the app factory.
WEB_LAYER = (
    "ragsvc.api.app",
    "ragsvc.api.cookies",
    "ragsvc.api.deps",
    "ragsvc.api.problems",
    "ragsvc.api.middleware",
    "ragsvc.api.openapi_doc",
    "ragsvc.api.openapi_export",
    "ragsvc.api.routes",
    "ragsvc.api.serving",
    "ragsvc.api.sse",
    "ragsvc.api.ai_sdk_frames",
    # The worker process: it serves the API's health routes as its probes.
    "ragsvc.api.probes",
    "ragsvc.worker.job_loop",
)
FRAMEWORKS = ("fastapi", "starlette", "sse_starlette")


def in_web_layer(module: str) -> bool:
    return any(module == web or module.startswith(f"{web}.") for web in WEB_LAYER)


def test_domain_and_use_case_modules_import_no_web_framework():
    modules = [
        m.name
        for m in pkgutil.walk_packages(ragsvc.__path__, "ragsvc.")
        if not in_web_layer(m.name)
    ]
    assert {
        "ragsvc.answer.answering",
        "ragsvc.ingest.ingestion",
        "ragsvc.runtime.app_state",
    } <= set(modules)
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == [], "a domain or use-case module loads the web framework"
