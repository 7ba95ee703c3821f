"""The PostgreSQL schema's migrations, on the machine's PostgreSQL in a schema of the test's
own: the files shipped are numbered in order, each is applied once, a second run applies
none."""

from __future__ import annotations

import psycopg

from ragsvc.storage.postgres.migrate import migrate, migrations


def test_the_migrations_shipped_are_numbered_in_order():
    found = migrations()
    assert [version for version, _, _ in found] == list(range(1, len(found) + 1))
    assert found[0][1] == "0001_initial.sql" and "CREATE TABLE sessions" in found[0][2]


def test_migrations_apply_once_and_a_second_run_applies_none(database_url: str):
    assert migrate(database_url) == [name for _, name, _ in migrations()]
    assert migrate(database_url) == []
    with psycopg.connect(database_url) as conn:
        applied = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert applied == [(version, name) for version, name, _ in migrations()]
