"""A document's pages of lines -> pages of blocks: headings told from sentences and equations,
running headers, footers and page numbers dropped, and the title.

A heading is a short line set in bold or in a larger size than the body text (the most
common size); running headers, footers and bare page numbers are short lines at the page's
top or bottom that repeat across pages."""

from __future__ import annotations

import re
from collections import Counter
from itertools import groupby

from ragsvc.pdf.parsed import Block, Line

_JUNK_TITLES = re.compile(r"^(untitled|microsoft word|document\d*|\s*)$", re.IGNORECASE)
_MARGIN = 0.07  # top and bottom share of the page where running headers and footers live
_MAX_HEADING = 100


def lay_out(pages: list[list[Line]], heights: list[float]) -> list[list[Block]]:
    """Every page's lines (and its height) as blocks, margin furniture left out."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[round(line.size, 1)] += len(line.text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    furniture = _running_furniture(pages, heights)
    return [
        _blocks([line for line in lines if not _furniture(line, height, furniture)], body)
        for lines, height in zip(pages, heights, strict=True)
    ]


def _running_furniture(pages: list[list[Line]], heights: list[float]) -> set[str]:
    """Shapes of margin lines that repeat on several pages: running headers, footers and
    page numbers (digits are ignored when comparing, so "3" and "4" are the same)."""
    seen: Counter[str] = Counter()
    for lines, height in zip(pages, heights, strict=True):
        seen.update({_shape(line.text) for line in lines if _in_margin(line, height)})
    repeats = max(3, len(pages) // 3)
    return {key for key, count in seen.items() if count >= repeats}


def _furniture(line: Line, height: float, furniture: set[str]) -> bool:
    """Not content: a running header or footer, an author's e-mail line, or the markers
    of a plot read as text ("G G G G G G")."""
    if _in_margin(line, height) and _shape(line.text) in furniture:
        return True
    words = line.text.split()
    if "@" in line.text and _EMAIL.search(line.text) and len(words) <= 12:
        return True
    if len(words) < 6:
        return False
    singles = [w for w in words if len(w) == 1]  # few, on a line of text
    return sum(map(str.isalpha, singles)) >= 0.7 * len(words)


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", text.strip().lower())


def _in_margin(line: Line, height: float) -> bool:
    return line.bottom < height * _MARGIN or line.top > height * (1 - _MARGIN)


def _blocks(lines: list[Line], body: float) -> list[Block]:
    """A page's lines as blocks: each table one block (its caption, then a line per row),
    the rest as text and heading blocks."""
    blocks: list[Block] = []
    for table, group in groupby(lines, key=lambda line: line.table):
        if table >= 0:
            blocks.append(Block("\n".join(line.text for line in group), table=True))
        else:
            blocks += _text_blocks(list(group), body)
    return blocks


def _text_blocks(lines: list[Line], body: float) -> list[Block]:
    """Group lines into text blocks; heading lines become blocks of their own (pieces on
    the same baseline, such as "3.1" and "Encoder and Decoder Stacks", join)."""
    blocks: list[Block] = []
    text: list[str] = []
    heading: list[str] = []
    previous: Line | None = None
    for line in lines:
        if _is_heading(line, previous, body):
            _flush(blocks, text, heading=False)
            if heading and previous is not None and abs(line.top - previous.top) > 2:
                _flush(blocks, heading, heading=True)
            heading.append(line.text)
        else:
            _flush(blocks, heading, heading=True)
            if previous is not None and line.block != previous.block:
                _flush(blocks, text, heading=False)
            text.append(line.text)
        previous = line
    _flush(blocks, heading, heading=True)
    _flush(blocks, text, heading=False)
    return blocks


def _flush(blocks: list[Block], parts: list[str], *, heading: bool) -> None:
    if parts:
        blocks.append(Block((" " if heading else "\n").join(parts), heading=heading))
        parts.clear()


_NUMBERED = re.compile(r"^(\d+(\.\d+)*\.?|[A-Z]\.?)(\s+\S|$)")
_SECTION_NUMBER = re.compile(r"\d+(\.\d+)*\.?|[A-Z]\.")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_FORMULA = re.compile(r"[{}~=<>^|\\]")
_URL = re.compile(r"https?://|www\.|\bdoi\b|\.(?:com|org|edu|html?)\b", re.IGNORECASE)


def _is_heading(line: Line, previous: Line | None, body: float) -> bool:
    """Short, emphasised, and shaped like a title: numbered and bold, larger than the body,
    or bold and opening its block (which keeps bold words inside a paragraph out)."""
    if not line.bold and line.size < body + 1.0:
        return False  # the body text's lines, most of them: no need to read their words
    text = line.text.strip()
    if not _titlelike(text):
        return False
    opens_block = previous is None or previous.block != line.block or previous.top == line.top
    if line.size >= body + 1.0:
        return True
    return line.bold and (bool(_NUMBERED.match(text)) or opens_block)


def _titlelike(text: str) -> bool:
    """Font alone misleads (an OCR layer's sizes, a URL set in monospace, a formula, a
    table's numbers): a heading is also short, starts a phrase, mostly letters, no URL."""
    if _SECTION_NUMBER.fullmatch(text):
        return True  # "3.1", set apart from its title on the same line
    if not text or len(text) > _MAX_HEADING or text.endswith((".", ":", ",", ";", "-")):
        return False
    if not text[0].isalnum() or text[0].islower() or _URL.search(text) or _FORMULA.search(text):
        return False  # a continued sentence, a reference's link, an equation
    visible = text.replace(" ", "")
    return sum(c.isalpha() for c in visible) >= 0.6 * len(visible)


def title_of(meta_title: str, first_page: list[Line]) -> str | None:
    """The metadata title unless it is junk, else the first page's largest lines."""
    if meta_title and not _JUNK_TITLES.match(meta_title) and len(meta_title) > 3:
        return meta_title
    if not first_page:
        return None
    biggest = max(line.size for line in first_page)
    title = " ".join(line.text for line in first_page if abs(line.size - biggest) < 0.5)
    return title[:300] or None
