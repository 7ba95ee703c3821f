"""Embedders, one session's FAISS + BM25 index, hybrid retrieval."""
