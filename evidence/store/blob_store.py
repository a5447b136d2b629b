"""Originals in a blob store behind a small interface; content-addressed local files by default.

Every original is stored under its SHA-256. A put streams to a temporary file while hashing,
refuses as soon as the size limit is passed, and only then renames the file into place
(fsync of file and directory first): a failed, oversized or interrupted upload leaves nothing.
Every read re-checks the digest; a mismatch is :class:`BlobAltered`.

A store can hand out a *namespace* of itself (:meth:`LocalBlobStore.namespace`,
``S3BlobStore.namespace``): the same directory tree or bucket, retention and locks, under keys
that cannot collide with the originals' (the signatures kept with signed deposits live in one,
docs/storage.md). :class:`LayeredBlobStore` reads a namespace first and an older location
second, so files kept before a move stay readable.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from evidence.digest import CHUNK_SIZE, DocumentDigest, DualHasher
from evidence.errors import BlobTooLarge, NotFound, StorageError, TamperingDetected

T = TypeVar("T")

_HEX64 = re.compile(r"[0-9a-f]{64}")

NAMESPACE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
"""What a namespace may be called: it becomes a directory name or a key prefix."""

RESERVED_NAMES = frozenset({"sha256", "tmp", "blobs"})
"""Names a namespace must not take: the originals' own directories and S3 prefix."""


def check_namespace(name: str) -> str:
    """``name`` if it may name a namespace (:data:`NAMESPACE_PATTERN`, not reserved)."""
    if not NAMESPACE_PATTERN.fullmatch(name) or name in RESERVED_NAMES:
        raise ValueError(f"{name!r} cannot name a blob store namespace")
    return name


class BlobNotFound(NotFound):
    pass


class BlobAltered(TamperingDetected):
    def __init__(self, sha256: bytes, actual: bytes) -> None:
        self.expected = sha256
        self.actual = actual
        super().__init__(f"stored original {sha256.hex()} now hashes to {actual.hex()}: altered")


@dataclass(frozen=True)
class StoredBlob:
    digest: DocumentDigest
    location: str
    created: bool


class BlobStore(Protocol):
    def put(self, chunks: Iterable[bytes], *, max_size: int) -> StoredBlob: ...
    def open(self, sha256: bytes) -> Iterator[bytes]: ...
    def verify(self, sha256: bytes) -> DocumentDigest: ...
    def exists(self, sha256: bytes) -> bool: ...
    def digests(self) -> Iterator[bytes]:
        """The SHA-256 of every stored original (for the audit's orphan check)."""
        ...

    def namespace(self, name: str) -> BlobStore:
        """A store of the same kind and placement (directory tree or bucket, retention, legal
        hold) whose keys can never be this one's, nor listed by its :meth:`digests`."""
        ...


def checked_stream(chunks: Iterator[bytes], sha256: bytes) -> Iterator[bytes]:
    """Pass ``chunks`` through; at the end raise :class:`BlobAltered` unless they hash to sha256."""
    hasher = DualHasher()
    for chunk in chunks:
        hasher.update(chunk)
        yield chunk
    actual = hasher.finalize().sha256
    if actual != sha256:
        raise BlobAltered(sha256, actual)


def rehash(store: BlobStore, sha256: bytes) -> DocumentDigest:
    """Re-read a stored original completely; its digests (BlobAltered if it changed)."""
    hasher = DualHasher()
    for chunk in store.open(sha256):
        hasher.update(chunk)
    return hasher.finalize()


class LocalBlobStore:
    """``root/sha256/ab/cd/<hex>``, files read-only (0440); only hex digests become paths."""

    def __init__(self, root: Path, *, owner: bool = True) -> None:
        """``owner``: this process serves uploads, so partial uploads in ``tmp/`` were left by
        a crash and are removed; a reader beside a running server (the audit) passes False."""
        self.root = root
        self._owner = owner
        self._tmp = root / "tmp"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            for stale in self._tmp.iterdir() if owner else ():  # left by a crash mid-upload
                stale.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"blob store {root}: {exc.strerror}") from exc

    def namespace(self, name: str) -> LocalBlobStore:
        """``root/<name>/``: a store of its own inside this one's directory (never
        ``sha256`` or ``tmp``, so no original's path)."""
        return LocalBlobStore(self.root / check_namespace(name), owner=self._owner)

    def _path(self, sha256: bytes) -> Path:
        h = sha256.hex()
        return self.root / "sha256" / h[:2] / h[2:4] / h

    def _io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a file-system call, turning its OSError into a StorageError naming the store."""
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            raise StorageError(
                f"blob store {self.root}: cannot store original: {exc.strerror or exc}"
            ) from exc

    def exists(self, sha256: bytes) -> bool:
        return self._path(sha256).exists()

    def digests(self) -> Iterator[bytes]:
        base = self.root / "sha256"
        try:
            for first in sorted(base.iterdir()) if base.is_dir() else ():
                for second in sorted(first.iterdir()):
                    for path in sorted(second.iterdir()):
                        if _HEX64.fullmatch(path.name):
                            yield bytes.fromhex(path.name)
        except OSError as exc:
            raise StorageError(f"cannot list originals in {base}: {exc.strerror}") from exc

    def put(self, chunks: Iterable[bytes], *, max_size: int) -> StoredBlob:
        hasher = DualHasher()
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        except OSError as exc:
            raise StorageError(
                f"blob store {self.root}: cannot store original: {exc.strerror}"
            ) from exc
        tmp = Path(tmp_name)
        try:
            out = os.fdopen(fd, "wb")
            try:
                size = 0
                for chunk in chunks:  # the caller's errors (a disconnect) propagate as they are
                    size += len(chunk)
                    if size > max_size:
                        raise BlobTooLarge(max_size)
                    hasher.update(chunk)
                    self._io(out.write, chunk)
                self._io(out.flush)
                self._io(os.fsync, out.fileno())
            finally:
                # After a failed write the close would flush the rest and fail again (a full
                # disk): that second error must not hide the first one.
                with contextlib.suppress(OSError):
                    out.close()
            digest = hasher.finalize()
            final = self._path(digest.sha256)
            if final.exists():
                self.verify(digest.sha256)  # raises BlobAltered if the kept copy changed
                return StoredBlob(digest, str(final), created=False)
            self._io(final.parent.mkdir, parents=True, exist_ok=True)
            self._io(tmp.chmod, 0o400)
            self._io(os.replace, tmp, final)
            dir_fd = self._io(os.open, final.parent, os.O_RDONLY)
            try:
                self._io(os.fsync, dir_fd)
            finally:
                os.close(dir_fd)
            return StoredBlob(digest, str(final), created=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def open(self, sha256: bytes) -> Iterator[bytes]:
        path = self._path(sha256)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no original {sha256.hex()}") from None
        except OSError as exc:
            raise StorageError(f"cannot read original: {exc.strerror}") from exc

        def chunks() -> Iterator[bytes]:
            with fh:
                while chunk := fh.read(CHUNK_SIZE):
                    yield chunk

        return checked_stream(chunks(), sha256)

    def verify(self, sha256: bytes) -> DocumentDigest:
        return rehash(self, sha256)


class LayeredBlobStore:
    """Writes go to ``primary``; a digest it lacks is read from ``legacy`` (where an older
    release kept it). A copy in ``primary`` that was altered is reported as altered, never
    hidden by an intact legacy copy."""

    def __init__(self, primary: BlobStore, legacy: BlobStore) -> None:
        self.primary = primary
        self.legacy = legacy

    def put(self, chunks: Iterable[bytes], *, max_size: int) -> StoredBlob:
        return self.primary.put(chunks, max_size=max_size)

    def open(self, sha256: bytes) -> Iterator[bytes]:
        try:
            return self.primary.open(sha256)
        except BlobNotFound:
            return self.legacy.open(sha256)

    def verify(self, sha256: bytes) -> DocumentDigest:
        return rehash(self, sha256)

    def exists(self, sha256: bytes) -> bool:
        return self.primary.exists(sha256) or self.legacy.exists(sha256)

    def digests(self) -> Iterator[bytes]:
        seen: set[bytes] = set()
        for store in (self.primary, self.legacy):
            for sha256 in store.digests():
                if sha256 not in seen:
                    seen.add(sha256)
                    yield sha256

    def namespace(self, name: str) -> BlobStore:
        return self.primary.namespace(name)
