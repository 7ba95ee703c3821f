"""The HTTP face; the only importer of FastAPI, Starlette and uvicorn."""
