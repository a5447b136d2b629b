"""Is this a good institution signature over this document? Pure, offline.

**Verification-critical.** The deposit check and ``zhenglian verify --signature`` both ask
this module; what it returns is what a version 2 log entry commits to. Trust is explicit:
the PKI root, its CRL and the time-stamp authorities' roots are arguments, as is ``now``.

The checks of a detached CMS signature (docs/signatures.md §3), in order — the first
failure raises :class:`SignatureRefused` naming it (``reason``):

1. the signature is read and its cryptography checked over the content's digests
   (:mod:`certs.verify.cms_signature`: ``too-large``, ``malformed``, ``not-detached``,
   ``signer-certificate``, ``digest-algorithm``, ``signature-algorithm``,
   ``content-mismatch``, ``signature-invalid``);
2. the signing time: the signature time-stamp token's genTime when the token is over this
   signature value and by an authority chaining to ``time_stamp_roots`` (proven); a token by
   an authority not among the roots (or no roots given) leaves the signer's claimed
   signingTime, marked *claimed*; a token that is malformed, over another signature or
   badly signed is ``time-stamp-invalid``; no token and no signingTime is
   ``no-signing-time``; a time after ``now`` (beyond :data:`CLOCK_SKEW`) is
   ``signing-time-future``;
3. the signer's certificate at that time (:mod:`certs.verify.institution_check`): every
   failure is named, the reason being the first one's kind (``wrong-issuer``, ``expired``,
   ``not-yet-valid``, ``key-usage``, ``profile``, ``revoked``, ``crl-missing``,
   ``crl-stale``, ``crl-not-by-root``, ``root-not-ca``, ``root-not-valid``).

An SM2 signature (GM/T 0010 SignedData, SM3, signer ID 1234567812345678) is recognised by its
OIDs and takes the same three steps in SM2 (docs/sm2.md §7): step 1 by
:mod:`certs.verify.sm2_signature` over the content's SM3 digest (another signer ID is
``signature-invalid``), step 2 unchanged, step 3 against the trusted *SM2* root and its CRL
(``no-sm2-root`` when none is trusted; an SM2 key certified by the ECDSA root is refused).
The SM2 engine is part of the trust argument: this module imports no binding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import CertsInputError
from certs.formats.institution_profile import certified_key_algorithm
from certs.formats.revocation_list import RevokedEntry
from certs.sm2.engine import SM2Engine
from certs.verify.cms_signature import (
    CmsSignature,
    SignatureFormatError,
    read_detached_signature,
)
from certs.verify.institution_check import (
    CertificateCheck,
    check_institution_certificate,
    check_sm2_institution_certificate,
)
from certs.verify.pades_signature import PdfSignatureError, read_pdf_signature
from certs.verify.sm2_signature import Sm2CmsSignature, is_sm2_signature, read_sm2_signature
from evidence.errors import InputError
from evidence.formats.log_entry import EntrySignature, SignatureForm, TimeProof
from evidence.verify.time_stamp_check import TimeStampError, verify_time_stamp

__all__ = [
    "CLOCK_SKEW",
    "DocumentSignature",
    "SignatureCheck",
    "SignatureRefused",
    "SignatureTrust",
    "check_committed_pdf_signature",
    "check_committed_signature",
    "check_detached_signature",
    "check_pdf_signature",
    "check_signer",
    "check_signer_certificate",
]

CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far after ``now`` a signing time may lie (the signer's clock ahead of ours)."""

_UNTRUSTED_AUTHORITY: Final = frozenset({"untrusted", "roots"})
"""Time-stamp failures that leave the claimed time rather than refuse the signature: the
authority is not one the verifier trusts (or none is configured)."""


class SignatureRefused(InputError):
    """The signature does not hold for this document; ``reason`` names the check (see the
    module's list), the message says what was found."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class SignatureTrust:
    """What a signature is checked against: the PKI root, its current CRL (None: revocation
    cannot be checked, which refuses) and the time-stamp authorities' roots (DER); for SM2
    signatures the SM2 root, its current CRL (DER) and the engine that checks SM2 (None: SM2
    signatures are refused, ``no-sm2-root``)."""

    root: x509.Certificate
    crl: x509.CertificateRevocationList | None
    time_stamp_roots: tuple[bytes, ...] = ()
    sm2_root: x509.Certificate | None = None
    sm2_crl: bytes | None = None
    sm2_engine: SM2Engine | None = None


@dataclass(frozen=True)
class DocumentSignature:
    """A signature that holds: who signed, with which certificate, when, and how we know."""

    form: SignatureForm
    signature_sha256: bytes | None
    """SHA-256 of the detached signature, None when embedded."""
    certificate: bytes
    """DER of the signer's certificate."""
    institution: str
    credit_code: str
    institution_type: str
    serial_hex: str
    signed_at: datetime
    time_proof: TimeProof
    time_stamp_authority: str | None
    """Subject of the authority whose token proved the time (None when claimed)."""
    revoked_later: RevokedEntry | None
    """A revocation effective after the signing time (good then, not now)."""

    @property
    def certificate_sha256(self) -> bytes:
        return hashlib.sha256(self.certificate).digest()

    def entry_signature(self) -> EntrySignature:
        """What the version 2 log entry commits to (times in whole seconds)."""
        return EntrySignature(
            form=self.form,
            signature_sha256=self.signature_sha256,
            signer_certificate=self.certificate_sha256,
            signer_credit_code=self.credit_code,
            signer_name=self.institution,
            signed_at=self.signed_at.replace(microsecond=0),
            signed_at_proof=self.time_proof,
        )


def check_detached_signature(
    signature: bytes,
    content_digests: Mapping[str, bytes],
    trust: SignatureTrust,
    *,
    now: datetime,
) -> DocumentSignature:
    """Check a detached CMS ``signature`` over content with ``content_digests`` (by
    algorithm name: ``sha256``, ``sm3``).

    :raises SignatureRefused: the first check that failed.
    """
    if is_sm2_signature(signature):
        return _check_sm2_signature(signature, content_digests, trust, now=now)
    try:
        cms = read_detached_signature(signature)
        cms.verify(content_digests)
    except SignatureFormatError as exc:
        raise SignatureRefused(exc.reason, str(exc)) from exc
    signed_at, proof, authority = _signing_time(cms, trust.time_stamp_roots, now)
    return check_signer(
        cms.certificate,
        trust,
        signed_at=signed_at,
        time_proof=proof,
        time_stamp_authority=authority,
        now=now,
        form="cms-detached",
        signature_sha256=cms.sha256,
    )


def _check_sm2_signature(
    signature: bytes,
    content_digests: Mapping[str, bytes],
    trust: SignatureTrust,
    *,
    now: datetime,
) -> DocumentSignature:
    """Steps 1–3 for an SM2 signature."""
    if trust.sm2_engine is None or trust.sm2_root is None:
        raise SignatureRefused(
            "no-sm2-root",
            "an SM2 signature, and no SM2 root is trusted here (`zhenglian pki init "
            "--algorithm sm2`): it cannot be checked",
        )
    try:
        cms = read_sm2_signature(signature, content_digests, engine=trust.sm2_engine)
    except SignatureFormatError as exc:
        raise SignatureRefused(exc.reason, str(exc)) from exc
    signed_at, proof, authority = _signing_time(cms, trust.time_stamp_roots, now)
    return check_signer(
        cms.certificate,
        trust,
        signed_at=signed_at,
        time_proof=proof,
        time_stamp_authority=authority,
        now=now,
        form="cms-detached",
        signature_sha256=cms.sha256,
    )


def check_pdf_signature(pdf: bytes, trust: SignatureTrust, *, now: datetime) -> DocumentSignature:
    """Check the PAdES signature embedded in ``pdf``: located, covering the document as given
    (:mod:`certs.verify.pades_signature`: ``not-signed``, ``multiple-signatures``,
    ``coverage``, ``modified-after-signing``, ...), then its SignedData checked over the byte
    range exactly as a detached signature (steps 1–3 of the module).

    :raises SignatureRefused: the first check that failed.
    """
    try:
        content = read_pdf_signature(pdf)
        cms = read_detached_signature(content.signed_data)
        cms.verify({"sha256": content.byte_range_sha256})
    except (PdfSignatureError, SignatureFormatError) as exc:
        raise SignatureRefused(exc.reason, str(exc)) from exc
    signed_at, proof, authority = _signing_time(cms, trust.time_stamp_roots, now)
    return check_signer(
        cms.certificate,
        trust,
        signed_at=signed_at,
        time_proof=proof,
        time_stamp_authority=authority,
        now=now,
        form="pades-embedded",
        signature_sha256=None,
    )


def check_signer(
    certificate: x509.Certificate,
    trust: SignatureTrust,
    *,
    signed_at: datetime,
    time_proof: TimeProof,
    time_stamp_authority: str | None,
    now: datetime,
    form: SignatureForm,
    signature_sha256: bytes | None,
) -> DocumentSignature:
    """Check the signer's certificate at ``signed_at`` (step 3) and make the record.

    :raises SignatureRefused: every failure named, the reason being the first one's kind.
    """
    try:
        check = check_signer_certificate(certificate, trust, signed_at=signed_at, now=now)
    except CertsInputError as exc:
        raise SignatureRefused("profile", str(exc)) from exc
    if not check.ok or check.institution is None:
        first = check.failures[0].kind.value if check.failures else "profile"
        raise SignatureRefused(
            first,
            f"the signer's certificate does not hold at {_when(signed_at, time_proof)}: "
            + "; ".join(str(f) for f in check.failures),
        )
    institution = check.institution
    return DocumentSignature(
        form=form,
        signature_sha256=signature_sha256,
        certificate=certificate.public_bytes(Encoding.DER),
        institution=institution.subject.name,
        credit_code=institution.subject.credit_code.text,
        institution_type=institution.subject.type.value,
        serial_hex=institution.serial_hex,
        signed_at=signed_at,
        time_proof=time_proof,
        time_stamp_authority=time_stamp_authority,
        revoked_later=check.revocation if check.revoked_later else None,
    )


def check_signer_certificate(
    certificate: x509.Certificate, trust: SignatureTrust, *, signed_at: datetime, now: datetime
) -> CertificateCheck:
    """The institution certificate against the root of its key's algorithm and that root's
    CRL (an SM2 key: the SM2 root, its CRL and engine), for use at ``signed_at``.

    :raises SignatureRefused: ``no-sm2-root`` — an SM2 key and no SM2 root trusted here.
    """
    if certified_key_algorithm(certificate) != "sm2":
        return check_institution_certificate(
            certificate, root=trust.root, crl=trust.crl, at=signed_at, now=now
        )
    if trust.sm2_root is None or trust.sm2_engine is None:
        raise SignatureRefused(
            "no-sm2-root", "the signer's key is SM2 and no SM2 root is trusted here"
        )
    return check_sm2_institution_certificate(
        certificate,
        root=trust.sm2_root,
        crl=trust.sm2_crl,
        at=signed_at,
        now=now,
        engine=trust.sm2_engine,
    )


def _is_sm2(certificate: x509.Certificate) -> bool:
    try:
        return certified_key_algorithm(certificate) == "sm2"
    except CertsInputError:
        return False


def _when(at: datetime, proof: TimeProof) -> str:
    return f"{at.isoformat()} ({'time-stamped' if proof == 'time-stamp' else 'claimed'})"


def _signing_time(
    cms: CmsSignature | Sm2CmsSignature, roots: Sequence[bytes], now: datetime
) -> tuple[datetime, TimeProof, str | None]:
    """Step 2: the proven or claimed signing time."""
    if cms.time_stamp_token is not None:
        try:
            facts = verify_time_stamp(cms.time_stamp_token, cms.signature_value, roots)
        except TimeStampError as exc:
            if exc.reason not in _UNTRUSTED_AUTHORITY:
                raise SignatureRefused(
                    "time-stamp-invalid", f"the signature's time stamp does not hold: {exc}"
                ) from exc
        else:
            return _not_future(facts.time, now), "time-stamp", facts.authority
    if cms.claimed_time is None:
        raise SignatureRefused(
            "no-signing-time",
            "the signature has neither a time stamp by a trusted authority nor a signingTime",
        )
    return _not_future(cms.claimed_time, now), "claimed", None


def _not_future(at: datetime, now: datetime) -> datetime:
    if at > now + CLOCK_SKEW:
        raise SignatureRefused(
            "signing-time-future",
            f"the signing time {at.isoformat()} is after now ({now.isoformat()})",
        )
    return at


@dataclass(frozen=True)
class SignatureCheck:
    """One named offline check of a deposit's signature (``zhenglian verify``)."""

    name: str
    ok: bool
    detail: str


def check_committed_signature(
    committed: EntrySignature,
    signature: bytes,
    content_digests: Mapping[str, bytes],
    roots: Sequence[x509.Certificate],
    *,
    sm2_engine: SM2Engine | None = None,
) -> list[SignatureCheck]:
    """Offline, beside a receipt: is ``signature`` the one the entry commits to, valid over
    the document, by the committed certificate, which chains to one of ``roots`` and is within
    its validity and usage at the committed signing time? Revocation is not checked here (no
    CRL is pinned offline): the deposit-time check did it, and the entry records its time.

    An SM2 signature is checked with ``sm2_engine`` over ``content_digests["sm3"]`` and its
    certificate against the SM2 roots among ``roots`` (without an engine: ``signature-valid``
    fails, saying so).
    """
    digest = hashlib.sha256(signature).digest()
    expected = committed.signature_sha256
    checks = [
        SignatureCheck(
            "signature-committed",
            expected is not None and digest == expected,
            f"the signature's SHA-256 is {digest.hex()}, the entry commits to "
            f"{expected.hex() if expected is not None else 'an embedded signature'}",
        )
    ]
    cms: CmsSignature | Sm2CmsSignature
    try:
        if is_sm2_signature(signature):
            if sm2_engine is None:
                checks.append(
                    SignatureCheck(
                        "signature-valid", False, "an SM2 signature, and no SM2 engine to check it"
                    )
                )
                return checks
            cms = read_sm2_signature(signature, content_digests, engine=sm2_engine)
        else:
            cms = read_detached_signature(signature)
            cms.verify(content_digests)
    except SignatureFormatError as exc:
        checks.append(SignatureCheck("signature-valid", False, f"{exc.reason}: {exc}"))
        return checks
    what = "SM2 (SM3, signer ID 1234567812345678)" if isinstance(cms, Sm2CmsSignature) else ""
    checks.append(
        SignatureCheck(
            "signature-valid",
            True,
            f"valid over this document by its certificate{' — ' + what if what else ''}",
        )
    )
    return checks + _committed_signer(committed, cms, roots, sm2_engine)


def check_committed_pdf_signature(
    committed: EntrySignature, pdf: bytes, roots: Sequence[x509.Certificate]
) -> list[SignatureCheck]:
    """As :func:`check_committed_signature`, for the PAdES signature inside ``pdf``."""
    checks = [
        SignatureCheck(
            "signature-committed",
            committed.form == "pades-embedded",
            f"the entry records a {committed.form} signature",
        )
    ]
    try:
        content = read_pdf_signature(pdf)
        cms = read_detached_signature(content.signed_data)
        cms.verify({"sha256": content.byte_range_sha256})
    except (PdfSignatureError, SignatureFormatError) as exc:
        checks.append(SignatureCheck("signature-valid", False, f"{exc.reason}: {exc}"))
        return checks
    checks.append(
        SignatureCheck(
            "signature-valid",
            True,
            "the PDF's signature is valid and covers it (later: only validation data, "
            f"{content.document_time_stamps} document time stamp(s))",
        )
    )
    return checks + _committed_signer(committed, cms, roots, None)


def _committed_signer(
    committed: EntrySignature,
    cms: CmsSignature | Sm2CmsSignature,
    roots: Sequence[x509.Certificate],
    sm2_engine: SM2Engine | None,
) -> list[SignatureCheck]:
    certificate = hashlib.sha256(cms.certificate_der).digest()
    checks = [
        SignatureCheck(
            "signer-certificate-committed",
            certificate == committed.signer_certificate,
            f"the signer's certificate has SHA-256 {certificate.hex()}, the entry commits to "
            f"{committed.signer_certificate.hex()}",
        )
    ]
    if not roots:
        checks.append(SignatureCheck("signer-chain", False, "no PKI root pinned (pki_roots)"))
        return checks
    problems: list[str] = []
    sm2 = isinstance(cms, Sm2CmsSignature)
    for root in roots:
        if _is_sm2(root) != sm2:
            continue  # an SM2 key chains to an SM2 root only, an ECDSA key to an ECDSA root
        if sm2:
            assert sm2_engine is not None
            result = check_sm2_institution_certificate(
                cms.certificate,
                root=root,
                crl=None,
                at=committed.signed_at,
                now=committed.signed_at,
                engine=sm2_engine,
            )
        else:
            result = check_institution_certificate(
                cms.certificate,
                root=root,
                crl=None,
                at=committed.signed_at,
                now=committed.signed_at,
            )
        remaining = [f for f in result.failures if f.kind.value != "crl-missing"]
        if not remaining:
            checks.append(
                SignatureCheck(
                    "signer-chain",
                    True,
                    f"issued by the pinned root {root.subject.rfc4514_string()}, valid with "
                    f"documentSigning at {_when(committed.signed_at, committed.signed_at_proof)}"
                    " (revocation: checked at deposit, not offline)",
                )
            )
            return checks
        problems.extend(str(f) for f in remaining)
    if not problems:
        problems.append(
            f"no {'SM2' if sm2 else 'ECDSA'} root pinned (pki_roots) for this "
            f"{'SM2' if sm2 else 'ECDSA'} signer"
        )
    checks.append(SignatureCheck("signer-chain", False, "; ".join(problems)))
    return checks
