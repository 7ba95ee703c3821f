"""The `[n]` markers of an answer, each naming source n: what generators write, the citation
check and the `citations` of an answer read, and content words leave out."""

from __future__ import annotations

import re

CITATION_MARKER = re.compile(r"\[(\d+)\]")


def cited_numbers(answer: str) -> list[int]:
    """The number of every marker in `answer`, in order, repeats included."""
    return [int(n) for n in CITATION_MARKER.findall(answer)]
