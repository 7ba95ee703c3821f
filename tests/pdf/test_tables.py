"""Tables read as "column: value" rows under their caption, found from line positions (on a
generated page, and on hand-made lines); an answer about a cell quotes the caption and the
row, not a run of numbers."""

from __future__ import annotations

import pymupdf
import pytest

from ragsvc.pdf.parsed import Line
from ragsvc.pdf.read import parse_pdf
from ragsvc.pdf.tables import tables_as_rows
from tests.support.pdfs import LIMITS

pytestmark = pytest.mark.anyio

HEADER = ["harbour", "ships", "cargo (t)", "pilots"]
ROWS = [
    ["Dover", "412", "9,300", "14"],
    ["Calais", "388", "8,150", "12"],
    ["Ostend", "97", "2,020", "5"],
    ["Rotterdam", "1,204", "41,870", "38"],
]
CAPTION = "Table 2: Ships, cargo and pilots per harbour in March."
PROSE = (
    "Harbour traffic was counted by the port authorities over the whole of March. "
    "Every arrival was logged with its cargo weight and whether a pilot boarded. "
    "The counts below were checked against the customs records of each port."
)
LINES = [
    "The left column of this page holds ordinary running text, a long line each,",
    "which a table finder must not take for cells: its lines are far too long for",
    "cells of a table, and nothing stands beside them on the same baseline at all.",
]


def make_tables_page(*, left_column: bool = False) -> bytes:
    """A page of prose, a caption, then a table of aligned cells (and, if asked, a column
    of long lines to the left of the table, on the same baselines)."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 140), PROSE, fontsize=10)
    x0 = 330 if left_column else 72
    page.insert_text((x0, 170), CAPTION, fontsize=9)
    for row_number, row in enumerate([HEADER, *ROWS]):
        y = 190 + 14 * row_number
        for column, cell in enumerate(row):
            page.insert_text((x0 + 60 * column, y), cell, fontsize=9)
        if left_column and row_number < len(LINES):
            page.insert_text((40, y), LINES[row_number][:60], fontsize=9)
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def test_a_table_becomes_its_caption_then_a_line_per_row():
    parsed = parse_pdf(make_tables_page(), "ports.pdf", LIMITS)
    tables = [b.text for b in parsed.pages[0] if b.table]
    assert tables == [
        "\n".join(
            [
                CAPTION,
                "harbour: Dover; ships: 412; cargo (t): 9,300; pilots: 14",
                "harbour: Calais; ships: 388; cargo (t): 8,150; pilots: 12",
                "harbour: Ostend; ships: 97; cargo (t): 2,020; pilots: 5",
                "harbour: Rotterdam; ships: 1,204; cargo (t): 41,870; pilots: 38",
            ]
        )
    ]
    prose = [b.text for b in parsed.pages[0] if not b.table]
    assert not any("Dover" in text or "Table 2" in text for text in prose)


def test_a_table_beside_a_column_of_text_is_found_and_the_text_stays_text():
    parsed = parse_pdf(make_tables_page(left_column=True), "ports.pdf", LIMITS)
    (table,) = [b.text for b in parsed.pages[0] if b.table]
    assert table.splitlines()[1] == "harbour: Dover; ships: 412; cargo (t): 9,300; pilots: 14"
    text = " ".join(b.text for b in parsed.pages[0] if not b.table)
    assert "which a table finder must not take for cells" in text


def test_without_a_header_each_row_reads_as_label_and_values():
    doc = pymupdf.open()
    page = doc.new_page()
    for row_number, (label, value) in enumerate(
        [("Number of jobs", "29,423"), ("Input data read", "3,288 TB"), ("Machines", "157")]
    ):
        page.insert_text((72, 100 + 14 * row_number), label, fontsize=9)
        page.insert_text((260, 100 + 14 * row_number), value, fontsize=9)
    parsed = parse_pdf(doc.tobytes(), "jobs.pdf", LIMITS)
    (table,) = [b.text for b in parsed.pages[0] if b.table]
    assert table.splitlines() == [
        "Number of jobs: 29,423",
        "Input data read: 3,288 TB",
        "Machines: 157",
    ]


async def test_a_question_about_a_cell_is_answered_by_its_caption_and_row(client, session):
    files = {"files": ("ports.pdf", make_tables_page(), "application/pdf")}
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    reply = await client.post(
        "/ask",
        json={"question": "What cargo went through Ostend?"},
        headers={**session, "Accept": "application/json"},
    )
    answer = reply.json()["answer"]
    caption_at = answer.index(CAPTION)
    row_at = answer.index("harbour: Ostend; ships: 97; cargo (t): 2,020; pilots: 5")
    assert caption_at < row_at
    assert "Dover" not in answer and "Rotterdam" not in answer  # rows without a word asked
    assert all(quote["verified"] for quote in reply.json()["quotes"])


def test_aligned_rows_of_short_cells_become_a_line_per_row_after_their_caption():
    def cell(text: str, column: int, top: float, block: int) -> Line:
        return Line(text, 9.0, True, block, top, top + 10, 72 + 80 * column, 72 + 80 * column + 60)

    prose = Line("Ships were counted at each harbour in March.", 10.0, False, 0, 60, 72, 72, 400)
    caption = [
        Line("Table 3: Ships and pilots", 9.0, False, 1, 90, 100, 72, 300),
        Line("per harbour in March.", 9.0, False, 1, 101, 111, 72, 250),
    ]
    grid = [["harbour", "ships", "pilots"], ["Dover", "412", "14"], ["Calais", "388", "12"]]
    grid.append(["Ostend", "97", "5"])
    cells = [
        cell(text, column, 120 + 14 * row, 2 + row)
        for row, texts in enumerate(grid)
        for column, text in enumerate(texts)
    ]
    after = Line("The counts were checked against customs records.", 10, False, 9, 200, 212, 72)
    rows = tables_as_rows([prose, *caption, *cells, after])
    assert [(line.text, line.table) for line in rows] == [
        (prose.text, -1),
        ("Table 3: Ships and pilots per harbour in March.", 0),
        ("harbour: Dover; ships: 412; pilots: 14", 0),
        ("harbour: Calais; ships: 388; pilots: 12", 0),
        ("harbour: Ostend; ships: 97; pilots: 5", 0),
        (after.text, -1),
    ]
    assert not any(line.bold for line in rows[2:5])  # bold cells no longer read as headings
    assert tables_as_rows(cells[:6]) == cells[:6]  # two rows are no table
