"""`ragsvc worker`: ingests the uploads API replicas queued (RAGSVC_INGEST_QUEUE=redis).

Each job takes over its document's lease, reads the upload from the store and runs the
same background ingest as a replica would, in an `ingests` hub whose event log is copied to
Redis: `GET /documents/{id}/events` on any replica follows it, and a worker that dies is
seen as such (`generation-lost`, then the document `failed` once its lease expires).
SIGTERM stops taking jobs and lets the running ones finish (saq's grace period). It answers
`/healthz` and `/readyz` on HOST:RAGSVC_WORKER_PORT for its orchestrator (api/probes.py).
"""

from __future__ import annotations

import logging
import socket
from functools import partial
from typing import Any

import anyio
from saq import Worker

from ragsvc.api.probes import ProbeServer, probe_listener, probe_server
from ragsvc.core.config import Settings
from ragsvc.ingest.job_queue import FUNCTION, HEARTBEAT_S, WORKER_LEASE_S, IngestJob
from ragsvc.runtime.app_state import AppState
from ragsvc.runtime.backends import Backends, make_backends

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings, given: Backends | None = None, stop: anyio.Event | None = None
) -> None:
    """Take ingest jobs until SIGTERM or SIGINT, or `stop` is set; tests pass their backends.
    The probes' port is bound first: taken, it raises ProbePortUnavailable before any loading."""
    with probe_listener(settings) as listener:
        await _work(settings, given, stop, listener)


async def _work(
    settings: Settings, given: Backends | None, stop: anyio.Event | None, listener: socket.socket
) -> None:
    if given is None:
        backends: Backends = await anyio.to_thread.run_sync(make_backends, settings, WORKER_LEASE_S)
    else:
        backends = given
    state = AppState.build(settings, backends)
    probes = probe_server(state, settings, listener)
    try:
        await _take_jobs(state, _job_loop(state, settings), probes, stop)
    finally:
        with anyio.CancelScope(shield=True):
            await state.aclose()
            if given is None:
                await backends.aclose()


def _job_loop(state: AppState, settings: Settings) -> Worker[Any]:
    assert state.queue is not None  # Settings checks RAGSVC_INGEST_QUEUE=redis
    return Worker(
        state.queue.saq,
        functions=[(FUNCTION, partial(ingest, state))],
        concurrency=max(1, settings.parse_workers),
        shutdown_grace_period_s=int(10 * settings.parse_timeout_s),
        # On shutdown saq waits for its own loops too; each looks at the stop flag between
        # naps, so short naps (and dequeues) make a stop take seconds, not a minute.
        dequeue_timeout=1,
        timers={"schedule": 1, "worker_info": 2, "sweep": 2, "abort": 1},
    )


async def _take_jobs(
    state: AppState, worker: Worker[Any], probes: ProbeServer, stop: anyio.Event | None
) -> None:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(state.ingests.run, tasks)
        probed = anyio.Event()
        tasks.start_soon(_serve, probes, probed)
        if stop is not None:
            tasks.start_soon(_stop_when_set, stop, worker)
        host, port = probes.listener.getsockname()[:2]
        log.info(
            "ragsvc worker ready: embedder %s, probes on %s:%d",
            state.backends.embedder.name,
            host,
            port,
        )
        await worker.start()  # returns once a signal stopped it and its jobs ended
        probes.should_exit = True  # and let it close its socket before the rest stops
        await probed.wait()
        tasks.cancel_scope.cancel()


async def _serve(probes: ProbeServer, done: anyio.Event) -> None:
    try:
        await probes.serve_probes()
    finally:
        done.set()


async def _stop_when_set(stop: anyio.Event, worker: Worker[Any]) -> None:
    await stop.wait()
    await worker.stop()


async def ingest(state: AppState, ctx: dict[str, Any], **job: str) -> str:
    """One queued document, ingested here (the job touched as it goes, so that if this
    worker dies another takes it up); what became of it."""
    queued = IngestJob(**job)
    registered = await state.ingestion.take_over(queued)
    if registered is None:
        return "no longer waiting"
    work = state.ingestion.in_background(queued.token_hash, registered)
    entry = state.ingests.start(queued.document_id, queued.token_hash, work)
    while True:
        changed = entry.changed()
        if entry.finished:
            return "settled"
        with anyio.move_on_after(HEARTBEAT_S / 2):
            await changed.wait()
        await ctx["job"].update()  # saq's heartbeat
