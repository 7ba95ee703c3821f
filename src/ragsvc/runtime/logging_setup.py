"""Logs: JSON lines (or plain text) on stderr, each carrying the id of the request it belongs
to. What they never hold: session tokens, and question text unless RAGSVC_LOG_QUESTIONS is
set (the access log names routes, never query strings, where GET /ask carries questions)."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from ragsvc.core.config import Settings

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request being served (or "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every log record (uvicorn's too) to one handler on the root logger."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(_FIELDS, rename_fields={"asctime": "time"}))
    else:
        handler.setFormatter(
            logging.Formatter("%(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # uvicorn logs a request whenever this logger has a handler, its root's included, and its
    # line holds the query string (GET /ask?q=...): ragsvc.access writes the one line instead.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
