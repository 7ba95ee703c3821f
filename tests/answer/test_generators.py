"""The LLM generators' own behaviour: what they ask of the model. (Streaming through a real
OpenAI-compatible server is in test_openai_backends; the real llama model in the slow tier.)"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from ragsvc.answer.generators import LlamaGenerator, Sampling
from ragsvc.answer.prompts import Prompt
from ragsvc.core.schemas import Source

pytestmark = pytest.mark.anyio


def source(n: int, text: str) -> Source:
    return Source(n=n, document_id="d", filename="o.pdf", page=n, score=1.0, text=text)


class RecordingLlama:
    """Stands in for llama_cpp.Llama, a library outside the project: it records what it is
    asked for and streams a two-chunk answer in llama-cpp's chunk format."""

    calls: list[dict[str, Any]] = []

    def __init__(self, **options: Any) -> None:
        self.options = options

    def n_ctx(self) -> int:
        return int(self.options["n_ctx"])

    def tokenize(self, text: bytes, add_bos: bool = True) -> list[int]:
        return list(range(len(text.split())))  # a token a word

    def create_chat_completion(self, **request: Any) -> Any:
        RecordingLlama.calls.append(request)
        return iter(
            [{"choices": [{"delta": {"content": "Owls "}}]}, {"choices": [{"delta": {}}]}]
            + [{"choices": [{"delta": {"content": "hunt."}}]}]
        )


async def test_the_llama_generator_samples_as_configured(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", SimpleNamespace(Llama=RecordingLlama))
    generator = LlamaGenerator("model.gguf", 2, 512, Sampling(temperature=0.7, max_tokens=33))
    pieces = [piece async for piece in generator.stream(Prompt("What do owls do?", []))]
    assert pieces == ["Owls ", "hunt."]
    request = RecordingLlama.calls[-1]
    assert (request["temperature"], request["max_tokens"], request["stream"]) == (0.7, 33, True)
    assert request["messages"][-1] == {"role": "user", "content": "What do owls do?"}


async def test_the_llama_generator_fits_the_prompt_to_its_context(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", SimpleNamespace(Llama=RecordingLlama))
    generator = LlamaGenerator("model.gguf", 2, 512, Sampling(temperature=0.7, max_tokens=100))
    sources = [source(n, "owls hunt at night " * 60) for n in (1, 2, 3)]  # 240 words each
    pieces = [piece async for piece in generator.stream(Prompt("What do owls do?", sources))]
    assert pieces == ["Owls ", "hunt."]
    words = sum(len(m["content"].split()) + 8 for m in RecordingLlama.calls[-1]["messages"])
    assert words <= 512 - 100
