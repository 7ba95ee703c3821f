"""Tokens counted with the bundled tokenizer, for an answer's usage when its generator
reports none: text has tokens, nothing has none, and a usage adds its prompt and answer."""

from __future__ import annotations

from ragsvc.answer.usage_count import count_tokens, counted_usage

OWLS = "Barn owls hunt voles at night using their acute hearing."
HAWKS = "Red kites soar."


def test_text_has_tokens_and_nothing_has_none():
    assert count_tokens([OWLS]) > len(OWLS.split()) // 2
    assert count_tokens([""]) == 0 and count_tokens([]) == 0
    assert count_tokens([OWLS, HAWKS]) == count_tokens([OWLS]) + count_tokens([HAWKS])
    assert count_tokens([OWLS + " " + OWLS]) > count_tokens([OWLS])


def test_a_usage_totals_its_prompt_and_its_answer():
    usage = counted_usage([OWLS, HAWKS], "They hunt at night [1].")
    assert usage.prompt_tokens == count_tokens([OWLS, HAWKS])
    assert usage.completion_tokens == count_tokens(["They hunt at night [1]."]) > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert counted_usage([], "").total_tokens == 0
