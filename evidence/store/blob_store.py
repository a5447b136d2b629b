"""Originals in a blob store behind a small interface; content-addressed local files by default.

Every original is stored under its SHA-256. A put streams to a temporary file while hashing,
refuses as soon as the size limit is passed, and only then renames the file into place
(fsync of file and directory first): a failed, oversized or interrupted upload leaves nothing.
Every read re-checks the digest; a mismatch is :class:`BlobAltered`.
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
        self._tmp = root / "tmp"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            for stale in self._tmp.iterdir() if owner else ():  # left by a crash mid-upload
                stale.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"blob store {root}: {exc.strerror}") from exc

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
