"""Answer events: a word's token event is one object, shared by every answer writing it."""

from __future__ import annotations

from ragsvc.streams.event_codec import encode_event
from ragsvc.streams.events import TokenEvent, token_event


def test_a_words_token_event_is_made_once_and_encoded_once():
    first, again = token_event("tides "), token_event("tides ")
    assert first is again and first == TokenEvent("tides ")
    assert encode_event(first) is encode_event(again)  # its encoding kept with it
    assert token_event("ebb") is not first
