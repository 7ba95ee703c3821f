"""Asking: the SSE contract of ../shared/API.md, JSON answers, follow-ups, filters, errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import anyio.to_thread
import httpx
import pytest

from ragsvc.core.config import Settings
from tests.support.apps import app_client, parse_sse

pytestmark = pytest.mark.anyio

BIRDS = [
    "Herons are wading birds. They hunt fish in shallow water at dawn.",
    "Kingfishers dive from perches. Their beaks are long and sharp.",
    "Cormorants dry their wings in the sun after diving for eels.",
]
RIVERS = [
    "The Danube flows through ten countries. It ends in the Black Sea.",
    "The Rhine carries barges from Basel to Rotterdam.",
]


@pytest.fixture
async def loaded(client: httpx.AsyncClient, session: dict, pdf: Callable) -> dict[str, str]:
    files = [
        ("files", ("birds.pdf", pdf(BIRDS, title="Birds of the River"), "application/pdf")),
        ("files", ("rivers.pdf", pdf(RIVERS), "application/pdf")),
    ]
    reply = await client.post("/upload", files=files, headers=session)
    assert reply.status_code == 201
    return {d["filename"]: d["id"] for d in reply.json()["documents"]}


async def ask_sse(client: httpx.AsyncClient, headers: dict, **body) -> tuple[httpx.Response, list]:
    reply = await client.post("/ask", json=body, headers=headers)
    return reply, parse_sse(reply.text)


async def test_stream_follows_the_contract(client, session, loaded):
    reply, frames = await ask_sse(client, session, question="Where do cormorants dry their wings?")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.headers["x-accel-buffering"] == "no"
    answer_id = reply.headers["x-answer-id"]
    names = [f["event"] for f in frames]
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"token"} and len(names) > 3
    assert [f["id"] for f in frames] == [f"{answer_id}:{i}" for i in range(len(frames))]
    data = [json.loads(f["data"]) for f in frames]
    sources, done = data[0]["sources"], data[-1]
    assert "".join(d["text"] for d in data[1:-1]) == done["answer"]
    assert "sun" in done["answer"]
    # every citation points at a source, and the cited source holds the cited sentence
    assert done["citations"] and all(1 <= n <= len(sources) for n in done["citations"])
    cited = sources[done["citations"][0] - 1]
    assert cited["filename"] == "birds.pdf" and cited["page"] == 3
    assert [s["n"] for s in sources] == list(range(1, len(sources) + 1))
    assert set(done["timings"]) == {"retrieval_ms", "first_token_ms", "total_ms"}


async def test_json_answer(client, session, loaded):
    reply = await client.post(
        "/ask",
        json={"question": "What do kingfishers dive from?", "top_k": 2},
        headers={**session, "Accept": "application/json"},
    )
    assert reply.status_code == 200 and reply.headers["x-answer-id"]
    body = reply.json()
    assert len(body["sources"]) == 2
    assert "perches" in body["answer"]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers == set(body["citations"])
    page = body["sources"][body["citations"][0] - 1]["page"]
    assert page == 2
    # every [n] rests on a passage found verbatim in source n
    assert [q["n"] for q in body["quotes"]] == [
        int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])
    ]
    for quote in body["quotes"]:
        cited = body["sources"][quote["n"] - 1]
        assert cited["text"][quote["start"] : quote["end"]] == quote["text"] != ""
        assert quote["verified"] and quote["page"] == cited["page"]


async def test_a_name_the_documents_never_mention_is_said_plainly(client, session, loaded):
    ask = {**session, "Accept": "application/json"}
    reply = await client.post("/ask", json={"question": "Where do Flamingos nest?"}, headers=ask)
    answer = reply.json()["answer"]
    assert answer.startswith('The uploaded documents do not mention "Flamingos".')
    assert re.search(r"The closest passage is: .+ \[\d\]$", answer)
    assert reply.json()["found"] is False and reply.json()["sources"]  # the closest still listed
    reply = await client.post("/ask", json={"question": "Where does the Rhine go?"}, headers=ask)
    assert "Rotterdam" in reply.json()["answer"]  # a name they hold is answered as before
    assert reply.json()["found"] is True


async def test_the_done_event_says_whether_the_documents_hold_an_answer(client, session, loaded):
    for question, found in (
        ("Where do Flamingos nest?", False),
        ("Where does the Rhine go?", True),
    ):
        reply = await client.post("/ask", json={"question": question}, headers=session)
        frames = parse_sse(reply.text)
        assert frames[-1]["event"] == "done"
        assert json.loads(frames[-1]["data"])["found"] is found


async def test_get_ask_with_cookie_for_eventsource(client: httpx.AsyncClient, loaded, session):
    token = session["Authorization"].removeprefix("Bearer ")
    client.cookies.set("ragsvc_session", token)
    reply = await client.get("/ask", params={"q": "Which sea does the Danube end in?"})
    assert reply.status_code == 200
    frames = parse_sse(reply.text)
    done = json.loads(frames[-1]["data"])
    assert frames[-1]["event"] == "done" and "Black Sea" in done["answer"]


async def test_document_filter(client, session, loaded):
    reply = await client.post(
        "/ask",
        json={"question": "Which birds dive?", "document_ids": [loaded["rivers.pdf"]]},
        headers={**session, "Accept": "application/json"},
    )
    assert {s["filename"] for s in reply.json()["sources"]} == {"rivers.pdf"}


async def test_global_question_answers_from_document_card(client, session, pdf):
    paper = pdf(
        [
            "Abstract. We introduce FlowNet, a model that predicts river floods from rain "
            "gauges. FlowNet beats hydrological baselines by twelve percent.",
            "Experiments use gauges from the Danube basin over twenty years.",
        ],
        title="FlowNet: Flood Forecasting",
    )
    await client.post("/upload", files={"files": ("flow.pdf", paper)}, headers=session)
    reply = await client.post(
        "/ask",
        json={"question": "What is this paper about?"},
        headers={**session, "Accept": "application/json"},
    )
    body = reply.json()
    assert body["sources"][0]["page"] == 1
    assert "FlowNet" in body["answer"] and "predicts river floods" in body["answer"]
    assert "could not find" not in body["answer"]


async def test_follow_up_uses_previous_turn(client, session, pdf):
    docs = [
        ("owls.pdf", ["Barn owls hunt voles at night using their hearing."]),
        ("falcons.pdf", ["Peregrine falcons stoop at over three hundred km per hour."]),
        ("swifts.pdf", ["Common swifts sleep while flying and rarely land."]),
    ]
    files = [("files", (name, pdf(pages), "application/pdf")) for name, pages in docs]
    await client.post("/upload", files=files, headers=session)
    json_headers = {**session, "Accept": "application/json"}
    first = await client.post(
        "/ask", json={"question": "How fast do peregrine falcons stoop?"}, headers=json_headers
    )
    assert first.json()["sources"][0]["filename"] == "falcons.pdf"
    # Alone, this question matches nothing; the remembered turn keeps the falcons in view.
    follow = await client.post(
        "/ask", json={"question": "and how does that compare?", "top_k": 1}, headers=json_headers
    )
    assert follow.json()["sources"][0]["filename"] == "falcons.pdf"
    # A change of topic still ranks on its own words.
    switch = await client.post(
        "/ask", json={"question": "What do barn owls hunt?", "top_k": 1}, headers=json_headers
    )
    assert switch.json()["sources"][0]["filename"] == "owls.pdf"
    info = await client.get("/sessions/current", headers=session)
    assert info.json()["turns"] == 3


async def test_turns_are_bounded(client, session, loaded, settings: Settings):
    for i in range(settings.history_turns + 3):
        await client.post(
            "/ask",
            json={"question": f"Question {i} about herons?"},
            headers={**session, "Accept": "application/json"},
        )
    info = await client.get("/sessions/current", headers=session)
    assert info.json()["turns"] == settings.history_turns


async def test_asking_without_documents_is_409(client, session):
    reply = await client.post("/ask", json={"question": "Anything?"}, headers=session)
    assert reply.status_code == 409
    assert reply.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 5000},
        {"question": "q", "top_k": 0},
        {"question": "q", "top_k": True},  # not 1: a boolean is no count
        {"question": "q", "top_k": "3"},
    ],
)
async def test_invalid_question_is_422(client, session, loaded, body):
    reply = await client.post("/ask", json=body, headers=session)
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"


async def test_malformed_json_is_problem(client, session, loaded):
    reply = await client.post(
        "/ask", content=b"{not json", headers={**session, "Content-Type": "application/json"}
    )
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"


async def test_unknown_document_filter_is_404(client, session, loaded):
    reply = await client.post(
        "/ask", json={"question": "Herons?", "document_ids": ["nope"]}, headers=session
    )
    assert reply.status_code == 404


async def test_asking_is_rate_limited(settings: Settings, pdf: Callable):
    limited = settings.model_copy(update={"ask_rate_per_minute": 2})
    async with app_client(limited) as http:
        up = await http.post("/upload", files={"files": ("b.pdf", pdf(BIRDS))})
        headers = {"Authorization": f"Bearer {up.json()['token']}"}
        codes = [
            (await http.post("/ask", json={"question": "Herons?"}, headers=headers)).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]


async def test_unknown_route_is_problem(client):
    reply = await client.get("/nope")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"


async def test_an_answer_does_not_wait_for_busy_worker_threads(client, session, loaded):
    """Long jobs (ingestion's) hold anyio's default worker threads; a question's short
    steps have threads of their own, so it is answered while every default one is busy."""
    default = anyio.to_thread.current_default_thread_limiter()
    holders = [object() for _ in range(int(default.total_tokens))]
    for holder in holders:
        await default.acquire_on_behalf_of(holder)
    try:
        with anyio.fail_after(10):
            reply, frames = await ask_sse(client, session, question="Where do herons hunt?")
    finally:
        for holder in holders:
            default.release_on_behalf_of(holder)
    assert reply.status_code == 200 and frames[-1]["event"] == "done"


async def test_a_whole_answer_goes_out_as_one_body_a_resume_continues(client, session, loaded):
    reply, frames = await ask_sse(client, session, question="Where do cormorants dry their wings?")
    # made whole before it was sent (the extractive default): one body of known length
    assert reply.headers["content-length"] == str(len(reply.content))
    assert "transfer-encoding" not in reply.headers
    assert frames[0]["retry"] and not any("retry" in f for f in frames[1:])
    # its frames are the ones kept for resuming: a reconnect after the first gets the rest
    resumed = await client.post(
        "/ask", json={"question": "?"}, headers={**session, "Last-Event-ID": frames[0]["id"]}
    )
    rest = [{k: v for k, v in f.items() if k != "retry"} for f in parse_sse(resumed.text)]
    assert rest == frames[1:]
