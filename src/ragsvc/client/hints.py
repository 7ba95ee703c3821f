"""What a refusal means for someone at the terminal. The server's problem details speak HTTP
("send 'Authorization: Bearer <token>'", "POST /sessions"); `ragsvc upload` and `ask` say
instead which option or variable to set, or which command to run."""

from __future__ import annotations

from ragsvc.core.schemas import Problem

UPLOAD = "ragsvc upload FILE.pdf"
# (the problem type's slug, words of the server's detail) -> what to do, in CLI terms
HINTS = [
    ("unauthorized", "X-API-Key", "this server makes sessions only with one of its API keys: "
     "pass --api-key or set RAGSVC_API_KEY"),
    ("unauthorized", "no session token", "no session token: pass --token or set RAGSVC_TOKEN "
     f"(`{UPLOAD}` starts a session and prints its token)"),
    ("unauthorized", "unknown or expired", "the session token (--token or RAGSVC_TOKEN) is "
     f"unknown or expired: `{UPLOAD}` without a token starts a new session"),
    ("unauthorized", "Authorization header", "the session token (--token or RAGSVC_TOKEN) is "
     "empty or malformed: give the one `ragsvc upload` printed"),
    ("no-ready-documents", "still being ingested", "the session's documents are still being "
     "ingested: ask again once they are ready (`ragsvc upload` waits for them)"),
    ("no-ready-documents", "upload a PDF", "the session has no document to answer from: "
     f"`{UPLOAD} --token ...` (a PDF with a text layer) first"),
]  # fmt: skip


def in_cli_terms(problem: Problem) -> str:
    """The problem's detail, or what to do about it at the terminal where that differs."""
    slug = problem.type.rsplit(":", 1)[-1]
    for kind, words, hint in HINTS:
        if slug == kind and words in problem.detail:
            return hint
    return problem.detail
