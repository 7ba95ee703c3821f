"""A conversation a client sends (OpenAI's messages, the AI SDK's UI messages) as ragsvc's
turns: each user message with the assistant message answering it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ragsvc.core.clock import now
from ragsvc.core.schemas import Turn


class Said(Protocol):
    """One message of a conversation, whatever the protocol's shape."""

    @property
    def role(self) -> str: ...

    @property
    def text(self) -> str: ...


def turns_of(messages: Sequence[Said]) -> list[Turn]:
    """The user/assistant pairs; other roles, and a question left unanswered (the user asked
    again), are skipped."""
    turns: list[Turn] = []
    pending: str | None = None
    for message in messages:
        if message.role == "user":
            pending = message.text
        elif message.role == "assistant" and pending is not None:
            turns.append(Turn(question=pending, answer=message.text, at=now()))
            pending = None
    return turns
