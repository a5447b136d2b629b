"""Reading multipart uploads after authentication, within named limits.

Routes parse the body themselves (after the token was checked), so an unauthenticated or
oversized upload is refused before it is read. Starlette spools file parts to a temporary file
past 1 MiB, so memory stays flat whatever the size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect

from api.problems import Problem

#: Bytes read from a spooled upload at a time.
READ_CHUNK = 1024 * 1024
#: Multipart overhead allowed on top of the document size (boundaries, other fields).
MULTIPART_OVERHEAD = 64 * 1024
#: Most non-file fields in one upload form, and the longest one.
MAX_FORM_FIELDS = 8
MAX_FIELD_BYTES = 16 * 1024


def check_content_length(request: Request, limit: int) -> None:
    raw = request.headers.get("content-length")
    if raw is None:
        return  # chunked: the blob store enforces the limit while storing
    try:
        length = int(raw)
    except ValueError:
        raise Problem(400, "Bad request", "invalid Content-Length") from None
    if length > limit + MULTIPART_OVERHEAD:
        raise Problem(413, "Upload too large", f"documents are limited to {limit} bytes")


async def read_form(request: Request, limit: int) -> FormData:
    check_content_length(request, limit)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise Problem(415, "Unsupported media type", "send multipart/form-data")
    try:
        return await request.form(
            max_files=2, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
    except ClientDisconnect:
        raise Problem(400, "Bad request", "client disconnected during upload") from None
    except Exception as exc:  # malformed multipart
        if isinstance(exc, Problem):
            raise
        raise Problem(400, "Bad request", f"malformed multipart body: {exc}") from None


def form_text(form: FormData, name: str, *, required: bool = True) -> str | None:
    value = form.get(name)
    if value is None:
        if required:
            raise Problem(400, "Bad request", f"missing form field {name!r}")
        return None
    if not isinstance(value, str):
        raise Problem(400, "Bad request", f"form field {name!r} must be text")
    return value


def form_file(form: FormData, name: str, *, required: bool = True) -> UploadFile | None:
    value = form.get(name)
    if value is None:
        if required:
            raise Problem(400, "Bad request", f"missing file field {name!r}")
        return None
    if not isinstance(value, UploadFile):
        raise Problem(400, "Bad request", f"form field {name!r} must be a file")
    return value


def file_chunks(upload: UploadFile) -> Iterator[bytes]:
    upload.file.seek(0)
    while True:
        chunk = upload.file.read(READ_CHUNK)
        if not chunk:
            return
        yield chunk


def multipart_schema(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """``openapi_extra`` describing a multipart body the route parses itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": fields, "required": required}
                }
            },
        }
    }
