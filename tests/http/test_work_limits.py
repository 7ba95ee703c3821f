"""Ingestion work is admitted per session and per process: one session cannot evict or
cancel another's work, and a full server refuses new work rather than cancel what runs."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from ragsvc.core.config import Settings
from tests.support.apps import app_client, app_of
from tests.support.fakes import GatedEmbedder
from tests.support.uploads import new_session, upload_later

pytestmark = pytest.mark.anyio


async def test_one_session_cannot_evict_or_cancel_anothers_work(settings: Settings, pdf: Callable):
    """Work is admitted per session and per process; a full hub refuses, it never cancels."""
    settings.max_ingests, settings.max_ingests_per_session = 3, 2
    async with app_client(settings) as http:
        app_of(http).state.ragsvc.ingestion.embedder = gated = GatedEmbedder()
        victim, mallory, mallory2 = [await new_session(http) for _ in range(3)]
        accepted = await upload_later(http, pdf, "The victim's harbour log.", victim)
        assert accepted.status_code == 202  # and running until the gate opens
        for text in ["Mallory one.", "Mallory two."]:
            assert (await upload_later(http, pdf, text, mallory)).status_code == 202
        refused = await upload_later(http, pdf, "Mallory three.", mallory)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert refused.json()["type"] == "urn:ragsvc:problem:too-much-in-progress"
        full = await upload_later(http, pdf, "Another session of Mallory's.", mallory2)
        assert full.status_code == 503 and full.json()["type"] == "urn:ragsvc:problem:overloaded"
        gated.gate.set()
        url = f"/documents/{accepted.json()['documents'][0]['id']}"
        with anyio.fail_after(10):
            while (doc := (await http.get(url, headers=victim)).json())["status"] == "processing":
                await anyio.sleep(0.01)
        assert doc["status"] == "ready"
