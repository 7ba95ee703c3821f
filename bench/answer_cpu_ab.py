"""Server CPU per extractive answer of another checkout of ragsvc against this one, asked in
turn 50 answers at a time as bench/answer_cpu.py asks (one keep-alive client each), so a
change's effect is measured on the same machine in the same minutes.

Usage: python bench/answer_cpu_ab.py OTHER_SRC [answers]
  OTHER_SRC: the other checkout's `src` (`git worktree add /tmp/before <commit>`, then
  /tmp/before/src); its server imports ragsvc from there (PYTHONPATH comes first).
"""

from __future__ import annotations

import sys

from answer_cpu import ms_per_answer, ragsvc


def main(other: str, answers: int) -> None:
    with ragsvc(other) as theirs, ragsvc(None) as ours:
        other_ms, this_ms, _ = ms_per_answer([theirs, ours], answers)
    print(
        f"Server CPU per extractive answer: {other} {other_ms:.2f} ms, this checkout "
        f"{this_ms:.2f} ms ({this_ms / other_ms:.3f}x)"
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
