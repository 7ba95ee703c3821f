"""A client's messages as turns: each user message with the assistant message answering it."""

from __future__ import annotations

from dataclasses import dataclass

from ragsvc.api.protocols.conversation import turns_of


@dataclass(frozen=True)
class Message:
    role: str
    text: str


def test_user_and_assistant_messages_pair_into_turns_oldest_first():
    turns = turns_of(
        [Message("user", "Owls?"), Message("assistant", "Voles."), Message("user", "Kites?")]
        + [Message("assistant", "Hills.")]
    )
    assert [(t.question, t.answer) for t in turns] == [("Owls?", "Voles."), ("Kites?", "Hills.")]


def test_other_roles_and_a_question_asked_again_are_left_out():
    turns = turns_of(
        [
            Message("system", "Be brief."),
            Message("user", "Owls?"),
            Message("user", "What do owls hunt?"),
            Message("tool", "{}"),
            Message("assistant", "Voles."),
            Message("assistant", "An answer to nothing."),
        ]
    )
    assert [(t.question, t.answer) for t in turns] == [("What do owls hunt?", "Voles.")]
