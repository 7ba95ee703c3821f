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
# A worker killed mid-ingest (a rolling update, the OOM killer) leaves its job active: past
# HEARTBEAT_S without the worker touching it, another worker's sweep (every 2 s, waiting
# 5 s for an abort the dead one never sends) queues it again, up to ATTEMPTS in all. The
# document's bytes wait in the store; its commits replace what an earlier attempt put there.
ATTEMPTS = 3
HEARTBEAT_S = 4
# How long a worker's lease on a document outlives the worker: past the ~12 s a retry takes
# to reach another worker, so the document stays `processing` (not `failed`) meanwhile.
WORKER_LEASE_S = 30.0


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
        """Queue one document, for up to ATTEMPTS workers in turn if workers die on it (the
        one running it touches the job every HEARTBEAT_S / 2)."""
        with redis_errors_as_503():
            await self.saq.enqueue(
                FUNCTION,
                key=f"{job.token_hash}:{job.document_id}",
                timeout=self._timeout,
                retries=ATTEMPTS,
                heartbeat=HEARTBEAT_S,
                **asdict(job),
            )

    async def aclose(self) -> None:
        await self.saq.disconnect()
