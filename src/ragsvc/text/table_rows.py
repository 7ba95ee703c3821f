"""How a table row reads once written as text: "column: value; ..." under a header
("religion: Catholic; <$10k: 418"), "label: values" without one ("Input data read: 3,288 TB"),
below its "Table N" caption. The PDF reader writes rows so (pdf/tables.py); the extractive
generator reads them so, with their caption."""

from __future__ import annotations

import re

CAPTION = re.compile(r"^(?:Table|TABLE|Tab\.)\s+(?:\d+|[IVX]+)\b")
# A row as written here, and the column names it repeats under a header
_ROW = re.compile(r"^[^:;]{1,40}: [^;]+(?:; [^:;]{1,40}: [^;]+)*$")
_COLUMN_NAME = re.compile(r"(?:^|; )[^:;]{1,40}: ")


def header_row(header: list[str], values: list[str]) -> str:
    """A row under a header: "column: value" pairs (a cell under no column name alone)."""
    return "; ".join(f"{h}: {v}" if h else v for h, v in zip(header, values, strict=True))


def label_row(values: list[str]) -> str:
    """A row of a table without a header: its first cell labels the others."""
    return f"{values[0]}: {', '.join(values[1:])}"


def is_row(sentence: str) -> bool:
    """Whether a sentence reads like a row written here ("label: values", "a: 1; b: 2")."""
    return bool(_ROW.match(sentence))


def row_values(row: str) -> str:
    """A row's own words: under a header ("a: 1; b: 2"), without the column names."""
    return _COLUMN_NAME.sub(" ", row) if "; " in row else row
