"""Pages of blocks -> sections -> clean sentences -> overlapping chunks that never cross a
page or a section.

Keeping chunks inside one page is what lets every source cite an exact page number; keeping
them inside one section lets each carry its section title, which also guides retrieval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from ragsvc.core.schemas import SECTION_SEPARATOR
from ragsvc.pdf.parsed import Block
from ragsvc.text.sentences import split_sentences
from ragsvc.text.table_rows import CAPTION

# "trans-\nformer" -> "transformer"; a capital after the break is a real hyphen ("GPT-\n4").
# Written to start with the "-" (the letter before it is looked behind from after it): a
# pattern that starts with a literal is searched for as one, ten times faster on a paper
# than one that starts with a lookbehind.
_HYPHEN_BREAK = re.compile(r"-(?<=\w-)\s*\n\s*(?=[a-z])")
# ... and "Berkeley-\nParser", "GPT-\n4": the hyphen stays, the break goes
_HYPHEN_KEPT = re.compile(r"-(?<=\w-)[ \t]*\n[ \t]*(?=[A-Z0-9])")
# Line breaks, runs of blanks and single tabs or no-break spaces, each becoming one space,
# in one pass: a lone space is left alone (it is already what the run becomes). The same
# as r"[ \t\u00a0\n]{2,}|[\t\u00a0\n]", a third faster: each run is matched from its start.
_BLANKS = re.compile(r"[\t\u00a0\n][ \t\u00a0\n]*| [ \t\u00a0\n]+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_ABSTRACT = re.compile(r"\babstract\b[:.\s—-]*", re.IGNORECASE)
CARD_CHARS = 1800
MIN_PASSAGE = 120  # characters; shorter passages are folded into a neighbour


def clean_page_text(text: str) -> str:
    """Repair line-end hyphenation and unwrap lines, keeping blank-line paragraph breaks."""
    text = _HYPHEN_KEPT.sub("-", _HYPHEN_BREAK.sub("", text))
    paragraphs = _PARAGRAPH_BREAK.split(text)
    unwrapped = (_BLANKS.sub(" ", p).strip() for p in paragraphs)
    return "\n\n".join(p for p in unwrapped if p)


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Pack whole sentences into chunks of about `size` chars, overlapping by up to `overlap`."""
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    fresh = False  # does `current` hold anything beyond the overlap already emitted?
    for sentence in _bounded(split_sentences(text), size):
        if fresh and length + len(sentence) + 1 > size:
            chunks.append(" ".join(current))
            current = _tail(current, min(overlap, size - len(sentence) - 1))
            length = sum(len(s) + 1 for s in current)
        current.append(sentence)
        length += len(sentence) + 1
        fresh = True
    if fresh:
        chunks.append(" ".join(current))
    return chunks


def _bounded(sentences: list[str], size: int) -> Iterator[str]:
    """Cut sentences longer than a chunk (tables, reference lists) at word boundaries."""
    for sentence in sentences:
        while len(sentence) > size:
            cut = sentence.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            yield sentence[:cut].strip()
            sentence = sentence[cut:].strip()
        if sentence:
            yield sentence


def _tail(sentences: list[str], overlap: int) -> list[str]:
    kept: list[str] = []
    total = 0
    for sentence in reversed(sentences):
        if total + len(sentence) > overlap:
            break
        kept.insert(0, sentence)
        total += len(sentence) + 1
    return kept


@dataclass(frozen=True)
class Passage:
    page: int
    text: str
    section: str | None
    kind: Literal["text", "references"]


_REFERENCES = re.compile(r"^(\d+\.?\s*)?(references|bibliography|works cited)$", re.IGNORECASE)
_NUMBERED_TITLE = re.compile(r"^(\d+(\.\d+)*\.?|[A-Z]\.?)\s+[A-Za-z]")


# One-word headings that name a section in papers and reports; other lone words in bold
# are mostly table headers and figure labels ("Model").
_SECTION_WORDS = frozenset(
    "introduction background motivation preliminaries overview methods methodology method "
    "approach experiments evaluation results discussion conclusion conclusions summary "
    "limitations acknowledgements acknowledgments appendix references bibliography "
    "contents abstract".split()
)


def section_title(heading: str) -> str | None:
    """A heading that names a section: numbered ("3.1 Attention"), of two words or more, or
    a usual section name ("Introduction"). Bold table cells and figure labels ("41.29",
    "Model") do not."""
    words = [w for w in heading.split() if re.search(r"[A-Za-z]{2}", w)]
    usual = heading.strip().lower() in _SECTION_WORDS
    if _NUMBERED_TITLE.match(heading) or len(words) >= 2 or usual or _REFERENCES.match(heading):
        return heading.strip()
    return None


def passages(pages: list[list[Block]], size: int, overlap: int) -> list[Passage]:
    """Chunk every page, section by section; each passage carries its heading path
    ("5 Performance > 5.1 Cluster Configuration"). After a References heading, passages
    are tagged as references until the next section."""
    out: list[Passage] = []
    path = HeadingPath()
    for number, blocks in enumerate(pages, start=1):
        paragraphs: list[str] = []
        for block in blocks:
            if block.table:
                out.extend(_pieces(number, paragraphs, path, size, overlap))
                paragraphs = []
                out.extend(_table_pieces(number, block.text, path, size))
                continue
            title = section_title(block.text) if block.heading else None
            if title is None:
                paragraphs.append(clean_page_text(block.text))
                continue
            out.extend(_pieces(number, paragraphs, path, size, overlap))
            paragraphs = []
            path.enter(title)
        out.extend(_pieces(number, paragraphs, path, size, overlap))
    return _fold_fragments(out)


def _fold_fragments(found: list[Passage]) -> list[Passage]:
    """A passage under MIN_PASSAGE characters (a caption, a chunk's leftover tail) joins the
    next passage of its page and section, or else the one before: alone, BM25 ranks such
    scraps high on a single shared word, and they answer little."""
    into_next = _fold(reversed(found), fragment_first=True)
    return _fold(reversed(into_next), fragment_first=False)


def _fold(found: Iterable[Passage], *, fragment_first: bool) -> list[Passage]:
    """Each fragment joined to the passage met before it in `found`."""
    out: list[Passage] = []
    for passage in found:
        if out and _foldable(passage, out[-1]):
            texts = (passage.text, out[-1].text) if fragment_first else (out[-1].text, passage.text)
            out[-1] = replace(out[-1], text="\n\n".join(texts))
        else:
            out.append(passage)
    return out


def _foldable(fragment: Passage, neighbour: Passage) -> bool:
    return (
        len(fragment.text) < MIN_PASSAGE
        and fragment.page == neighbour.page
        and fragment.section == neighbour.section
        and fragment.kind == neighbour.kind
    )


class HeadingPath:
    """The headings a passage stands under, outermost first. A numbered heading's depth is
    its number's ("3.2" is 2); an unnumbered one sits under the last numbered heading
    (a run-in subheading), except the usual top-level names ("References")."""

    def __init__(self) -> None:
        self.levels: list[tuple[int, str]] = []

    def enter(self, title: str) -> None:
        level = self._level(title)
        self.levels = [(lv, t) for lv, t in self.levels if lv < level] + [(level, title)]

    def _level(self, title: str) -> int:
        if match := _NUMBERED_TITLE.match(title):
            return match.group(1).rstrip(".").count(".") + 1
        numbered = [lv for lv, t in self.levels if _NUMBERED_TITLE.match(t)]
        if not numbered or title.lower() in _SECTION_WORDS or _REFERENCES.match(title):
            return 1
        return max(numbered) + 1

    @property
    def innermost(self) -> str | None:
        return self.levels[-1][1] if self.levels else None

    @property
    def text(self) -> str | None:
        return SECTION_SEPARATOR.join(t for _, t in self.levels) or None


def _pieces(
    page: int, paragraphs: list[str], path: HeadingPath, size: int, overlap: int
) -> list[Passage]:
    kind: Literal["text", "references"] = "text"
    if path.innermost is not None and _REFERENCES.match(path.innermost):
        kind = "references"
    text = "\n\n".join(p for p in paragraphs if p)
    return [Passage(page, piece, path.text, kind) for piece in chunk_text(text, size, overlap)]


def _table_pieces(page: int, text: str, path: HeadingPath, size: int) -> list[Passage]:
    """A table's rows, a paragraph each, in passages of about twice `size` characters, each
    opening with the table's caption: a row is read with what its table is about. Twice:
    a table's pieces look alike, so diversification keeps one; better few and whole."""
    size *= 2
    lines = text.split("\n")
    caption = lines[0] if CAPTION.match(lines[0]) else None
    rows = lines[1:] if caption else lines
    pieces: list[list[str]] = [[]]
    length = len(caption or "")
    for row in rows:
        if pieces[-1] and length + len(row) > size:
            pieces.append([])
            length = len(caption or "")
        pieces[-1].append(row)
        length += len(row) + 2
    texts = ["\n\n".join(([caption] if caption else []) + piece) for piece in pieces if piece]
    return [Passage(page, t, path.text, "text") for t in (texts or [caption or ""]) if t]


def abstract(first_page: list[Block]) -> str:
    """The text under an "Abstract" heading, else after an inline "Abstract", else the page;
    tables left out (their rows are passages of their own)."""
    first_page = [block for block in first_page if not block.table]
    for i, block in enumerate(first_page):
        if block.heading and _ABSTRACT.fullmatch(block.text.strip()):
            following = []
            for after in first_page[i + 1 :]:
                if after.heading and section_title(after.text):
                    break
                following.append(clean_page_text(after.text))
            return "\n\n".join(following)
    text = "\n\n".join(clean_page_text(b.text) for b in first_page)
    match = _ABSTRACT.search(text)
    return text[match.end() :] if match else text


def document_card(title: str | None, outline: list[str], opening: str) -> str:
    """Title, abstract (or opening) and outline: what global questions are answered from.
    A title the opening begins with (a page that opens with its title) is not said twice."""
    opening = opening[:CARD_CHARS].strip()
    said = title and opening.casefold().startswith(title.rstrip(".").casefold())
    parts = ["" if said or not title else f"{title.rstrip('.')}.", opening]
    if outline:
        parts.append("Outline: " + "; ".join(outline[:40]) + ".")
    return "\n\n".join(p for p in parts if p)


def file_name_words(filename: str) -> str:
    """A file name as words: "irs_form_w9_2018.pdf" -> "irs form w9 2018"."""
    stem = re.sub(r"\.pdf$", "", filename, flags=re.IGNORECASE)
    return " ".join(re.split(r"[\W_]+", stem)).strip()
