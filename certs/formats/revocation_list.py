"""Revocation of institution certificates: the reasons, and the CRL the root signs.

**Verification-critical.** Whether a signature counts depends on whether, and since when,
its certificate was revoked. Pure: the standard library and ``cryptography``; the key and
every time are arguments. Policy in docs/pki.md §5.

* Reasons are RFC 5280 §5.3.1 names. ``certificateHold`` (and so ``removeFromCRL``) is not
  offered: a revocation here is final, so a CRL only ever grows. ``aACompromise`` concerns
  attribute authorities, which this PKI has none of. ``unspecified`` is written as no
  reasonCode at all (RFC 5280 §5.3.1: it SHOULD be absent).
* Each entry's revocationDate is when the authority recorded it; when the revocation is
  effective earlier (``--effective``: a key known compromised since then), that time is the
  entry's invalidityDate (RFC 5280 §5.3.2). The *effective* time of an entry is its
  invalidityDate if it has one, else its revocationDate: a signature made before it stands.
* Each CRL has a CRLNumber one above the last, the root's authority key identifier, and a
  nextUpdate :data:`CRL_VALIDITY` after its thisUpdate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certs.errors import ProfileError

__all__ = [
    "CRL_VALIDITY",
    "MAX_CRL_BYTES",
    "CrlContent",
    "RevocationReason",
    "RevokedEntry",
    "build_crl",
    "load_crl",
    "revoked_entries",
]

CRL_VALIDITY: Final = timedelta(days=7)
"""nextUpdate - thisUpdate of every CRL: a relying party refuses a CRL past its nextUpdate,
so the authority issues a new one at least weekly (``zhenglian pki crl``)."""
MAX_CRL_BYTES: Final = 4 * 1024 * 1024
"""Largest CRL read (about 100,000 entries)."""


class RevocationReason(enum.StrEnum):
    """The RFC 5280 reasons an institution certificate may be revoked for."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "cACompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"

    @classmethod
    def parse(cls, text: str) -> RevocationReason:
        """The reason named ``text`` (RFC 5280 spelling).

        :raises ProfileError: not one of them (``certificateHold`` is named as refused)."""
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(r.value for r in cls)
            why = (
                ": a revocation here is final (no holds)"
                if text in ("certificateHold", "removeFromCRL")
                else ""
            )
            raise ProfileError(
                f"revocation reason {text!r} is not offered{why}; one of {names}"
            ) from None

    @property
    def flag(self) -> x509.ReasonFlags:
        return _FLAGS[self]


_FLAGS: Final = {
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.CA_COMPROMISE: x509.ReasonFlags.ca_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}
_REASON_OF_FLAG: Final = {flag: reason for reason, flag in _FLAGS.items()}


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate, as a CRL lists it."""

    serial: int
    revoked_at: datetime
    """When the authority recorded the revocation (revocationDate)."""
    reason: RevocationReason
    invalid_since: datetime | None = None
    """When it became invalid, if earlier than ``revoked_at`` (invalidityDate)."""

    @property
    def effective(self) -> datetime:
        """From when the certificate no longer vouches for a signature."""
        return self.invalid_since if self.invalid_since is not None else self.revoked_at


@dataclass(frozen=True)
class CrlContent:
    """What a CRL says before the root signs it."""

    number: int
    this_update: datetime
    entries: tuple[RevokedEntry, ...]

    @property
    def next_update(self) -> datetime:
        return self.this_update + CRL_VALIDITY

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ProfileError("a CRL number starts at 1")
        if self.this_update.tzinfo is None:
            raise ProfileError("thisUpdate must say its zone")


def build_crl(
    content: CrlContent, *, root_key: ec.EllipticCurvePrivateKey, root: x509.Certificate
) -> x509.CertificateRevocationList:
    """The CRL of ``content``, signed by the root (ECDSA, SHA-256)."""
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(content.this_update)
        .next_update(content.next_update)
        .add_extension(x509.CRLNumber(content.number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
    )
    for entry in content.entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not RevocationReason.UNSPECIFIED:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason.flag), critical=False)
        if entry.invalid_since is not None:
            revoked = revoked.add_extension(
                x509.InvalidityDate(entry.invalid_since.astimezone(UTC).replace(tzinfo=None)),
                critical=False,
            )
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(root_key, hashes.SHA256())


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from DER or PEM bytes (at most :data:`MAX_CRL_BYTES`).

    :raises ProfileError: too large, or not a CRL."""
    if len(data) > MAX_CRL_BYTES:
        raise ProfileError(f"a CRL is at most {MAX_CRL_BYTES} bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ProfileError(f"not a CRL: {exc}") from exc


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL's CRLNumber.

    :raises ProfileError: it has none."""
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        raise ProfileError("the CRL has no CRLNumber") from None


def revoked_entry(revoked: x509.RevokedCertificate) -> RevokedEntry:
    """One CRL entry read back.

    :raises ProfileError: a reason this PKI does not use (a hold)."""
    reason = RevocationReason.UNSPECIFIED
    invalid_since = None
    for extension in revoked.extensions:
        value = extension.value
        if isinstance(value, x509.CRLReason):
            found = _REASON_OF_FLAG.get(value.reason)
            if found is None:
                raise ProfileError(
                    f"CRL entry {revoked.serial_number:x}: reason {value.reason.name} is not used "
                    "by this PKI"
                )
            reason = found
        elif isinstance(value, x509.InvalidityDate):
            invalid_since = value.invalidity_date_utc
    return RevokedEntry(
        serial=revoked.serial_number,
        revoked_at=revoked.revocation_date_utc,
        reason=reason,
        invalid_since=invalid_since,
    )


def revoked_entries(crl: x509.CertificateRevocationList) -> tuple[RevokedEntry, ...]:
    """Every entry of a CRL, read back."""
    return tuple(revoked_entry(r) for r in crl)
