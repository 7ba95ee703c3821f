"""Numbered sources + recent turns -> the chat messages that ask for [n] citations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ragsvc.core.schemas import Source, Turn
from ragsvc.search.embedders import Vectors

SYSTEM = """You answer questions about the user's PDF documents.
Use only the numbered sources below; never use outside knowledge.
After every sentence that uses a source, cite it as [n] with its number, e.g. [1] or [2][3].
If the sources do not contain the answer, say so plainly ("The documents do not say ...")
and, if useful, mention what they do cover. Do not guess or invent citations.
Answer in the language of the question, concisely."""

NOT_FOUND = "The uploaded documents do not say."
# How an answer that finds nothing begins: the extractive generator's own words, and those the
# system prompt asks an LLM for.
NOT_FOUND_OPENINGS = ("The uploaded documents do not ", "The documents do not ")


def says_not_found(answer: str) -> bool:
    """Whether an answer says the documents do not hold what was asked (`done.found`)."""
    return answer.lstrip().startswith(NOT_FOUND_OPENINGS)


@dataclass(frozen=True)
class Prompt:
    """Everything a generator may need; LLMs read `messages`, extractive reads the rest."""

    question: str
    sources: list[Source]
    history: list[Turn] = field(default_factory=list)
    # Numbers of the sources to summarise by their opening sentences: the document cards
    # for a global question, the passages of a section when one is asked about. Empty: the
    # question is answered from the sentences that best match it.
    summarise: frozenset[int] = frozenset()
    # Names in the question ("Hadoop") that no passage of the session holds: the extractive
    # generator says plainly that the documents do not mention them.
    unmentioned: tuple[str, ...] = ()
    # The question's vector as its search embedded it (None: not searched by embedding): a
    # generator comparing it with sentences need not embed it again (extractive.py).
    question_vector: Vectors | None = None

    @property
    def messages(self) -> list[dict[str, str]]:
        context = "\n\n".join(
            f"[{s.n}] {s.filename}, page {s.page}:\n{s.text}" for s in self.sources
        )
        messages = [{"role": "system", "content": f"{SYSTEM}\n\nSources:\n{context}"}]
        for turn in self.history:
            messages.append({"role": "user", "content": turn.question})
            messages.append({"role": "assistant", "content": turn.answer})
        messages.append({"role": "user", "content": self.question})
        return messages


# What a chat template adds around each message's content, in tokens (SmolLM2's adds 5)
MESSAGE_OVERHEAD = 8


def fitted(prompt: Prompt, tokens: Callable[[str], int], budget: int) -> Prompt:
    """The prompt within `budget` tokens, as `tokens` counts them: the oldest turns go
    first, then the last sources, then the end of the one source left."""

    def size(p: Prompt) -> int:
        return sum(tokens(m["content"]) + MESSAGE_OVERHEAD for m in p.messages)

    while size(prompt) > budget and prompt.history:
        prompt = replace(prompt, history=prompt.history[1:])
    while size(prompt) > budget and len(prompt.sources) > 1:
        prompt = replace(prompt, sources=prompt.sources[:-1])
    while (over := size(prompt) - budget) > 0 and prompt.sources and prompt.sources[0].text:
        first = prompt.sources[0]
        per_token = len(first.text) / max(1, tokens(first.text))
        text = first.text[: max(0, len(first.text) - int(over * per_token) - 1)]
        prompt = replace(prompt, sources=[first.model_copy(update={"text": text})])
    return prompt
