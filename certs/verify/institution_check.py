"""Is this institution certificate good for a signature made at time T?

**Verification-critical.** The signature checks on deposit and the verification report ask
this module, and nothing else, whether a signer's certificate counts. Pure: the root, the CRL
and both times are arguments (trust is explicit); nothing is fetched, no clock is read.

Ordinary failures are not exceptions: :func:`check_institution_certificate` returns a
:class:`CertificateCheck` listing every :class:`Failure` found (all of them, not only the
first), so a report can say everything wrong at once.

The checks (docs/pki.md §6):

1. the root is a CA of this profile (CA:TRUE, keyCertSign) and valid at T;
2. the certificate names the root as issuer and its signature verifies under the root's key;
3. T is within the certificate's validity;
4. it fits the institution profile: CA:FALSE, keyUsage (critical) with digitalSignature and
   contentCommitment, extendedKeyUsage with id-kp-documentSigning, a subject with the
   institution's name, type and valid 统一社会信用代码;
5. the CRL is the root's (issuer, signature), current at ``now`` (thisUpdate ≤ now ≤
   nextUpdate), and does not list the certificate as revoked effective at or before T
   (effective = invalidityDate if present, else revocationDate). A revocation effective
   after T is reported (``revoked_later``) but does not fail a check at T.

:func:`check_sm2_institution_certificate` makes the same checks for an SM2 institution under
the SM2 root (an all-SM2 chain, docs/pki.md §9): the root's and the certificate's signatures
are SM2-with-SM3 with the default signer ID (GM/T 0009 §10), checked by :mod:`certs.sm2` with
the engine given, the CRL is the SM2 root's; the profile (subject, key usage, EKU) is the same.
A certificate with an SM2 key signed otherwise (e.g. by the ECDSA root: a mixed chain) fails
``wrong-issuer``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import ProfileError
from certs.formats.institution_profile import (
    DOCUMENT_SIGNING,
    InstitutionCertificate,
    parse_institution_certificate,
)
from certs.formats.revocation_list import RevocationReason, RevokedEntry, revoked_entry
from certs.sm2.certificates import SM2Certificate, check_certificate
from certs.sm2.crl import check_crl
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data

__all__ = [
    "CertificateCheck",
    "Failure",
    "FailureKind",
    "check_institution_certificate",
    "check_sm2_institution_certificate",
]


class FailureKind(enum.StrEnum):
    ROOT_NOT_CA = "root-not-ca"
    """The trusted root is not a CA certificate of this profile."""
    ROOT_NOT_VALID = "root-not-valid"
    """The root itself is outside its validity at T."""
    WRONG_ISSUER = "wrong-issuer"
    """The certificate is not issued by this root (issuer name or signature)."""
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    PROFILE = "profile"
    """Not an institution certificate of this profile (subject, algorithm)."""
    KEY_USAGE = "key-usage"
    """Missing digitalSignature/contentCommitment, documentSigning, or a CA certificate."""
    CRL_NOT_BY_ROOT = "crl-not-by-root"
    CRL_STALE = "crl-stale"
    """``now`` is past the CRL's nextUpdate (or before its thisUpdate)."""
    CRL_MISSING = "crl-missing"
    """No CRL was given: revocation could not be checked."""
    REVOKED = "revoked"
    """Revoked with an effective time at or before T."""


_Fail = Callable[[FailureKind, str], None]


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class CertificateCheck:
    """What was found about one certificate at one time."""

    at: datetime
    """The time the certificate had to be good at (a signing time)."""
    institution: InstitutionCertificate | None
    """Who it names, when it fits the profile."""
    failures: tuple[Failure, ...]
    revocation: RevokedEntry | None
    """The CRL's entry for it, if listed (effective at, before or after ``at``)."""

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def revoked_later(self) -> bool:
        """Listed as revoked, effective only after ``at``: good at ``at``, not now."""
        return self.revocation is not None and self.revocation.effective > self.at

    def kinds(self) -> frozenset[FailureKind]:
        return frozenset(f.kind for f in self.failures)


def check_institution_certificate(
    certificate: x509.Certificate,
    *,
    root: x509.Certificate,
    crl: x509.CertificateRevocationList | None,
    at: datetime,
    now: datetime,
) -> CertificateCheck:
    """Check ``certificate`` against the trusted ``root`` and its ``crl`` for use at ``at``,
    the CRL's freshness at ``now``. Both times must be timezone-aware."""
    if at.tzinfo is None or now.tzinfo is None:
        raise ProfileError("check times must be timezone-aware")
    failures: list[Failure] = []

    def fail(kind: FailureKind, detail: str) -> None:
        failures.append(Failure(kind, detail))

    _check_root(root, at, fail)
    if certificate.issuer != root.subject:
        fail(
            FailureKind.WRONG_ISSUER,
            f"issued by {certificate.issuer.rfc4514_string()}, not by the trusted root "
            f"{root.subject.rfc4514_string()}",
        )
    else:
        try:
            certificate.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            fail(
                FailureKind.WRONG_ISSUER,
                f"the root's signature does not verify: {exc or 'bad signature'}",
            )
    institution = _check_validity_and_profile(certificate, at, fail)
    revocation = None
    if crl is None:
        fail(FailureKind.CRL_MISSING, "no CRL given: revocation not checked")
    else:
        revocation = _check_crl(certificate, root, crl, at, now, fail)
    return CertificateCheck(at, institution, tuple(failures), revocation)


def check_sm2_institution_certificate(
    certificate: x509.Certificate,
    *,
    root: x509.Certificate,
    crl: bytes | None,
    at: datetime,
    now: datetime,
    engine: SM2Engine,
) -> CertificateCheck:
    """Check the SM2 institution ``certificate`` against the trusted SM2 ``root`` and its
    ``crl`` (DER) for use at ``at``, the CRL's freshness at ``now`` — the checks of
    :func:`check_institution_certificate`, in SM2 (``cryptography`` parses both certificates
    but cannot verify SM2: the signatures go through :mod:`certs.sm2` and ``engine``)."""
    if at.tzinfo is None or now.tzinfo is None:
        raise ProfileError("check times must be timezone-aware")
    failures: list[Failure] = []

    def fail(kind: FailureKind, detail: str) -> None:
        failures.append(Failure(kind, detail))

    _check_root(root, at, fail)
    sm2_root: SM2Certificate | None = None
    try:
        sm2_root = SM2Certificate.from_der(root.public_bytes(Encoding.DER))
    except MalformedSM2Data as exc:
        fail(FailureKind.ROOT_NOT_CA, f"the trusted SM2 root is not an SM2 certificate: {exc}")
    if certificate.issuer != root.subject:
        fail(
            FailureKind.WRONG_ISSUER,
            f"issued by {certificate.issuer.rfc4514_string()}, not by the trusted SM2 root "
            f"{root.subject.rfc4514_string()}",
        )
    elif sm2_root is not None:
        try:
            sm2_certificate = SM2Certificate.from_der(certificate.public_bytes(Encoding.DER))
        except MalformedSM2Data as exc:
            fail(
                FailureKind.WRONG_ISSUER,
                f"not certified SM2-with-SM3 by the SM2 root ({exc}): an SM2 key is "
                "certified by the SM2 root only (an all-SM2 chain)",
            )
        else:
            signed = check_certificate(sm2_certificate, sm2_root, at=at, engine=engine)
            if not (signed.signature_valid and signed.key_identifier_matches):
                fail(
                    FailureKind.WRONG_ISSUER,
                    "the SM2 root's signature does not verify (SM2-with-SM3, default signer "
                    "ID) or its key identifier differs",
                )
    institution = _check_validity_and_profile(certificate, at, fail)
    if institution is not None and institution.algorithm != "sm2":
        fail(FailureKind.PROFILE, f"the certified key is {institution.algorithm}, not SM2")
    revocation = None
    if crl is None:
        fail(FailureKind.CRL_MISSING, "no SM2 CRL given: revocation not checked")
    elif sm2_root is not None:
        revocation = _check_sm2_crl(certificate.serial_number, sm2_root, crl, at, now, engine, fail)
    return CertificateCheck(at, institution, tuple(failures), revocation)


def _check_sm2_crl(
    serial: int,
    root: SM2Certificate,
    crl: bytes,
    at: datetime,
    now: datetime,
    engine: SM2Engine,
    fail: _Fail,
) -> RevokedEntry | None:
    try:
        check = check_crl(crl, root, at=now, engine=engine)
    except MalformedSM2Data as exc:
        fail(FailureKind.CRL_NOT_BY_ROOT, f"the SM2 CRL cannot be read: {exc}")
        return None
    if not (check.signature_valid and check.issuer_name_matches):
        fail(FailureKind.CRL_NOT_BY_ROOT, "the CRL is not signed by the trusted SM2 root")
        return None
    if not check.current:
        fail(
            FailureKind.CRL_STALE,
            f"the SM2 CRL is valid {check.this_update.isoformat()} to "
            f"{check.next_update.isoformat()}, checked at {now.isoformat()}: get a newer one",
        )
    listed = check.entry(serial)
    if listed is None:
        return None
    try:
        reason = RevocationReason.parse(listed.reason)
    except ProfileError as exc:
        fail(FailureKind.REVOKED, str(exc))
        return None
    entry = RevokedEntry(
        serial=serial,
        revoked_at=listed.revocation_date,
        reason=reason,
        invalid_since=listed.invalidity_date,
    )
    if entry.effective <= at:
        fail(
            FailureKind.REVOKED,
            f"revoked ({entry.reason}) effective {entry.effective.isoformat()}, at or before "
            f"{at.isoformat()}",
        )
    return entry


def _check_validity_and_profile(
    certificate: x509.Certificate, at: datetime, fail: _Fail
) -> InstitutionCertificate | None:
    """Steps 3 and 4, the same for both algorithms."""
    if at < certificate.not_valid_before_utc:
        fail(
            FailureKind.NOT_YET_VALID,
            f"valid from {certificate.not_valid_before_utc.isoformat()}, "
            f"checked at {at.isoformat()}",
        )
    if at > certificate.not_valid_after_utc:
        fail(
            FailureKind.EXPIRED,
            f"valid until {certificate.not_valid_after_utc.isoformat()}, "
            f"checked at {at.isoformat()}",
        )
    institution = None
    try:
        institution = parse_institution_certificate(certificate)
    except ProfileError as exc:
        fail(FailureKind.PROFILE, str(exc))
    _check_usage(certificate, fail)
    return institution


def _check_root(root: x509.Certificate, at: datetime, fail: _Fail) -> None:
    try:
        constraints = root.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        fail(FailureKind.ROOT_NOT_CA, f"the root has no {exc.oid.dotted_string} extension")
        return
    if not constraints.ca or not usage.key_cert_sign or not usage.crl_sign:
        fail(FailureKind.ROOT_NOT_CA, "the root is not a CA with keyCertSign and cRLSign")
    if not root.not_valid_before_utc <= at <= root.not_valid_after_utc:
        fail(
            FailureKind.ROOT_NOT_VALID,
            f"the root is valid {root.not_valid_before_utc.isoformat()} to "
            f"{root.not_valid_after_utc.isoformat()}, checked at {at.isoformat()}",
        )


def _check_usage(certificate: x509.Certificate, fail: _Fail) -> None:
    extensions = certificate.extensions
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            fail(FailureKind.KEY_USAGE, "a CA certificate cannot sign documents")
    except x509.ExtensionNotFound:
        pass  # an end-entity certificate may omit it (RFC 5280 §4.2.1.9)
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        fail(FailureKind.KEY_USAGE, "no keyUsage extension")
    else:
        if not key_usage.critical:
            fail(FailureKind.KEY_USAGE, "keyUsage is not critical")
        if not (key_usage.value.digital_signature and key_usage.value.content_commitment):
            fail(FailureKind.KEY_USAGE, "keyUsage lacks digitalSignature or contentCommitment")
    try:
        purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        fail(FailureKind.KEY_USAGE, "no extendedKeyUsage extension (documentSigning needed)")
    else:
        if DOCUMENT_SIGNING not in purposes:
            fail(FailureKind.KEY_USAGE, "extendedKeyUsage lacks id-kp-documentSigning")


def _check_crl(
    certificate: x509.Certificate,
    root: x509.Certificate,
    crl: x509.CertificateRevocationList,
    at: datetime,
    now: datetime,
    fail: _Fail,
) -> RevokedEntry | None:
    root_key = root.public_key()
    if (
        crl.issuer != root.subject
        or not isinstance(root_key, ec.EllipticCurvePublicKey)
        or not crl.is_signature_valid(root_key)
    ):
        fail(FailureKind.CRL_NOT_BY_ROOT, "the CRL is not signed by the trusted root")
        return None
    next_update = crl.next_update_utc
    if now < crl.last_update_utc:
        fail(
            FailureKind.CRL_STALE,
            f"the CRL is issued after now ({crl.last_update_utc.isoformat()})",
        )
    if next_update is None or now > next_update:
        when = next_update.isoformat() if next_update else "no nextUpdate"
        fail(FailureKind.CRL_STALE, f"the CRL is past its nextUpdate ({when}): get a newer one")
    revoked = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if revoked is None:
        return None
    try:
        entry = revoked_entry(revoked)
    except ProfileError as exc:
        fail(FailureKind.REVOKED, str(exc))
        return None
    if entry.effective <= at:
        fail(
            FailureKind.REVOKED,
            f"revoked ({entry.reason}) effective {entry.effective.isoformat()}, at or before "
            f"{at.isoformat()}",
        )
    return entry
