"""Tokens counted here, for an answer's `usage` where its generator reports none (the
extractive one, the in-process llama): the Llama tokenizer bundled in the wordllama wheel,
the one its embedder uses, so the count needs no download."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from tokenizers import Tokenizer

from ragsvc.core.schemas import Usage

_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"  # in the wordllama package


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    return Tokenizer.from_str((files("wordllama") / _TOKENIZER).read_text())


def count_tokens(texts: list[str]) -> int:
    """Tokens of these texts, as the model would read them (no special tokens)."""
    encodings = _tokenizer().encode_batch_fast(texts, add_special_tokens=False)
    return sum(len(encoding.ids) for encoding in encodings)


def counted_usage(prompt: list[str], answer: str) -> Usage:
    """Usage of an answer to a prompt made of these texts (its messages' contents)."""
    prompt_tokens, completion_tokens = count_tokens(prompt), count_tokens([answer])
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
