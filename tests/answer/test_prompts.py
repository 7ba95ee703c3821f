"""The prompt an LLM gets (numbered sources, the turns, the question), and how an answer that
finds nothing is told: by the words it opens with, the extractive generator's own or those
the system prompt asks an LLM for."""

from __future__ import annotations

import pytest

from ragsvc.answer.prompts import (
    MESSAGE_OVERHEAD,
    NOT_FOUND,
    SYSTEM,
    Prompt,
    fitted,
    says_not_found,
)
from ragsvc.core.clock import now
from ragsvc.core.schemas import Source, Turn

SOURCE = Source(n=1, document_id="d", filename="owls.pdf", page=3, score=0.5, text="Owls hunt.")


@pytest.mark.parametrize(
    ("answer", "not_found"),
    [
        (NOT_FOUND, True),
        ('The uploaded documents do not mention "Hadoop". The closest passage is: x [1]', True),
        ("  The documents do not say how long the exam takes.", True),
        ("Owls hunt at night [1].", False),
        ("Owls hunt at night [1]. The documents do not say more.", False),
        ("", False),
    ],
)
def test_an_answer_that_finds_nothing_is_told_by_its_opening(answer: str, not_found: bool):
    assert says_not_found(answer) is not_found


def test_the_system_prompt_asks_for_the_words_that_are_recognised():
    quoted = SYSTEM.split('("', 1)[1].split(" ...")[0]
    assert says_not_found(quoted)


def test_messages_number_the_sources_and_replay_the_turns():
    turn = Turn(question="Do owls hunt?", answer="Yes [1].", at=now())
    messages = Prompt("When?", [SOURCE], [turn]).messages
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "[1] owls.pdf, page 3:\nOwls hunt." in messages[0]["content"]
    assert messages[-1]["content"] == "When?"


def words(text: str) -> int:
    return len(text.split())


def test_a_prompt_is_fitted_oldest_turns_first_then_last_sources_then_text():
    sources = [
        Source(n=n, document_id="d", filename="o.pdf", page=n, score=1.0, text="owl " * 50)
        for n in (1, 2)
    ]
    history = [
        Turn(question="old " * 20, answer="older " * 20, at=now()),
        Turn(question="q", answer="a", at=now()),
    ]
    prompt = Prompt("What do owls do?", sources, history)
    full = sum(words(m["content"]) + MESSAGE_OVERHEAD for m in prompt.messages)
    assert fitted(prompt, words, full) == prompt  # it fits: unchanged
    no_old_turn = fitted(prompt, words, full - 40)
    assert no_old_turn.history == history[1:] and no_old_turn.sources == sources
    one_source = fitted(prompt, words, full - 40 - 2 * MESSAGE_OVERHEAD - 40 - 50)
    assert one_source.history == [] and [s.n for s in one_source.sources] == [1]
    empty = Prompt(prompt.question, [sources[0].model_copy(update={"text": ""})])
    budget = sum(words(m["content"]) + MESSAGE_OVERHEAD for m in empty.messages) + 20
    cut = fitted(prompt, words, budget)
    assert sum(words(m["content"]) + MESSAGE_OVERHEAD for m in cut.messages) <= budget
    assert cut.sources[0].text and sources[0].text.startswith(cut.sources[0].text)
