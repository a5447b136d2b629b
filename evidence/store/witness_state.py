"""A witness's key and memory (C2SP tlog-witness), kept in its own data directory ``W``.

``W`` belongs to one witness process (``zhenglian witness serve``), never to a log's serve:

* ``witness-key.json`` (mode 0600): the witness's name and its Ed25519 private key as PKCS#8
  PEM encrypted with the keystore passphrase (``ZHENGLIAN_KEY_PASSPHRASE``, or ``W``'s
  ``keystore-passphrase`` file), as :mod:`evidence.store.log_key` keeps the log's key. Made
  once by ``zhenglian witness init``; never overwritten.
* ``logs/<SHA-256 of the origin, hex>.json``: per log, the latest checkpoint the witness
  cosigned — size, root, the signed checkpoint note exactly as it was received, and the
  cosignature line the witness answered with. Each is replaced durably (temporary file,
  fsync, rename, fsync of the directory) *before* the witness answers, so a size it cosigned
  is never forgotten, not even by a power cut.
* ``refused-checkpoints.jsonl``: requests refused although validly signed by the log (a
  failed consistency proof, another root for a size): possible proof of a log's misbehaviour,
  appended (fsynced) up to :data:`MAX_REFUSED_BYTES`; the earliest are kept when it is full.
* ``witness.lock``: held (``fcntl`` exclusive lock) by the one process serving ``W``, so two
  witness processes never both check and update the same memory.

Within the process, :meth:`WitnessState.check_and_update` reads, decides and persists under
one lock per origin: the check of a request's old size and the update it leads to are atomic,
as the specification's *add-checkpoint* race requires. Every OS error is a
:class:`~evidence.errors.StorageError`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.errors import StorageError
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import WitnessKey, check_witness_name
from evidence.formats.signed_note import MAX_NOTE_BYTES, Note, NoteError

__all__ = [
    "LOCK_FILE",
    "LOGS_DIR",
    "MAX_LOG_STATE_BYTES",
    "MAX_REFUSED_BYTES",
    "MAX_WITNESS_KEY_BYTES",
    "REFUSED_FILE",
    "WITNESS_KEY_FILE",
    "LatestCheckpoint",
    "RefusedCheckpoint",
    "WitnessBusy",
    "WitnessKeyConflict",
    "WitnessSigningKey",
    "WitnessState",
    "create_witness_key",
    "load_witness_key",
    "origin_hash",
]

WITNESS_KEY_FILE: Final = "witness-key.json"
LOGS_DIR: Final = "logs"
REFUSED_FILE: Final = "refused-checkpoints.jsonl"
LOCK_FILE: Final = "witness.lock"

MAX_WITNESS_KEY_BYTES: Final = 16 * 1024
"""Largest witness key file read."""

MAX_LOG_STATE_BYTES: Final = 2 * MAX_NOTE_BYTES + 4096
"""Largest per-log state file read: a note of at most ``MAX_NOTE_BYTES`` (JSON may escape
some of it) and a few fields."""

MAX_REFUSED_BYTES: Final = 16 * 1024 * 1024
"""Size at which the file of refused checkpoints stops growing (about 240 requests of the
largest size; the earliest are the ones kept)."""

_STATE_VERSION: Final = 1


class WitnessBusy(StorageError):
    """Another process holds the witness data directory's lock (it is serving it)."""


class WitnessKeyConflict(StorageError):
    """The witness data directory already has a key under another name."""


def origin_hash(origin: str) -> str:
    """The SHA-256 of a log's origin, lowercase hex (the monitoring URL's and file's name)."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


# --- The key ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessSigningKey:
    """The witness's name and private key."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> WitnessKey:
        return WitnessKey.for_key(self.name, self.private_key.public_key().public_bytes_raw())


def create_witness_key(
    data_dir: Path, name: str, passphrase: str
) -> tuple[WitnessSigningKey, bool]:
    """The data directory's witness key, made under ``name`` if it has none; and whether it was
    made now. Idempotent for the same name.

    :raises WitnessKeyConflict: the directory's key has another name.
    :raises StorageError: the file is unreadable, malformed or readable by others, the
        passphrase is wrong, or the key cannot be written.
    """
    check_witness_name(name)
    path = data_dir / WITNESS_KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
        )
        record = json.dumps({"name": name, "key": pem.decode()}, indent=2).encode() + b"\n"
        try:
            _write_durably(path, record, exclusive=True)
        except FileExistsError:
            pass  # another `witness init` made it meanwhile: read theirs below
        except OSError as exc:
            raise StorageError(f"witness key {path}: {exc.strerror or exc}") from exc
        else:
            return WitnessSigningKey(name, key), True
    existing = load_witness_key(data_dir, passphrase)
    if existing.name != name:
        raise WitnessKeyConflict(
            f"{data_dir} already has the witness key of {existing.name!r}, not {name!r}"
        )
    return existing, False


def load_witness_key(data_dir: Path, passphrase: str) -> WitnessSigningKey:
    """The data directory's witness key.

    :raises StorageError: there is none, or it is unreadable, malformed, readable by others,
        or the passphrase is wrong.
    """
    path = data_dir / WITNESS_KEY_FILE
    try:
        info = path.stat()
        if info.st_mode & 0o077:
            raise StorageError(
                f"{path} is readable by others (mode {info.st_mode & 0o777:o}); chmod 600 it"
            )
        if info.st_size > MAX_WITNESS_KEY_BYTES:
            raise StorageError(f"{path} is larger than {MAX_WITNESS_KEY_BYTES} bytes")
        stored = json.loads(path.read_bytes())
        name = stored["name"]
        loaded = serialization.load_pem_private_key(
            stored["key"].encode(), password=passphrase.encode("utf-8")
        )
    except StorageError:
        raise
    except FileNotFoundError:
        raise StorageError(
            f"{data_dir} has no witness key: make one with `zhenglian witness init`"
        ) from None
    except OSError as exc:
        raise StorageError(f"witness key {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StorageError(f"witness key {path} is malformed or the passphrase is wrong") from exc
    if not isinstance(loaded, Ed25519PrivateKey) or not isinstance(name, str):
        raise StorageError(f"witness key {path} is not a named Ed25519 key")
    try:
        check_witness_name(name)
    except NoteError as exc:
        raise StorageError(f"witness key {path}: {exc}") from None
    return WitnessSigningKey(name, loaded)


# --- The memory ------------------------------------------------------------------------


@dataclass(frozen=True)
class LatestCheckpoint:
    """The latest checkpoint the witness cosigned for a log."""

    origin: str
    size: int
    root: bytes
    checkpoint: bytes
    """The signed checkpoint note as received (every signature line it came with)."""
    cosignature: bytes
    """The witness's answer: its cosignature line(s) on the checkpoint."""
    time: int
    """The time the cosignature states (POSIX seconds)."""

    def to_json_bytes(self) -> bytes:
        record = {
            "version": _STATE_VERSION,
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "time": self.time,
            "checkpoint": self.checkpoint.decode("utf-8"),
            "cosignature": self.cosignature.decode("utf-8"),
        }
        return json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"

    @classmethod
    def from_json_bytes(cls, data: bytes) -> LatestCheckpoint:
        """:raises ValueError: malformed, or the note is not the checkpoint recorded."""
        record = json.loads(data)
        if not isinstance(record, dict) or record.get("version") != _STATE_VERSION:
            raise ValueError("not a version 1 witness state record")
        origin, size, time = record["origin"], record["size"], record["time"]
        if not (isinstance(origin, str) and type(size) is int and type(time) is int):
            raise ValueError("origin, size or time of the wrong type")
        try:
            root = base64.b64decode(record["root"], validate=True)
            checkpoint = record["checkpoint"].encode("utf-8")
            recorded = Checkpoint.from_text(Note.parse(checkpoint).text)
        except (binascii.Error, NoteError, AttributeError) as exc:
            raise ValueError(f"checkpoint or root: {exc}") from None
        if (recorded.origin, recorded.size, recorded.root) != (origin, size, root):
            raise ValueError("the recorded note is not the checkpoint of the recorded size")
        return cls(origin, size, root, checkpoint, record["cosignature"].encode("utf-8"), time)


@dataclass(frozen=True)
class RefusedCheckpoint:
    """A validly signed request the witness refused as inconsistent (kept as evidence)."""

    received: int
    """When (POSIX seconds)."""
    origin: str
    reason: str
    latest_size: int
    """The size of the witness's latest cosigned checkpoint then (0: none)."""
    latest_root: bytes | None
    request: bytes
    """The add-checkpoint body, as received."""

    def to_json_line(self) -> bytes:
        record = {
            "received": self.received,
            "origin": self.origin,
            "reason": self.reason,
            "latest_size": self.latest_size,
            "latest_root": None
            if self.latest_root is None
            else base64.b64encode(self.latest_root).decode(),
            "request": self.request.decode("utf-8", errors="replace"),
        }
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class WitnessState:
    """The witness's memory in ``W``, for the one process holding ``W``'s lock.

    Open with :meth:`open` (which takes the lock), close with :meth:`close`.
    """

    def __init__(self, data_dir: Path, lock_fd: int) -> None:
        self._dir = data_dir
        self._logs = data_dir / LOGS_DIR
        self._lock_fd: int | None = lock_fd
        self._guard = threading.Lock()  # guards the two dicts below
        self._locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, LatestCheckpoint | None] = {}
        self._refused_lock = threading.Lock()

    @property
    def data_dir(self) -> Path:
        return self._dir

    @property
    def refused_path(self) -> Path:
        return self._dir / REFUSED_FILE

    @classmethod
    def open(cls, data_dir: Path) -> WitnessState:
        """Take ``W``'s lock and open its memory.

        :raises WitnessBusy: another process holds the lock.
        :raises StorageError: ``W`` cannot be used.
        """
        path = data_dir / LOCK_FILE
        try:
            (data_dir / LOGS_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot use the witness directory {data_dir}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_small(fd)
            os.close(fd)
            raise WitnessBusy(
                f"another witness process{f' (pid {holder})' if holder else ''} is serving "
                f"{data_dir}: it holds {path}"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot lock {path}: {exc.strerror or exc}") from exc
        with contextlib.suppress(OSError):  # the holder's pid, for the refusal above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(data_dir, fd)

    def close(self) -> None:
        """Release ``W``'s lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def latest(self, origin: str) -> LatestCheckpoint | None:
        """The latest checkpoint cosigned for ``origin``, or None if it never cosigned one.

        :raises StorageError: the record is unreadable or malformed.
        """
        with self._guard:
            if origin in self._cache:
                return self._cache[origin]
        with self._lock_of(origin):
            return self._load(origin)

    def check_and_update(
        self, origin: str, decide: Callable[[LatestCheckpoint | None], LatestCheckpoint]
    ) -> LatestCheckpoint:
        """Atomically: read ``origin``'s latest checkpoint, ``decide`` on it (raise to refuse),
        and durably record what ``decide`` returns before returning it.

        :raises StorageError: the record cannot be read or written (then nothing changed).
        """
        with self._lock_of(origin):
            new = decide(self._load(origin))
            if new.origin != origin:
                raise ValueError(f"a record of {new.origin!r} decided for {origin!r}")
            path = self._logs / f"{origin_hash(origin)}.json"
            data = new.to_json_bytes()
            if len(data) > MAX_LOG_STATE_BYTES:  # cannot happen for a note that parsed
                raise StorageError(f"a record of {len(data)} bytes would not be read back")
            try:
                _write_durably(path, data)
            except OSError as exc:
                with self._guard:
                    self._cache.pop(origin, None)  # unsure what is on disk: read it again
                raise StorageError(f"cannot record the checkpoint in {path}: {exc}") from exc
            with self._guard:
                self._cache[origin] = new
            return new

    def record_refused(self, refused: RefusedCheckpoint) -> bool:
        """Append ``refused`` to the file of refused checkpoints (fsynced); False when the file
        has reached :data:`MAX_REFUSED_BYTES` and the request was not kept.

        :raises StorageError: the file cannot be written.
        """
        line = refused.to_json_line()
        path = self.refused_path
        with self._refused_lock:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    if os.fstat(fd).st_size + len(line) > MAX_REFUSED_BYTES:
                        return False
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise StorageError(f"cannot append to {path}: {exc.strerror or exc}") from exc
        return True

    def _lock_of(self, origin: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(origin)
            if lock is None:
                lock = self._locks[origin] = threading.Lock()
            return lock

    def _load(self, origin: str) -> LatestCheckpoint | None:
        """Read ``origin``'s record (the caller holds its lock)."""
        with self._guard:
            if origin in self._cache:
                return self._cache[origin]
        path = self._logs / f"{origin_hash(origin)}.json"
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_LOG_STATE_BYTES + 1)
        except FileNotFoundError:
            record = None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        else:
            if len(data) > MAX_LOG_STATE_BYTES:
                raise StorageError(f"{path} is larger than {MAX_LOG_STATE_BYTES} bytes")
            try:
                record = LatestCheckpoint.from_json_bytes(data)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise StorageError(f"{path} is not a witness state record: {exc}") from exc
            if record.origin != origin:
                raise StorageError(f"{path} records log {record.origin!r}, not {origin!r}")
        with self._guard:
            self._cache[origin] = record
        return record


def _write_durably(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` (mode 0600) so that after a crash it holds either its old
    content or ``data``: temporary file, fsync, rename (or, if ``exclusive``, a hard link that
    fails with FileExistsError if ``path`` exists), fsync of the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _read_small(fd: int) -> str:
    with contextlib.suppress(OSError):
        return os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return ""
