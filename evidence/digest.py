"""Document digests: SHA-256 and SM3 (GB/T 32905-2016) in one streaming pass, constant memory.

SHA-256 comes from :mod:`hashlib`, SM3 from ``cryptography`` (its bundled OpenSSL). Both hashes
see the same bytes in the same order; memory use does not depend on the document's size.

Both ``hashlib`` and ``cryptography`` release the GIL while they hash a large buffer, so the two
hashes of one chunk run on two cores at once: the caller's thread computes SHA-256 while a
thread of a small shared pool computes SM3 (the slower of the two, ~7x on this hardware), and
a document takes about as long as SM3 alone. There is no thread per hasher, so a hasher that
is abandoned half-way (an exception, a generator never exhausted) leaves nothing running
beyond the one SM3 update already in flight.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Final

from cryptography.hazmat.primitives import hashes

from evidence.errors import InputError

CHUNK_SIZE: Final = 1024 * 1024
"""Bytes read per step from a file or stream, and the size small updates are coalesced to.

Measured by ``bench/hashing.py``-style runs over 256 KiB - 4 MiB: 1 MiB is as fast as the
largest chunks (within noise) while keeping two buffers per document at 2 MiB.
"""

PARALLEL_MIN_BYTES: Final = 256 * 1024
"""Smallest update that is hashed on two threads; smaller ones would spend more on the
hand-off (tens of microseconds) than SHA-256 of them takes. Smaller updates are coalesced in a
``CHUNK_SIZE`` buffer first, and only a short remainder is hashed on the caller's thread."""

SM3_WORKERS: Final = max(2, os.cpu_count() or 1)
"""Threads in the shared pool computing SM3 for all hashers of the process; a hasher whose
SM3 update finds them busy waits in line."""

MAX_DOCUMENT_SIZE: Final = 2**63 - 1
"""Largest ``size`` a :class:`DocumentDigest` may state (a signed 64-bit column)."""

SHA256_BYTES: Final = 32
"""Length of a SHA-256 digest."""

SM3_BYTES: Final = 32
"""Length of an SM3 digest."""

_LOWER_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_ANY_HEX: Final = re.compile(r"[0-9a-fA-F]*")


@dataclass(frozen=True)
class DocumentDigest:
    """What identifies a document: its SHA-256 and SM3 digests and its size in bytes."""

    sha256: bytes
    sm3: bytes
    size: int

    def __post_init__(self) -> None:
        if len(self.sha256) != SHA256_BYTES or len(self.sm3) != SM3_BYTES:
            raise InputError("a document digest needs a 32-byte SHA-256 and a 32-byte SM3")
        if not 0 <= self.size <= MAX_DOCUMENT_SIZE:
            raise InputError(f"document size {self.size} is out of range")

    def to_json(self) -> dict[str, str | int]:
        return {"sha256": self.sha256.hex(), "sm3": self.sm3.hex(), "size": self.size}

    @classmethod
    def from_json(cls, obj: object) -> DocumentDigest:
        """Parse exactly what :meth:`to_json` makes: three keys, lowercase hex, an integer size."""
        if not isinstance(obj, dict) or set(obj) != {"sha256", "sm3", "size"}:
            raise InputError('a document digest is {"sha256": hex, "sm3": hex, "size": int}')
        size = obj["size"]
        if type(size) is not int:
            raise InputError(f"document digest size must be an integer, not {size!r}")
        return cls(
            sha256=_lower_hex64(obj["sha256"], "sha256"),
            sm3=_lower_hex64(obj["sm3"], "sm3"),
            size=size,
        )


def _lower_hex64(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not _LOWER_HEX64.fullmatch(value):
        raise InputError(f"document digest {name} must be 64 lowercase hex digits")
    return bytes.fromhex(value)


def parse_sha256_hex(value: str) -> bytes:
    """A SHA-256 digest given as 64 hex digits; either case is accepted.

    Raises :class:`InputError` saying what is wrong (type, length, the first non-hex character).
    """
    if not isinstance(value, str):
        raise InputError(f"a SHA-256 digest is a string of hex digits, not {type(value).__name__}")
    if not _ANY_HEX.fullmatch(value):
        bad = next(c for c in value if c not in "0123456789abcdefABCDEF")
        raise InputError(f"a SHA-256 digest is 64 hex digits; {bad!r} is not a hex digit")
    if len(value) != 2 * SHA256_BYTES:
        raise InputError(f"a SHA-256 digest is 64 hex digits, got {len(value)}")
    return bytes.fromhex(value)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _sm3_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SM3_WORKERS, thread_name_prefix="zhenglian-sm3")
        return _pool


def _forget_pool_after_fork() -> None:
    # A forked child has the pool object but none of its threads.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


Chunk = bytes | bytearray | memoryview


def _byte_view(chunk: Chunk) -> memoryview:
    view = memoryview(chunk)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _is_immutable(chunk: Chunk) -> bool:
    return type(chunk) is bytes or (isinstance(chunk, memoryview) and type(chunk.obj) is bytes)


class DualHasher:
    """SHA-256 and SM3 of everything given to :meth:`update`, then :meth:`finalize` once.

    Not for use by several threads at once. ``update`` may return while SM3 of an immutable
    ``bytes`` chunk is still running; a chunk in a mutable buffer (``bytearray``, a writable
    ``memoryview``) is fully hashed before ``update`` returns, so the caller may reuse it.
    """

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._sm3 = hashes.Hash(hashes.SM3())
        self._size = 0
        self._pending: Future[None] | None = None
        self._buffer: bytearray | None = None  # coalesces updates < PARALLEL_MIN_BYTES
        self._filled = 0
        self._finalized = False

    def update(self, chunk: Chunk) -> None:
        self._update(_byte_view(chunk), may_defer=_is_immutable(chunk))

    def finalize(self) -> DocumentDigest:
        self._check_open()
        self._finalized = True
        self._wait()
        if self._filled:
            assert self._buffer is not None
            self._hash(memoryview(self._buffer)[: self._filled], may_defer=False)
        self._buffer = None
        return DocumentDigest(self._sha256.digest(), self._sm3.finalize(), self._size)

    def _check_open(self) -> None:
        if self._finalized:
            raise RuntimeError("this DualHasher has already been finalized")

    def _update(self, view: memoryview, *, may_defer: bool) -> None:
        """Hash ``view``; unless ``may_defer``, do not hold on to it after returning.

        With ``may_defer`` the caller promises not to change ``view``'s bytes before the next
        call to ``_update`` or ``finalize`` (which wait for the SM3 in flight).
        """
        self._check_open()
        self._wait()
        self._size += len(view)
        if self._filled or len(view) < PARALLEL_MIN_BYTES:
            if self._buffer is None:
                # Grown as filled (up to CHUNK_SIZE), never resized once it is hashed: a
                # 10 KB document must not cost a zeroed 1 MiB per concurrent deposit.
                self._buffer = bytearray()
            take = min(CHUNK_SIZE - self._filled, len(view))
            self._buffer[self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled < CHUNK_SIZE:
                return
            self._hash(memoryview(self._buffer), may_defer=True)  # ours; waited on before reuse
            self._filled = 0
            if len(view) < PARALLEL_MIN_BYTES:
                self._update_tail(view)
                return
        self._hash(view, may_defer=may_defer)

    def _update_tail(self, view: memoryview) -> None:
        if view:
            assert self._buffer is not None
            self._wait()  # the buffer is being hashed
            self._buffer[: len(view)] = view
            self._filled = len(view)

    def _hash(self, view: memoryview, *, may_defer: bool) -> None:
        self._wait()
        if len(view) < PARALLEL_MIN_BYTES:
            self._sha256.update(view)
            self._sm3.update(view)
            return
        try:
            self._pending = _sm3_pool().submit(self._sm3.update, view)
        except RuntimeError:  # the interpreter is shutting down: no new threads
            self._sm3.update(view)
        self._sha256.update(view)
        if not may_defer:
            self._wait()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def digest_stream(
    source: BinaryIO | Iterable[Chunk],
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], object] | None = None,
) -> DocumentDigest:
    """Digest a binary file object (read to its end) or an iterable of chunks.

    ``progress``, if given, is called with the number of bytes of each chunk consumed. A file
    object is read with ``readinto`` into two buffers in turn, so the next chunk is read while
    SM3 of the previous one is still running. I/O errors propagate unchanged.
    """
    if not 1 <= chunk_size <= 64 * CHUNK_SIZE:
        raise ValueError(f"chunk_size {chunk_size} is not in 1 .. {64 * CHUNK_SIZE}")
    hasher = DualHasher()
    if hasattr(source, "readinto"):
        buffers = (bytearray(chunk_size), bytearray(chunk_size))
        turn = 0
        while True:
            n = source.readinto(buffers[turn])
            if n is None:
                raise ValueError("digest_stream needs a blocking stream; readinto returned None")
            if n == 0:
                break
            # The next readinto goes to the other buffer; _update waits for this one first.
            hasher._update(memoryview(buffers[turn])[:n], may_defer=True)
            turn ^= 1
            if progress is not None:
                progress(n)
    elif hasattr(source, "read"):
        while chunk := source.read(chunk_size):
            hasher.update(chunk)
            if progress is not None:
                progress(len(chunk))
    else:
        for chunk in source:
            hasher.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return hasher.finalize()


def digest_file(
    path: str | os.PathLike[str], *, progress: Callable[[int], object] | None = None
) -> DocumentDigest:
    """Digest the file at ``path``; an empty file is a valid document.

    Raises :class:`OSError` (with ``filename`` set) if it cannot be opened or read.
    """
    with open(path, "rb", buffering=0) as fh:
        return digest_stream(fh, progress=progress)
