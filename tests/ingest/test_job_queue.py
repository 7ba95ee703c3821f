"""The queue of background ingests on the machine's Redis: a job put on it waits in saq's
queue, keyed by its session and document, with what a worker needs to take it over."""

from __future__ import annotations

import pytest

from ragsvc.ingest.job_queue import ATTEMPTS, FUNCTION, HEARTBEAT_S, IngestJob, IngestQueue

pytestmark = pytest.mark.anyio
TOKEN_HASH = "d" * 64


async def test_a_put_job_waits_in_the_queue_for_its_attempts(redis_url: str):
    queue = IngestQueue(redis_url, job_timeout_s=30)
    try:
        job = IngestJob(token_hash=TOKEN_HASH, document_id="doc1", filename="owls.pdf")
        await queue.put(job)
        assert await queue.saq.count("queued") == 1
        waiting = await queue.saq.job(f"{TOKEN_HASH}:doc1")
        assert waiting is not None and waiting.function == FUNCTION
        assert IngestJob(**waiting.kwargs) == job
        # a worker dying on it leaves it to another, ATTEMPTS times in all
        assert (waiting.timeout, waiting.retries, waiting.heartbeat) == (31, ATTEMPTS, HEARTBEAT_S)
    finally:
        await queue.aclose()
