"""The files of an upload, from its multipart body (field `files`, repeated): each part past
1 MB is spooled to a temporary file by the multipart parser, and stays there (not in memory)
until the upload is done with it. middleware.BodyLimit bounds the body as it streams in; a
malformed body is a 400, a temporary directory that cannot take it a 503 (507 when its disk
is full)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from ragsvc.core.errors import BackendUnavailable, BadRequest, RagError, disk_full
from ragsvc.ingest.steps import UploadedFile

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more PDFs (repeat the field)",
                        }
                    },
                }
            }
        },
    }
}


@asynccontextmanager
async def uploaded_files(request: Request, max_files: int) -> AsyncIterator[list[UploadedFile]]:
    """The files of the multipart field `files`, each read from its part's temporary file
    (removed when the block ends)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send the PDFs as multipart/form-data in the field 'files'")
    form = await _form(request, max_files)
    try:
        parts = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not parts:
            raise BadRequest("no file in the multipart field 'files'")
        yield [UploadedFile(p.filename or "upload.pdf", p.file) for p in parts]
    finally:
        await form.close()


async def _form(request: Request, max_files: int) -> FormData:
    try:
        return await request.form(max_files=max_files, max_fields=10)
    except RagError:
        raise
    except OSError as exc:  # spooling the body to the temp dir failed: not the client's fault
        if disk_full(exc):
            raise  # 507
        temp = tempfile.gettempdir()
        raise BackendUnavailable(f"the temporary directory {temp} is not writable") from exc
    except Exception as exc:  # python-multipart / starlette parse errors
        raise BadRequest(f"malformed multipart body: {exc}") from exc
