"""Processes that must not outlive the one they serve.

A SIGKILLed server runs no cleanup: its PDF page workers would run on, and through them
multiprocessing's fork server, which lives while any of its children does; uvicorn's worker
processes outlive a killed supervisor too. So each of them watches the process it serves and
exits the moment that process is gone, however it went.
"""

from __future__ import annotations

import os
import select
import threading
import time

POLL_S = 0.5  # only where the kernel has no pidfd (Linux before 5.3)
# Set by `ragsvc serve --workers N` for uvicorn's worker processes: the supervisor's pid.
SUPERVISOR_PID = "_RAGSVC_SUPERVISOR_PID"


def exit_with(pid: int) -> None:
    """End this process as soon as process `pid` has ended (a daemon thread waits for it)."""
    watcher = threading.Thread(target=_exit_after, args=(pid,), daemon=True, name="exit-with")
    watcher.start()


def _exit_after(pid: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)
    except OSError:
        while _alive(pid):
            time.sleep(POLL_S)
        os._exit(0)
    select.select([pidfd], [], [])  # readable once the process has exited
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
