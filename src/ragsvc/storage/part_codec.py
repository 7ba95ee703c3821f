"""One document's part of an index as one binary, columnar record, as both stores keep it.

A cold load of a 50,000-chunk session spent seconds parsing a JSON line per chunk and
hashing every BM25 term again; this record is read with a few array views instead. Layout:
MAGIC, the header's length (uint32, little-endian), the header (JSON: the chunk count,
the vector dimension, the BM25 vocabulary, the distinct values of each string field, each
array's dtype and length), then the arrays, each at an offset a multiple of 8: chunk ids
and pages, each string field as codes into its values, the texts as one UTF-8 blob with
each text's end (in characters), the vectors (float32), the terms as places in the
vocabulary with each chunk's end.
"""

from __future__ import annotations

import json
import struct
from typing import Any, get_args

import numpy as np

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import DocumentPart
from ragsvc.search.term_ids import TermIds

MAGIC = b"RAGSVC-PART-1\n"
_LENGTH = struct.Struct("<I")
INTEGERS = ("id", "page")
TEXTS = ("text",)
# String fields with few distinct values in a document: kept once each, coded per chunk.
CODED = ("document_id", "kind", "section", "language", "names")
FIELDS = (*INTEGERS, *TEXTS, *CODED)  # every field of Chunk (a test checks)
_KINDS = set(get_args(Chunk.model_fields["kind"].annotation))


class CorruptPart(ValueError):
    """A record that is not a part this codec wrote, or was cut short."""


def encode(part: DocumentPart) -> bytes:
    """The part as one record (its chunks, vectors and terms)."""
    chunks, count = part.chunks, len(part.chunks)
    vectors = np.asarray(part.vectors, dtype="<f4")
    terms = part.terms
    arrays: dict[str, np.ndarray] = {
        name: np.array([getattr(c, name) for c in chunks], dtype="<i8") for name in INTEGERS
    }
    values: dict[str, list[str | None]] = {}
    for name in CODED:
        column = [getattr(c, name) for c in chunks]
        places = {value: place for place, value in enumerate(dict.fromkeys(column))}
        values[name] = list(places)
        arrays[name] = np.array([places[v] for v in column], dtype="<i4").reshape(count)
    texts = [c.text for c in chunks]
    arrays["text_ends"] = np.cumsum([len(t) for t in texts], dtype="<i8").reshape(count)
    arrays["text"] = np.frombuffer("".join(texts).encode("utf-8", "surrogatepass"), np.uint8)
    arrays["vectors"] = vectors.reshape(-1)
    arrays["term_ids"], arrays["term_ends"] = terms.ids.astype("<i4"), terms.ends.astype("<i8")
    return _record(
        {"chunks": count, "dim": vectors.shape[-1], "vocabulary": terms.vocabulary},
        values,
        arrays,
    )


def _record(head: dict[str, Any], values: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    body, layout = bytearray(), []
    for name, array in arrays.items():
        body += bytes(-len(body) % 8)
        layout.append([name, array.dtype.str, array.size])
        body += array.tobytes()
    header = json.dumps({**head, "values": values, "arrays": layout}).encode()
    header += b" " * (-(len(MAGIC) + _LENGTH.size + len(header)) % 8)
    return MAGIC + _LENGTH.pack(len(header)) + header + bytes(body)


def decode(data: bytes) -> DocumentPart:
    """The part a record holds; CorruptPart if it is not one whole."""
    header, arrays = _parsed(data)
    try:
        text = arrays["text"].tobytes().decode("utf-8", "surrogatepass")
        _check(header, arrays, text)
        return _part(header, arrays, text)
    except (KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CorruptPart(f"a garbled document part: {exc!r}") from exc


def _part(header: dict[str, Any], arrays: dict[str, np.ndarray], text: str) -> DocumentPart:
    ends = arrays["text_ends"].tolist()
    columns = {name: arrays[name].tolist() for name in INTEGERS}
    columns["text"] = [text[start:end] for start, end in zip([0, *ends], ends, strict=False)]
    for name in CODED:
        values = header["values"][name]
        columns[name] = [values[code] for code in arrays[name].tolist()]
    chunks = [
        Chunk(id=i, page=p, text=t, document_id=d, kind=k, section=s, language=lang, names=n)
        for i, p, t, d, k, s, lang, n in zip(*(columns[name] for name in FIELDS), strict=True)
    ]
    # Copies: views would keep the whole record alive, in the index (the terms) or until
    # the whole session is loaded (the vectors, which FAISS copies then): each record is
    # freed once decoded, a 50,000-chunk load's peak 466 -> 366 MB with the index change.
    terms = TermIds(header["vocabulary"], arrays["term_ids"].copy(), arrays["term_ends"].copy())
    vectors = arrays["vectors"].reshape(header["chunks"], header["dim"]).copy()
    return DocumentPart(chunks, vectors, terms)


def _parsed(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the arrays (views of `data`, by name)."""
    if not data.startswith(MAGIC):
        raise CorruptPart("not a document part")
    try:
        (length,) = _LENGTH.unpack_from(data, len(MAGIC))
        start = len(MAGIC) + _LENGTH.size
        header = json.loads(data[start : start + length])
        arrays, offset = {}, start + length
        for name, dtype, size in header["arrays"]:
            offset += -offset % 8
            arrays[name] = np.frombuffer(data, dtype=dtype, count=size, offset=offset)
            offset += arrays[name].nbytes
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise CorruptPart(f"a document part cut short or garbled: {exc}") from exc
    return header, arrays


def _check(header: dict[str, Any], arrays: dict[str, np.ndarray], text: str) -> None:
    """Refuse a record whose columns do not fit together (the fields themselves are
    validated as the chunks are made)."""
    count, values = header["chunks"], header["values"]
    term_ids, text_ends, term_ends = arrays["term_ids"], arrays["text_ends"], arrays["term_ends"]
    misfits = [
        any(len(arrays[name]) != count for name in [*INTEGERS, *CODED, "text_ends"]),
        len(term_ends) != count or len(arrays["vectors"]) != count * header["dim"],
        not set(values["kind"]) <= _KINDS,
        not _within(term_ids, len(header["vocabulary"])),
        *(not _within(arrays[name], len(values[name])) for name in CODED),
        not _ends(text_ends, len(text)) or not _ends(term_ends, len(term_ids)),
    ]
    if any(misfits):
        raise CorruptPart("a document part whose columns do not fit together")


def _within(codes: np.ndarray, size: int) -> bool:
    return not len(codes) or bool(codes.min() >= 0 and codes.max() < size)


def _ends(ends: np.ndarray, total: int) -> bool:
    """Whether these are where consecutive pieces of something `total` long end."""
    if not len(ends):
        return total == 0
    return bool(np.diff(ends, prepend=0).min() >= 0 and ends[-1] == total)
