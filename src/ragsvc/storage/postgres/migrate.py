"""The PostgreSQL schema, created and upgraded by numbered SQL files (`migrations/NNNN_*.sql`),
each applied once, in order, in its own transaction, and recorded in `schema_migrations`.
Run at start-up by the Postgres store, or alone by `ragsvc migrate`; replicas starting
together take turns on an advisory lock, so each file runs exactly once."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)
_LOCK = 0x7261677376  # pg_advisory_lock key: any constant of ragsvc's own ("ragsv")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration shipped in the package, in order."""
    folder = resources.files(__package__ or "") / "migrations"
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            found.append((int(item.name.split("_", 1)[0]), item.name, item.read_text()))
    return sorted(found)


def migrate(conninfo: str) -> list[str]:
    """Apply the migrations this database lacks; returns the names applied."""
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version int PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations():
                if version not in done:
                    _apply(conn, version, name, sql)
                    applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))
    return applied


def _apply(conn: psycopg.Connection, version: int, name: str, sql: str) -> None:
    with conn.transaction():
        conn.execute(sql.encode())  # bytes: several statements, no parameters
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
        )
    log.info("applied the database migration %s", name)
