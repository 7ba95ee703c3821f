"""ragsvc: chat with your PDFs over HTTP, answers streamed with citations."""

__version__ = "0.1.0"
