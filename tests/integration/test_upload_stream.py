"""Deposits are parsed, hashed and stored while they stream in; broken uploads store nothing."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from evidence.digest import digest_stream
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

#: The server's upload limit here: many of the pieces handed to the blob store at a time.
LIMIT = 3 * 1024 * 1024 + 17
BOUNDARY = b"zl-test-boundary"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZhenglianServer]:
    data_dir = tmp_path_factory.mktemp("zl-upload") / "data"
    with running_server(data_dir, {"ZHENGLIAN_MAX_UPLOAD_BYTES": str(LIMIT)}) as srv:
        yield srv


@pytest.fixture(scope="module")
def notary(server: ZhenglianServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token('城南公证处', 'notary')}"}


def text_part(name: str, value: str) -> bytes:
    return (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value.encode()
        + b"\r\n"
    )


def file_head(name: str = "file", filename: bytes = b"doc.bin") -> bytes:
    return (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="'
        + name.encode()
        + b'"; filename="'
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )


END = b"\r\n--" + BOUNDARY + b"--\r\n"
CLOSE = END[2:]
FIELDS = text_part("kind", "notary") + text_part("title", "streamed")


def post(
    server: ZhenglianServer, headers: dict[str, str], body: bytes | Iterator[bytes]
) -> httpx.Response:
    """POST a hand-made multipart body; an iterator is sent chunked (no Content-Length)."""
    return httpx.post(
        f"{server.url}/v1/documents",
        content=body,
        headers={**headers, "Content-Type": "multipart/form-data; boundary=" + BOUNDARY.decode()},
        timeout=60,
    )


def pieces(*parts: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for part in parts:
        for i in range(0, len(part), size):
            yield part[i : i + size]


def tree_size(server: ZhenglianServer) -> int:
    return int(httpx.get(f"{server.url}/v1/log/head").json()["tree_size"])


def stored_blobs(server: ZhenglianServer) -> set[str]:
    return {p.name for p in (server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file()}


def spooled(server: ZhenglianServer) -> list[Path]:
    return list((server.data_dir / "blobs" / "tmp").iterdir())


def test_large_upload_streams_through_in_pieces(
    server: ZhenglianServer, notary: dict[str, str]
) -> None:
    content = os.urandom(LIMIT)  # exactly the limit: several pieces, the last one short
    r = post(server, notary, pieces(FIELDS, file_head(), content, END))
    assert r.status_code == 201, r.text
    doc = r.json()
    expected = digest_stream([content])
    assert doc["sha256"] == expected.sha256.hex() and doc["sm3"] == expected.sm3.hex()
    assert doc["size"] == LIMIT and doc["filename"] == "doc.bin"
    assert not spooled(server)


def test_oversized_streamed_upload_is_413_and_stores_nothing(
    server: ZhenglianServer, notary: dict[str, str]
) -> None:
    size, blobs = tree_size(server), stored_blobs(server)
    content = os.urandom(LIMIT + 1)
    # Chunked: no Content-Length to refuse it up front; the limit holds while streaming.
    r = post(server, notary, pieces(FIELDS, file_head(), content, END))
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # With a Content-Length past the limit it is refused before the body is read.
    big = FIELDS + file_head() + content + os.urandom(128 * 1024) + END
    assert post(server, notary, big).status_code == 413
    assert tree_size(server) == size and stored_blobs(server) == blobs
    assert hashlib.sha256(content).hexdigest() not in stored_blobs(server)
    assert not spooled(server)


def test_large_upload_broken_at_its_end_stores_nothing(
    server: ZhenglianServer, notary: dict[str, str]
) -> None:
    """Pieces already handed to the blob store are dropped when the body's end is wrong."""
    size, blobs = tree_size(server), stored_blobs(server)
    content = os.urandom(2 * 1024 * 1024 + 5)
    after = FIELDS + file_head() + content + b"\r\n" + text_part("case_code", "C-9") + CLOSE
    truncated = FIELDS + file_head() + content
    for body, detail in ((after, "must be the last part"), (truncated, "closing boundary")):
        r = post(server, notary, pieces(body))
        assert r.status_code == 400 and detail in r.json()["detail"], r.text
    assert tree_size(server) == size and stored_blobs(server) == blobs
    assert not spooled(server)


def test_client_disconnect_mid_upload_stores_nothing(
    server: ZhenglianServer, notary: dict[str, str]
) -> None:
    size, blobs = tree_size(server), stored_blobs(server)
    url = urlsplit(server.url)
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: {notary['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n"
        f"Content-Length: {LIMIT}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head + FIELDS + file_head() + os.urandom(2 * 1024 * 1024))
        time.sleep(0.5)  # let the server store some of it
    deadline = time.monotonic() + 10
    while spooled(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not spooled(server)  # the partial original was removed, not kept
    assert tree_size(server) == size and stored_blobs(server) == blobs
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (FIELDS + text_part("colour", "red") + file_head() + b"x" + END, "unknown form field"),
        (FIELDS + text_part("title", "again") + file_head() + b"x" + END, "given twice"),
        (file_head() + b"x\r\n" + FIELDS + CLOSE, "must be the last part"),
        (FIELDS + file_head() + b"x\r\n" + text_part("case_code", "C-1") + CLOSE, "last"),
        (text_part("kind", "notary") + file_head() + b"x" + END, "missing form field 'title'"),
        (FIELDS + file_head() + b"truncated, no closing boundary", "closing boundary"),
        (FIELDS + file_head(filename=b"a\x00b") + b"x" + END, "NUL"),
        (FIELDS + text_part("file", "not a file") + END, "must be a file"),
        (FIELDS + END, "missing file field 'file'"),
        (text_part("title", "t" * 20_000) + file_head() + b"x" + END, "longer than"),
        (FIELDS + b"--" + BOUNDARY + b"\r\nContent-Type: text/plain\r\n\r\nx" + END, "name"),
    ],
    ids=[
        "unknown-field",
        "duplicated-field",
        "file-first",
        "field-after-file",
        "missing-field",
        "truncated",
        "nul-filename",
        "file-as-text",
        "no-file",
        "oversized-field",
        "no-disposition",
    ],
)
def test_bad_multipart_is_400_and_stores_nothing(
    server: ZhenglianServer, notary: dict[str, str], body: bytes, detail: str
) -> None:
    size = tree_size(server)
    for sent in (body, pieces(body, size=7)):  # whole, and in tiny chunked pieces
        r = post(server, notary, sent)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert detail in r.json()["detail"], r.json()
    assert tree_size(server) == size and not spooled(server)


def test_small_and_empty_uploads_and_file_names(
    server: ZhenglianServer, notary: dict[str, str]
) -> None:
    r = post(server, notary, FIELDS + file_head(filename="合同.pdf".encode()) + END)
    assert r.status_code == 201, r.text
    assert r.json()["size"] == 0 and r.json()["filename"] == "合同.pdf"
    r = post(server, notary, pieces(FIELDS, file_head(filename=b"C:\\dir\\x.txt"), b"y", END))
    assert r.status_code == 201 and r.json()["filename"] == "x.txt"
    # Chunked transfer without a file name parameter value is still a file.
    r = post(server, notary, FIELDS + file_head(filename=b"") + b"z" + END)
    assert r.status_code == 201 and r.json()["filename"] is None
    # 415 for anything but multipart.
    r = httpx.post(
        f"{server.url}/v1/documents", headers={**notary, "Content-Type": "text/plain"}, content=b"x"
    )
    assert r.status_code == 415
