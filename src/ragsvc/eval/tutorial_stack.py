"""The stack ragsvc replaces, as a LangChain tutorial writes it, for a baseline row: PyPDFLoader
pages, RecursiveCharacterTextSplitter(1000, 200), FAISS, the top 5 chunks for a question.
It embeds with the same wordllama model as ragsvc, so the rows differ by the method alone.
Needs the `[bench]` extra (LangChain and pypdf); `missing()` says when it is not there."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ragsvc.eval.qa_sets import QaLine, pdf_path
from ragsvc.eval.scoring import Outcome

Embed = Callable[[list[str]], Any]  # texts -> rows of a vector each
PACKAGES = ("langchain_core", "langchain_community", "langchain_text_splitters", "pypdf")
CHUNK_SIZE, CHUNK_OVERLAP, TOP_K = 1000, 200, 5


def missing() -> str | None:
    """The packages the stack needs that are not installed, or None."""
    absent = [name for name in PACKAGES if importlib.util.find_spec(name) is None]
    return ", ".join(absent) or None


def langchain_embeddings(embed: Embed) -> Any:
    """LangChain's Embeddings (`embed_documents`, `embed_query`) over a texts -> vectors
    function; made here, as LangChain is imported only when the stack runs."""
    from langchain_core.embeddings import Embeddings

    class ForLangChain(Embeddings):  # type: ignore[misc]
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return np.asarray(embed(texts)).tolist()  # type: ignore[no-any-return]

        def embed_query(self, text: str) -> list[float]:
            return np.asarray(embed([text]))[0].tolist()  # type: ignore[no-any-return]

    return ForLangChain()


def tutorial_index(pdfs: dict[str, Path], embed: Embed) -> Any:
    """A FAISS store of the PDFs' pages split as the tutorial splits them; each chunk knows
    its document's name and 0-based page."""
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    pages = []
    for name, path in pdfs.items():
        for page in PyPDFLoader(str(path)).load():
            page.metadata["document"] = name
            pages.append(page)
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    splits = splitter.split_documents(pages)
    return FAISS.from_documents(splits, langchain_embeddings(embed))


def ask_tutorial_stack(lines: list[QaLine], pdf_dir: Path, embed: Embed) -> list[Outcome]:
    """The lines asked of one index holding all their documents: retrieval only."""
    names = dict.fromkeys(line.document for line in lines)
    store = tutorial_index({name: pdf_path(pdf_dir, name) for name in names}, embed)
    outcomes = []
    for line in lines:
        started = time.perf_counter()
        found = store.similarity_search(line.question, k=TOP_K)
        places = tuple((d.metadata["document"], int(d.metadata["page"]) + 1) for d in found)
        outcomes.append(Outcome(line, places, (time.perf_counter() - started) * 1000))
    return outcomes
