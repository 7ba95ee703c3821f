"""`ragsvc eval`'s output: Markdown tables (every run over all sets, then per set, per kind of
question and per document, then leave-one-document-out), or the same as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from ragsvc.eval.report import KS, LeftOut, Report, leave_one_document_out

HEAD = (
    "questions | hit@1 | hit@3 | hit@5 | MRR | right doc first | citation acc. | key terms "
    "| answer recall | unanswerable said | wrong refusals | p50 ms"
)
IN_A_ROW = ", in a row"


def _figure(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def row(name: str, r: Report) -> str:
    figures = [str(r.questions), *(_figure(r.hit_at(k)) for k in KS), _figure(r.mrr, 3)]
    figures += [_figure(v) for v in (r.right_document_first, r.citation_accuracy)]
    figures += [_figure(v) for v in (r.keys_stated, r.answer_recall, r.unanswerable_said)]
    figures += [_figure(r.wrong_refusals), f"{r.latency_p50_ms:.1f}"]
    return f"| {name} | " + " | ".join(figures) + " |"


def table(rows: list[tuple[str, Report]], first_column: str) -> str:
    rule = "|---" * (HEAD.count("|") + 2) + "|"
    return "\n".join([f"| {first_column} | {HEAD} |", rule, *(row(n, r) for n, r in rows)])


def per_set(reports: list[Report]) -> list[str]:
    """A table per set: every run's figures on that set alone."""
    sets = [r.name for r in reports[0].by_set()]
    out = []
    for name in sets:
        rows = [(r.name, part) for r in reports for part in r.by_set() if part.name == name]
        out += ["", f"{name}:", "", table(rows, "run")]
    return out


def lodo_table(rows: list[LeftOut]) -> str:
    lines = [
        "| document left out | questions | chosen on the others | its hit@1 there "
        "| the default's hit@1 there |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.document} | {r.questions} | {r.chosen} | {r.chosen_hit1:.2f} | "
        f"{r.default_hit1:.2f} |"
        for r in rows
    ]
    total = sum(r.questions for r in rows) or 1
    chosen = sum(r.chosen_hit1 * r.questions for r in rows) / total
    default = sum(r.default_hit1 * r.questions for r in rows) / total
    lines.append(f"| all, weighted by questions | {total} | | {chosen:.3f} | {default:.3f} |")
    return "\n".join(lines)


def render(reports: list[Report], *, as_json: bool = False, misses: bool = False) -> str:
    """The reports as JSON, or as tables; the first report is the defaults asked in a row."""
    in_a_row = [r for r in reports if r.name.endswith(IN_A_ROW)]
    lodo = leave_one_document_out(in_a_row) if len(in_a_row) > 1 else []
    if as_json:
        return _json(reports, lodo)
    first = reports[0]
    lines = ["All sets:", "", table([(r.name, r) for r in reports], "run"), *per_set(reports)]
    lines += ["", f"{first.name}, by kind of question:", ""]
    lines += [table([(k.name, k) for k in first.by_kind()], "kind")]
    for report in [first, *(r for r in reports if not r.answers)]:
        lines += ["", f"{report.name}, by document:", ""]
        lines += [table([(d.name, d) for d in report.by_document()], "document")]
    if lodo:
        lines += ["", "Leave one document out (configurations asked in a row):", ""]
        lines += [lodo_table(lodo)]
    if misses:
        lines += [""] + [f"- {r.name}: {miss}" for r in reports for miss in r.misses]
    return "\n".join(lines)


def _json(reports: list[Report], lodo: list[LeftOut]) -> str:
    runs = [
        {
            **r.summary(),
            "by_set": [s.summary() for s in r.by_set()],
            "by_kind": [k.summary() for k in r.by_kind()],
            "by_document": [d.summary() for d in r.by_document()],
            "misses": r.misses,
        }
        for r in reports
    ]
    found = {"runs": runs, "leave_one_document_out": [asdict(row) for row in lodo]}
    return json.dumps(found, indent=2)
