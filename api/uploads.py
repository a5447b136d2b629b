"""Reading multipart uploads after authentication, within named limits.

Routes parse the body themselves (after the token was checked), so an unauthenticated or
oversized upload is refused before it is read.

Deposits are parsed as they arrive (:func:`stream_upload`): the text fields come first and
are checked before any document byte is stored; the file part, which must be the last part,
is handed to the blob store in ``STREAM_PIECE`` pieces straight from the request, so the
original is hashed and written once, in one pass, and memory stays flat whatever the size.
The body is read to its end (closing boundary included) before the last piece is handed
over, so a body that is oversized, truncated, disconnected or followed by another part fails
the store before anything is kept.

Other uploads (verification) go through Starlette's form parser (:func:`read_form`), which
spools file parts to a temporary file past 1 MiB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal, overload

import anyio.from_thread
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect
from starlette.types import Message

from api.problems import Problem
from evidence.digest import PARALLEL_MIN_BYTES

#: Bytes read from a spooled upload at a time.
READ_CHUNK = 1024 * 1024
#: Bytes of a streamed deposit handed to the blob store at a time: the smallest piece whose
#: SHA-256 and SM3 run on two threads at once, and ~1.5 MiB in flight per upload (with 1 MiB
#: pieces a 2 GiB upload raised the API process's peak RSS by 2 MiB more, at the same speed).
STREAM_PIECE = PARALLEL_MIN_BYTES
#: Multipart overhead allowed on top of the document size (boundaries, other fields).
MULTIPART_OVERHEAD = 64 * 1024
#: Most non-file fields in one upload form, and the longest one.
MAX_FORM_FIELDS = 8
MAX_FIELD_BYTES = 16 * 1024
#: Most headers in one part, and the longest header line.
MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 4096
#: Longest multipart boundary (RFC 2046 §5.1.1 allows 70 characters).
MAX_BOUNDARY_CHARS = 70


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


async def read_form(request: Request, limit: int, *, max_files: int = 2) -> FormData:
    check_content_length(request, limit)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise Problem(415, "Unsupported media type", "send multipart/form-data")
    budget, seen = limit + MULTIPART_OVERHEAD, 0

    async def receive() -> Message:
        # Count the bytes as they arrive: a chunked body has no Content-Length to check.
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > budget:
                raise Problem(413, "Upload too large", f"documents are limited to {limit} bytes")
        return message

    try:
        return await Request(request.scope, receive).form(
            max_files=max_files, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
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


@overload
def form_file(form: FormData, name: str, *, required: Literal[True] = True) -> UploadFile: ...
@overload
def form_file(form: FormData, name: str, *, required: bool) -> UploadFile | None: ...
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


def _bad(detail: str) -> Problem:
    return Problem(400, "Bad request", detail)


class StreamedUpload:
    """A multipart upload parsed while it arrives: text fields first, then one file part.

    Made by :func:`stream_upload` once the text fields and the file part's headers are in;
    :meth:`chunks` then yields the file's bytes as they arrive. Every rule is enforced while
    streaming: allowed and unique field names, field sizes, the file part last, the total
    body size (413), the closing boundary, a client still connected.
    """

    def __init__(
        self,
        request: Request,
        boundary: bytes,
        *,
        fields: frozenset[str],
        file_field: str,
        max_body: int,
        binary_fields: Mapping[str, int] | None = None,
    ) -> None:
        self.fields: dict[str, str] = {}
        self.binaries: dict[str, bytes] = {}
        """Parts of ``binary_fields`` (name → largest size), kept as bytes (a signature)."""
        self._binary_limits = dict(binary_fields or {})
        self._overhead = MULTIPART_OVERHEAD + sum(self._binary_limits.values())
        self.filename: str | None = None
        self._allowed = fields
        self._file_field = file_field
        self._max_body = max_body
        self._body_size = 0
        self._stream: AsyncIterator[bytes] = request.stream().__aiter__()
        self._stream_done = False
        # Parser state: the part being read, and what the file part has produced so far.
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._value = bytearray()
        self._in_file = False
        self._file_started = False
        self._file_ended = False
        self._parsed_to_end = False
        self._pending = bytearray()
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_PART_HEADER_BYTES,
        )

    # --- multipart callbacks (raise Problem to refuse the body) --------------------------

    def _on_part_begin(self) -> None:
        if self._file_started:
            raise _bad(f"the file part {self._file_field!r} must be the last part")
        if len(self.fields) >= MAX_FORM_FIELDS:
            raise _bad(f"more than {MAX_FORM_FIELDS} form fields")
        self._headers = {}
        self._name = None
        self._value = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise _bad("every part needs Content-Disposition: form-data with a name")
        name = _decode(options[b"name"])
        if (
            name != self._file_field
            and name not in self._allowed
            and name not in self._binary_limits
        ):
            raise _bad(f"unknown form field {name!r}")
        if name in self.fields or name in self.binaries:
            raise _bad(f"form field {name!r} given twice")
        if name == self._file_field:
            if b"filename" not in options:
                raise _bad(f"form field {name!r} must be a file")
            filename = _decode(options[b"filename"])
            if "\x00" in filename:
                raise _bad("file name contains a NUL character")
            self.filename = filename
            self._in_file = self._file_started = True
        elif name in self._binary_limits:
            pass  # a file or not: its bytes are kept as they are
        elif b"filename" in options:
            raise _bad(f"form field {name!r} must be text")
        self._name = name

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending += data[start:end]
            return
        self._value += data[start:end]
        limit = self._binary_limits.get(self._name or "")
        if limit is not None:
            if len(self._value) > limit:
                raise Problem(
                    413, "Upload too large", f"form field {self._name!r} is over {limit} bytes"
                )
            return
        if len(self._value) > MAX_FIELD_BYTES:
            raise _bad(f"form field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes")

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_ended = True
            return
        assert self._name is not None
        if self._name in self._binary_limits:
            self.binaries[self._name] = bytes(self._value)
            return
        try:
            self.fields[self._name] = self._value.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(f"form field {self._name!r} is not UTF-8 text") from None

    def _on_end(self) -> None:
        self._parsed_to_end = True

    # --- reading ---------------------------------------------------------------------------

    async def _feed(self) -> bool:
        """Parse the next piece of the body; False once the body has ended."""
        if self._stream_done:
            return False
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            chunk = b""
        except ClientDisconnect:
            raise _bad("client disconnected during upload") from None
        if not chunk:
            self._stream_done = True
            if not self._parsed_to_end:
                raise _bad("malformed multipart body: it ends before the closing boundary")
            return False
        self._body_size += len(chunk)
        if self._body_size > self._max_body:
            raise Problem(
                413,
                "Upload too large",
                f"documents are limited to {self._max_body - self._overhead} bytes",
            )
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise _bad(f"malformed multipart body: {exc}") from None
        return True

    async def read_fields(self) -> None:
        """Read up to the file part's first ``STREAM_PIECE`` (or the whole of a small body)."""
        while not self._file_started:
            if not await self._feed():
                raise _bad(f"missing file field {self._file_field!r}")
        await self._fill()

    async def _fill(self) -> None:
        while len(self._pending) < STREAM_PIECE and await self._feed():
            pass

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes; run it on a worker thread (it pulls the body on the event loop).

        The last piece is yielded only after the whole body was read and found well-formed,
        so a consumer that stores what it reads commits nothing for a broken upload.
        """
        while True:
            if len(self._pending) >= STREAM_PIECE or (self._stream_done and self._pending):
                piece = bytes(self._pending)
                self._pending.clear()
                yield piece
            elif self._stream_done:
                if not self._file_ended:  # pragma: no cover - the parser ends parts first
                    raise _bad(f"file part {self._file_field!r} is incomplete")
                return
            else:
                anyio.from_thread.run(self._fill)


def _decode(raw: bytes) -> str:
    """A header parameter as sent: UTF-8 (what browsers and httpx send), else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


async def stream_upload(
    request: Request,
    limit: int,
    *,
    fields: frozenset[str],
    file_field: str,
    binary_fields: Mapping[str, int] | None = None,
) -> StreamedUpload:
    """Start parsing a multipart upload: its text fields are read when this returns.

    ``limit`` is the largest file; the body may exceed it by ``MULTIPART_OVERHEAD``. Text
    fields must come before the file part, the file part last (as browsers, curl and httpx
    send them). ``binary_fields`` (name → largest size) are parts kept as bytes, also before
    the file part; the body may be larger by their sizes too.
    """
    extra = sum((binary_fields or {}).values())
    check_content_length(request, limit + extra)
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise Problem(415, "Unsupported media type", "send multipart/form-data")
    boundary = options.get(b"boundary", b"")
    if not 0 < len(boundary) <= MAX_BOUNDARY_CHARS:
        raise _bad(f"multipart boundary must be 1..{MAX_BOUNDARY_CHARS} characters")
    upload = StreamedUpload(
        request,
        boundary,
        fields=fields,
        file_field=file_field,
        max_body=limit + MULTIPART_OVERHEAD + extra,
        binary_fields=binary_fields,
    )
    await upload.read_fields()
    return upload


def upload_text(upload: StreamedUpload, name: str, *, required: bool = True) -> str | None:
    value = upload.fields.get(name)
    if value is None and required:
        raise _bad(f"missing form field {name!r}")
    return value


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
