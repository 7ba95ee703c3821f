"""Sessions: tokens, cookies, expiry, isolation, API keys, deletion."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from ragsvc.core.config import Settings
from ragsvc.sessions.session_tokens import hash_token
from tests.support.apps import app_client, app_of, parse_sse
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio


async def test_create_session_returns_long_random_token_and_cookie(client: httpx.AsyncClient):
    first = await client.post("/sessions")
    second = await client.post("/sessions")
    assert first.status_code == 201
    token = first.json()["token"]
    assert len(token) >= 43  # 32 random bytes, urlsafe base64
    assert token != second.json()["token"]
    cookie = first.headers["set-cookie"]
    assert f"ragsvc_session={token}" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


@pytest.mark.disk
async def test_only_the_token_hash_is_stored(client: httpx.AsyncClient, settings: Settings):
    token = (await client.post("/sessions")).json()["token"]
    stored = list((settings.data_dir / "sessions").iterdir())
    assert [p.name for p in stored] == [hash_token(token)]
    for path in stored[0].rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="ignore")


async def test_current_session_and_cookie_auth(client: httpx.AsyncClient):
    await client.post("/sessions")  # the client keeps the cookie
    reply = await client.get("/sessions/current")
    assert reply.status_code == 200
    body = reply.json()
    assert body["documents"] == [] and body["turns"] == 0
    assert body["expires_at"] > body["created_at"]


async def test_header_wins_over_cookie(client: httpx.AsyncClient):
    await client.post("/sessions")
    reply = await client.get("/sessions/current", headers={"Authorization": "Bearer nope"})
    assert reply.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer unknown-token"}, {"Authorization": "Basic abc"}],
)
async def test_missing_or_unknown_token_is_401_problem(client: httpx.AsyncClient, headers):
    reply = await client.get("/documents", headers=headers)
    assert reply.status_code == 401
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert set(problem) >= {"type", "title", "status", "detail"} and problem["status"] == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.disk
async def test_expired_session_is_401_and_purged(settings: Settings):
    short = settings.model_copy(update={"session_ttl": 1})
    async with app_client(short) as http:
        token = (await http.post("/sessions")).json()["token"]
        store = app_of(http).state.ragsvc.backends.store
        meta = await store.get_session(hash_token(token), timedelta(seconds=1))
        assert meta is not None
        # Expire it by rewriting its meta instead of sleeping through the TTL.
        path = settings.data_dir / "sessions" / hash_token(token) / "meta.json"
        path.write_text(meta.model_copy(update={"expires_at": meta.created_at}).model_dump_json())
        reply = await http.get("/documents", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401
        assert not path.parent.exists()


@pytest.mark.disk
async def test_delete_session_removes_everything(
    client: httpx.AsyncClient, session: dict[str, str], settings: Settings, pdf: Callable
):
    files = {"files": ("a.pdf", pdf(["Some text about otters and rivers."]), "application/pdf")}
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    assert (await client.delete("/sessions/current", headers=session)).status_code == 204
    assert (await client.get("/documents", headers=session)).status_code == 401
    assert list((settings.data_dir / "sessions").iterdir()) == []


async def test_sessions_do_not_see_each_other(client: httpx.AsyncClient, pdf: Callable):
    alice = {"Authorization": f"Bearer {(await client.post('/sessions')).json()['token']}"}
    bob = {"Authorization": f"Bearer {(await client.post('/sessions')).json()['token']}"}
    client.cookies.clear()
    files = {"files": ("secret.pdf", pdf(["Alice's secret is the blue heron."]), "application/pdf")}
    doc = (await client.post("/upload", files=files, headers=alice)).json()["documents"][0]
    assert (await client.get("/documents", headers=bob)).json() == {"documents": []}
    assert (await client.get(f"/documents/{doc['id']}", headers=bob)).status_code == 404
    assert (await client.delete(f"/documents/{doc['id']}", headers=bob)).status_code == 404
    ask = await client.post("/ask", json={"question": "What is the secret?"}, headers=bob)
    assert ask.status_code == 409
    ask = await client.post(
        "/ask", json={"question": "secret?", "document_ids": [doc["id"]]}, headers=bob
    )
    assert ask.status_code == 404


async def test_api_keys_guard_session_creation(settings: Settings):
    keyed = settings.model_copy(update={"api_keys": Settings(api_keys="k1,k2").api_keys})
    async with app_client(keyed) as http:
        assert (await http.post("/sessions")).status_code == 401
        assert (await http.post("/sessions", headers={"X-API-Key": "bad"})).status_code == 401
        assert (await http.post("/sessions", headers={"X-API-Key": "k2"})).status_code == 201
        http.cookies.clear()
        files = {"files": ("a.pdf", make_pdf(["Herons wade in shallow water."]))}
        assert (await http.post("/upload", files=files)).status_code == 401
        keyed_upload = await http.post("/upload", files=files, headers={"X-API-Key": "k1"})
        assert keyed_upload.status_code == 201 and keyed_upload.json()["token"]


async def test_session_creation_is_rate_limited(settings: Settings):
    limited = settings.model_copy(update={"session_rate_per_minute": 2})
    async with app_client(limited) as http:
        codes = [(await http.post("/sessions")).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        reply = await http.post("/sessions")
        assert int(reply.headers["retry-after"]) >= 1
        assert reply.headers["content-type"] == "application/problem+json"


async def test_turns_list_the_session_s_own_conversation_oldest_first(
    client: httpx.AsyncClient, pdf: Callable, settings: Settings
):
    alice = {"Authorization": f"Bearer {(await client.post('/sessions')).json()['token']}"}
    bob = {"Authorization": f"Bearer {(await client.post('/sessions')).json()['token']}"}
    client.cookies.clear()
    files = {"files": ("herons.pdf", pdf(["Grey herons nest in tall trees by the river."]))}
    await client.post("/upload", files=files, headers=alice)
    questions = [f"Where do herons nest, question {n}?" for n in range(settings.history_turns + 2)]
    answers = []
    for question in questions:
        reply = await client.post("/ask", json={"question": question}, headers=alice)
        answers.append(parse_sse(reply.text)[-1]["data"])
    turns = (await client.get("/sessions/current/turns", headers=alice)).json()["turns"]
    kept = questions[-settings.history_turns :]
    assert [t["question"] for t in turns] == kept  # the ones follow-ups are answered with
    assert [t["answer"] for t in turns] == [json.loads(a)["answer"] for a in answers[-len(kept) :]]
    assert (await client.get("/sessions/current/turns", headers=bob)).json() == {"turns": []}
    assert (await client.get("/sessions/current/turns")).status_code == 401


async def test_a_turn_keeps_the_sources_and_quotes_its_answer_showed(
    client: httpx.AsyncClient, session: dict, pdf: Callable
):
    """A page shows a past answer as it showed it fresh: with its sources and quotes."""
    files = {"files": ("herons.pdf", pdf(["Grey herons nest in tall trees by the river."]))}
    await client.post("/upload", files=files, headers=session)
    reply = await client.post("/ask", json={"question": "Where do herons nest?"}, headers=session)
    frames = {f["event"]: json.loads(f["data"]) for f in parse_sse(reply.text)}
    [turn] = (await client.get("/sessions/current/turns", headers=session)).json()["turns"]
    assert turn["sources"] == frames["sources"]["sources"] and turn["sources"]
    assert turn["quotes"] == frames["done"]["quotes"] and turn["quotes"]
