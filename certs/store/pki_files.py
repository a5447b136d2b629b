"""Files of the certificate authority: atomic private writes, bounded reads, one lock.

Every file is written whole or not at all (a temporary file in the same directory, fsync,
rename over the old one, fsync of the directory), mode 0600 in a 0700 directory; every
mutation of the authority runs under an exclusive ``fcntl`` lock on ``.lock`` so that two
commands cannot interleave.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from certs.errors import AuthorityError

__all__ = [
    "DIRECTORY_MODE",
    "FILE_MODE",
    "LOCK_FILE",
    "LOCK_TIMEOUT_SECONDS",
    "exclusive_lock",
    "make_private_directory",
    "read_bounded",
    "write_atomic",
]

FILE_MODE: Final = 0o600
DIRECTORY_MODE: Final = 0o700
LOCK_FILE: Final = ".lock"
LOCK_TIMEOUT_SECONDS: Final = 10.0
"""How long a command waits for another one holding the authority's lock."""
_LOCK_POLL_SECONDS: Final = 0.05


def make_private_directory(directory: Path) -> None:
    """Create ``directory`` (and parents) mode 0700; an existing one is made 0700."""
    try:
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        os.chmod(directory, DIRECTORY_MODE)
    except OSError as exc:
        raise AuthorityError(
            f"cannot use the directory {directory}: {exc.strerror or exc}"
        ) from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: whole or not at all, mode 0600, durable on return."""
    directory = path.parent
    temporary = directory / f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        _fsync_directory(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise AuthorityError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_bounded(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path``, or None when it does not exist.

    :raises AuthorityError: unreadable, or larger than ``limit`` bytes."""
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthorityError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise AuthorityError(f"{path} is larger than {limit} bytes")
    return data


@contextlib.contextmanager
def exclusive_lock(directory: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the exclusive lock of the authority in ``directory`` (waiting up to ``timeout``
    seconds for another holder).

    :raises AuthorityError: still held by another process after ``timeout``."""
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise AuthorityError(f"cannot open the lock {path}: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise AuthorityError(f"cannot lock {path}: {exc.strerror or exc}") from exc
                if time.monotonic() >= deadline:
                    raise AuthorityError(
                        f"{directory} is in use by another `zhenglian pki` command (lock "
                        f"{path} held for {timeout:g} s): try again when it is done"
                    ) from None
                time.sleep(_LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
