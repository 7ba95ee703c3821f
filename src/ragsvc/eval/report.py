"""A run's scores: per configuration and way of asking, then per set, kind of question and
document; and leave-one-document-out, which checks that choosing among configurations on
some documents helps on a document the choice never saw.

Page hits, MRR, citations, answer recall and key terms count the answerable questions;
"unanswerable said" is the share of the others whose answer says the documents do not hold
it, and "wrong refusals" the answerable ones whose answer says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragsvc.eval.scoring import Outcome

KS = (1, 3, 5)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class Report:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    answers: bool = True  # False: a retrieval-only baseline (no answers to score)

    @property
    def questions(self) -> int:
        return len(self.outcomes)

    @property
    def answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.line.answerable]

    def _over_answerable(self, value: Callable[[Outcome], float | None]) -> float | None:
        return _mean([v for o in self.answerable if (v := value(o)) is not None])

    def hit_at(self, k: int) -> float | None:
        return self._over_answerable(lambda o: float(o.rank is not None and o.rank <= k))

    @property
    def mrr(self) -> float | None:
        return self._over_answerable(lambda o: 1 / o.rank if o.rank else 0.0)

    @property
    def right_document_first(self) -> float | None:
        return self._over_answerable(lambda o: float(o.right_document_first))

    @property
    def citation_accuracy(self) -> float | None:
        if not self.answers:
            return None
        return _mean([float(o.expected(p)) for o in self.answerable for p in o.cited])

    @property
    def answer_recall(self) -> float | None:
        return self._over_answerable(lambda o: o.recall) if self.answers else None

    @property
    def keys_stated(self) -> float | None:
        return self._over_answerable(lambda o: o.keys_stated) if self.answers else None

    @property
    def unanswerable_said(self) -> float | None:
        others = [o for o in self.outcomes if not o.line.answerable]
        return _mean([float(o.refused) for o in others]) if self.answers else None

    @property
    def wrong_refusals(self) -> int | None:
        return sum(o.refused for o in self.answerable) if self.answers else None

    @property
    def latency_p50_ms(self) -> float:
        return statistics.median(o.latency_ms for o in self.outcomes) if self.outcomes else 0.0

    @property
    def misses(self) -> list[str]:
        return [
            f"{o.line.document}: {o.line.question} -> {list(o.sources)}, want "
            f"{sorted(o.line.pages)}"
            for o in self.answerable
            if o.rank != 1
        ]

    def by(self, key: Callable[[Outcome], str]) -> list[Report]:
        """One report per value of `key`, in the order the values first appear."""
        values = dict.fromkeys(key(o) for o in self.outcomes)
        return [Report(v, [o for o in self.outcomes if key(o) == v], self.answers) for v in values]

    def by_set(self) -> list[Report]:
        return self.by(lambda o: o.line.set)

    def by_kind(self) -> list[Report]:
        return self.by(lambda o: o.line.kind)

    def by_document(self) -> list[Report]:
        return self.by(lambda o: o.line.document)

    def summary(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "name": self.name,
            "questions": self.questions,
            **{f"hit@{k}": rounded(self.hit_at(k)) for k in KS},
            "mrr": rounded(self.mrr),
            "right_document_first": rounded(self.right_document_first),
            "citation_accuracy": rounded(self.citation_accuracy),
            "answer_recall": rounded(self.answer_recall),
            "keys_stated": rounded(self.keys_stated),
            "unanswerable_said": rounded(self.unanswerable_said),
            "wrong_refusals": self.wrong_refusals,
            "latency_p50_ms": round(self.latency_p50_ms, 1),
        }


@dataclass(frozen=True)
class LeftOut:
    """One document left out: the configuration the others chose, and how both it and the
    default then do on the document."""

    document: str
    questions: int
    chosen: str
    chosen_hit1: float
    default_hit1: float


def leave_one_document_out(reports: list[Report]) -> list[LeftOut]:
    """For each document: the configuration with the best hit@1 on all the other documents
    (the first of `reports`, the default, on a tie), scored on the document left out."""
    documents = [r.name for r in reports[0].by_document()]
    rows = []
    for document in documents:
        others = [_hit1(r, document, left_out=True) for r in reports]
        best = max(range(len(reports)), key=lambda i: (others[i], -i))
        chosen, default = (_hit1(r, document, left_out=False) for r in (reports[best], reports[0]))
        count = len([o for o in reports[0].answerable if o.line.document == document])
        rows.append(LeftOut(document, count, reports[best].name, chosen, default))
    return rows


def _hit1(report: Report, document: str, *, left_out: bool) -> float:
    """hit@1 on the document's answerable questions, or (`left_out`) on all the others'."""
    outcomes = [o for o in report.answerable if (o.line.document == document) != left_out]
    return sum(o.rank == 1 for o in outcomes) / max(len(outcomes), 1)
