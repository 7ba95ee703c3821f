"""What ingest extracts from the shared PDFs does not change when ingest is made faster: each
document's fields and every chunk (page, kind, section, language, names, text, search text
and BM25 terms) hash to the digests taken on the code before (issue 25). Skipped without
../shared/data. A change that alters extraction on purpose updates a digest, and says why."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ragsvc.core.config import Settings
from ragsvc.ingest.steps import IngestOptions, UploadedFile, new_document, prepare
from ragsvc.pdf.page_workers import PdfWorkers, WorkerLimits
from ragsvc.pdf.read import PageExtractor
from ragsvc.runtime.app_state import options
from ragsvc.search.bm25_terms import tokens_of
from tests.support.paths import SHARED_DATA

OPTIONS = options(Settings(), IngestOptions)
# Taken on main at 1878c45, before ingest was made faster.
DIGESTS = {
    "DeepSeek_R1.pdf": "18cd66e857ae53a05c7d1aa423c32eeb",
    "attention_is_all_you_need.pdf": "325792f0b40143304198bdf467f0b816",
    "docs/fabulaser_mini_v3_assembly_workbook.pdf": "04a5b7af23f17240151d31a883239f78",
    "docs/fr_attestation_deplacement_covid_2020.pdf": "76b322776266a9d866b5be2c0696dcf1",
    "docs/fr_rgaa4_wcag21_correspondance.pdf": "8c5d0adaf8eacc555aaf805af32102f5",
    "docs/gpl_3.0_license.pdf": "4272d96ac52d9c081241c06de7c56b03",
    "docs/ham_radio_technician_exam_slides.pdf": "c1d8a7e4d050e4d523714b066618a734",
    "docs/irs_form_w9_2018.pdf": "f448a087d0041ae39b89370f18c7c154",
    "docs/pcast_nitrd_report_2010.pdf": "d87e64fbeba6c9556f74f3b8f31d377f",
    "docs/rfc2616_http11.pdf": "560576910e7235121fc60faf1e3e294c",
    "hoare_axiomatic_basis_cacm1969.pdf": "fda16ff0c867854fc9f2f82b6a993e00",
    "mapreduce_osdi2004.pdf": "e7d095e08bdb737db91c796ff0932c34",
    "scanned_flajolet_probabilistic_counting.pdf": "24b2a4f6cf1ecb6e0b5b30a299d511e6",
    "scanned_huckfinn_p22.pdf": "a33cb74f7805377456c3647cb85d3251",
    "scanned_lisp_ii_garbage_collector.pdf": "0d20b986cfcebd1bf3bf6dded66ba7d6",
    "scanned_two_column_linn.pdf": "a33cb74f7805377456c3647cb85d3251",
    "tidy_data_jss2014.pdf": "969c5ced85f39ee1878cdbba4293d101",
}  # fmt: skip
LONG = {"docs/pcast_nitrd_report_2010.pdf", "docs/rfc2616_http11.pdf"}  # about 1 s each

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="no ../shared/data")


def digest(path: Path, extractor: PageExtractor | None = None) -> str:
    """What ingest makes of the PDF at `path`, hashed: its document's fields and chunks."""
    upload = UploadedFile(path.name, path.read_bytes())
    item = prepare(upload, new_document(upload), OPTIONS, extractor=extractor)
    doc = item.document
    record = {
        "doc": [doc.pages, doc.title, doc.language, doc.status, doc.detail, doc.chunks],
        "chunks": [
            [c.page, c.kind, c.section, c.language, c.names, c.text, c.search_text]
            for c in item.drafts
        ],
        "tokens": tokens_of(item.drafts),
    }
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()[:32]


@needs_shared
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.slow] if n in LONG else []) for n in sorted(DIGESTS)],
)
def test_the_chunks_of_each_shared_pdf_are_unchanged(name: str) -> None:
    assert digest(SHARED_DATA / name) == DIGESTS[name]


@needs_shared
def test_the_page_workers_make_the_same_chunks() -> None:
    workers = PdfWorkers(2, WorkerLimits(timeout_s=60, memory_mb=2048))
    try:
        for name in ("DeepSeek_R1.pdf", "mapreduce_osdi2004.pdf"):
            assert digest(SHARED_DATA / name, workers) == DIGESTS[name]
    finally:
        workers.close()
