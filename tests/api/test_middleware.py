"""What every request gets, the ASGI callables driven by hand: a bounded body (a declared
oversize refused at once, a small body read up to its limit, an upload counted as it
streams), security headers, and a request id (the client's when it is a plain token)."""

from __future__ import annotations

import json

import pytest

from ragsvc.api.middleware import SECURITY_HEADERS, BodyLimit, Observed, SecurityHeaders, capped
from ragsvc.api.problems import PROBLEM_JSON
from ragsvc.core.errors import TooLarge
from tests.support.asgi import body_of, call, echo, http_scope

pytestmark = pytest.mark.anyio
LIMITED = BodyLimit(echo, default=10, streamed={"/upload": 20})


async def test_a_body_declaring_more_than_the_limit_is_refused_at_once():
    scope = http_scope("/ask", {"content-length": "11"})
    read = []

    async def receive():
        read.append(True)
        return {"type": "http.request", "body": b"x" * 11, "more_body": False}

    sent = await call(LIMITED, scope, receive)
    assert sent.status == 413 and sent.header("content-type") == [PROBLEM_JSON]
    assert "larger than the limit" in json.loads(sent.body)["detail"]
    assert read == []  # refused before a byte was read
    upload = await call(LIMITED, http_scope("/upload", {"content-length": "21"}), body_of())
    assert upload.status == 413


async def test_a_small_body_is_read_whole_up_to_its_limit():
    fits = await call(LIMITED, http_scope("/ask"), body_of(b"01234", b"56789"))
    assert (fits.status, fits.body) == (200, b"0123456789")
    over = await call(LIMITED, http_scope("/ask"), body_of(b"01234", b"56789", b"!"))
    assert over.status == 413  # no length declared: counted as it came


async def test_an_upload_streams_to_the_route_and_is_counted():
    fits = await call(LIMITED, http_scope("/upload"), body_of(b"x" * 15, b"y" * 5))
    assert (fits.status, fits.body) == (200, b"x" * 15 + b"y" * 5)
    receive = capped(body_of(b"x" * 15, b"y" * 6), 20)
    assert (await receive())["body"] == b"x" * 15
    with pytest.raises(TooLarge):
        await receive()


async def test_responses_forbid_sniffing_framing_and_referrers():
    sent = await call(SecurityHeaders(echo), http_scope(), body_of())
    for name, value in SECURITY_HEADERS.items():
        assert sent.header(name) == [value]


@pytest.mark.parametrize(
    ("given", "kept"), [("trace-42", True), ("bad id\x01", False), ("x" * 65, False)]
)
async def test_a_request_gets_an_id_the_clients_when_it_is_a_plain_token(given: str, kept: bool):
    sent = await call(Observed(echo), http_scope("/ask", {"x-request-id": given}), body_of())
    [request_id] = sent.header("x-request-id")
    assert (request_id == given) == kept and request_id
