"""The default generator: answers with the retrieved sentences that best match the question,
each cited as [n]; it never writes a word of its own, so it needs no model and no network."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ragsvc.answer.prompts import NOT_FOUND, Prompt
from ragsvc.answer.question_shapes import asks_for_definition, asks_for_quantity, is_comparison
from ragsvc.search.embedders import Embedder, QueryEmbedder, Vectors, passages_embedded_here
from ragsvc.text.quantities import states_quantity
from ragsvc.text.sentences import is_contents, is_signpost, split_sentences
from ragsvc.text.table_rows import CAPTION, is_row, row_values
from ragsvc.text.terms import content_words, question_terms

_TOKEN = re.compile(r"\S+\s*")
# The document's own bibliography markers ("... as shown in [3]."): quoted as they are, they
# would read as this answer's [n] citations, pointing at the wrong sources.
_PAPER_REFERENCE = re.compile(r"\s*\[\d+(?:\s*[,;–-]\s*\d+)*\]")
# Answers to one session's questions keep quoting the same chunks: their sentences, vectors
# and stems are remembered rather than computed again for every answer (most of an
# extractive answer's CPU otherwise). About 1.3 KB a sentence, so ~20 MB at most.
MEMO_SENTENCES = 16_384
MEMO_CHUNKS = 4_096
# A sentence asking a question ("What is backup withholding?") heads its answer: the
# sentences after it are quoted with it, this many at most.
ANSWER_AFTER = 2


def split_words(text: str) -> list[str]:
    """The text's words, each with the blanks after it: joined, the text again."""
    return [match.group() for match in _TOKEN.finditer(text)]


async def words(text: str) -> AsyncIterator[str]:
    """Stream text word by word. The text is complete already, so no pause between words:
    they reach the client in one write, each still its own `token` event."""
    for word in split_words(text):
        yield word


@lru_cache(maxsize=MEMO_CHUNKS)
def _quotable(text: str) -> tuple[str, ...]:
    """The sentences of a passage worth quoting, without the paper's own reference marks."""
    sentences = (_PAPER_REFERENCE.sub("", s) for s in split_sentences(text))
    return tuple(s for s in sentences if len(s) >= 20 and not is_signpost(s) and not is_contents(s))


class _Reading(NamedTuple):
    sentence: str
    context: str  # its table's caption, for a row
    label: bool  # a figure's or table's caption itself


@lru_cache(maxsize=MEMO_CHUNKS)
def _readings(text: str) -> tuple[_Reading, ...]:
    """A passage's quotable sentences, each with what it is read with (a row answers for
    its table's caption) and whether it is a caption: the same for every answer quoting it."""
    sentences = _quotable(text)
    caption = sentences[0] if sentences and CAPTION.match(sentences[0]) else ""
    return tuple(
        _Reading(sentence, caption if position and is_row(sentence) else "", _is_label(sentence))
        for position, sentence in enumerate(sentences)
    )


class _VectorMemo:
    """The vectors of the sentences embedded last, least recently used dropped first; used
    from the event loop and from worker threads alike."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        self._embedder = embedder
        self.embed_here = passages_embedded_here(embedder)  # None: only awaited
        self._size = size
        self._rows: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    async def embed(self, question: str, sentences: list[str], known: Vectors | None) -> Vectors:
        """Rows for the question (`known`: its vector, not embedded again), then each
        sentence; only new sentences are embedded."""
        unique, new = self._new(sentences)
        texts = new if known is not None else [question, *new]
        fresh = await self._embedder.embed(texts) if texts else self._none()
        return self._stacked(sentences, unique, new, _with_question(known, fresh))

    def embed_blocking(self, question: str, sentences: list[str], known: Vectors | None) -> Vectors:
        """`embed` in the calling thread, for an embedder that runs in this process."""
        if self.embed_here is None:
            raise RuntimeError("this embedder is only awaited")
        unique, new = self._new(sentences)
        texts = new if known is not None else [question, *new]
        fresh = self.embed_here(texts) if texts else self._none()
        return self._stacked(sentences, unique, new, _with_question(known, fresh))

    def _none(self) -> Vectors:
        return np.zeros((0, 0), dtype=np.float32)

    def _new(self, sentences: list[str]) -> tuple[list[str], list[str]]:
        unique = list(dict.fromkeys(sentences))
        with self._lock:
            return unique, [s for s in unique if s not in self._rows]

    def _stacked(
        self, sentences: list[str], unique: list[str], new: list[str], fresh: Vectors
    ) -> Vectors:
        embedded = dict(zip(new, fresh[1:], strict=True))
        with self._lock:  # one dropped meanwhile by another answer comes from `embedded`
            found = {s: embedded[s] if s in embedded else self._rows[s] for s in unique}
            for sentence in unique:
                self._rows[sentence] = found[sentence]
                self._rows.move_to_end(sentence)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)
        return np.array([fresh[0], *(found[s] for s in sentences)])  # np.stack's checks: 2x


def _with_question(known: Vectors | None, fresh: Vectors) -> Vectors:
    """The question's row first: `known`, else the first of `fresh`."""
    if known is None:
        return fresh
    return np.vstack([known.reshape(1, -1), fresh]) if len(fresh) else known.reshape(1, -1)


class _Candidate(NamedTuple):  # a tuple: made some 30 times an answer, a dataclass cost 2 us
    source_n: int
    order: tuple[str, int, int]  # (document, page, position): where it stands in the document
    text: str
    language: str  # its source's: how its words are stemmed
    context: str = ""  # what else it is read with: a table row, its table's caption
    label: bool = False  # a figure's or a table's caption

    @property
    def own(self) -> str:
        """Its own words: a table row without the column names it repeats."""
        return row_values(self.text) if self.context else self.text

    @property
    def read(self) -> str:
        """What it is compared with the question as: with its context, if any."""
        return f"{self.context} {self.text}" if self.context else self.text


class ExtractiveGenerator:
    """Answers with the retrieved sentences that best match the question; never invents text.

    A sentence scores by its cosine similarity to the question, plus the share of the
    question's content words it holds (not "how", "many", "what do I"), plus a small prior
    for the rank of its source, and a bonus for stating a number when the question asks for
    one, and for a defining sentence when it asks what something is. A sentence asking a
    question brings the two after it (its answer). Only sentences close to the best one are
    kept (a weak second sentence mostly cites a wrong
    page), at most a few and about `max_chars`, from the best one's passage (two passages
    for a comparison), in document order, each with its [n]. When the question names
    something no passage holds, or shares no word with any sentence, it says so plainly.
    """

    name = "extractive"  # as /metrics names the generator (ragsvc_build_info)
    reads_history = False  # it quotes the sources; earlier turns never change its answer
    whole_when_planned = True  # composed before its first word: the rest follows at once
    RANK_PRIOR = 0.15  # added as RANK_PRIOR / rank: retrieval's confidence counts a little
    LABEL_PENALTY = 0.5  # a caption names what answers; it never is one
    QUANTITY_BONUS = 0.2  # for a sentence stating a number, when the question asks for one
    DEFINITION_BONUS = 0.15  # for a defining sentence, when the question asks what X is
    KEEP_WITHIN = 0.85  # keep sentences scoring at least this share of the best one

    def __init__(
        self,
        embedder: Embedder,
        max_sentences: int = 3,
        global_sentences: int = 4,
        max_chars: int = 700,
    ) -> None:
        self._vectors = _VectorMemo(embedder, MEMO_SENTENCES)
        # A question's search vector serves where the embedder embeds questions as any
        # text (wordllama); E5 embeds them apart ("query: "), and its sentences compare
        # with the question embedded as they are.
        self._search_vector_serves = not isinstance(embedder, QueryEmbedder)
        self._max = max_sentences
        self._max_chars = max_chars
        self._global = global_sentences
        self._terms = lru_cache(maxsize=MEMO_SENTENCES)(_terms_of)
        self._question_terms = lru_cache(maxsize=256)(_question_terms_of)
        # composed in a worker thread where its embedder runs in this process (generators.py)
        self.compose_here: Callable[[Prompt], list[str]] | None = (
            self.pieces_blocking if self._vectors.embed_here is not None else None
        )

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        text = await self.compose(prompt)
        async for word in words(text):
            yield word

    async def compose(self, prompt: Prompt) -> str:
        found = self._answer_or_candidates(prompt)
        if isinstance(found, str):
            return found
        sentences = [c.read for c in found]
        vectors = await self._vectors.embed(prompt.question, sentences, self._known(prompt))
        return self._best(prompt, found, vectors)

    def pieces_blocking(self, prompt: Prompt) -> list[str]:
        """The answer's pieces as `stream` yields them, composed in the calling thread."""
        return split_words(self.compose_blocking(prompt))

    def compose_blocking(self, prompt: Prompt) -> str:
        """`compose` in the calling (worker) thread, its embedder running in this process:
        an answer is searched and composed in one thread hop."""
        found = self._answer_or_candidates(prompt)
        if isinstance(found, str):
            return found
        sentences = [c.read for c in found]
        vectors = self._vectors.embed_blocking(prompt.question, sentences, self._known(prompt))
        return self._best(prompt, found, vectors)

    def _known(self, prompt: Prompt) -> Vectors | None:
        """The question's vector from its search, where it is the one to compare with."""
        return prompt.question_vector if self._search_vector_serves else None

    def _answer_or_candidates(self, prompt: Prompt) -> str | list[_Candidate]:
        """The answer when no sentence needs scoring (an overview, nothing to quote), else
        the sentences to score."""
        if prompt.summarise:
            return self._overview(prompt)
        return self._candidates(prompt) or NOT_FOUND

    def _best(self, prompt: Prompt, candidates: list[_Candidate], vectors: Vectors) -> str:
        """The answer from the best-scoring sentences, the question's and theirs `vectors`."""
        scores, overlap = self._scores(prompt.question, candidates, vectors)
        ranked = [int(i) for i in np.argsort(-scores) if overlap[i] > 0]
        if prompt.unmentioned or not ranked:
            top = candidates[ranked[0] if ranked else int(np.argmax(scores))]
            missing = _not_mentioned(prompt.unmentioned) if prompt.unmentioned else NOT_FOUND
            return f"{missing} The closest passage is: {top.text} [{top.source_n}]"
        chosen = self._select(ranked, scores, candidates, is_comparison(prompt.question))
        return " ".join(f"{c.text} [{c.source_n}]" for c in chosen)

    def _scores(
        self, question: str, candidates: list[_Candidate], vectors: Vectors
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Each candidate's score, and the share of the question's content words it holds."""
        cosine = vectors[1:] @ vectors[0]
        terms = {c.language: self._question_terms(question, c.language) for c in candidates}
        overlap = np.array([self._overlap(terms[c.language], c) for c in candidates])
        prior = np.array(
            [self.RANK_PRIOR / c.source_n - self.LABEL_PENALTY * c.label for c in candidates]
        )
        if asks_for_quantity(question):  # a sentence without a number cannot answer it
            prior += np.array([self.QUANTITY_BONUS * _states_quantity(c.own) for c in candidates])
        if asks_for_definition(question):  # "X means ...", "X is a ...": the defining sentence
            defining = [overlap[i] >= 0.5 and _defines(c.text) for i, c in enumerate(candidates)]
            prior += self.DEFINITION_BONUS * np.array(defining)
        return cosine + overlap + prior, overlap

    def _select(
        self,
        ranked: list[int],
        scores: NDArray[np.float64],
        candidates: list[_Candidate],
        comparison: bool,
    ) -> list[_Candidate]:
        """The best sentences while they score close to the best one, up to the length cap,
        in document order: from the best sentence's source (one coherent passage), or from
        the two best sources for a comparison (both sides); a sentence announcing a list
        (ending in ":") brings the sentences after it."""
        sources = list(dict.fromkeys(candidates[i].source_n for i in ranked))
        allowed = set(sources[: 2 if comparison else 1])
        chosen: list[_Candidate] = []
        length = 0
        for i in (i for i in ranked if candidates[i].source_n in allowed):
            if len(chosen) == self._max or (
                chosen
                and (scores[i] < self.KEEP_WITHIN * scores[ranked[0]] or length > self._max_chars)
            ):
                break
            chosen.append(candidates[i])
            length += len(candidates[i].text)
        chosen = _with_captions(chosen, candidates)
        return self._with_list_items(sorted(chosen, key=lambda c: c.order), candidates)

    def _with_list_items(
        self, chosen: list[_Candidate], candidates: list[_Candidate]
    ) -> list[_Candidate]:
        """After each sentence ending in ":", the sentences of its passage that follow it,
        within the length cap: the items it announces."""
        following = {(c.source_n, c.order[2]): c for c in candidates}
        result: list[_Candidate] = []
        for candidate in chosen:
            if candidate not in result:
                result.append(candidate)
                if candidate.text.rstrip().endswith(":"):
                    result += self._items_after(candidate, following, result)
                elif candidate.text.rstrip().endswith("?"):  # a heading asking what follows
                    result += self._items_after(candidate, following, result, ANSWER_AFTER)
        return result

    def _items_after(
        self,
        candidate: _Candidate,
        following: dict[tuple[int, int], _Candidate],
        taken: list[_Candidate],
        most: int | None = None,
    ) -> list[_Candidate]:
        items: list[_Candidate] = []
        budget, position = self._max_chars, candidate.order[2] + 1
        while (item := following.get((candidate.source_n, position))) is not None:
            if item in taken or len(item.text) > budget or len(items) == most:
                break
            items.append(item)
            budget, position = budget - len(item.text), position + 1
        return items

    @staticmethod
    def _candidates(prompt: Prompt) -> list[_Candidate]:
        """Sentences of all sources, each once: overlapping chunks repeat their edges."""
        seen: set[str] = set()
        candidates = []
        for source in prompt.sources:
            for position, (sentence, context, label) in enumerate(_readings(source.text)):
                if sentence not in seen:
                    seen.add(sentence)
                    order = (source.document_id, source.page, position)
                    candidates.append(
                        _Candidate(source.n, order, sentence, source.language, context, label)
                    )
        return candidates

    def _overview(self, prompt: Prompt) -> str:
        """Global questions and section summaries: the opening sentences of each source to
        summarise (a card, or each part of a section), fewer each when there are several."""
        chosen = [s for s in prompt.sources if s.n in prompt.summarise]
        each = self._global if len(chosen) == 1 else 2
        parts = []
        for source in chosen:
            # quotable ones only: a form's card opens with fragments ("Form W-9 (Rev.")
            sentences = list(dict.fromkeys(_quotable(source.text)))[:each]
            parts.append(" ".join(sentences) + f" [{source.n}]")
        return "\n\n".join(parts) if parts else NOT_FOUND

    def _overlap(self, terms: frozenset[str], candidate: _Candidate) -> float:
        """The share of the question's content words (`terms`, read in the language of the
        sentence's document) the sentence holds."""
        if not terms:
            return 0.0
        held = self._terms(candidate.text, candidate.language)
        if candidate.context:  # a row counts only if it holds a word of its own (a label)
            if not terms & self._terms(candidate.own, candidate.language):
                return 0.0
            held |= self._terms(candidate.context, candidate.language)
        return len(terms & held) / len(terms)


def _terms_of(text: str, language: str) -> frozenset[str]:
    return frozenset(content_words(text, language))


def _question_terms_of(question: str, language: str) -> frozenset[str]:
    return frozenset(question_terms(question, language))


def _with_captions(chosen: list[_Candidate], candidates: list[_Candidate]) -> list[_Candidate]:
    """The chosen sentences, and the caption of each table a chosen row is from: a row
    says little without it ("Table 4: ... Pew Forum." before "religion: Catholic; ...")."""
    captions = {c.text: c for c in candidates if CAPTION.match(c.text)}  # one per text
    wanted = [captions.get(c.context) for c in chosen if c.context]
    return list(dict.fromkeys(chosen + [c for c in wanted if c is not None]))


# "Figure 3: ...", "Table 2 ...": what a figure or table shows, not what it says
_LABEL = re.compile(r"^(?:Fig(?:ure|\.)?|Table|Tab\.)\s*(?:\d+|[IVX]+)\b", re.IGNORECASE)


# how a sentence defines: "X means ...", "is defined as", "refers to", "is a", "désigne"
_DEFINING = re.compile(
    r"\b(?:means|mean|is defined as|are defined as|refers? to|denotes|is called|are called"
    r"|is an?|are an?|désigne|signifie|s['’]entend)\b",
    re.IGNORECASE,
)


# Answers keep quoting the same sentences: what each says of itself is remembered (a
# search over every candidate was a tenth of a definition question's answer).
@lru_cache(maxsize=MEMO_SENTENCES)
def _defines(sentence: str) -> bool:
    return bool(_DEFINING.search(sentence))


@lru_cache(maxsize=MEMO_SENTENCES)
def _states_quantity(sentence: str) -> bool:
    return states_quantity(sentence)


def _is_label(sentence: str) -> bool:
    """A figure's or a table's caption."""
    return bool(_LABEL.match(sentence))


def _not_mentioned(names: tuple[str, ...]) -> str:
    """'The uploaded documents do not mention "Hadoop" or "GPT-3".'"""
    quoted = [f'"{name}"' for name in names]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"The uploaded documents do not mention {listed}."
