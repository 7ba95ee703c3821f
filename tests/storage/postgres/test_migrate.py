"""The PostgreSQL schema's migrations, on the machine's PostgreSQL in a schema of the test's
own: the files shipped are numbered in order, each is applied once, a second run applies
none; a database (of the test's own) or a connection not in UTF-8 is refused, by
`ragsvc serve`, `worker` and `migrate` in one line."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from ragsvc.cli import app as cli
from ragsvc.storage.postgres.migrate import DatabaseNotUtf8, migrate, migrations
from tests.support.services import TEST_POSTGRES, unavailable


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


@pytest.fixture
def ascii_database() -> Iterator[tuple[str, str]]:
    """A database of the test's own in SQL_ASCII (dropped after the test): its name and
    conninfo; unavailable if no PostgreSQL answers or the test's role may not create one."""
    name = f"ragsvc_ascii_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(TEST_POSTGRES, autocommit=True, connect_timeout=2)
    except psycopg.Error as exc:
        unavailable(f"no PostgreSQL at {TEST_POSTGRES}: {exc}", "set RAGSVC_TEST_DATABASE_URL")
    with admin:
        try:
            admin.execute(
                f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0"
                " LC_COLLATE 'C' LC_CTYPE 'C'"
            )
        except psycopg.errors.InsufficientPrivilege as exc:
            unavailable(f"the test role may not create a database: {exc}")
        try:
            yield name, make_conninfo(TEST_POSTGRES, dbname=name)
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # a failed test may hold it


def refusal(name: str) -> str:
    return (
        f"the database '{name}' uses encoding SQL_ASCII; ragsvc needs UTF8: create it with"
        " ENCODING 'UTF8' TEMPLATE template0 (to keep its data, pg_dump it and restore into"
        " the new one; see docs/deploy.md)"
    )


def test_a_database_not_in_utf8_is_refused_before_anything_is_created(
    ascii_database: tuple[str, str],
):
    """Before, the schema was created in it, and replicas loading sessions from it answered
    "The uploaded documents do not mention GRPO" about a document that does."""
    name, conninfo = ascii_database
    with pytest.raises(DatabaseNotUtf8) as refused:
        migrate(conninfo)
    assert str(refused.value) == refusal(name)
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


def test_a_connection_not_in_utf8_is_refused(database_url: str):
    latin1 = make_conninfo(database_url, client_encoding="LATIN1")
    with pytest.raises(DatabaseNotUtf8, match="client_encoding is LATIN1; ragsvc needs UTF8"):
        migrate(latin1)
    assert migrate(database_url)  # the database itself is fine


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_ragsvc_refuses_a_database_not_in_utf8_at_start_in_one_line(
    ascii_database: tuple[str, str], command: str
):
    name, conninfo = ascii_database
    env = {
        "RAGSVC_STORE": "postgres",
        "RAGSVC_DATABASE_URL": conninfo,
        "RAGSVC_INGEST_QUEUE": "redis",  # what `worker` needs; nothing connects to Redis
        "RAGSVC_REDIS_URL": "redis://127.0.0.1:9/0",
    }
    result = CliRunner().invoke(cli, [command], env=env)
    assert result.exit_code == 1
    line = f"ragsvc: PostgreSQL (RAGSVC_DATABASE_URL) failed: {refusal(name)}"
    assert result.output.splitlines() == [line]
