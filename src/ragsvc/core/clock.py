"""The service's one clock: aware UTC datetimes for records (sessions, documents, turns)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
