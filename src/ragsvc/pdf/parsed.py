"""A parsed document as the rest of the pipeline sees it: pages of text blocks, plus the
title and outline a global question needs. Parsers produce it (`read.py`); chunking reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Line(NamedTuple):
    """One text line of a page. A tuple, so worker processes send pages back cheaply."""

    text: str
    size: float
    bold: bool
    block: int  # the lines of one block read as one paragraph
    top: float
    bottom: float
    left: float = 0.0
    right: float = 0.0
    table: int = -1  # a table's caption and rows (tables.py) carry its number on the page


@dataclass(frozen=True)
class Block:
    """A paragraph-like run of text on a page, or a heading on its own."""

    text: str
    heading: bool = False
    table: bool = False  # the caption (if any), then one "column: value" line per row


@dataclass
class ParsedDocument:
    """Blocks of every page (index 0 = page 1), plus what a global question needs."""

    pages: list[list[Block]]
    title: str | None
    outline: list[str] = field(default_factory=list)
    repaired: bool = False  # the parser had to rebuild a broken file: content may be missing
    ocr_pages: int = 0  # pages without a text layer, read by OCR

    @property
    def has_text(self) -> bool:
        return any(block.text.strip() for page in self.pages for block in page)
