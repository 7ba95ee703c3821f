"""Logs as `ragsvc serve` configures them: JSON lines (or plain text) on the stream given,
each stamped with the id of the request it belongs to, uvicorn's records included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ragsvc.core.config import Settings
from ragsvc.runtime.logging_setup import REQUEST_ID, configure_logging


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    """The root logger as it was after the test; uvicorn's at its own default level during
    it (a server an earlier test ran in this process may have set it)."""
    root, uvicorn = logging.getLogger(), logging.getLogger("uvicorn.error")
    kept = (list(root.handlers), root.level, uvicorn.level)
    uvicorn.setLevel(logging.NOTSET)
    yield
    root.handlers[:], root.level = kept[:2]
    uvicorn.setLevel(kept[2])


def test_json_lines_carry_the_request_id(tmp_path):
    stream = io.StringIO()
    configure_logging(Settings(data_dir=tmp_path, log_format="json"), stream)
    log = logging.getLogger("ragsvc.test")
    log.info("outside any request")
    reset = REQUEST_ID.set("trace-42")
    try:
        log.warning("inside one", extra={"route": "/ask"})
        logging.getLogger("uvicorn.error").info("from uvicorn")
    finally:
        REQUEST_ID.reset(reset)
    log.debug("below the level")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    # a thread left running by an earlier test may log to the root logger meanwhile
    ours = [r for r in records if r["name"] in ("ragsvc.test", "uvicorn.error")]
    outside, inside, uvicorn = ours
    assert (outside["message"], outside["request_id"]) == ("outside any request", "-")
    assert (inside["message"], inside["request_id"], inside["route"]) == (
        "inside one",
        "trace-42",
        "/ask",
    )
    assert (inside["levelname"], inside["name"]) == ("WARNING", "ragsvc.test") and "time" in inside
    assert (uvicorn["name"], uvicorn["request_id"]) == ("uvicorn.error", "trace-42")


def test_plain_text_lines_carry_the_request_id_too(tmp_path):
    stream = io.StringIO()
    configure_logging(Settings(data_dir=tmp_path, log_format="text", log_level="debug"), stream)
    reset = REQUEST_ID.set("trace-7")
    try:
        logging.getLogger("ragsvc.test").debug("details")
    finally:
        REQUEST_ID.reset(reset)
    assert stream.getvalue() == "DEBUG ragsvc.test [trace-7] details\n"


def test_uvicorn_writes_no_access_line_of_its_own():
    # uvicorn's httptools protocol logs a request whenever this logger has a handler, and its
    # line holds the query string, where GET /ask carries the question.
    configure_logging(Settings(), io.StringIO())
    assert not logging.getLogger("uvicorn.access").hasHandlers()
