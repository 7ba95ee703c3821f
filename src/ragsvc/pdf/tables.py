"""A page's tables -> their caption and one line of "column: value" pairs per row
("religion: Catholic; <$10k: 418; ..."), so a question naming a row and a column finds the
cell, and an answer quotes a row as such rather than as a run of numbers.

Tables are found from the positions of the page's lines, not from rules or drawings
(PyMuPDF's table finder costs 0.2-0.5 s a page): at least three rows one under the other,
each of two or more short cells side by side on one baseline, with the same number of
cells and the same left edge. The first row is the header unless it holds a plain number;
a table without one reads as label and values ("Input data read: 3,288 TB"). Its caption
is the "Table N" line just above or below it.
"""

from __future__ import annotations

import re
from itertools import groupby

from ragsvc.pdf.parsed import Line
from ragsvc.text.table_rows import CAPTION, header_row, label_row

MIN_ROWS = 3
MAX_CELL = 40  # characters: a line of body text is longer
SAME_BASELINE = 2.0  # points
ALIGNED = 3.0  # points between the left edges of a table's rows
ROW_GAP = 2.5  # at most this many line heights from one row to the next
CAPTION_GAP = 4.0  # line heights between a table and its caption, at most
# A value, not a label: "29,423", "634 secs", "3,288 TB", "1.2", "-0.5%"
_PLAIN_NUMBER = re.compile(r"[+−-]?[$€£]?\d[\d,.\s]*(?:%|[A-Za-z]{1,5})?")

Row = list[Line]


def tables_as_rows(lines: list[Line]) -> list[Line]:
    """The page's lines, each table's cells (and caption) replaced where the table began by
    its caption and one line per row, all marked with the table's number."""
    tables = _tables(_candidate_rows(lines))
    if not tables:
        return lines
    position = {id(line): i for i, line in enumerate(lines)}
    replaced: dict[int, list[Line]] = {}  # index of a table's first line -> its new lines
    dropped: set[int] = set()
    for number, table in enumerate(tables):
        cells = [position[id(cell)] for row in table for cell in row]
        caption = _caption(lines, table, dropped | set(cells))
        cells += [position[id(line)] for line in caption]
        marked = _joined(caption) + _row_lines(table)
        replaced[min(cells)] = [line._replace(table=number) for line in marked]
        dropped.update(cells)
    out: list[Line] = []
    for i, line in enumerate(lines):
        out += replaced.get(i, [])
        if i not in dropped:
            out.append(line)
    return out


def _candidate_rows(lines: list[Line]) -> list[Row]:
    """Runs of two or more short cells side by side on one baseline, top to bottom; a long
    line (body text of another column) ends a run."""
    rows: list[Row] = []
    for baseline in _baselines(sorted(lines, key=lambda line: line.top)):
        ordered = sorted(baseline, key=lambda line: line.left)
        for short, run in groupby(ordered, key=lambda line: len(line.text) <= MAX_CELL):
            cells = list(run)
            if short and len(cells) >= 2:
                rows.append(cells)
    return rows


def _baselines(by_top: list[Line]) -> list[Row]:
    groups: list[Row] = []
    for line in by_top:
        if groups and abs(line.top - groups[-1][0].top) <= SAME_BASELINE:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _tables(rows: list[Row]) -> list[list[Row]]:
    """Rows that continue one another (same cells, same left edge, close below), in runs
    of at least MIN_ROWS."""
    runs: list[list[Row]] = []
    for row in rows:
        run = next((run for run in runs if _continues(run[-1], row)), None)
        if run is None:
            runs.append([row])
        else:
            run.append(row)
    return [run for run in runs if len(run) >= MIN_ROWS]


def _continues(above: Row, row: Row) -> bool:
    return (
        len(row) == len(above)
        and abs(row[0].left - above[0].left) <= ALIGNED
        and 0 < row[0].top - above[0].top <= ROW_GAP * _height(above[0])
    )


def _height(line: Line) -> float:
    return max(line.bottom - line.top, 1.0)


def _caption(lines: list[Line], table: list[Row], taken: set[int]) -> list[Line]:
    """The "Table N" line nearest above or below the table, overlapping it sideways, and
    the lines of its block after it (the caption's other lines); none if there is none.
    `taken`: positions in `lines` already part of a table."""
    left = min(cell.left for row in table for cell in row)
    right = max(cell.right for row in table for cell in row)
    top, bottom, reach = table[0][0].top, table[-1][0].bottom, CAPTION_GAP * _height(table[0][0])

    def distance(line: Line) -> float:
        return top - line.bottom if line.bottom <= top else line.top - bottom

    found = [
        i
        for i, line in enumerate(lines)
        if i not in taken
        and CAPTION.match(line.text)
        and line.left < right
        and line.right > left
        and 0 <= distance(line) <= reach
    ]
    if not found:
        return []
    first = min(found, key=lambda i: distance(lines[i]))
    block = lines[first].block
    return [
        line
        for i, line in enumerate(lines[first:], start=first)
        if line.block == block and i not in taken
    ]


def _joined(caption: list[Line]) -> list[Line]:
    if not caption:
        return []
    return [caption[0]._replace(text=" ".join(line.text for line in caption))]


def _row_lines(table: list[Row]) -> list[Line]:
    """One line per row: "header: value; ..." under a header, else "label: values"."""
    header = [cell.text for cell in table[0]]
    has_header = not any(_PLAIN_NUMBER.fullmatch(text) for text in header)
    out = []
    for row in table[1:] if has_header else table:
        values = [cell.text for cell in row]
        if has_header:
            text = header_row(header, values)
        else:
            text = label_row(values)
        out.append(row[0]._replace(text=text, bold=False))
    return out
