"""Passive failover in `docker/nginx.conf`: three `ragsvc serve` replicas on PostgreSQL and
Redis behind nginx, one of which loses PostgreSQL after it started (its connections go
through a relay the test cuts: dropped, new ones refused). That replica answers 503 to what
needs the database and /readyz says it is not ready; nginx, which has no active health
checks, must send the GETs it answers 503 to another replica and then leave it out. Slow:
three servers and a proxy start, and each request the lost replica takes waits 5 s for a
database connection."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.nginx_proxy import in_front_of
from tests.support.relay import Relay, relay
from tests.support.server import server_process

pytestmark = pytest.mark.slow
REPLICAS = 3


def through(link: Relay, database_url: str) -> str:
    """The database URL, its host and port replaced by the relay's."""
    address = urlsplit(database_url)
    user = address.netloc.rpartition("@")[0]
    netloc = f"{user}@127.0.0.1:{link.port}" if user else f"127.0.0.1:{link.port}"
    return address._replace(netloc=netloc).geturl()


def test_gets_go_to_other_replicas_while_one_has_lost_postgresql(
    tmp_path: Path, database_url: str, redis_url: str
):
    address = urlsplit(database_url)
    settings = {"RAGSVC_STORE": "postgres", "RAGSVC_REDIS_URL": redis_url}
    (tmp_path / "data").mkdir()
    with relay(address.hostname or "127.0.0.1", address.port or 5432) as link, ExitStack() as up:
        urls = [through(link, database_url)] + [database_url] * (REPLICAS - 1)
        replicas = [
            up.enter_context(server_process(tmp_path / "data", RAGSVC_DATABASE_URL=url, **settings))
            for url in urls
        ]
        base = up.enter_context(in_front_of([url for url, _ in replicas], tmp_path / "nginx"))
        created = httpx.post(f"{base}/sessions", timeout=30)
        assert created.status_code == 201, created.text
        who = {"Authorization": f"Bearer {created.json()['token']}"}
        link.cut()
        lost = replicas[0][0]
        unready = httpx.get(f"{lost}/readyz", timeout=30)
        refused = httpx.get(f"{lost}/sessions/current", headers=who, timeout=30)
        replies = [
            httpx.get(f"{base}{path}", headers=who, timeout=60)
            for path in ["/documents", "/sessions/current"] * REPLICAS
        ]
    assert unready.status_code == 503 and "PostgreSQL" in unready.json()["detail"]
    assert refused.status_code == 503 and "PostgreSQL" in refused.json()["detail"]
    assert [reply.status_code for reply in replies] == [200] * len(replies), [
        reply.text for reply in replies if reply.status_code != 200
    ]
