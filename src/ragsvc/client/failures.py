"""How `ragsvc upload` and `ask` fail: one line on stderr, never a traceback, and an exit
status a script can tell apart (docs/clients.md). With `--json`, the failure is also printed
on stdout as `{"error": {...}}`.

    1  the server refused (its problem's title, then what to do), or a document failed
    2  the command line is wrong (typer's own usage errors)
    3  no ragsvc server at --url: nothing listens, the name does not resolve, the URL is not
       http(s), or what answered is not ragsvc (a proxy's error page, another server)
    4  the server stopped answering: no reply within --timeout, or the connection broke
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import httpx
import typer

from ragsvc.client.hints import in_cli_terms
from ragsvc.client.http_client import ProblemError
from ragsvc.core.schemas import Problem

REFUSED, UNREACHABLE, BROKEN = 1, 3, 4


@dataclass(frozen=True)
class Failure:
    exit_code: int
    message: str
    problem: Problem | None = None


@contextmanager
def reported(url: str, timeout: float, as_json: bool) -> Iterator[None]:
    """Any failure to talk to the server at `url` ends the command, reported."""
    try:
        yield
    except ProblemError as exc:
        fail(_refused(exc, url), as_json)
    except (httpx.RequestError, httpx.InvalidURL) as exc:
        fail(_not_answered(exc, url, timeout), as_json)


def fail(failure: Failure, as_json: bool) -> NoReturn:
    """Print the failure (one line on stderr; JSON on stdout too) and exit with its status."""
    message = " ".join(failure.message.split())
    if as_json:
        problem = failure.problem.model_dump() if failure.problem else None
        error = {"exit_code": failure.exit_code, "message": message, "problem": problem}
        typer.echo(json.dumps({"error": error}))
    typer.echo(f"ragsvc: {message}", err=True)
    raise typer.Exit(failure.exit_code)


def _refused(exc: ProblemError, url: str) -> Failure:
    problem = exc.problem
    if not exc.from_ragsvc:
        return Failure(UNREACHABLE, f"{url} is not a ragsvc server: {problem.detail}", problem)
    later = f" (try again in {exc.retry_after} s)" if exc.retry_after else ""
    return Failure(REFUSED, f"{problem.title}: {in_cli_terms(problem)}{later}", problem)


def _not_answered(exc: Exception, url: str, timeout: float) -> Failure:
    where = "point --url (or RAGSVC_URL) at a running `ragsvc serve`"
    reason = re.sub(r"^\[Errno -?\d+\] ", "", str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Failure(UNREACHABLE, f"{url} is not an http:// or https:// URL: {where}")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.ProxyError):
        return Failure(UNREACHABLE, f"cannot reach {url} ({reason}): {where}")
    if isinstance(exc, httpx.TimeoutException):
        return Failure(BROKEN, f"{url} did not answer within {timeout:g} s (--timeout)")
    return Failure(BROKEN, f"the connection to {url} broke: {reason}")
