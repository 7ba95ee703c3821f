"""Documents in other languages: told from their stop words, stemmed in their language."""

from __future__ import annotations

import numpy as np
import pytest

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import SessionIndex
from ragsvc.text.languages import detect_language
from tests.support.pdfs import make_pdf

GERMAN = [
    "Die Leuchtturmwärter zündeten jeden Abend die Lampen an. Der Hafen war im Winter oft "
    "wegen der Stürme geschlossen, und die Schiffe warteten draußen auf der Reede.",
    "Im Logbuch wurden alle Schiffe verzeichnet, die an der Insel vorbeifuhren. Die Wärter "
    "schrieben die Namen und die Uhrzeit sorgfältig mit Tinte auf.",
]
FRENCH = [
    "Les gardiens du phare allumaient les lampes chaque soir au crépuscule. Les tempêtes de "
    "novembre fermaient le port pendant des jours et les navires attendaient au large.",
    "Dans le journal de bord, ils notaient tous les navires qui passaient devant l'île, avec "
    "leur nom et l'heure exacte, écrits à l'encre.",
]
ENGLISH = "The keeper lights the lamp at dusk, and the storms close the harbour for days."


@pytest.mark.parametrize(
    ("text", "language"),
    [(" ".join(GERMAN), "de"), (" ".join(FRENCH), "fr"), (ENGLISH * 2, "en"), ("Tabelle 1", "en")],
)
def test_a_text_is_told_by_its_stop_words(text: str, language: str):
    assert detect_language([text]) == language


def index_of(texts: list[str], language: str) -> SessionIndex:
    index = SessionIndex("test", 4)
    chunks = [
        Chunk(id=i, document_id="d", page=i + 1, text=t, language=language)
        for i, t in enumerate(texts)
    ]
    index.add(chunks, np.eye(len(texts), 4, dtype=np.float32))
    return index


def test_bm25_stems_a_document_in_its_own_language():
    question = "Wann zündet der Wärter die Lampe?"  # "zündeten ... Lampen" in the text
    german = index_of(GERMAN, "de").lexical_search(question, 2)
    assert german and german[0][0] == 0
    # In English, "zündet" and "Lampe" match nothing and German stop words ("die") count:
    # the other chunk, fuller of them, comes first.
    assert index_of(GERMAN, "en").lexical_search(question, 2)[0][0] == 1


def test_a_session_in_two_languages_searches_each_in_its_own():
    index = SessionIndex("test", 4)
    chunks = [
        Chunk(id=0, document_id="de", page=1, text=GERMAN[0], language="de"),
        Chunk(id=1, document_id="fr", page=1, text=FRENCH[0], language="fr"),
    ]
    index.add(chunks, np.eye(2, 4, dtype=np.float32))
    assert index.lexical_search("Wann zündet der Wärter die Lampe?", 2)[0][0] == 0
    assert index.lexical_search("Quand le gardien allume-t-il la lampe ?", 2)[0][0] == 1


@pytest.mark.anyio
async def test_uploaded_documents_carry_their_language(client, session):
    files = [
        ("files", ("leuchtturm.pdf", make_pdf(GERMAN), "application/pdf")),
        ("files", ("phare.pdf", make_pdf(FRENCH), "application/pdf")),
    ]
    reply = await client.post("/upload", files=files, headers=session)
    languages = {d["filename"]: d["language"] for d in reply.json()["documents"]}
    assert languages == {"leuchtturm.pdf": "de", "phare.pdf": "fr"}
    json_headers = {**session, "Accept": "application/json"}
    asked = await client.post(
        "/ask", json={"question": "Wann zündet der Wärter die Lampe?"}, headers=json_headers
    )
    top = asked.json()["sources"][0]
    assert (top["filename"], top["page"]) == ("leuchtturm.pdf", 1)
    assert top["language"] == "de"


@pytest.mark.anyio
async def test_answers_and_their_quotes_read_a_document_in_its_language(client, session):
    # In English, "zündet"/"zündeten" and "Lampe"/"Lampen" differ, and "die" counts: the
    # logbook sentence, holding "Wärter" and "die" twice, would be the answer.
    pdf = make_pdf([" ".join(GERMAN)])
    files = [("files", ("leuchtturm.pdf", pdf, "application/pdf"))]
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    asked = await client.post(
        "/ask",
        json={"question": "Wann zündet der Wärter die Lampe?"},
        headers={**session, "Accept": "application/json"},
    )
    body = asked.json()
    assert body["answer"].startswith("Die Leuchtturmwärter zündeten jeden Abend die Lampen an.")
    assert "Logbuch" not in body["answer"]
    assert body["quotes"] and all(quote["verified"] for quote in body["quotes"])
