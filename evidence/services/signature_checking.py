"""Signed deposits: the signature checked while the original streams in, then kept with it.

The trust is read as served: the PKI roots (ECDSA, and SM2 when the authority has one) and
their current CRLs from ``DATA_DIR/pki`` (as ``GET /v1/pki/ca`` and ``/v1/pki/crl`` read them,
re-read on change), the time-stamp authorities' roots from ``ZHENGLIAN_TSA_ROOTS``; SM2 is
checked through GmSSL (:class:`~certs.sm2.gmssl_engine.GmsslEngine`). The check itself is the pure
:mod:`evidence.verify.document_signature`.

The check runs *inside* the blob store's put, before its last piece is handed over
(:meth:`SignatureChecking.checked`): a refused signature fails the put, so neither the
original nor anything else is kept — no orphan original for the audit to find.

What is kept (docs/signatures.md §4): the detached signature and the signer's certificate
(DER), each in a content-addressed store under its SHA-256 — exactly the hashes the version 2
log entry commits to (``signature_sha256``, ``signer_certificate``), so the entry is the
index and nothing else needs a schema. The store is the originals' blob store under a namespace
of its own (``evidence.services.originals.signature_store``: local files or S3 with Object
Lock, the digest re-checked on every read); ``DATA_DIR/signatures`` (``SIGNATURES_DIRECTORY``)
is only read, as the fallback for deployments that kept signatures there before.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import hashes

from certs.errors import AuthorityError, ProfileError
from certs.formats.institution_profile import MAX_CERTIFICATE_BYTES, load_certificate
from certs.formats.revocation_list import load_crl
from certs.sm2.certificates import SM2Certificate
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.gmssl_engine import GmsslEngine
from certs.store.publication import PublishedPki
from certs.verify.cms_signature import MAX_SIGNATURE_BYTES
from certs.verify.pades_signature import MAX_SIGNED_PDF_BYTES
from certs.verify.sm2_signature import is_sm2_signature
from evidence.errors import StorageError
from evidence.formats.log_entry import LogEntry
from evidence.store.blob_store import BlobStore
from evidence.verify.document_signature import (
    DocumentSignature,
    SignatureRefused,
    SignatureTrust,
    check_detached_signature,
    check_pdf_signature,
)

__all__ = [
    "SIGNATURES_DIRECTORY",
    "KeptSignature",
    "SignatureChecking",
]

_ENGINE: Final = GmsslEngine()
"""The SM2 engine (stateless) the deposit check verifies SM2 with."""

SIGNATURES_DIRECTORY: Final = "signatures"
"""Where, under the data directory, signatures and signer certificates are kept."""

_MAX_KEPT_BYTES: Final = max(MAX_SIGNATURE_BYTES, MAX_CERTIFICATE_BYTES)

PDF_MAGIC: Final = b"%PDF-"
"""How a PDF starts (ISO 32000: the header; what is watched for an embedded signature)."""

SPOOL_MEMORY_BYTES: Final = 4 * 1024 * 1024
"""Bytes of a PDF kept in memory while it is watched for a signature; the rest spools to a
temporary file."""

_BYTE_RANGE: Final = b"/ByteRange"
"""The key every signature dictionary has (outside object streams: its offsets are the
file's), and an unsigned PDF normally lacks."""


@dataclass
class _Outcome:
    signature: DocumentSignature | None = None


@dataclass(frozen=True)
class KeptSignature:
    """A deposit's signature material, as kept: the detached signature (None when embedded)
    and the signer's certificate, both DER."""

    signature: bytes | None
    certificate: bytes


@dataclass
class SignatureChecking:
    """Checks signatures on deposit against the served PKI and keeps them."""

    data_dir: Path
    store: BlobStore
    time_stamp_roots: tuple[bytes, ...] = ()
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _published: PublishedPki | None = field(default=None, init=False, repr=False)

    def trust(self) -> SignatureTrust:
        """The root and CRL as served now, and the time-stamp roots.

        :raises SignatureRefused: ``no-pki`` (no ``zhenglian pki init`` here).
        :raises StorageError: the PKI files cannot be read.
        """
        if self._published is None:
            self._published = PublishedPki(self.data_dir)
        try:
            root_pem = self._published.root_pem()
            crl_der = self._published.crl_der()
            if root_pem is None:
                raise SignatureRefused(
                    "no-pki", "this server has no institution PKI: signatures cannot be checked"
                )
            root = load_certificate(root_pem)
            crl = load_crl(crl_der) if crl_der is not None else None
            sm2_root_pem = self._published.sm2_root_pem()
            sm2_root = (
                load_certificate(SM2Certificate.from_pem(sm2_root_pem).der)
                if sm2_root_pem is not None
                else None
            )
            sm2_crl = self._published.sm2_crl_der() if sm2_root is not None else None
        except (AuthorityError, ProfileError, MalformedSM2Data) as exc:
            raise StorageError(f"the PKI files cannot be read: {exc}") from exc
        return SignatureTrust(
            root,
            crl,
            self.time_stamp_roots,
            sm2_root=sm2_root,
            sm2_crl=sm2_crl,
            sm2_engine=_ENGINE if sm2_root is not None else None,
        )

    def checked(
        self, chunks: Iterable[bytes], signature: bytes
    ) -> tuple[Iterator[bytes], Callable[[], DocumentSignature]]:
        """``chunks`` passed through, the detached ``signature`` checked over them before the
        last one is yielded (a refusal raises inside the consumer's loop); and a function
        giving the check's record once the chunks are consumed.

        :raises SignatureRefused: (from the iterator) the signature does not hold.
        """
        trust = self.trust()  # before a byte is stored: no PKI is refused at once
        outcome = _Outcome()

        sm2 = is_sm2_signature(signature)

        def passed() -> Iterator[bytes]:
            hasher = hashlib.sha256()
            sm3 = hashes.Hash(hashes.SM3()) if sm2 else None
            held: bytes | None = None
            for chunk in chunks:
                if held is not None:
                    yield held
                hasher.update(chunk)
                if sm3 is not None:
                    sm3.update(chunk)
                held = chunk
            digests = {"sha256": hasher.digest()}
            if sm3 is not None:
                digests["sm3"] = sm3.finalize()
            outcome.signature = check_detached_signature(
                signature, digests, trust, now=self.clock()
            )
            if held is not None:
                yield held

        def result() -> DocumentSignature:
            if outcome.signature is None:
                raise RuntimeError("the signed original was not read to its end")
            return outcome.signature

        return passed(), result

    def embedded(
        self, chunks: Iterable[bytes]
    ) -> tuple[Iterator[bytes], Callable[[], DocumentSignature | None]]:
        """``chunks`` passed through; if they are a PDF with an embedded signature, that
        signature checked before the last one is yielded; and a function giving its record
        (None for anything else: not a PDF, an unsigned PDF, or a server without a PKI).

        Only a PDF (``%PDF-`` first) is watched: its bytes are spooled
        (:data:`SPOOL_MEMORY_BYTES` in memory, the rest in a temporary file) up to
        :data:`~certs.verify.pades_signature.MAX_SIGNED_PDF_BYTES` while ``/ByteRange`` is
        looked for; other files pass untouched.

        :raises SignatureRefused: (from the iterator) the embedded signature does not hold.
        """
        outcome = _Outcome()

        def passed() -> Iterator[bytes]:
            pieces = iter(chunks)
            first = next(pieces, None)
            if first is None:
                return
            if not first.startswith(PDF_MAGIC):
                yield first
                yield from pieces
                return
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
                signed, size, tail = False, 0, b""
                held: bytes | None = None
                for chunk in itertools.chain([first], pieces):
                    if held is not None:
                        yield held
                    if not signed:  # the key may straddle two chunks
                        edge = tail + chunk[: len(_BYTE_RANGE) - 1]
                        signed = _BYTE_RANGE in chunk or _BYTE_RANGE in edge
                    tail = chunk[-(len(_BYTE_RANGE) - 1) :]
                    size += len(chunk)
                    if size <= MAX_SIGNED_PDF_BYTES:
                        spool.write(chunk)
                    held = chunk
                if signed:
                    if size > MAX_SIGNED_PDF_BYTES:
                        raise SignatureRefused(
                            "too-large",
                            f"a signed PDF is checked up to {MAX_SIGNED_PDF_BYTES} bytes",
                        )
                    spool.seek(0)
                    outcome.signature = self._pdf(spool.read())
            if held is not None:
                yield held

        return passed(), lambda: outcome.signature

    def _pdf(self, pdf: bytes) -> DocumentSignature | None:
        try:
            trust = self.trust()
            return check_pdf_signature(pdf, trust, now=self.clock())
        except SignatureRefused as exc:
            if exc.reason in ("no-pki", "not-signed"):
                return None  # nothing to vouch for, or nobody to vouch: an unsigned deposit
            raise

    def keep(self, signature: bytes | None, checked: DocumentSignature) -> None:
        """Store the detached signature and the signer's certificate (idempotent)."""
        for data in (signature, checked.certificate):
            if data is not None:
                self.store.put([data], max_size=_MAX_KEPT_BYTES)

    def kept(self, entry: LogEntry) -> KeptSignature | None:
        """The signature material a version 2 entry names; None for an unsigned deposit.

        :raises NotFound: (the store's) a named file is missing;
        :raises TamperingDetected: it no longer hashes to the entry's digest.
        """
        signed = entry.signature
        if signed is None:
            return None
        signature = None
        if signed.signature_sha256 is not None:
            signature = b"".join(self.store.open(signed.signature_sha256))
        certificate = b"".join(self.store.open(signed.signer_certificate))
        return KeptSignature(signature, certificate)
