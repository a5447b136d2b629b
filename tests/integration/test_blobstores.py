"""Blob stores: local content-addressed files and S3 (moto_server with Object Lock)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from minio import Minio

from evidence.errors import BlobTooLarge, StorageError
from evidence.store.blob_store import BlobAltered, BlobNotFound, BlobStore, LocalBlobStore
from evidence.store.s3_blob_store import RetentionPolicy, S3BlobStore
from tests.support.moto import moto_s3  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

KEY, SECRET = "testing", "testing-secret"


def _s3(endpoint: str, *, lock: bool) -> S3BlobStore:
    store = S3BlobStore(
        endpoint,
        KEY,
        SECRET,
        f"zl-{uuid.uuid4().hex[:12]}",
        secure=False,
        retention=RetentionPolicy(days=30, legal_hold=True) if lock else None,
    )
    store.ensure_bucket(object_lock=lock)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
    else:
        yield _s3(request.getfixturevalue("moto_s3"), lock=True)


def read_all(store: BlobStore, sha: bytes) -> bytes:
    return b"".join(store.open(sha))


def test_round_trip_and_idempotence(store: BlobStore) -> None:
    data = bytes(range(256)) * 20_000  # ~5 MiB
    first = store.put(iter([data[:1000], data[1000:]]), max_size=10**8)
    assert first.created and first.digest.sha256 == hashlib.sha256(data).digest()
    assert read_all(store, first.digest.sha256) == data
    again = store.put(iter([data]), max_size=10**8)
    assert not again.created and again.digest == first.digest
    empty = store.put(iter([]), max_size=10)
    assert empty.digest.size == 0 and read_all(store, empty.digest.sha256) == b""
    assert store.verify(first.digest.sha256) == first.digest


def test_too_large_and_interrupted_uploads_store_nothing(store: BlobStore) -> None:
    with pytest.raises(BlobTooLarge):
        store.put(iter([b"x" * 600, b"x" * 600]), max_size=1000)
    assert not store.exists(hashlib.sha256(b"x" * 1200).digest())

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(broken(), max_size=1000)
    assert not store.exists(hashlib.sha256(b"partial").digest())
    with pytest.raises(BlobNotFound):
        read_all(store, b"\x00" * 32)


def test_local_alteration_is_detected(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    blob = store.put(iter([b"original"]), max_size=100)
    path = Path(blob.location)
    assert path.stat().st_mode & 0o777 == 0o400
    assert not list((tmp_path / "blobs" / "tmp").iterdir())
    path.chmod(0o640)
    path.write_bytes(b"0riginal")
    with pytest.raises(BlobAltered):
        read_all(store, blob.digest.sha256)
    with pytest.raises(BlobAltered):
        store.verify(blob.digest.sha256)


def test_s3_alteration_is_detected(moto_s3: str) -> None:  # noqa: F811
    store = _s3(moto_s3, lock=False)
    blob = store.put(iter([b"original"]), max_size=100)
    raw = Minio(moto_s3, KEY, SECRET, secure=False)
    import io

    raw.put_object(
        store.bucket, store.prefix + blob.digest.sha256.hex(), io.BytesIO(b"0riginal"), 8
    )
    with pytest.raises(BlobAltered):
        store.verify(blob.digest.sha256)


def test_s3_object_lock_retention_and_legal_hold(moto_s3: str) -> None:  # noqa: F811
    store = _s3(moto_s3, lock=True)
    blob = store.put(iter([b"locked evidence"]), max_size=100)
    status = store.lock_status(blob.digest.sha256)
    assert status.get("x-amz-object-lock-mode") == "COMPLIANCE"
    assert status.get("x-amz-object-lock-legal-hold") == "ON"
    raw = Minio(moto_s3, KEY, SECRET, secure=False)
    key = store.prefix + blob.digest.sha256.hex()
    version = raw.stat_object(store.bucket, key).version_id
    with pytest.raises(Exception):  # noqa: B017 - the store refuses; the exact error is moto's
        raw.remove_object(store.bucket, key, version_id=version)
    assert read_all(store, blob.digest.sha256) == b"locked evidence"


def test_a_full_disk_is_a_storage_error_naming_the_store_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes to /dev/full fail with ENOSPC, as on a full disk: at the write or, buffered, at
    the flush, and again at the close — which must not hide the first error (it gave a 500)."""
    import evidence.store.blob_store as blob_store

    store = LocalBlobStore(tmp_path / "blobs")
    real_mkstemp = blob_store.tempfile.mkstemp

    def full_disk(**kwargs: Any) -> tuple[int, str]:
        fd, name = real_mkstemp(**kwargs)
        os.close(fd)
        os.unlink(name)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(blob_store.tempfile, "mkstemp", full_disk)
    for chunks in ([b"small"], [b"x" * (3 * 1024 * 1024)]):
        with pytest.raises(StorageError) as caught:
            store.put(iter(chunks), max_size=10**8)
        assert "No space left on device" in str(caught.value)
        assert str(tmp_path / "blobs") in str(caught.value)
        assert not store.exists(hashlib.sha256(b"".join(chunks)).digest())
    monkeypatch.undo()  # the disk has room again: storing works at once
    assert store.put(iter([b"small"]), max_size=10).created
