"""The files of an upload, read from a real multipart body: every part of the `files` field
with its name, and a 400 for a body that is not multipart, has no file, or is malformed;
the OpenAPI entry declaring the field."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request

from ragsvc.api.multipart_files import UPLOAD_BODY, uploaded_files
from ragsvc.core.errors import BadRequest
from ragsvc.ingest.steps import UploadedFile
from tests.support.asgi import body_of, http_scope

pytestmark = pytest.mark.anyio


def request_of(**content: object) -> Request:
    """The request httpx would send with this content, as the route receives it."""
    built = httpx.Request("POST", "http://test/upload", **content)  # type: ignore[arg-type]
    headers = {k: v for k, v in built.headers.items() if k != "host"}
    return Request(http_scope("/upload", headers), body_of(built.read()))


async def read_uploads(request: Request, max_files: int) -> list[UploadedFile]:
    """The files, each read whole while they are at hand."""
    async with uploaded_files(request, max_files) as uploads:
        return [UploadedFile(u.filename, u.data) for u in uploads]


async def test_every_file_of_the_field_is_read_with_its_name():
    files = [("files", ("owls.pdf", b"%PDF-owls")), ("files", ("hawks.pdf", b"%PDF-hawks"))]
    uploads = await read_uploads(request_of(files=files, data={"note": "x"}), max_files=5)
    assert uploads == [
        UploadedFile("owls.pdf", b"%PDF-owls"),
        UploadedFile("hawks.pdf", b"%PDF-hawks"),
    ]


async def test_a_large_file_stays_in_its_temporary_file_until_it_is_read():
    big = b"%PDF-" + b"x" * (3 * 2**20)
    async with uploaded_files(request_of(files={"files": ("big.pdf", big)}), 5) as uploads:
        (upload,) = uploads
        assert not isinstance(upload.content, bytes)
        assert upload.size == len(big) and upload.head(5) == b"%PDF-"
        assert upload.opened().read() == big


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ({"json": {"files": "owls.pdf"}}, "multipart/form-data"),
        ({"files": {"other": ("owls.pdf", b"%PDF-")}}, "no file in the multipart field"),
        ({"data": {"files": "not a file"}, "files": {"x": ("a", b"")}}, "no file"),
    ],
)
async def test_a_body_without_files_is_a_bad_request(content: dict, says: str):
    with pytest.raises(BadRequest, match=says):
        await read_uploads(request_of(**content), max_files=5)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--xyz\r\n"),  # no boundary
        ("multipart/form-data; boundary=xyz", b"not a multipart body"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nno colon\r\n\r\nx\r\n--xyz--\r\n"),
    ],
)
async def test_a_malformed_body_is_a_bad_request(content_type: str, body: bytes):
    torn = Request(http_scope("/upload", {"content-type": content_type}), body_of(body))
    with pytest.raises(BadRequest, match="malformed multipart body"):
        await read_uploads(torn, max_files=5)


async def test_more_files_than_allowed_are_refused():
    files = [("files", (f"{i}.pdf", b"%PDF-")) for i in range(3)]
    with pytest.raises(BadRequest, match="malformed multipart body"):
        await read_uploads(request_of(files=files), max_files=2)


def test_the_upload_body_declares_its_files_field():
    schema = UPLOAD_BODY["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["files"]
    files = schema["properties"]["files"]
    assert files["type"] == "array" and files["items"] == {"type": "string", "format": "binary"}
