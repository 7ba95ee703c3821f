"""The queue of background ingests (`RAGSVC_INGEST_QUEUE=redis`): API replicas put each
`?wait=false` upload on it, `ragsvc worker` processes take them (worker/job_loop.py). On saq, a
Redis job library: a job names the session, the document and its file name; the file itself
waits in the store, where any worker reads it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from saq import Queue

from ragsvc.core.errors import redis_errors_as_503

NAME = "ragsvc-ingest"
FUNCTION = "ingest"


@dataclass(frozen=True)
class IngestJob:
    token_hash: str
    document_id: str
    filename: str


class IngestQueue:
    def __init__(self, redis_url: str, job_timeout_s: float) -> None:
        self.saq = Queue.from_url(redis_url, name=NAME)
        self._timeout = int(job_timeout_s) + 1

    async def put(self, job: IngestJob) -> None:
        """Queue one document; one attempt (a worker that dies leaves it `failed`)."""
        with redis_errors_as_503():
            await self.saq.enqueue(
                FUNCTION,
                key=f"{job.token_hash}:{job.document_id}",
                timeout=self._timeout,
                retries=1,
                **asdict(job),
            )

    async def aclose(self) -> None:
        await self.saq.disconnect()
