"""Serving stored originals: streamed, re-hashed on the way, never completed if altered.

The blob stores re-check the digest at the end of every read (:func:`evidence.store.blob_store.
checked_stream`), which is too late for a download: the altered bytes would all be out.
:func:`checked_original` therefore holds the last chunk back until the digest and the
recorded size have been confirmed, so a client never receives the complete original of a
tampered blob — the response is cut short (or, for an original of one chunk, never starts).
A mismatch — or an original missing from the store — is logged at WARNING as tampering, with
the document id, and reported to the caller's ``on_tampering`` (the API records a
``tamper_detected`` custody event with it).

Also here, because they travel with the original: where the signatures of signed deposits
are kept (:func:`signature_store`: the originals' own blob store, docs/storage.md), and the
members of an evidence bundle other than the original (:func:`bundle_members`,
docs/bundle.md), gathered in one database session.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.orm import Session

from certs.errors import AuthorityError, ProfileError
from certs.formats.institution_profile import certified_key_algorithm
from certs.formats.revocation_list import MAX_CRL_BYTES, crl_number, load_crl
from certs.store.authority import CRL_ARCHIVE, SM2_CRL_ARCHIVE, pki_directory
from certs.store.pki_files import read_bounded
from evidence.errors import Conflict, StorageError, TamperingDetected
from evidence.formats.custody_event import CustodyObject
from evidence.formats.custody_export import MAX_EXPORT_EVENTS
from evidence.formats.evidence_bundle import (
    CRL_AT_SIGNING_NAME,
    CRL_NOW_NAME,
    MAX_CUSTODY_PAGES,
    RECEIPT_NAME,
    ROOT_CERTIFICATE_NAME,
    SIGNATURE_NAME,
    SIGNER_CERTIFICATE_NAME,
    TRUST_NAME,
    BundleMember,
    custody_page_name,
)
from evidence.formats.log_entry import LogEntry
from evidence.services.custody_recording import custody_export
from evidence.services.receipt_assembly import ReceiptPolicy, receipt_for
from evidence.services.signature_checking import SignatureChecking
from evidence.store.blob_store import BlobNotFound, BlobStore, LayeredBlobStore, LocalBlobStore
from evidence.store.repository import DocumentRecord

log = logging.getLogger(__name__)

__all__ = [
    "LEGACY_SIGNATURES_DIRECTORY",
    "MAX_BUNDLE_MEMORY_BYTES",
    "SIGNATURES_NAMESPACE",
    "BundleNotReady",
    "BundleTooLarge",
    "PublishedTrust",
    "bundle_members",
    "checked_original",
    "crl_at",
    "signature_store",
]

SIGNATURES_NAMESPACE: Final = "signatures"
"""The namespace of the originals' blob store where signatures and signer certificates are
kept (``DATA_DIR/blobs/signatures/`` locally, ``signatures/<sha256>`` in the bucket)."""

LEGACY_SIGNATURES_DIRECTORY: Final = "signatures"
"""Where, under the data directory, releases before the move kept them (still read)."""

MAX_BUNDLE_MEMORY_BYTES: Final = 128 * 1024 * 1024
"""Most bytes of a bundle's members other than the original (receipt, trust, signature
material, every custody page) built in memory for one request; the original is streamed."""

MAX_ARCHIVED_CRLS: Final = 10_000
"""Most archived CRLs (``DATA_DIR/pki/crls``) looked through for the one current at a
signing time (a weekly CRL for 190 years)."""


class BundleNotReady(Conflict):
    """The document's receipt is not ready (not anchored, cosigned or time-stamped yet): a
    bundle without its receipt would prove nothing (HTTP 409, try again later)."""


class BundleTooLarge(Conflict):
    """The bundle's members other than the original exceed :data:`MAX_BUNDLE_MEMORY_BYTES`."""


def signature_store(blobs: BlobStore, data_dir: Path) -> BlobStore:
    """Where signatures and signer certificates are kept: the originals' store, namespace
    :data:`SIGNATURES_NAMESPACE` (local, or S3 with the originals' Object Lock retention and
    legal hold). A data directory that still has ``DATA_DIR/signatures`` (an earlier release)
    is read as a fallback for digests the namespace lacks; nothing is written there."""
    primary = blobs.namespace(SIGNATURES_NAMESPACE)
    legacy = data_dir / LEGACY_SIGNATURES_DIRECTORY
    if legacy.is_dir():
        return LayeredBlobStore(primary, LocalBlobStore(legacy, owner=False))
    return primary


def checked_original(
    blobs: BlobStore,
    record: DocumentRecord,
    on_tampering: Callable[[TamperingDetected], None] | None = None,
) -> Iterator[bytes]:
    """The original of ``record`` in chunks; TamperingDetected before its last chunk if the
    stored bytes are not exactly the deposited ones (``on_tampering`` is called first; what
    it raises is logged, never hides the tampering)."""
    sent = 0
    held: bytes | None = None
    try:
        try:
            chunks = iter(blobs.open(record.sha256))
            first = next(chunks, None)
        except BlobNotFound:
            # The row and its anchored entry say it was deposited: a missing original is
            # tampering (or loss), never "no such document".
            raise TamperingDetected("the stored original is missing") from None
        for chunk in itertools.chain([] if first is None else [first], chunks):
            if not chunk:
                continue
            sent += len(chunk)
            if sent > record.size:
                raise TamperingDetected(
                    f"stored original is longer than the {record.size} bytes deposited"
                )
            if held is not None:
                yield held
            held = chunk
        if sent != record.size:
            raise TamperingDetected(
                f"stored original has {sent} bytes, {record.size} were deposited"
            )
    except TamperingDetected as exc:
        log.warning("tampering: document %s: %s (download aborted)", record.id, exc)
        if on_tampering is not None:
            try:
                on_tampering(exc)
            except Exception:
                log.exception("tampering: document %s: could not report it", record.id)
        raise
    if held is not None:
        yield held


def crl_at(data_dir: Path, when: datetime, *, sm2: bool = False) -> bytes | None:
    """The CRL (DER) the bureau's authority had issued last at ``when``: the archived CRL
    (``DATA_DIR/pki/crls/N.der``; ``sm2``: the SM2 root's, ``DATA_DIR/pki/sm2-crls/N.der``)
    of the highest number whose thisUpdate is not after it; None when none is kept from then.

    :raises StorageError: the archive cannot be read.
    """
    archive = pki_directory(data_dir) / (SM2_CRL_ARCHIVE if sm2 else CRL_ARCHIVE)
    try:
        numbers = sorted(
            (int(p.stem) for p in archive.iterdir() if p.suffix == ".der" and p.stem.isdigit()),
            reverse=True,
        )[:MAX_ARCHIVED_CRLS]
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot list the CRL archive: {exc.strerror or exc}") from exc
    for number in numbers:
        try:
            data = read_bounded(archive / f"{number}.der", MAX_CRL_BYTES)
            if data is None:
                continue
            crl = load_crl(data)
        except (AuthorityError, ProfileError) as exc:
            raise StorageError(f"archived CRL {number} cannot be read: {exc}") from exc
        if crl_number(crl) == number and crl.last_update_utc <= when:
            return data
    return None


class PublishedTrust:
    """What the server publishes beside a bundle: the trust bundle (as ``GET /v1/trust``
    answers it, or None) and the PKI's root (PEM) and current CRL (DER), or None — the ECDSA
    root's, and the SM2 root's when the authority has one."""

    def __init__(
        self,
        trust_json: bytes | None,
        root_pem: bytes | None,
        crl_der: bytes | None,
        sm2_root_pem: bytes | None = None,
        sm2_crl_der: bytes | None = None,
    ) -> None:
        self.trust_json = trust_json
        self.root_pem = root_pem
        self.crl_der = crl_der
        self.sm2_root_pem = sm2_root_pem
        self.sm2_crl_der = sm2_crl_der

    def of(self, sm2: bool) -> tuple[bytes | None, bytes | None]:
        """The root (PEM) and current CRL (DER) that certify a signer's key: the SM2 root's
        for an SM2 key, the ECDSA root's otherwise."""
        return (self.sm2_root_pem, self.sm2_crl_der) if sm2 else (self.root_pem, self.crl_der)


def _certifies_sm2(certificate_der: bytes) -> bool:
    """Whether the kept signer certificate certifies an SM2 key (its root is the SM2 root)."""
    try:
        return certified_key_algorithm(x509.load_der_x509_certificate(certificate_der)) == "sm2"
    except (ValueError, ProfileError):
        return False


def _json(value: object) -> bytes:
    """JSON as the API's responses encode it (Starlette's JSONResponse)."""
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def bundle_members(
    session: Session,
    record: DocumentRecord,
    *,
    receipt_policy: ReceiptPolicy | None,
    signatures: SignatureChecking | None,
    published: PublishedTrust,
    data_dir: Path,
    viewer: str | None,
    custody: bool = True,
) -> list[BundleMember]:
    """Every member of ``record``'s evidence bundle but the original, in memory: the receipt,
    the trust bundle, the signature, signer certificate, root and CRLs (signed deposits), and
    every page of the custody export (as ``viewer``, an institution, may see it).

    :raises BundleNotReady: the receipt is not ready.
    :raises BundleTooLarge: these members exceed :data:`MAX_BUNDLE_MEMORY_BYTES`.
    :raises TamperingDetected: the kept signature or certificate was altered or is missing.
    """
    receipt = receipt_for(session, record, receipt_policy)
    if receipt is None:
        raise BundleNotReady(
            f"document {record.id} has no receipt yet (it is not anchored, cosigned or "
            "time-stamped yet): ask again once GET /v1/documents/{id}/receipt answers 200"
        )
    members = [BundleMember(RECEIPT_NAME, _json(receipt.to_json()))]
    if published.trust_json is not None:
        members.append(BundleMember(TRUST_NAME, published.trust_json))
    entry = LogEntry.decode(record.entry)
    signed = entry.signature
    if signed is not None and signatures is not None:
        try:
            kept = signatures.kept(entry)
        except BlobNotFound:
            raise TamperingDetected(
                f"document {record.id}: its kept signature material is missing"
            ) from None
        assert kept is not None
        if kept.signature is not None:
            members.append(BundleMember(SIGNATURE_NAME, kept.signature))
        members.append(BundleMember(SIGNER_CERTIFICATE_NAME, kept.certificate))
        sm2 = _certifies_sm2(kept.certificate)
        root_pem, crl_der = published.of(sm2)
        if root_pem is not None:
            root = x509.load_pem_x509_certificate(root_pem)
            members.append(BundleMember(ROOT_CERTIFICATE_NAME, root.public_bytes(Encoding.DER)))
        if crl_der is not None:
            members.append(BundleMember(CRL_NOW_NAME, crl_der))
        at_signing = crl_at(data_dir, signed.signed_at, sm2=sm2)
        if at_signing is not None:
            members.append(BundleMember(CRL_AT_SIGNING_NAME, at_signing))
    used = sum(len(m.data) for m in members)
    if custody:
        after: int | None = None
        for page in range(1, MAX_CUSTODY_PAGES + 1):
            export = custody_export(
                session,
                CustodyObject.document(record.id),
                after=after,
                limit=MAX_EXPORT_EVENTS,
                viewer=viewer,
            )
            data = _json(export.to_json())
            used += len(data)
            if used > MAX_BUNDLE_MEMORY_BYTES:
                break
            members.append(BundleMember(custody_page_name(page), data))
            if export.next is None:
                break
            after = export.next
        else:
            used = MAX_BUNDLE_MEMORY_BYTES + 1
    if used > MAX_BUNDLE_MEMORY_BYTES:
        raise BundleTooLarge(
            f"document {record.id}: its receipt, signature material and custody export are "
            f"over {MAX_BUNDLE_MEMORY_BYTES} bytes, more than a bundle is built with: fetch "
            "them one by one (/receipt, /signature, /custody)"
        )
    return members
