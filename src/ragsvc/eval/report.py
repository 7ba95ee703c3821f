"""Scores of a QA run: per question, then per configuration and per kind of question.

- hit@k: an expected page among the top k sources.
- MRR: mean reciprocal rank of the first source on an expected page.
- citation accuracy: share of the answers' `[n]` markers whose source is on an expected page.
- answer recall: share of the reference answer's content words (lower-cased, stop-words
  removed, Snowball-stemmed; numbers kept whole) that the answer also states. It catches
  "the right page, the wrong sentence", which page hits cannot.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragsvc.text.terms import content_words

KS = (1, 3, 5)
NO_KIND = "(no kind)"


def answer_recall(reference: str, answer: str) -> float:
    """Share of the reference's content words that the answer states."""
    wanted = content_words(reference)
    return len(wanted & content_words(answer)) / len(wanted) if wanted else 1.0


@dataclass(frozen=True)
class Outcome:
    """One question's scores."""

    question: str
    kind: str
    expected: tuple[int, ...]
    pages: tuple[int, ...]  # the sources' pages, best first
    cited_pages: tuple[int, ...]  # the page of each [n] in the answer
    recall: float
    latency_ms: float

    @property
    def rank(self) -> int | None:
        return next((i for i, p in enumerate(self.pages, 1) if p in self.expected), None)


def score(
    line: dict[str, Any], pages: list[int], markers: list[int], answer: str, ms: float
) -> Outcome:
    """One QA line's outcome from the sources' pages and the answer."""
    return Outcome(
        question=line["question"],
        kind=line.get("kind", NO_KIND),
        expected=tuple(line["pages"]),
        pages=tuple(pages),
        cited_pages=tuple(pages[n - 1] if 1 <= n <= len(pages) else 0 for n in markers),
        recall=answer_recall(line["answer"], answer),
        latency_ms=ms,
    )


@dataclass
class Report:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def questions(self) -> int:
        return len(self.outcomes)

    def _mean(self, value: Callable[[Outcome], float]) -> float:
        return sum(map(value, self.outcomes)) / max(self.questions, 1)

    def hit_at(self, k: int) -> float:
        return self._mean(lambda o: float(o.rank is not None and o.rank <= k))

    @property
    def mrr(self) -> float:
        return self._mean(lambda o: 1 / o.rank if o.rank else 0.0)

    @property
    def citation_accuracy(self) -> float:
        cited = [p in o.expected for o in self.outcomes for p in o.cited_pages]
        return sum(cited) / max(len(cited), 1)

    @property
    def answer_recall(self) -> float:
        return self._mean(lambda o: o.recall)

    @property
    def latency_p50_ms(self) -> float:
        return statistics.median(o.latency_ms for o in self.outcomes) if self.outcomes else 0.0

    @property
    def misses(self) -> list[str]:
        return [
            f"{o.question} -> pages {list(o.pages)}, want {sorted(o.expected)}"
            for o in self.outcomes
            if o.rank != 1
        ]

    def by_kind(self) -> list[Report]:
        """One report per kind of question, in the order the kinds first appear."""
        kinds = dict.fromkeys(o.kind for o in self.outcomes)
        return [Report(k, [o for o in self.outcomes if o.kind == k]) for k in kinds]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "questions": self.questions,
            **{f"hit@{k}": round(self.hit_at(k), 3) for k in KS},
            "mrr": round(self.mrr, 3),
            "citation_accuracy": round(self.citation_accuracy, 3),
            "answer_recall": round(self.answer_recall, 3),
            "latency_p50_ms": round(self.latency_p50_ms, 1),
        }


def table(reports: list[Report], first_column: str = "configuration") -> str:
    rows = [
        f"| {first_column} | questions | hit@1 | hit@3 | hit@5 | MRR | citation acc. "
        "| answer recall | p50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        rows.append(
            f"| {r.name} | {r.questions} | {r.hit_at(1):.2f} | {r.hit_at(3):.2f} | "
            f"{r.hit_at(5):.2f} | {r.mrr:.3f} | {r.citation_accuracy:.2f} | "
            f"{r.answer_recall:.2f} | {r.latency_p50_ms:.1f} |"
        )
    return "\n".join(rows)


def render(reports: list[Report], *, as_json: bool = False, misses: bool = False) -> str:
    """The reports as JSON, or as tables: the configurations, then the first one by kind of
    question, followed (if asked) by each configuration's misses."""
    if as_json:
        found = [
            {**r.summary(), "by_kind": [k.summary() for k in r.by_kind()], "misses": r.misses}
            for r in reports
        ]
        return json.dumps(found, indent=2)
    lines = [table(reports)]
    if reports:
        lines += [
            "",
            f"{reports[0].name}, by kind of question:",
            "",
            table(reports[0].by_kind(), "kind"),
        ]
    if misses:
        lines += [""] + [f"- {r.name}: {miss}" for r in reports for miss in r.misses]
    return "\n".join(lines)
