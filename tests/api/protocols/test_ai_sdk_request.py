"""The AI SDK's request body read as ragsvc's question and conversation; either body shape
validated with the errors located as sent; when a refusal is plain text."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from ragsvc.api.protocols.ai_sdk_request import (
    AiSdkChatRequest,
    AskBody,
    asked,
    plain_for_ai_sdk,
    wants_plain_errors,
)
from ragsvc.core.errors import InvalidInput
from ragsvc.core.schemas import AskRequest

BODY: TypeAdapter[AskRequest | AiSdkChatRequest] = TypeAdapter(AskBody)


def ui(role: str, *texts: str) -> dict[str, object]:
    parts = [{"type": "text", "text": text} for text in texts]
    return {"id": role, "role": role, "parts": [*parts, {"type": "source-url", "url": "x"}]}


def test_the_last_user_message_is_the_question_the_pairs_before_it_the_turns():
    body = BODY.validate_python(
        {
            "id": "chat",
            "messages": [
                ui("system", "Be brief."),
                ui("user", "Owls?"),
                ui("user", "What do ", "owls hunt?"),  # asked again: the first is dropped
                ui("assistant", "Voles [1]."),
                ui("user", "When?"),
            ],
            "trigger": "submit-message",
            "top_k": 2,
        }
    )
    question, history = asked(body)
    assert (question.question, question.top_k) == ("When?", 2)
    assert [(t.question, t.answer) for t in history or []] == [("What do owls hunt?", "Voles [1].")]


def test_ragsvcs_own_body_keeps_the_sessions_conversation():
    question, history = asked(BODY.validate_python({"question": "Owls?"}))
    assert question.question == "Owls?" and history is None


def test_the_last_message_must_be_a_users_with_text():
    body = BODY.validate_python({"messages": [ui("user", "Owls?"), ui("assistant", "Voles.")]})
    with pytest.raises(InvalidInput, match="last message must be a user message"):
        asked(body)


@pytest.mark.parametrize(
    ("sent", "where"),
    [
        ({"asked": "?"}, ("question",)),
        ({"messages": []}, ("messages",)),
        ({"messages": [{"role": "robot", "parts": []}]}, ("messages", 0, "role")),
    ],
)
def test_errors_are_located_as_in_the_body(sent: dict[str, object], where: tuple[object, ...]):
    with pytest.raises(ValidationError) as raised:
        BODY.validate_python(sent)
    assert raised.value.errors()[0]["loc"] == where


@pytest.mark.parametrize(
    ("query", "accept", "plain"),
    [
        (b"format=ai-sdk", b"*/*", True),
        (b"format=ai-sdk", b"application/problem+json", False),
        (b"", b"*/*", False),
    ],
)
def test_refusals_are_plain_for_the_sdk_only(query: bytes, accept: bytes, plain: bool):
    scope = {"type": "http", "query_string": query, "headers": [(b"accept", accept)]}
    assert wants_plain_errors(Request(scope)) is plain


def test_the_problem_responses_declare_the_plain_sentence_too():
    declared = plain_for_ai_sdk({409: {"description": "Conflict", "content": {"a/b": {}}}})
    assert set(declared[409]["content"]) == {"a/b", "text/plain"}
    assert declared[409]["description"] == "Conflict"
