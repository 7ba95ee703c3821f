"""PyMuPDF as the package takes it: the real module, its MuPDF error chatter off, and its
add-ons (pymupdf.layout, pymupdf4llm) masked when ragsvc is imported first."""

from __future__ import annotations

import subprocess
import sys

from ragsvc.pdf.mupdf import pdf_from, pymupdf


def test_the_package_gets_the_pymupdf_module_with_mupdfs_messages_off():
    assert pymupdf is sys.modules["pymupdf"] and callable(pymupdf.open)
    assert pymupdf.TOOLS.mupdf_display_errors() is False
    assert pymupdf.TOOLS.mupdf_display_warnings() is False
    # Masked, or loaded already if PyMuPDF was imported before ragsvc: either way there.
    assert "pymupdf.layout" in sys.modules and "pymupdf4llm" in sys.modules


def test_imported_first_it_masks_pymupdfs_add_ons():
    code = (
        "import sys\n"
        "from ragsvc.pdf.mupdf import pymupdf\n"
        "print(sys.modules['pymupdf.layout'], sys.modules['pymupdf4llm'])\n"
        "try:\n"
        "    import pymupdf.layout\n"
        "except ImportError:\n"
        "    print('masked')\n"
        "print(pymupdf.open().page_count)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "None", "masked", "0"]


def test_a_pdf_opened_for_its_pages_alone_has_no_outline_loaded():
    made = pymupdf.open()
    for _ in range(2):
        made.new_page().insert_text((72, 72), "Barn owls hunt voles at night.")
    made.set_toc([[1, "Owls", 1], [1, "Voles", 2]])
    data = made.tobytes()
    with pdf_from(data) as doc:
        assert doc.get_toc() == [[1, "Owls", 1], [1, "Voles", 2]]
    with pdf_from(data, pages_only=True) as doc:
        assert doc.outline is None and doc.get_toc() == []
        assert [page.get_text().strip() for page in doc] == ["Barn owls hunt voles at night."] * 2
    assert doc.is_closed
