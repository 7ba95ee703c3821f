"""Limits a client cannot talk its way around: guessing session tokens is rate-limited (per
address), and the API key is checked before the body is read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from ragsvc.core.config import Settings
from tests.support.apps import app_client
from tests.support.uploads import new_session

pytestmark = pytest.mark.anyio


async def test_guessing_session_tokens_is_rate_limited(settings: Settings):
    settings.failed_auth_per_minute = 3
    async with app_client(settings) as http:
        real = await new_session(http)
        guesses = [
            (
                await http.get("/documents", headers={"Authorization": f"Bearer guess{i}"})
            ).status_code
            for i in range(4)
        ]
        assert guesses == [401, 401, 401, 429]
        # a valid token from the same address (a NAT, a proxy) is not locked out
        assert (await http.get("/documents", headers=real)).status_code == 200


async def test_the_api_key_is_checked_before_the_body_is_read(settings: Settings):
    settings.api_keys = [SecretStr("the-key")]
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n\r\n'
        for _ in range(100):
            pulled += 1
            yield b"%PDF-" + b"0" * 65536
        yield b"\r\n--b--\r\n"

    async with app_client(settings) as http:
        headers = {"Content-Type": "multipart/form-data; boundary=b"}
        reply = await http.post("/upload", content=body(), headers=headers)
    assert reply.status_code == 401 and pulled < 3
