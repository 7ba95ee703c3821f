"""`ragsvc upload` and `ragsvc ask` against a live server (tests/client/conftest.py): in this
process, then as the installed `ragsvc` program. Their `--json` output; their failures, each
one line on stderr with an exit status of its own, also against a closed loopback port, a
server that never answers, one that breaks the connection, and one that is not ragsvc; and
refusals told in the command line's terms, not HTTP's."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from ragsvc.client import commands, failures
from ragsvc.client.hints import HINTS
from ragsvc.client.http_client import Client
from ragsvc.core.schemas import Answer, Document
from tests.support.paths import ROOT
from tests.support.pdfs import make_pdf
from tests.support.server import RAGSVC, free_port


def test_the_commands_in_this_process_upload_ask_and_say_why_they_were_refused(
    base: str, paper: Path, capsys: pytest.CaptureFixture[str]
):
    commands.upload([paper], url=base, token=None)
    uploaded = capsys.readouterr().out
    assert "keeper.pdf: ready, 2 pages" in uploaded
    token = uploaded.split("export RAGSVC_TOKEN=")[1].strip()
    commands.ask("What does the keeper record?", url=base, token=token)
    answer, *cited = capsys.readouterr().out.strip().splitlines()
    assert "passing ship" in answer
    assert cited and all(re.fullmatch(r"\[\d\] keeper\.pdf, page [12]", line) for line in cited)
    with pytest.raises(typer.Exit) as refused:
        commands.ask("anything?", url=base, token="not-a-session")
    assert refused.value.exit_code == 1
    assert "ragsvc: Not authenticated" in capsys.readouterr().err


def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGSVC_TOKEN": token or ""}
    return subprocess.run([str(RAGSVC), *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_commands_upload_then_ask(base: str, paper: Path):
    uploaded = run("upload", str(paper), "--url", base)
    assert uploaded.returncode == 0, uploaded.stderr
    assert "keeper.pdf: ready, 2 pages" in uploaded.stdout
    token = uploaded.stdout.split("export RAGSVC_TOKEN=")[1].strip()
    asked = run("ask", "What does the keeper record?", "--url", base, token=token)
    assert asked.returncode == 0, asked.stderr
    answer, *cited = asked.stdout.strip().splitlines()
    assert "passing ship" in answer and re.search(r"\[\d\]", answer)
    assert cited and all(re.fullmatch(r"\[\d\] keeper\.pdf, page [12]", line) for line in cited)
    assert all(line[:3] in answer for line in cited)  # the sources the answer cites


def test_the_ask_command_says_why_it_was_refused(base: str):
    asked = run("ask", "anything?", "--url", base, token="not-a-session")
    assert asked.returncode == 1
    assert "ragsvc: Not authenticated" in asked.stderr


def test_upload_json_gives_the_token_and_the_documents_and_ask_json_the_whole_answer(
    base: str, paper: Path
):
    uploaded = run("upload", str(paper), "--url", base, "--json")
    assert uploaded.returncode == 0, uploaded.stderr
    reply = json.loads(uploaded.stdout)  # one JSON object: no bars, no other line
    assert reply["new_session"] is True and reply["token"]
    [document] = [Document.model_validate(d) for d in reply["documents"]]
    assert document.filename == "keeper.pdf" and document.status == "ready"
    question = "What does the keeper record?"
    asked = run("ask", question, "--url", base, "--json", token=reply["token"])
    assert asked.returncode == 0, asked.stderr
    answer = Answer.model_validate_json(asked.stdout)
    assert "passing ship" in answer.answer and answer.citations and answer.quotes
    assert {answer.sources[n - 1].filename for n in answer.citations} == {"keeper.pdf"}
    again = run("upload", str(paper), "--url", base, "--json", token=reply["token"])
    assert json.loads(again.stdout)["new_session"] is False
    assert json.loads(again.stdout)["token"] == reply["token"]


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The command failed with `code` and one line on stderr holding `words`; that line."""
    assert result.returncode == code, (result.stdout, result.stderr)
    [line] = result.stderr.splitlines()
    assert line.startswith("ragsvc: ") and "Traceback" not in line
    assert all(word in line for word in words), line
    return line


def test_with_the_server_down_ask_and_upload_say_so_in_one_line(paper: Path):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    asked = run("ask", "anything?", "--url", closed, token="t")
    assert_one_line(asked, failures.UNREACHABLE, "cannot reach", closed, "--url", "RAGSVC_URL")
    assert asked.stdout == ""
    uploaded = run("upload", str(paper), "--url", closed, "--json")
    line = assert_one_line(uploaded, failures.UNREACHABLE, "cannot reach", closed)
    error = json.loads(uploaded.stdout)["error"]
    assert error == {"exit_code": failures.UNREACHABLE, "message": line[8:], "problem": None}


def test_a_url_without_http_is_one_line(base: str):
    bare = base.removeprefix("http://")
    asked = run("ask", "anything?", "--url", bare, token="t")
    assert_one_line(asked, failures.UNREACHABLE, bare, "http://")


def test_a_server_that_is_not_ragsvc_is_one_line(other_server: str, paper: Path):
    asked = run("ask", "anything?", "--url", other_server, token="t")
    assert_one_line(asked, failures.UNREACHABLE, "not a ragsvc server", "502", "text/html")
    uploaded = run("upload", str(paper), "--url", other_server, token="t")
    assert_one_line(uploaded, failures.UNREACHABLE, "not a ragsvc server", "not JSON")


@pytest.fixture
def silent() -> Iterator[str]:
    """A loopback port that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_server_that_does_not_answer_in_time_is_one_line(silent: str):
    asked = run("ask", "anything?", "--url", silent, "--timeout", "0.5", token="t")
    assert_one_line(asked, failures.BROKEN, silent, "did not answer within 0.5 s", "--timeout")


@pytest.fixture
def breaking() -> Iterator[str]:
    """A loopback server that starts an answer's stream, then closes the connection."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_then_break() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                    b'30\r\nevent: token\ndata: {"text": "The keeper"}\n\n'
                )

        threading.Thread(target=answer_then_break, daemon=True).start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_connection_that_breaks_mid_answer_is_one_line(breaking: str):
    asked = run("ask", "anything?", "--url", breaking, token="t")
    assert_one_line(asked, failures.BROKEN, "the connection to", "broke")


def test_refusals_say_what_to_do_in_the_command_lines_terms(base: str, keyed: str, paper: Path):
    no_token = assert_one_line(run("ask", "anything?", "--url", base), 1, "Not authenticated")
    unknown = assert_one_line(run("ask", "anything?", "--url", base, token="gone"), 1)
    keyless = assert_one_line(run("upload", str(paper), "--url", keyed), 1)
    for line in (no_token, unknown, keyless):
        assert "Authorization" not in line and "X-API-Key" not in line and "POST" not in line
    assert "--token" in no_token and "RAGSVC_TOKEN" in no_token
    assert "unknown or expired" in unknown and "ragsvc upload" in unknown
    assert "--api-key" in keyless and "RAGSVC_API_KEY" in keyless
    keyed_upload = run("upload", str(paper), "--url", keyed, "--api-key", "the-key")
    assert keyed_upload.returncode == 0, keyed_upload.stderr


def test_a_session_without_documents_is_told_to_upload(
    base: str, capsys: pytest.CaptureFixture[str]
):
    with Client(base) as rag:
        token = rag.create_session()
    with pytest.raises(typer.Exit) as refused:
        commands.ask("anything?", url=base, token=token, as_json=True)
    assert refused.value.exit_code == 1
    out, err = capsys.readouterr()
    problem = json.loads(out)["error"]["problem"]
    assert problem["status"] == 409 and problem["type"].endswith("no-ready-documents")
    assert "ragsvc upload" in err and "\n" not in err.strip()


def test_each_hint_matches_a_detail_the_server_sends():
    """A hint keyed on words the server no longer says would silently stop applying."""
    src = ROOT / "src" / "ragsvc"
    server = "".join(p.read_text() for p in src.rglob("*.py") if "client" not in p.parts)
    for _slug, words, _hint in HINTS:
        assert words in server, words


def test_an_upload_whose_document_failed_exits_1(base: str, tmp_path: Path):
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(["A secret page."], password="secret"))
    uploaded = run("upload", str(locked), "--url", base, "--json")
    assert_one_line(uploaded, 1, "1 of 1 documents failed", "locked.pdf")
    [document] = json.loads(uploaded.stdout)["documents"]
    assert document["status"] == "failed"
