"""Originals in any S3-compatible store (MinIO, Ceph, AWS) through the ``minio`` SDK.

Objects are named ``<prefix><sha256 hex>``. An upload is spooled to a local temporary file while
it is hashed (constant memory, the size limit enforced as bytes arrive), then sent with its
known length and SHA-256 checksum. With a :class:`RetentionPolicy`, each new object gets Object
Lock retention in COMPLIANCE mode (nobody, root included, can delete or overwrite it before the
date) and optionally a legal hold; the bucket must have Object Lock enabled. Reads re-check the
digest while streaming.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from evidence.digest import CHUNK_SIZE, DocumentDigest, DualHasher
from evidence.errors import BlobTooLarge, StorageError
from evidence.store.blob_store import (
    BlobNotFound,
    StoredBlob,
    check_namespace,
    checked_stream,
    rehash,
)

#: Seconds one S3 request may take to connect / to read.
S3_CONNECT_TIMEOUT = 10.0
S3_READ_TIMEOUT = 120.0
#: Part size of multipart uploads (the SDK's unit for large objects).
S3_PART_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class RetentionPolicy:
    days: int
    legal_hold: bool = False


class S3BlobStore:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str = "us-east-1",
        prefix: str = "blobs/",
        retention: RetentionPolicy | None = None,
    ) -> None:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=S3_CONNECT_TIMEOUT, read=S3_READ_TIMEOUT),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self.bucket = bucket
        self.prefix = prefix
        self.retention = retention

    def namespace(self, name: str) -> S3BlobStore:
        """The same client, bucket and retention under the prefix ``<name>/`` (never the
        originals' ``blobs/``): Object Lock applies to it as to the originals."""
        prefix = check_namespace(name) + "/"
        if prefix == self.prefix:
            raise ValueError(f"{name!r} is this store's own prefix")
        other = copy.copy(self)
        other.prefix = prefix
        return other

    def _key(self, sha256: bytes) -> str:
        return self.prefix + sha256.hex()

    def _wrap(self, what: str, exc: Exception) -> StorageError:
        code = getattr(exc, "code", type(exc).__name__)
        return StorageError(f"S3 {what} in bucket {self.bucket!r} failed: {code}")

    def ensure_bucket(self, *, object_lock: bool) -> None:
        try:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket, object_lock=object_lock)
        except (S3Error, urllib3.exceptions.HTTPError) as exc:
            raise self._wrap("bucket set-up", exc) from exc

    def digests(self) -> Iterator[bytes]:
        try:
            for item in self._client.list_objects(self.bucket, prefix=self.prefix, recursive=True):
                name = (item.object_name or "")[len(self.prefix) :]
                if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
                    yield bytes.fromhex(name)
        except (S3Error, urllib3.exceptions.HTTPError) as exc:
            raise self._wrap("list", exc) from exc

    def exists(self, sha256: bytes) -> bool:
        try:
            self._client.stat_object(self.bucket, self._key(sha256))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return False
            raise self._wrap("stat", exc) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise self._wrap("stat", exc) from exc
        return True

    def put(self, chunks: Iterable[bytes], *, max_size: int) -> StoredBlob:
        hasher = DualHasher()
        with tempfile.TemporaryFile() as spool:
            size = 0
            for chunk in chunks:
                size += len(chunk)
                if size > max_size:
                    raise BlobTooLarge(max_size)
                hasher.update(chunk)
                spool.write(chunk)
            digest = hasher.finalize()
            key = self._key(digest.sha256)
            location = f"s3://{self.bucket}/{key}"
            if self.exists(digest.sha256):
                return StoredBlob(digest, location, created=False)
            spool.seek(0)
            kwargs: dict[str, object] = {}
            if self.retention is not None:
                if self.retention.days:
                    until = datetime.now(UTC) + timedelta(days=self.retention.days)
                    kwargs["retention"] = Retention(COMPLIANCE, until)
                kwargs["legal_hold"] = self.retention.legal_hold
            try:
                self._client.put_object(
                    self.bucket,
                    key,
                    spool,
                    length=size,
                    part_size=S3_PART_SIZE,
                    metadata={
                        # The store checks the bytes against our digest on arrival; Object
                        # Lock uploads require a checksum.
                        "x-amz-sdk-checksum-algorithm": "SHA256",
                        "x-amz-checksum-sha256": base64.b64encode(digest.sha256).decode(),
                    },
                    **kwargs,  # type: ignore[arg-type]
                )
            except (S3Error, urllib3.exceptions.HTTPError, ValueError) as exc:
                raise self._wrap("upload", exc) from exc
        return StoredBlob(digest, location, created=True)

    def open(self, sha256: bytes) -> Iterator[bytes]:
        try:
            response = self._client.get_object(self.bucket, self._key(sha256))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise BlobNotFound(f"no original {sha256.hex()}") from None
            raise self._wrap("read", exc) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise self._wrap("read", exc) from exc

        def chunks() -> Iterator[bytes]:
            try:
                yield from response.stream(CHUNK_SIZE)
            finally:
                with contextlib.suppress(Exception):
                    response.close()
                    response.release_conn()

        return checked_stream(chunks(), sha256)

    def verify(self, sha256: bytes) -> DocumentDigest:
        return rehash(self, sha256)

    def lock_status(self, sha256: bytes) -> dict[str, str]:
        """Object Lock headers of an original (mode, retain-until, legal hold)."""
        try:
            stat = self._client.stat_object(self.bucket, self._key(sha256))
        except (S3Error, urllib3.exceptions.HTTPError) as exc:
            raise self._wrap("stat", exc) from exc
        meta = stat.metadata or {}
        return {
            k.lower(): str(v) for k, v in meta.items() if k.lower().startswith("x-amz-object-lock")
        }
