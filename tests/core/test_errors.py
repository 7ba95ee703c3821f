"""Errors as problems (RFC 9457): each domain error's own, with a URN for its type; a vanished
session as 401, a full disk as 507, anything else as a 500 that tells nothing of the bug;
which errors are conditions rather than bugs to log; Redis failures as 503."""

from __future__ import annotations

import errno

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ragsvc.core.errors import (
    TYPE_BASE,
    NotAPdf,
    ProblemRaised,
    RagError,
    RateLimited,
    SessionGone,
    SharedStateUnavailable,
    StorageFull,
    TooLarge,
    Unauthorized,
    disk_full,
    expected,
    problem,
    problem_of,
    redis_errors_as_503,
)

FULL = OSError(errno.ENOSPC, "No space left on device")
OVER_QUOTA = OSError(errno.EDQUOT, "Disk quota exceeded")
BROKEN_DISK = OSError(errno.EIO, "Input/output error")


def test_problem_types_are_urns_under_one_base():
    assert TYPE_BASE == "urn:ragsvc:problem:"
    assert problem(404, "no such page").model_dump() == {
        "type": "urn:ragsvc:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no such page",
    }
    assert problem(415, "x", slug="not-a-pdf", title="Not a PDF").type == (
        "urn:ragsvc:problem:not-a-pdf"
    )


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (NotAPdf("no %PDF- header"), 415, "not-a-pdf"),
        (TooLarge("2001 pages"), 413, "too-large"),
        (Unauthorized("unknown token"), 401, "unauthorized"),
        (RateLimited("slow down", retry_after=7), 429, "rate-limited"),
        (RagError("plain"), 500, "internal"),
    ],
)
def test_a_domain_error_is_shown_as_its_own_problem(error: RagError, status: int, slug: str):
    shown = problem_of(error)
    assert (shown.status, shown.type) == (status, f"urn:ragsvc:problem:{slug}")
    assert shown.title == error.title and shown.detail == error.detail


def test_errors_carry_the_headers_their_status_needs():
    assert Unauthorized("x").headers == {"WWW-Authenticate": 'Bearer realm="ragsvc"'}
    assert RateLimited("x", retry_after=7).headers == {"Retry-After": "7"}
    assert StorageFull().headers == {"Retry-After": "60"}
    assert NotAPdf("x").headers == {}


def test_a_vanished_session_is_a_401():
    shown = problem_of(SessionGone())
    assert (shown.status, shown.type) == (401, "urn:ragsvc:problem:unauthorized")
    assert shown.detail == "the session was deleted or has expired"
    assert problem_of(SessionGone("deleted meanwhile")).detail == "deleted meanwhile"


@pytest.mark.parametrize("full", [FULL, OVER_QUOTA])
def test_a_full_disk_is_a_507(full: OSError):
    shown = problem_of(full)
    assert (shown.status, shown.type) == (507, "urn:ragsvc:problem:storage-full")
    assert disk_full(full) and expected(full)


@pytest.mark.parametrize("bug", [RuntimeError("secret /srv/path"), KeyError("k"), BROKEN_DISK])
def test_any_other_error_is_a_500_that_tells_nothing_of_it(bug: Exception):
    shown = problem_of(bug)
    assert (shown.status, shown.type) == (500, "urn:ragsvc:problem:internal-server-error")
    assert shown.detail == "unexpected server error; see the server log"
    assert not expected(bug)


def test_conditions_are_expected_and_bugs_are_not():
    assert expected(TooLarge("x")) and expected(SessionGone()) and expected(FULL)
    assert not expected(ValueError("x")) and not expected(BROKEN_DISK)
    assert not disk_full(BROKEN_DISK) and not disk_full(OSError("no errno"))
    assert not disk_full(ValueError(errno.ENOSPC))


def test_a_problem_raised_again_is_shown_as_it_was_reported():
    reported = TooLarge("too many pages").problem()
    again = ProblemRaised(reported)
    assert problem_of(again) == reported and again.status == 413


def test_redis_failing_is_a_503_naming_redis():
    with pytest.raises(SharedStateUnavailable) as raised:
        with redis_errors_as_503():
            raise RedisConnectionError("connection refused")
    shown = problem_of(raised.value)
    assert shown.status == 503 and shown.type == "urn:ragsvc:problem:backend-unavailable"
    assert "RAGSVC_REDIS_URL" in shown.detail and "connection refused" in shown.detail
    with pytest.raises(ValueError):  # only Redis's own errors
        with redis_errors_as_503():
            raise ValueError("a bug")
