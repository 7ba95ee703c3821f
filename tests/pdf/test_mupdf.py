"""PyMuPDF as the package takes it: the real module, its MuPDF error chatter off, and its
add-ons (pymupdf.layout, pymupdf4llm) masked when ragsvc is imported first."""

from __future__ import annotations

import subprocess
import sys

from ragsvc.pdf.mupdf import pymupdf


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
