"""Session tokens: random URL-safe secrets, kept only as their SHA-256, compared in constant
time."""

from __future__ import annotations

import hashlib
import re

from ragsvc.sessions.session_tokens import hash_token, new_token, same_secret


def test_a_token_is_kept_as_the_hex_sha256_of_its_text():
    assert hash_token("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    token = new_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(token))


def test_new_tokens_are_long_url_safe_and_never_the_same():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens)  # 256 bits


def test_same_secret_holds_for_equal_secrets_only():
    digest = hash_token("abc")
    assert same_secret(digest, hash_token("abc"))
    assert not same_secret(digest, hash_token("abd"))
    assert not same_secret(digest, digest[:-1])
    assert not same_secret(digest, "")
