"""SM2 certificate revocation lists (RFC 5280 §5, signed SM2-with-SM3 with the default ID), for
an SM2 root beside the ECDSA one (docs/pki.md §9).

Entries carry the RFC 5280 reason (none for ``unspecified``, §5.3.1) and, when the revocation
took effect before it was recorded, an invalidityDate (§5.3.2); the list carries the root's
authority key identifier and a CRLNumber. :func:`check_crl` computes what a relying party needs
(signature, issuer, currency at a given time, the entries); the revocation policy is the
caller's. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import algos, core, crl, x509

from certs.sm2 import oids
from certs.sm2.algorithm import DEFAULT_SIGNER_ID
from certs.sm2.certificates import SM2Certificate, key_identifier, x509_time
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.keys import SM2PrivateKey
from certs.sm2.signing import sign_message, verify_message

#: Largest CRL read (about 100,000 entries).
MAX_CRL_BYTES: Final = 4 * 1024 * 1024

#: RFC 5280 reason names ↔ asn1crypto's.
_REASONS: Final = {
    "unspecified": "unspecified",
    "keyCompromise": "key_compromise",
    "cACompromise": "ca_compromise",
    "affiliationChanged": "affiliation_changed",
    "superseded": "superseded",
    "cessationOfOperation": "cessation_of_operation",
    "certificateHold": "certificate_hold",
    "removeFromCRL": "remove_from_crl",
    "privilegeWithdrawn": "privilege_withdrawn",
    "aACompromise": "aa_compromise",
}
_REASON_NAMES: Final = {v: k for k, v in _REASONS.items()}


@dataclass(frozen=True)
class SM2RevokedCertificate:
    """One CRL entry. ``reason`` is an RFC 5280 name; ``unspecified`` is written as none."""

    serial_number: int
    revocation_date: datetime
    reason: str = "unspecified"
    invalidity_date: datetime | None = None

    def __post_init__(self) -> None:
        if self.reason not in _REASONS:
            raise MalformedSM2Data("revocation reason", f"{self.reason!r} is not an RFC 5280 name")
        if self.serial_number <= 0:
            raise MalformedSM2Data("revoked serial number", "must be positive")

    @property
    def effective(self) -> datetime:
        """Since when the certificate counts as revoked: invalidityDate, else revocationDate."""
        return self.invalidity_date or self.revocation_date


def _generalized(moment: datetime) -> core.GeneralizedTime:
    if moment.tzinfo is None:
        raise MalformedSM2Data("CRL time", "datetime without a time zone")
    return core.GeneralizedTime(moment.astimezone(UTC).replace(microsecond=0))


def build_crl(
    *,
    issuer_certificate: SM2Certificate,
    issuer_key: SM2PrivateKey,
    this_update: datetime,
    next_update: datetime,
    crl_number: int,
    revoked: Sequence[SM2RevokedCertificate],
    engine: SM2Engine,
) -> bytes:
    """A CRL (DER) signed by ``issuer_key``, which must be ``issuer_certificate``'s key."""
    if issuer_key.public_key != issuer_certificate.public_key:
        raise MalformedSM2Data("issuer key", "does not match the issuer certificate")
    if next_update <= this_update:
        raise MalformedSM2Data("CRL", "nextUpdate is not after thisUpdate")
    if crl_number < 0:
        raise MalformedSM2Data("CRL", "CRLNumber is negative")
    entries = []
    for entry in revoked:
        extensions = []
        if entry.reason != "unspecified":
            extensions.append(
                {"extn_id": "crl_reason", "critical": False, "extn_value": _REASONS[entry.reason]}
            )
        if entry.invalidity_date is not None:
            extensions.append(
                {
                    "extn_id": "invalidity_date",
                    "critical": False,
                    "extn_value": _generalized(entry.invalidity_date),
                }
            )
        fields: dict[str, object] = {
            "user_certificate": entry.serial_number,
            "revocation_date": x509_time(entry.revocation_date),
        }
        if extensions:
            fields["crl_entry_extensions"] = extensions
        entries.append(crl.RevokedCertificate(fields))
    authority_id = issuer_certificate.subject_key_identifier or key_identifier(
        issuer_certificate.public_key
    )
    tbs_fields: dict[str, object] = {
        "version": "v2",
        "signature": algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3}),
        "issuer": x509.Name.load(issuer_certificate.subject_der),
        "this_update": x509_time(this_update),
        "next_update": x509_time(next_update),
        "crl_extensions": [
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": authority_id},
            },
            {"extn_id": "crl_number", "critical": False, "extn_value": crl_number},
        ],
    }
    if entries:
        tbs_fields["revoked_certificates"] = entries
    tbs_der = bytes(crl.TbsCertList(tbs_fields).dump())
    certificate_list = crl.CertificateList(
        {
            "tbs_cert_list": crl.TbsCertList.load(tbs_der),
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3}),
            "signature": sign_message(issuer_key, tbs_der, engine=engine),
        }
    )
    return bytes(certificate_list.dump())


@dataclass(frozen=True)
class SM2CrlCheck:
    """What :func:`check_crl` found; ``ok`` when signed by the issuer, naming it, and current."""

    signature_valid: bool
    issuer_name_matches: bool
    current: bool
    at: datetime
    this_update: datetime
    next_update: datetime
    crl_number: int | None
    revoked: tuple[SM2RevokedCertificate, ...]

    @property
    def ok(self) -> bool:
        return self.signature_valid and self.issuer_name_matches and self.current

    def entry(self, serial_number: int) -> SM2RevokedCertificate | None:
        """The entry of ``serial_number``, if it is revoked in this CRL."""
        return next((e for e in self.revoked if e.serial_number == serial_number), None)


def check_crl(
    crl_der: bytes,
    issuer: SM2Certificate,
    *,
    at: datetime,
    engine: SM2Engine,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> SM2CrlCheck:
    """Parse an SM2 CRL and check it against ``issuer`` at ``at`` (thisUpdate ≤ at ≤
    nextUpdate). Malformed input raises :class:`~certs.sm2.errors.MalformedSM2Data`."""
    if at.tzinfo is None:
        raise MalformedSM2Data("check time", "datetime without a time zone")
    if len(crl_der) > MAX_CRL_BYTES:
        raise MalformedSM2Data("CRL", f"larger than {MAX_CRL_BYTES} bytes")
    try:
        certificate_list = crl.CertificateList.load(crl_der, strict=True)
        tbs = certificate_list["tbs_cert_list"]
        for algorithm in (certificate_list["signature_algorithm"], tbs["signature"]):
            if algorithm["algorithm"].dotted != oids.SM2_WITH_SM3:
                raise MalformedSM2Data("CRL", "signature is not SM2-with-SM3")
        if tbs["next_update"].native is None:
            raise MalformedSM2Data("CRL", "no nextUpdate")
        revoked = []
        for item in tbs["revoked_certificates"] or []:
            reason, invalidity = "unspecified", None
            for ext in item["crl_entry_extensions"] or []:
                name = ext["extn_id"].native
                if name == "crl_reason":
                    reason = _REASON_NAMES[ext["extn_value"].parsed.native]
                elif name == "invalidity_date":
                    invalidity = ext["extn_value"].parsed.native
                elif ext["critical"].native:
                    raise MalformedSM2Data("CRL", f"unknown critical entry extension {name}")
            revoked.append(
                SM2RevokedCertificate(
                    serial_number=int(item["user_certificate"].native),
                    revocation_date=item["revocation_date"].native,
                    reason=reason,
                    invalidity_date=invalidity,
                )
            )
        crl_number = None
        for ext in tbs["crl_extensions"] or []:
            if ext["extn_id"].native == "crl_number":
                crl_number = int(ext["extn_value"].parsed.native)
            elif ext["critical"].native and ext["extn_id"].native != "authority_key_identifier":
                raise MalformedSM2Data("CRL", f"unknown critical extension {ext['extn_id'].dotted}")
        this_update = tbs["this_update"].native
        next_update = tbs["next_update"].native
        tbs_der = bytes(tbs.dump())
        signature = bytes(certificate_list["signature"].native)
        issuer_matches = bool(tbs["issuer"] == x509.Name.load(issuer.subject_der))
    except MalformedSM2Data:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MalformedSM2Data("CRL", f"not a CRL: {exc}") from exc
    return SM2CrlCheck(
        signature_valid=verify_message(
            issuer.public_key, tbs_der, signature, engine=engine, signer_id=signer_id
        ),
        issuer_name_matches=issuer_matches,
        current=this_update <= at <= next_update,
        at=at,
        this_update=this_update,
        next_update=next_update,
        crl_number=crl_number,
        revoked=tuple(revoked),
    )
