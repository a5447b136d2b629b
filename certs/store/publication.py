"""What the server publishes of the PKI — the root certificates (ECDSA, and SM2 when the
authority has one) and each root's current CRL — read from ``DATA_DIR/pki`` as the CLI leaves
them, and how an offline authority's files are
published there (``zhenglian pki publish``).

The server never holds the root key: ``publish`` copies the root certificate, the index, the
issued certificates and the CRLs, never ``ca-key.pem``, and refuses another root or an
older CRL than the one already published.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import AuthorityError, AuthorityNotInitialised, CertsInputError, ProfileError
from certs.formats.institution_profile import MAX_CERTIFICATE_BYTES, load_certificate
from certs.formats.revocation_list import MAX_CRL_BYTES, crl_number, load_crl
from certs.formats.root_signer import SM2
from certs.sm2.certificates import SM2Certificate
from certs.sm2.crl import check_crl
from certs.sm2.errors import MalformedSM2Data
from certs.store.authority import (
    CA_FILE,
    CRL_ARCHIVE,
    CRL_FILE,
    INDEX_FILE,
    ISSUED_DIRECTORY,
    MAX_INDEX_BYTES,
    ROOT_FILES,
    list_certificates,
    pki_directory,
)
from certs.store.pki_files import exclusive_lock, make_private_directory, read_bounded, write_atomic

__all__ = ["PublicationReport", "PublishedPki", "publish"]

MAX_PUBLISHED_FILES: Final = 1_000_000
"""Most issued certificates or CRLs copied by one publication."""


@dataclass(frozen=True)
class _Snapshot:
    stamp: tuple[int, int, int]
    data: bytes


class _WatchedFile:
    """A file re-read only when its inode, size or modification time changed (one stat
    per request): the CLI replaces files by rename, so each change is a new inode."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()

    def read(self) -> bytes | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuthorityError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if self._snapshot is not None and self._snapshot.stamp == stamp:
                return self._snapshot.data
        data = read_bounded(self.path, self.limit)
        if data is None:
            return None
        with self._lock:
            self._snapshot = _Snapshot(stamp, data)
        return data


class PublishedPki:
    """The root certificates (PEM) and current CRLs (DER) of a data directory, as served:
    the ECDSA root's (:meth:`root_pem`, :meth:`crl_der`) and the SM2 root's
    (:meth:`sm2_root_pem`, :meth:`sm2_crl_der`; None without an SM2 root)."""

    def __init__(self, data_dir: Path) -> None:
        directory = pki_directory(data_dir)
        self._root = _WatchedFile(directory / CA_FILE, MAX_CERTIFICATE_BYTES)
        self._crl = _WatchedFile(directory / CRL_FILE, MAX_CRL_BYTES)
        files = ROOT_FILES[SM2]
        self._sm2_root = _WatchedFile(directory / files.certificate, MAX_CERTIFICATE_BYTES)
        self._sm2_crl = _WatchedFile(directory / files.crl, MAX_CRL_BYTES)

    def root_pems(self) -> tuple[bytes, ...]:
        """Every root certificate, PEM, the ECDSA root first (empty: no PKI): what a trust
        bundle's ``pki_roots`` pins and ``GET /v1/pki/ca`` serves as a bundle.

        :raises AuthorityError: unreadable or not a certificate."""
        ecdsa = self.root_pem()
        if ecdsa is None:
            return ()
        sm2 = self.sm2_root_pem()
        return (ecdsa,) if sm2 is None else (ecdsa, sm2)

    def sm2_root_pem(self) -> bytes | None:
        """The SM2 root certificate, PEM; None when the authority has no SM2 root.

        :raises AuthorityError: unreadable or not an SM2 certificate."""
        data = self._sm2_root.read()
        if data is None:
            return None
        try:
            return SM2Certificate.from_pem(data).to_pem()
        except MalformedSM2Data as exc:
            raise AuthorityError(f"{self._sm2_root.path}: {exc}") from exc

    def sm2_crl_der(self) -> bytes | None:
        """The SM2 root's current CRL, DER; None when none was issued.

        :raises AuthorityError: unreadable or not a CRL."""
        data = self._sm2_crl.read()
        if data is None:
            return None
        try:
            load_crl(data)
        except ProfileError as exc:
            raise AuthorityError(f"{self._sm2_crl.path}: {exc}") from exc
        return data

    def root_pem(self) -> bytes | None:
        """The root certificate, PEM; None when no PKI was initialised.

        :raises AuthorityError: unreadable or not a certificate."""
        data = self._root.read()
        if data is None:
            return None
        try:
            return load_certificate(data).public_bytes(Encoding.PEM)
        except ProfileError as exc:
            raise AuthorityError(f"{self._root.path}: {exc}") from exc

    def crl_der(self) -> bytes | None:
        """The current CRL, DER; None when none was issued.

        :raises AuthorityError: unreadable or not a CRL."""
        data = self._crl.read()
        if data is None:
            return None
        try:
            load_crl(data)
        except ProfileError as exc:
            raise AuthorityError(f"{self._crl.path}: {exc}") from exc
        return data


@dataclass(frozen=True)
class PublicationReport:
    root_subject: str
    crl_number: int
    previous_crl_number: int | None
    certificates: int


def publish(source_data_dir: Path, target_data_dir: Path) -> PublicationReport:
    """Copy an (offline) authority's public files from ``source_data_dir`` into the
    server's ``target_data_dir``: root certificate, index, issued certificates, CRLs — the
    current CRL last. Never the root key.

    :raises CertsInputError: the source is no PKI, its CRL is not its root's, the target has
        another root, or a newer CRL than the source's (a rollback)."""
    source = pki_directory(source_data_dir)
    target = pki_directory(target_data_dir)
    if source.resolve() == target.resolve():
        raise CertsInputError("--from and --data-dir are the same directory")
    root_data = read_bounded(source / CA_FILE, MAX_CERTIFICATE_BYTES)
    crl_data = read_bounded(source / CRL_FILE, MAX_CRL_BYTES)
    index_data = read_bounded(source / INDEX_FILE, MAX_INDEX_BYTES)
    if root_data is None or crl_data is None or index_data is None:
        raise AuthorityNotInitialised(
            f"{source_data_dir} is not an authority's data directory (it needs "
            f"{PKI_NAMES}): give the directory `zhenglian pki init --data-dir` was run on"
        )
    try:
        root = load_certificate(root_data)
        crl = load_crl(crl_data)
        number = crl_number(crl)
    except ProfileError as exc:
        raise CertsInputError(f"{source}: {exc}") from exc
    try:
        list_certificates(source_data_dir)  # the index must parse before it is published
    except AuthorityError as exc:
        raise CertsInputError(str(exc)) from exc
    root_key = root.public_key()
    if (
        crl.issuer != root.subject
        or not isinstance(root_key, ec.EllipticCurvePublicKey)
        or not crl.is_signature_valid(root_key)
    ):
        raise CertsInputError(f"{source / CRL_FILE} is not signed by {source / CA_FILE}")
    make_private_directory(target)
    for sub in (ISSUED_DIRECTORY, CRL_ARCHIVE):
        make_private_directory(target / sub)
    with exclusive_lock(target):
        previous = _published_number(target, root)
        if previous is not None and previous > number:
            raise CertsInputError(
                f"{target_data_dir} already publishes CRL number {previous}, newer than the "
                f"source's {number}: refusing to roll it back"
            )
        copied = 0
        for sub in (ISSUED_DIRECTORY, CRL_ARCHIVE):
            names = sorted(os.listdir(source / sub)) if (source / sub).is_dir() else []
            if len(names) > MAX_PUBLISHED_FILES:
                raise CertsInputError(f"{source / sub} has more than {MAX_PUBLISHED_FILES} files")
            for name in names:
                if name.startswith(".") or not name.endswith((".pem", ".der")):
                    continue
                data = read_bounded(source / sub / name, MAX_CRL_BYTES)
                if data is not None:
                    write_atomic(target / sub / name, data)
                    copied += sub == ISSUED_DIRECTORY
        sm2 = (
            _sm2_files(source, target) if (source / ROOT_FILES[SM2].certificate).exists() else None
        )
        write_atomic(target / INDEX_FILE, index_data)
        write_atomic(target / CA_FILE, root.public_bytes(Encoding.PEM))
        write_atomic(target / CRL_FILE, crl_data)
        if sm2 is not None:
            files = ROOT_FILES[SM2]
            write_atomic(target / files.certificate, sm2[0])
            write_atomic(target / files.crl, sm2[1])
    return PublicationReport(root.subject.rfc4514_string(), number, previous, copied)


def _sm2_files(source: Path, target: Path) -> tuple[bytes, bytes]:
    """The SM2 root (PEM) and its current CRL (DER) to publish, checked (the CRL signed by
    the root, not older than the target's, the target's SM2 root the same); its CRL archive
    is copied here (inside the lock).

    :raises CertsInputError: any of these does not hold."""
    from certs.sm2.gmssl_engine import GmsslEngine

    files = ROOT_FILES[SM2]
    root_data = read_bounded(source / files.certificate, MAX_CERTIFICATE_BYTES)
    crl_data = read_bounded(source / files.crl, MAX_CRL_BYTES)
    if root_data is None or crl_data is None:
        raise CertsInputError(f"{source} has an SM2 root without its CRL ({files.crl})")
    try:
        root = SM2Certificate.from_pem(root_data)
        check = check_crl(crl_data, root, at=root.not_before, engine=GmsslEngine())
    except MalformedSM2Data as exc:
        raise CertsInputError(f"{source}: the SM2 root or CRL: {exc}") from exc
    if not (check.signature_valid and check.issuer_name_matches) or check.crl_number is None:
        raise CertsInputError(f"{source / files.crl} is not signed by {source / files.certificate}")
    existing = read_bounded(target / files.certificate, MAX_CERTIFICATE_BYTES)
    if existing is not None:
        try:
            published = SM2Certificate.from_pem(existing)
        except MalformedSM2Data as exc:
            raise AuthorityError(f"{target / files.certificate}: {exc}") from exc
        if published.der != root.der:
            raise CertsInputError(
                f"{target / files.certificate} is another SM2 root: a published root is never "
                "replaced"
            )
        current = read_bounded(target / files.crl, MAX_CRL_BYTES)
        if current is not None:
            try:
                previous = crl_number(load_crl(current))
            except ProfileError as exc:
                raise AuthorityError(f"{target / files.crl}: {exc}") from exc
            if previous > check.crl_number:
                raise CertsInputError(
                    f"the target already publishes SM2 CRL number {previous}, newer than the "
                    f"source's {check.crl_number}: refusing to roll it back"
                )
    make_private_directory(target / files.crl_archive)
    names = (
        sorted(os.listdir(source / files.crl_archive))
        if (source / files.crl_archive).is_dir()
        else []
    )
    if len(names) > MAX_PUBLISHED_FILES:
        raise CertsInputError(f"{source / files.crl_archive} has too many files")
    for name in names:
        if name.startswith(".") or not name.endswith(".der"):
            continue
        data = read_bounded(source / files.crl_archive / name, MAX_CRL_BYTES)
        if data is not None:
            write_atomic(target / files.crl_archive / name, data)
    return root.to_pem(), crl_data


PKI_NAMES: Final = f"pki/{CA_FILE}, pki/{CRL_FILE}, pki/{INDEX_FILE}"


def _published_number(target: Path, root: x509.Certificate) -> int | None:
    """The CRL number the target publishes now (None: nothing yet).

    :raises CertsInputError: the target publishes another root."""
    existing = read_bounded(target / CA_FILE, MAX_CERTIFICATE_BYTES)
    if existing is None:
        return None
    try:
        published_root = load_certificate(existing)
    except ProfileError as exc:
        raise AuthorityError(f"{target / CA_FILE}: {exc}") from exc
    if published_root != root:
        raise CertsInputError(
            f"{target / CA_FILE} is another root ({published_root.subject.rfc4514_string()}): "
            "a published root is never replaced"
        )
    crl_data = read_bounded(target / CRL_FILE, MAX_CRL_BYTES)
    if crl_data is None:
        return None
    try:
        return crl_number(load_crl(crl_data))
    except ProfileError as exc:
        raise AuthorityError(f"{target / CRL_FILE}: {exc}") from exc
