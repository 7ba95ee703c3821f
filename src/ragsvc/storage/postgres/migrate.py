"""The PostgreSQL schema, created and upgraded by numbered SQL files (`migrations/NNNN_*.sql`),
each applied once, in order, in its own transaction, and recorded in `schema_migrations`.
Run at start-up by the Postgres store, or alone by `ragsvc migrate`; replicas starting
together take turns on an advisory lock, so each file runs exactly once.

A database that is not UTF-8 is refused first. Under SQL_ASCII nothing fails, but text does
not come back as it was stored (psycopg reads it as bytes, a dash came back as "?"): a
replica that loaded a session from one answered "The uploaded documents do not mention
GRPO" about a document that does."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)
_LOCK = 0x7261677376  # pg_advisory_lock key: any constant of ragsvc's own ("ragsv")
UTF8 = "UTF8"  # PostgreSQL's name of the encoding (UNICODE is an alias it reports as UTF8)


class DatabaseNotUtf8(psycopg.NotSupportedError):
    """The database, or the connection's client_encoding, is not UTF-8. A psycopg error, so
    whatever reports the database failing at start-up reports this too: one line from
    `ragsvc serve`, `ragsvc worker` and `ragsvc migrate`, which then exit."""


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
        check_encoding(conn)
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


def check_encoding(conn: psycopg.Connection) -> None:
    """Raise DatabaseNotUtf8 unless the database and the connection both use UTF-8."""
    server, client = _setting(conn, "server_encoding"), _setting(conn, "client_encoding")
    if server != UTF8:
        raise DatabaseNotUtf8(
            f"the database '{conn.info.dbname}' uses encoding {server}; ragsvc needs {UTF8}:"
            " create it with ENCODING 'UTF8' TEMPLATE template0 (to keep its data, pg_dump"
            " it and restore into the new one; see docs/deploy.md)"
        )
    if client != UTF8:
        raise DatabaseNotUtf8(
            f"the connection's client_encoding is {client}; ragsvc needs {UTF8}: unset"
            " PGCLIENTENCODING, or the client_encoding set in RAGSVC_DATABASE_URL or by"
            " ALTER DATABASE/ROLE ... SET"
        )


def _setting(conn: psycopg.Connection, name: str) -> str:
    """A server setting; read as bytes when the connection's encoding is SQL_ASCII."""
    row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    value = row[0] if row else ""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _apply(conn: psycopg.Connection, version: int, name: str, sql: str) -> None:
    with conn.transaction():
        conn.execute(sql.encode())  # bytes: several statements, no parameters
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
        )
    log.info("applied the database migration %s", name)
