"""PDF bytes -> parsed document; the only importer of PyMuPDF."""
