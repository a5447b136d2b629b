"""The verification report: one model of what a verification found, for a deposited file or a
registered e-certificate, from every entry point (``zhenglian verify``, ``POST /v1/verify``
with ``format=report``, ``GET /v1/certificates/{id}``) — docs/report.md §6.

**Verification-critical and pure.** Everything is an argument: the receipt and what
:func:`~evidence.verify.receipt_verifier.verify_receipt` concluded, the signature checks, the
PKI roots and the CRL (already parsed), the registry's status record (already read), and the
times ``at`` and ``now``. Nothing is fetched, no clock is read, no file is opened.

A report is a subject, a list of :class:`ReportCheck` in sections (integrity, log inclusion,
anchor, witnesses and time stamp, signature, signer chain, revocation, validity, custody) and
notices. Each check is *passed*, *failed* or *not performed* (its detail says why); a failed
check names the verdict it means (``fails_as``). The report's verdict is the failed checks'
verdict that comes first in :data:`VERDICT_PRECEDENCE`, else ``intact``:

``receipt-invalid`` > ``untrusted`` > ``altered`` > ``signature-invalid`` > ``revoked`` >
``unknown`` > ``pending`` > ``intact``.

``revoked`` means: the signer's certificate is listed on a CRL by the pinned root with an
effective time (invalidityDate, else revocationDate) at or before the proven signing time
(for an e-certificate: its registration time); or an e-certificate's registry status is
revoked (effective at or before the asked time) or superseded; or the asked time lies outside
the e-certificate's own validity window (it does not stand then). A signer revoked *after*
signing is a notice, not a failure: the signature made before stands. A CRL past its
nextUpdate is said to be stale: what it lists still counts (a revocation is final), what it
does not list proves nothing, so the checks that rest on its silence are *not performed* and a
notice says so — the verdict is not made stronger or weaker by a stale CRL.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import CertsError, CertsInputError, ProfileError
from certs.formats.institution_profile import certified_key_algorithm
from certs.formats.revocation_list import RevokedEntry, crl_number
from certs.formats.status_statement import (
    CertificateRevocationReason,
    StatusStatement,
    certificate_key,
)
from certs.sm2.engine import SM2Engine
from certs.verify.cms_signature import read_detached_signature
from certs.verify.institution_check import (
    CertificateCheck,
    FailureKind,
    check_institution_certificate,
    check_sm2_institution_certificate,
)
from certs.verify.pades_signature import read_pdf_signature
from certs.verify.status_signature import check_status_signature
from evidence.errors import InputError
from evidence.formats.e_certificate import ECertificate
from evidence.formats.log_entry import EntrySignature
from evidence.formats.receipt_format import Receipt
from evidence.verify.document_signature import (
    SignatureCheck,
    check_committed_pdf_signature,
    check_committed_signature,
)
from evidence.verify.e_certificate_signature import (
    ECertificateSignatureError,
    verify_e_certificate_signature,
)
from evidence.verify.receipt_verifier import (
    CHECK_ANCHOR_PROOF,
    CHECK_CHECKPOINT,
    CHECK_CLAIMED_TIME,
    CHECK_DOCUMENT_DIGEST,
    CHECK_INCLUSION_PROOF,
    CHECK_LEAF_HASH,
    CHECK_LEAF_INDEX,
    CHECK_TIME_STAMP,
    CHECK_TREE_HEAD,
    CHECK_WITNESSES,
    VERDICT_ALTERED,
    VERDICT_INTACT,
    VERDICT_RECEIPT_INVALID,
    VERDICT_UNTRUSTED,
    HasDigests,
    VerificationFailed,
    VerificationResult,
)
from ledger.certificate_status import CertificateState, StatusEvent, StatusRecord

__all__ = [
    "REPORT_TYPE",
    "REPORT_VERSION",
    "SECTIONS",
    "VERDICT_PENDING",
    "VERDICT_PRECEDENCE",
    "VERDICT_REVOKED",
    "VERDICT_SIGNATURE_INVALID",
    "VERDICT_UNKNOWN",
    "CheckStatus",
    "ReportCheck",
    "ReportError",
    "SignatureEvidence",
    "Subject",
    "VerificationReport",
    "certificate_report",
    "combine_verdicts",
    "document_report",
    "exit_status",
    "render_text",
    "signature_evidence",
]

REPORT_TYPE: Final = "zhenglian-verification-report"
REPORT_VERSION: Final = 1

VERDICT_SIGNATURE_INVALID: Final = "signature-invalid"
"""The signature is not the committed one, does not verify, or its signer does not chain to a
pinned root (within validity and usage) at the signing time."""
VERDICT_REVOKED: Final = "revoked"
"""Revoked at the time that matters (module docstring)."""
VERDICT_UNKNOWN: Final = "unknown"
"""Not known to the store: no deposit has this digest, or no registry entry this identifier."""
VERDICT_PENDING: Final = "pending"
"""Deposited, not yet anchored, witnessed or time-stamped (the server's answer only)."""

VERDICT_PRECEDENCE: Final = (
    VERDICT_RECEIPT_INVALID,
    VERDICT_UNTRUSTED,
    VERDICT_ALTERED,
    VERDICT_SIGNATURE_INVALID,
    VERDICT_REVOKED,
    VERDICT_UNKNOWN,
    VERDICT_PENDING,
    VERDICT_INTACT,
)
"""Every verdict, the strongest first: a report's verdict is the first of its failed checks'."""

EXIT_STATUS: Final = {
    VERDICT_INTACT: 0,
    VERDICT_ALTERED: 1,
    VERDICT_RECEIPT_INVALID: 1,
    VERDICT_UNTRUSTED: 1,
    VERDICT_SIGNATURE_INVALID: 1,
    VERDICT_REVOKED: 1,
    VERDICT_UNKNOWN: 1,
    VERDICT_PENDING: 1,
}
"""``zhenglian verify``'s exit status for each verdict (2: bad input, 3: could not check)."""

SECTION_INTEGRITY: Final = "integrity"
SECTION_LOG: Final = "log inclusion"
SECTION_ANCHOR: Final = "anchor"
SECTION_INDEPENDENCE: Final = "witnesses and time stamp"
SECTION_SIGNATURE: Final = "signature"
SECTION_SIGNER: Final = "signer chain"
SECTION_REVOCATION: Final = "revocation"
SECTION_VALIDITY: Final = "validity"
SECTION_CUSTODY: Final = "custody"
SECTIONS: Final = (
    SECTION_INTEGRITY,
    SECTION_LOG,
    SECTION_ANCHOR,
    SECTION_INDEPENDENCE,
    SECTION_SIGNATURE,
    SECTION_SIGNER,
    SECTION_REVOCATION,
    SECTION_VALIDITY,
    SECTION_CUSTODY,
)
"""The sections, in the order a report shows them."""

CHECK_SEAL: Final = "seal"
CHECK_SIGNATURE: Final = "signature"
CHECK_CERTIFICATE_SIGNATURE: Final = "certificate-signature"
CHECK_SIGNER_CHAIN: Final = "signer-chain"
CHECK_SIGNER_VALIDITY: Final = "signer-validity"
CHECK_CRL: Final = "crl"
CHECK_REVOCATION_AT_SIGNING: Final = "revocation-at-signing"
CHECK_REVOCATION_NOW: Final = "revocation-now"
CHECK_REGISTERED_DIGEST: Final = "registered-digest"
CHECK_REGISTRY_STATUS: Final = "registry-status"
CHECK_STATUS_SIGNATURES: Final = "status-signatures"
CHECK_CERTIFICATE_VALIDITY: Final = "certificate-validity"
CHECK_CERTIFICATE_ENCODING: Final = "certificate-encoding"

_BEIJING: Final = timedelta(hours=8)

_RECEIPT_SECTIONS: Final = {
    CHECK_DOCUMENT_DIGEST: SECTION_INTEGRITY,
    CHECK_LEAF_HASH: SECTION_LOG,
    CHECK_LEAF_INDEX: SECTION_LOG,
    CHECK_INCLUSION_PROOF: SECTION_LOG,
    CHECK_ANCHOR_PROOF: SECTION_ANCHOR,
    CHECK_TREE_HEAD: SECTION_ANCHOR,
    CHECK_CHECKPOINT: SECTION_INDEPENDENCE,
    CHECK_WITNESSES: SECTION_INDEPENDENCE,
    CHECK_TIME_STAMP: SECTION_INDEPENDENCE,
    CHECK_CLAIMED_TIME: SECTION_INDEPENDENCE,
}
_SIGNATURE_SECTIONS: Final = {
    "signature-committed": SECTION_SIGNATURE,
    "signature-valid": SECTION_SIGNATURE,
    "signer-certificate-committed": SECTION_SIGNATURE,
    CHECK_SIGNER_CHAIN: SECTION_SIGNER,
}


class ReportError(InputError):
    """A report that cannot be made from what was given (a caller's mistake in the input)."""


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_PERFORMED = "not performed"


@dataclass(frozen=True)
class ReportCheck:
    """One check: its name, its section, whether it passed, one readable line (for a check
    not performed: why), the evidence it rests on, and the verdict a failure means."""

    name: str
    section: str
    status: CheckStatus
    detail: str
    fails_as: str = VERDICT_RECEIPT_INVALID
    evidence: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.section not in SECTIONS:
            raise ValueError(f"unknown section {self.section!r}")
        if self.fails_as not in EXIT_STATUS or self.fails_as == VERDICT_INTACT:
            raise ValueError(f"a check cannot fail as {self.fails_as!r}")

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fails_as": self.fails_as,
            "evidence": dict(self.evidence),
        }


def _passed(name: str, section: str, detail: str, fails_as: str, **evidence: str) -> ReportCheck:
    return ReportCheck(name, section, CheckStatus.PASSED, detail, fails_as, tuple(evidence.items()))


def _failed(name: str, section: str, detail: str, fails_as: str, **evidence: str) -> ReportCheck:
    return ReportCheck(name, section, CheckStatus.FAILED, detail, fails_as, tuple(evidence.items()))


def _skipped(name: str, section: str, why: str, fails_as: str, **evidence: str) -> ReportCheck:
    return ReportCheck(
        name, section, CheckStatus.NOT_PERFORMED, why, fails_as, tuple(evidence.items())
    )


@dataclass(frozen=True)
class Subject:
    """What the report is about: ``kind`` (``document`` or ``certificate``), its identifier
    (the receipt's document id — the service's label — or the e-certificate's identifier),
    the SHA-256 of the bytes checked, and labelled facts (strings, numbers, booleans, None)."""

    kind: str
    id: str
    sha256: str | None
    facts: tuple[tuple[str, str | int | bool | None], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "sha256": self.sha256, **dict(self.facts)}


@dataclass(frozen=True)
class VerificationReport:
    """The report. Its verdict follows from its checks (:func:`combine_verdicts`)."""

    subject: Subject
    checked_at: datetime
    """``now``: the time the revocation and freshness checks were made at."""
    checks: tuple[ReportCheck, ...]
    notices: tuple[str, ...] = ()
    signing_time: datetime | None = None
    """The time the signer's certificate had to be good at (proven or claimed, see the
    checks), None when nothing is signed."""
    verdict_floor: str | None = field(default=None)
    """A verdict the caller established outside the checks (the server's ``unknown`` or
    ``pending``); combined with the checks' by precedence."""

    @property
    def verdict(self) -> str:
        found = [c.fails_as for c in self.checks if c.failed]
        if self.verdict_floor is not None:
            found.append(self.verdict_floor)
        return combine_verdicts(found)

    @property
    def exit_status(self) -> int:
        return exit_status(self.verdict)

    @property
    def failed(self) -> tuple[ReportCheck, ...]:
        return tuple(c for c in self.checks if c.failed)

    def section(self, name: str) -> tuple[ReportCheck, ...]:
        return tuple(c for c in self.checks if c.section == name)

    def check(self, name: str) -> ReportCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``verification-report-v1.schema.json``). ``result`` repeats the
        verdict (the key ``zhenglian verify --json`` always had); documents keep
        ``receipt_version`` and ``proven_time`` at the top level for the same reason."""
        verdict = self.verdict
        out: dict[str, Any] = {
            "type": REPORT_TYPE,
            "version": REPORT_VERSION,
            "verdict": verdict,
            "result": verdict,
            "exit_status": exit_status(verdict),
            "subject": self.subject.to_json(),
            "checked_at": _iso(self.checked_at),
            "signing_time": _iso(self.signing_time) if self.signing_time else None,
            "notices": list(self.notices),
            "sections": [
                {"name": name, "checks": [c.to_json() for c in self.section(name)]}
                for name in SECTIONS
                if self.section(name)
            ],
        }
        if self.subject.kind == "document":
            facts = dict(self.subject.facts)
            out["receipt_version"] = facts.get("receipt_version")
            out["proven_time"] = facts.get("proven_time")
        return out


def with_checks(
    report: VerificationReport, extra: Sequence[ReportCheck], notices: Sequence[str] = ()
) -> VerificationReport:
    """``report`` with further checks and notices (a bundle's members and custody export):
    the verdict follows from all of them."""
    return dataclasses.replace(
        report, checks=report.checks + tuple(extra), notices=report.notices + tuple(notices)
    )


def bundle_member_check(name: str, ok: bool, detail: str) -> ReportCheck:
    """A bundle member against its manifest entry (integrity; a mismatch is ``altered``)."""
    status = CheckStatus.PASSED if ok else CheckStatus.FAILED
    return ReportCheck(f"bundle member {name}", SECTION_INTEGRITY, status, detail, VERDICT_ALTERED)


def custody_check(name: str, ok: bool, detail: str, *, trust: bool = False) -> ReportCheck:
    """One check of a custody export (custody.md §4) as a report check: a broken proof is
    ``receipt-invalid``, a proof by what is not pinned ``untrusted``."""
    status = CheckStatus.PASSED if ok else CheckStatus.FAILED
    fails_as = VERDICT_UNTRUSTED if trust else VERDICT_RECEIPT_INVALID
    return ReportCheck(f"custody: {name}", SECTION_CUSTODY, status, detail, fails_as)


def combine_verdicts(verdicts: Sequence[str]) -> str:
    """The strongest of ``verdicts`` by :data:`VERDICT_PRECEDENCE` (``intact`` for none).

    :raises ValueError: a word that is not a verdict.
    """
    for verdict in verdicts:
        if verdict not in EXIT_STATUS:
            raise ValueError(f"not a verdict: {verdict!r}")
    return next((v for v in VERDICT_PRECEDENCE if v in verdicts), VERDICT_INTACT)


def exit_status(verdict: str) -> int:
    """0 for ``intact``, 1 for every other verdict."""
    return EXIT_STATUS[verdict]


# --- Documents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureEvidence:
    """The document's signature as checked beside its receipt: the committed-signature checks
    (:func:`evidence.verify.document_signature.check_committed_signature` or its PDF twin)
    and the signer's certificate read from the signature (None when it could not be read)."""

    checks: tuple[SignatureCheck, ...]
    certificate: x509.Certificate | None


def signature_evidence(
    committed: EntrySignature,
    *,
    detached: bytes | None,
    pdf: bytes | None,
    content_digests: Mapping[str, bytes],
    roots: Sequence[x509.Certificate],
    sm2_engine: SM2Engine | None = None,
) -> SignatureEvidence:
    """The committed-signature checks of ``detached`` (or of the signature inside ``pdf``)
    and the signer's certificate read from it (None when it cannot be read); an SM2
    signature is checked with ``sm2_engine`` against the SM2 root among ``roots``."""
    if detached is not None:
        checks = check_committed_signature(
            committed, detached, content_digests, roots, sm2_engine=sm2_engine
        )
    elif pdf is not None:
        checks = check_committed_pdf_signature(committed, pdf, roots)
    else:
        raise ReportError("give the detached signature or the signed PDF")
    certificate = None
    try:
        if detached is not None:
            certificate = read_detached_signature(detached).certificate
        elif pdf is not None:
            certificate = read_detached_signature(read_pdf_signature(pdf).signed_data).certificate
    except (InputError, CertsInputError, ValueError):
        certificate = None
    return SignatureEvidence(tuple(checks), certificate)


def document_report(
    *,
    receipt: Receipt,
    outcome: VerificationResult | VerificationFailed,
    document: HasDigests,
    now: datetime,
    signature: SignatureEvidence | None = None,
    signature_missing: str | None = None,
    pki_roots: Sequence[x509.Certificate] = (),
    crl: x509.CertificateRevocationList | None = None,
    crl_missing: str = "no CRL given (--crl, or --server for GET /v1/pki/crl)",
    extra: Sequence[ReportCheck] = (),
    sm2_crl: x509.CertificateRevocationList | None = None,
    sm2_engine: SM2Engine | None = None,
) -> VerificationReport:
    """The report on a file checked against its receipt.

    ``outcome`` is what :func:`verify_receipt` returned or raised for ``document``;
    ``signature`` the signature checks when the entry is signed and its signature was given
    (``signature_missing``: why it was not checked, when the entry is signed and it was not);
    ``pki_roots`` the pinned institution roots, ``crl`` the ECDSA root's CRL (``crl_missing``:
    why there is none), ``sm2_crl`` the SM2 root's and ``sm2_engine`` what checks SM2 (an SM2
    signer's certificate is checked against the SM2 root and its CRL); ``extra`` further
    checks (online, acknowledgement, custody) as made by the caller. ``now`` is when the CRL's
    freshness is judged.
    """
    if now.tzinfo is None:
        raise ReportError("now must be timezone-aware")
    checks: list[ReportCheck] = list(_receipt_checks(receipt, outcome))
    notices: list[str] = []
    if receipt.version == 1:
        notices.append(
            "a version 1 receipt: no witness cosigned its head and no independent authority "
            "stamped its time"
        )
    facts = outcome if isinstance(outcome, VerificationResult) else None
    proven = facts.proven_time if facts is not None else None
    committed = receipt.entry.signature
    signing_time = committed.signed_at if committed is not None else None
    if committed is None:
        checks.append(
            _skipped(
                CHECK_SIGNATURE,
                SECTION_SIGNATURE,
                "not performed: the entry records no signature (an unsigned deposit"
                + (", a version 1 entry)" if receipt.version == 1 else ")"),
                VERDICT_SIGNATURE_INVALID,
            )
        )
    elif signature is None:
        checks.append(
            _skipped(
                CHECK_SIGNATURE,
                SECTION_SIGNATURE,
                f"not performed: {signature_missing or 'the signature was not given'}",
                VERDICT_SIGNATURE_INVALID,
            )
        )
    else:
        for c in signature.checks:
            section = _SIGNATURE_SECTIONS.get(c.name, SECTION_SIGNATURE)
            make = _passed if c.ok else _failed
            checks.append(make(c.name, section, c.detail, VERDICT_SIGNATURE_INVALID))
        if signature.certificate is not None:
            found, more = _signer_checks(
                signature.certificate,
                committed.signed_at,
                _when(committed),
                _SignerTrust(pki_roots, crl, crl_missing, sm2_crl, sm2_engine),
                now,
                revoked_later_stands="the signature made before it stands",
            )
            checks += found
            notices += more
        else:
            why = "not performed: the signer's certificate could not be read from the signature"
            checks.append(
                _skipped(CHECK_SIGNER_VALIDITY, SECTION_VALIDITY, why, VERDICT_SIGNATURE_INVALID)
            )
            for name in (CHECK_CRL, CHECK_REVOCATION_AT_SIGNING, CHECK_REVOCATION_NOW):
                checks.append(_skipped(name, SECTION_REVOCATION, why, VERDICT_REVOKED))
    checks += extra
    subject = Subject(
        "document",
        receipt.document_id,
        document.sha256.hex(),
        (
            ("receipt_version", receipt.version),
            ("size", document.size),
            ("institution", receipt.entry.institution),
            ("document_kind", receipt.entry.kind),
            ("case_code", receipt.entry.case_code),
            ("deposited_at", _iso(receipt.entry.deposited_at)),
            ("deposited_at_is", "claimed by the service"),
            ("proven_time", _iso(proven) if proven is not None else None),
            ("back_dated", facts.back_dated if facts is not None else False),
            *_signer_facts(committed),
        ),
    )
    return VerificationReport(subject, now, tuple(checks), tuple(notices), signing_time)


def _when(committed: EntrySignature) -> str:
    how = "proven by a time stamp" if committed.time_proven else "claimed by the signer"
    return f"the signing time {_iso(committed.signed_at)} ({how})"


def _signer_facts(
    committed: EntrySignature | None,
) -> tuple[tuple[str, str | int | bool | None], ...]:
    if committed is None:
        return (("signed", False),)
    return (
        ("signed", True),
        ("signer_institution", committed.signer_name),
        ("signer_credit_code", committed.signer_credit_code),
        ("signer_certificate_sha256", committed.signer_certificate.hex()),
        ("signature_form", committed.form),
        (
            "signature_sha256",
            committed.signature_sha256.hex() if committed.signature_sha256 else None,
        ),
        ("signed_at", _iso(committed.signed_at)),
        (
            "signed_at_is",
            "proven by a time stamp" if committed.time_proven else "claimed by the signer",
        ),
    )


def _receipt_checks(
    receipt: Receipt, outcome: VerificationResult | VerificationFailed
) -> list[ReportCheck]:
    out = []
    for c in outcome.checks:
        section = _RECEIPT_SECTIONS.get(c.name, SECTION_LOG)
        fails_as = (
            VERDICT_UNTRUSTED
            if c.trust
            else VERDICT_ALTERED
            if c.name == CHECK_DOCUMENT_DIGEST
            else VERDICT_RECEIPT_INVALID
        )
        make = _passed if c.ok else _failed
        out.append(make(c.name, section, c.detail, fails_as, **_receipt_evidence(c.name, receipt)))
    done = {c.name for c in outcome.checks}
    for name in (CHECK_CHECKPOINT, CHECK_WITNESSES, CHECK_TIME_STAMP):
        if name in done:
            continue
        if receipt.version == 1:
            why = "a version 1 receipt carries no checkpoint"
        elif name == CHECK_TIME_STAMP:
            why = "no time-stamp authority is pinned"
        else:
            why = "an earlier check failed"
        out.append(_skipped(name, SECTION_INDEPENDENCE, f"not performed: {why}", VERDICT_UNTRUSTED))
    if isinstance(outcome, VerificationResult) and not outcome.seal.is_sealed:
        out.append(
            _failed(
                CHECK_SEAL,
                SECTION_ANCHOR,
                "the pinned trust accepts unsealed blocks (no validator vouches)",
                VERDICT_UNTRUSTED,
            )
        )
    return out


def _receipt_evidence(name: str, receipt: Receipt) -> dict[str, str]:
    """What a receipt check rests on, as the receipt states it."""
    entry, anchor = receipt.entry, receipt.anchor
    if name == CHECK_DOCUMENT_DIGEST:
        return {
            "deposited_sha256": entry.sha256.hex(),
            "deposited_sm3": entry.sm3.hex(),
            "deposited_size": str(entry.size),
        }
    if name in (CHECK_LEAF_HASH, CHECK_LEAF_INDEX, CHECK_INCLUSION_PROOF):
        return {
            "leaf_hash": receipt.leaf_hash.hex(),
            "leaf_index": str(receipt.leaf_index),
            "tree_size": str(receipt.tree_size),
            "root_hash": receipt.root_hash.hex(),
        }
    if name in (CHECK_ANCHOR_PROOF, CHECK_TREE_HEAD):
        return {
            "chain_id": str(anchor.chain_id),
            "contract": "0x" + anchor.contract.hex(),
            "block_number": str(anchor.block_number),
            "block_hash": "0x" + anchor.block_hash.hex(),
            "block_time": _iso(receipt.block_time),
            "tx_hash": "0x" + anchor.tx_hash.hex(),
        }
    if name == CHECK_CHECKPOINT and receipt.checkpoint is not None:
        return {"origin": receipt.checkpoint.origin}
    return {}


# --- The signer's certificate: chain, validity, revocation -------------------------------


def _issuing_root(
    certificate: x509.Certificate, roots: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    """The pinned ECDSA root that issued ``certificate``: its name and its signature."""
    for root in roots:
        if root.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return root
    return None


def _certifies_sm2(certificate: x509.Certificate) -> bool:
    try:
        return certified_key_algorithm(certificate) == "sm2"
    except ProfileError:
        return False


@dataclass(frozen=True)
class _SignerTrust:
    """What a signer's certificate is checked against: the pinned roots, each root's CRL
    (the ECDSA root's ``crl``, the SM2 root's ``sm2_crl``) and the engine that checks SM2."""

    roots: Sequence[x509.Certificate]
    crl: x509.CertificateRevocationList | None
    crl_missing: str
    sm2_crl: x509.CertificateRevocationList | None = None
    sm2_engine: SM2Engine | None = None

    def check(
        self, certificate: x509.Certificate, at: datetime, now: datetime
    ) -> tuple[x509.Certificate | None, CertificateCheck | None, str | None]:
        """The pinned root that issued ``certificate`` (None: none did), its check at ``at``
        against that root's CRL, and why it could not be made (None: it was)."""
        if not _certifies_sm2(certificate):
            root = _issuing_root(certificate, self.roots)
            if root is None:
                return None, None, "the signer's certificate is not issued by a pinned PKI root"
            try:
                return root, self._ecdsa(certificate, root, at, now), None
            except CertsInputError as exc:
                raise ReportError(str(exc)) from exc
        if self.sm2_engine is None:
            return None, None, "an SM2 signer, and no SM2 engine here to check its certificate"
        for root in self.roots:
            if root.subject != certificate.issuer or not _certifies_sm2(root):
                continue
            result = self._sm2(certificate, root, at, now)
            if FailureKind.WRONG_ISSUER not in result.kinds():
                return root, result, None
        return None, None, "the SM2 signer's certificate is not issued by a pinned SM2 root"

    def crl_for(self, root: x509.Certificate) -> x509.CertificateRevocationList | None:
        return self.sm2_crl if _certifies_sm2(root) else self.crl

    def missing_for(self, root: x509.Certificate) -> str:
        if not _certifies_sm2(root):
            return self.crl_missing
        return (
            "no CRL of the SM2 root given (the SM2 root's own CRL: --crl FILE, or --server for "
            "GET /v1/pki/crl?algorithm=sm2)"
        )

    def _ecdsa(
        self, certificate: x509.Certificate, root: x509.Certificate, at: datetime, now: datetime
    ) -> CertificateCheck:
        return check_institution_certificate(certificate, root=root, crl=self.crl, at=at, now=now)

    def _sm2(
        self, certificate: x509.Certificate, root: x509.Certificate, at: datetime, now: datetime
    ) -> CertificateCheck:
        assert self.sm2_engine is not None
        crl = self.sm2_crl.public_bytes(Encoding.DER) if self.sm2_crl is not None else None
        try:
            return check_sm2_institution_certificate(
                certificate, root=root, crl=crl, at=at, now=now, engine=self.sm2_engine
            )
        except CertsInputError as exc:
            raise ReportError(str(exc)) from exc

    def chain_check(self, certificate: x509.Certificate, at: datetime, when: str) -> ReportCheck:
        """Issued by a pinned root of its key's algorithm, of the institution profile with
        documentSigning, valid at ``at`` (revocation is the revocation section's)."""
        sm2 = _certifies_sm2(certificate)
        roots = [r for r in self.roots if _certifies_sm2(r) == sm2]
        algorithm = "SM2" if sm2 else "ECDSA"
        if not roots:
            return _failed(
                CHECK_SIGNER_CHAIN,
                SECTION_SIGNER,
                f"no {algorithm} PKI root pinned (pki_roots) for this {algorithm} signer",
                VERDICT_SIGNATURE_INVALID,
            )
        if sm2 and self.sm2_engine is None:
            return _skipped(
                CHECK_SIGNER_CHAIN,
                SECTION_SIGNER,
                "not performed: an SM2 signer, and no SM2 engine here to check its certificate",
                VERDICT_SIGNATURE_INVALID,
            )
        problems: list[str] = []
        for root in roots:
            bare = dataclasses.replace(self, crl=None, sm2_crl=None)
            result = (
                bare._sm2(certificate, root, at, at)
                if sm2
                else bare._ecdsa(certificate, root, at, at)
            )
            remaining = [f for f in result.failures if f.kind is not FailureKind.CRL_MISSING]
            if not remaining:
                return _chained(root, when)
            problems.extend(str(f) for f in remaining)
        return _failed(
            CHECK_SIGNER_CHAIN, SECTION_SIGNER, "; ".join(problems), VERDICT_SIGNATURE_INVALID
        )


def _signer_checks(
    certificate: x509.Certificate,
    at: datetime,
    when: str,
    trust: _SignerTrust,
    now: datetime,
    *,
    revoked_later_stands: str,
    chain_check: bool = False,
) -> tuple[list[ReportCheck], list[str]]:
    """Validity, CRL and revocation at ``at`` and now of a signer's certificate (and, with
    ``chain_check``, the chain to a pinned root: for documents the committed-signature checks
    already made it). An SM2 signer is checked against the SM2 root and its CRL."""
    checks: list[ReportCheck] = []
    notices: list[str] = []
    serial = f"{certificate.serial_number:x}"
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    window = {"not_before": _iso(not_before), "not_after": _iso(not_after), "at": _iso(at)}
    if not_before <= at <= not_after:
        checks.append(
            _passed(
                CHECK_SIGNER_VALIDITY,
                SECTION_VALIDITY,
                f"the signer's certificate (serial {serial}) is valid {_iso(not_before)} to "
                f"{_iso(not_after)}, which holds {when}",
                VERDICT_SIGNATURE_INVALID,
                **window,
            )
        )
    else:
        checks.append(
            _failed(
                CHECK_SIGNER_VALIDITY,
                SECTION_VALIDITY,
                f"the signer's certificate (serial {serial}) is valid {_iso(not_before)} to "
                f"{_iso(not_after)}: not {when}",
                VERDICT_SIGNATURE_INVALID,
                **window,
            )
        )
    root, result, unchecked = trust.check(certificate, at, now)  # once: chain and revocation
    if chain_check:
        checks.append(_chain_of(result, root, certificate, trust, at, when))
    if root is None or result is None:
        why = f"not performed: {unchecked}"
        for name in (CHECK_CRL, CHECK_REVOCATION_AT_SIGNING, CHECK_REVOCATION_NOW):
            checks.append(_skipped(name, SECTION_REVOCATION, why, VERDICT_REVOKED))
        return checks, notices
    crl = trust.crl_for(root)
    crl_missing = trust.missing_for(root)
    if crl is None:
        why = f"not performed: {crl_missing}"
        checks.append(_skipped(CHECK_CRL, SECTION_REVOCATION, why, VERDICT_UNTRUSTED))
        checks.append(
            _skipped(CHECK_REVOCATION_AT_SIGNING, SECTION_REVOCATION, why, VERDICT_REVOKED)
        )
        checks.append(_skipped(CHECK_REVOCATION_NOW, SECTION_REVOCATION, why, VERDICT_REVOKED))
        notices.append(f"revocation was not checked: {crl_missing}")
        return checks, notices
    kinds = result.kinds()
    crl_facts = _crl_facts(crl, now)
    if FailureKind.CRL_NOT_BY_ROOT in kinds:
        checks.append(
            _failed(
                CHECK_CRL,
                SECTION_REVOCATION,
                "the CRL is not signed by the pinned root "
                f"{root.subject.rfc4514_string()}: its revocation data proves nothing",
                VERDICT_UNTRUSTED,
                **crl_facts,
            )
        )
        why = "not performed: the CRL is not the pinned root's"
        checks.append(
            _skipped(CHECK_REVOCATION_AT_SIGNING, SECTION_REVOCATION, why, VERDICT_REVOKED)
        )
        checks.append(_skipped(CHECK_REVOCATION_NOW, SECTION_REVOCATION, why, VERDICT_REVOKED))
        return checks, notices
    stale = FailureKind.CRL_STALE in kinds
    what = f"CRL number {crl_facts['number']} of {crl_facts['issuer']}"
    if stale:
        checks.append(
            _skipped(
                CHECK_CRL,
                SECTION_REVOCATION,
                f"not performed: the {what} is stale (thisUpdate {crl_facts['this_update']}, "
                f"nextUpdate {crl_facts['next_update']}, now {_iso(now)}): revocations after it "
                "are unknown",
                VERDICT_UNTRUSTED,
                **crl_facts,
            )
        )
        notices.append(
            f"the {what} is stale (nextUpdate {crl_facts['next_update']}): a revocation it does "
            "not list is not ruled out; get a current CRL (GET /v1/pki/crl)"
        )
    else:
        checks.append(
            _passed(
                CHECK_CRL,
                SECTION_REVOCATION,
                f"the {what}, signed by the pinned root, current (thisUpdate "
                f"{crl_facts['this_update']}, nextUpdate {crl_facts['next_update']})",
                VERDICT_UNTRUSTED,
                **crl_facts,
            )
        )
    entry = result.revocation
    listed = _entry_facts(entry)
    if entry is not None and entry.effective <= at:
        line = f"revoked ({entry.reason}) effective {_iso(entry.effective)}, at or before {when}"
        checks.append(
            _failed(
                CHECK_REVOCATION_AT_SIGNING, SECTION_REVOCATION, line, VERDICT_REVOKED, **listed
            )
        )
        checks.append(
            _failed(CHECK_REVOCATION_NOW, SECTION_REVOCATION, line, VERDICT_REVOKED, **listed)
        )
        return checks, notices
    if stale:
        why = "not performed: the CRL is stale, its silence proves nothing"
        checks.append(
            _skipped(CHECK_REVOCATION_AT_SIGNING, SECTION_REVOCATION, why, VERDICT_REVOKED)
        )
    else:
        checks.append(
            _passed(
                CHECK_REVOCATION_AT_SIGNING,
                SECTION_REVOCATION,
                f"not revoked {when} (serial {serial})",
                VERDICT_REVOKED,
                **listed,
            )
        )
    if entry is not None:
        line = (
            f"revoked after signing ({entry.reason}, effective {_iso(entry.effective)}): "
            f"{revoked_later_stands}; the certificate vouches for nothing newer"
        )
        checks.append(
            _passed(CHECK_REVOCATION_NOW, SECTION_REVOCATION, line, VERDICT_REVOKED, **listed)
        )
        notices.append(f"the signer's certificate was {line}")
    elif stale:
        why = "not performed: the CRL is stale, its silence proves nothing"
        checks.append(_skipped(CHECK_REVOCATION_NOW, SECTION_REVOCATION, why, VERDICT_REVOKED))
    else:
        checks.append(
            _passed(
                CHECK_REVOCATION_NOW,
                SECTION_REVOCATION,
                f"not revoked now: serial {serial} is not on the {what} (checked_at)",
                VERDICT_REVOKED,
            )
        )
    return checks, notices


_REVOCATION_KINDS: Final = frozenset(
    {
        FailureKind.CRL_MISSING,
        FailureKind.CRL_STALE,
        FailureKind.CRL_NOT_BY_ROOT,
        FailureKind.REVOKED,
    }
)
"""Failures of a certificate check that are the revocation section's, not the chain's."""


def _chain_of(
    result: CertificateCheck | None,
    root: x509.Certificate | None,
    certificate: x509.Certificate,
    trust: _SignerTrust,
    at: datetime,
    when: str,
) -> ReportCheck:
    """The chain check from the issuing root's check when it holds (no second check), else
    every pinned root's failures (:meth:`_SignerTrust.chain_check`)."""
    if result is not None and root is not None and result.kinds() <= _REVOCATION_KINDS:
        return _chained(root, when)
    return trust.chain_check(certificate, at, when)


def _chained(root: x509.Certificate, when: str) -> ReportCheck:
    """The signer chain check passed: issued by ``root``."""
    name = root.subject.rfc4514_string()
    return _passed(
        CHECK_SIGNER_CHAIN,
        SECTION_SIGNER,
        f"issued by the pinned root {name}, valid with documentSigning {when}",
        VERDICT_SIGNATURE_INVALID,
        root=name,
    )


def _crl_facts(crl: x509.CertificateRevocationList, now: datetime) -> dict[str, str]:
    next_update = crl.next_update_utc
    try:
        number = str(crl_number(crl))
    except CertsInputError:
        number = "none"
    return {
        "issuer": crl.issuer.rfc4514_string(),
        "number": number,
        "this_update": _iso(crl.last_update_utc),
        "next_update": _iso(next_update) if next_update else "none",
        "stale": "yes" if next_update is None or now > next_update else "no",
        "sha256": hashlib.sha256(crl.public_bytes(Encoding.DER)).hexdigest(),
    }


def _entry_facts(entry: RevokedEntry | None) -> dict[str, str]:
    if entry is None:
        return {"listed": "no"}
    return {
        "listed": "yes",
        "reason": str(entry.reason),
        "revoked_at": _iso(entry.revoked_at),
        "effective": _iso(entry.effective),
    }


# --- E-certificates ----------------------------------------------------------------------


def certificate_report(
    encoded: bytes,
    signature: bytes,
    signer_certificate: x509.Certificate,
    roots: Sequence[x509.Certificate],
    crl: x509.CertificateRevocationList | None,
    status_record: StatusRecord | None,
    at: datetime,
    now: datetime,
    *,
    crl_missing: str = "no CRL given (--crl, or --server for GET /v1/pki/crl)",
    registry_missing: str = "no registry consulted (--rpc, with contracts.certificates pinned)",
    sm2_crl: x509.CertificateRevocationList | None = None,
    sm2_engine: SM2Engine | None = None,
    status_events: Sequence[StatusEvent] | None = None,
    registry: tuple[int, bytes] | None = None,
    status_signers: Sequence[x509.Certificate] = (),
) -> VerificationReport:
    """The report on a registered e-certificate (docs/report.md §6.3): its encoding, the
    issuer's signature over exactly ``encoded``, the signer's certificate (chain to one of
    ``roots``, validity and revocation by ``crl`` at the registration time), the registry's
    ``status_record`` for its identifier (read by the caller; None: not consulted,
    ``registry_missing`` says why) at the asked time ``at``, and its own validity window at
    ``at``. ``now`` judges the CRL's freshness. An SM2 issuer's certificate is checked
    against the SM2 root among ``roots`` and ``sm2_crl``, with ``sm2_engine``.

    ``status_events``: the registry's events for the certificate as read from the chain (None:
    not read), on ``registry`` (its chain id and address): each event's statement is rebuilt
    and its signature checked under the issuer's certificate — ``signer_certificate``, or one
    of ``status_signers`` (the issuer's other certificates, e.g. after a renewal) — of the
    issuing institution (docs/certificate-registry.md §3).

    The signer's certificate must have been good when the certificate was registered: the
    registry's ``issued_at`` (block time) when the record has one, else ``at`` (a notice says
    the time is then not proven).

    :raises ECertificateError: ``encoded`` is not an e-certificate (the field named).
    :raises ReportError: a time without a zone.
    """
    if at.tzinfo is None or now.tzinfo is None:
        raise ReportError("at and now must be timezone-aware")
    signature_failure = None
    try:  # decodes the certificate once, when the signature holds
        certificate = verify_e_certificate_signature(
            encoded, signature, signer_certificate, sm2_engine=sm2_engine
        ).certificate
    except ECertificateSignatureError as exc:
        signature_failure = str(exc)
        certificate = ECertificate.decode(encoded)
    digest = hashlib.sha256(encoded).digest()
    checks: list[ReportCheck] = [
        _passed(
            CHECK_CERTIFICATE_ENCODING,
            SECTION_INTEGRITY,
            f"the canonical encoding (version {certificate.version}) of {certificate.id}",
            VERDICT_ALTERED,
            sha256=digest.hex(),
            size=str(len(encoded)),
        )
    ]
    notices: list[str] = []
    registered = status_record is not None and status_record.state is not CertificateState.NONE
    proven = registered and status_record is not None and status_record.issued_at > 0
    signed_at = (
        datetime.fromtimestamp(status_record.issued_at, UTC)
        if proven and status_record is not None
        else at
    )
    when = (
        f"at its registration {_iso(signed_at)} (block time)"
        if proven
        else f"at {_iso(at)} (the asked time: no registration time known)"
    )
    if not proven:
        notices.append(
            "the registration time is not known here: the issuer's certificate was checked at "
            "the asked time"
        )
    if status_record is not None:
        checks.append(_registered_digest(status_record, certificate, digest))
    if signature_failure is None:
        checks.append(
            _passed(
                CHECK_CERTIFICATE_SIGNATURE,
                SECTION_SIGNATURE,
                f"the issuer's signature verifies over these bytes under the certificate it "
                f"names ({certificate.issuer.name}, {certificate.issuer.credit_code})",
                VERDICT_SIGNATURE_INVALID,
                signer_certificate_sha256=certificate.issuer.certificate_sha256.hex(),
            )
        )
    else:
        checks.append(
            _failed(
                CHECK_CERTIFICATE_SIGNATURE,
                SECTION_SIGNATURE,
                signature_failure,
                VERDICT_SIGNATURE_INVALID,
            )
        )
    found, more = _signer_checks(
        signer_certificate,
        signed_at,
        when,
        _SignerTrust(roots, crl, crl_missing, sm2_crl, sm2_engine),
        now,
        revoked_later_stands="the certificate issued before it stands",
        chain_check=True,
    )
    checks += found
    notices += more
    checks.append(_registry_status(status_record, at, registry_missing))
    trust = _SignerTrust(roots, crl, crl_missing, sm2_crl, sm2_engine)
    changed = (
        datetime.fromtimestamp(status_record.changed_at, UTC)
        if status_record is not None and status_record.changed_at > 0
        else now
    )
    signers = [signer_certificate]
    refused: list[str] = []
    for other in status_signers:  # the issuer's other certificates: chained like the first
        chained = trust.chain_check(other, changed, f"at the change {_iso(changed)}")
        if chained.status is CheckStatus.PASSED:
            signers.append(other)
        else:
            refused.append(f"certificate serial {other.serial_number:x}: {chained.detail}")
    checks.append(
        _status_signatures(
            certificate, status_events, registry, signers, refused, sm2_engine, registry_missing
        )
    )
    if status_record is None:
        notices.append(f"the certificate's status was not checked: {registry_missing}")
    checks.append(_certificate_validity(certificate, at))
    subject = Subject(
        "certificate",
        certificate.id,
        digest.hex(),
        (
            ("type", certificate.type.key),
            ("number", certificate.number),
            ("issuer", certificate.issuer.name),
            ("issuer_credit_code", certificate.issuer.credit_code),
            ("issued", certificate.issued.isoformat()),
            ("valid_from", certificate.valid_from.isoformat()),
            (
                "valid_until",
                certificate.valid_until.isoformat() if certificate.valid_until else None,
            ),
            ("asked_at", _iso(at)),
            (
                "registry_state",
                status_record.state.name.lower() if status_record is not None else None,
            ),
        ),
    )
    return VerificationReport(subject, now, tuple(checks), tuple(notices), signed_at)


def _registered_digest(
    record: StatusRecord, certificate: ECertificate, digest: bytes
) -> ReportCheck:
    if record.state is CertificateState.NONE:
        return _skipped(
            CHECK_REGISTERED_DIGEST,
            SECTION_INTEGRITY,
            "not performed: the identifier is not registered",
            VERDICT_ALTERED,
        )
    issuer = record.issuer_code.decode("ascii", errors="replace")
    evidence = {"registered_sha256": record.certificate_hash.hex(), "issuer_code": issuer}
    if record.certificate_hash != digest or issuer != certificate.issuer.credit_code:
        return _failed(
            CHECK_REGISTERED_DIGEST,
            SECTION_INTEGRITY,
            f"the registry holds SHA-256 {record.certificate_hash.hex()} by {issuer} for "
            f"{certificate.id}; these bytes are {digest.hex()} by "
            f"{certificate.issuer.credit_code}: not the registered certificate",
            VERDICT_ALTERED,
            **evidence,
        )
    return _passed(
        CHECK_REGISTERED_DIGEST,
        SECTION_INTEGRITY,
        f"the registry holds exactly these bytes (SHA-256 {digest.hex()}) for {certificate.id}",
        VERDICT_ALTERED,
        **evidence,
    )


def status_statement_of(event: StatusEvent, chain_id: int, registry: bytes) -> bytes:
    """The canonical status statement (docs/certificate-registry.md §3) the institution signed
    for the change ``event`` records, on the registry ``registry`` of chain ``chain_id``.

    :raises StatusStatementError: the event's fields do not make a statement.
    """
    if event.action.value == "issue":
        assert event.issuer_code is not None and event.certificate_hash is not None
        return StatusStatement.issue(
            chain_id=chain_id,
            registry=registry,
            certificate=event.key,
            issuer=event.issuer_code.decode("ascii", errors="replace"),
            certificate_hash=event.certificate_hash,
        ).to_bytes()
    if event.action.value == "revoke":
        assert event.reason_code is not None and event.effective_time is not None
        return StatusStatement.revoke(
            chain_id=chain_id,
            registry=registry,
            certificate=event.key,
            reason=CertificateRevocationReason(event.reason_code),
            effective_time=event.effective_time,
        ).to_bytes()
    assert event.successor is not None
    return StatusStatement.supersede(
        chain_id=chain_id, registry=registry, certificate=event.key, successor=event.successor
    ).to_bytes()


def _status_signatures(
    certificate: ECertificate,
    events: Sequence[StatusEvent] | None,
    registry: tuple[int, bytes] | None,
    signers: Sequence[x509.Certificate],
    refused: Sequence[str],
    sm2_engine: SM2Engine | None,
    missing: str,
) -> ReportCheck:
    """Every registry change of ``certificate`` signed by its issuing institution: the
    statement rebuilt from the event, its signature under one of ``signers`` (the signer
    certificate, and those of the issuer's other certificates that chain to a pinned root;
    ``refused``: why the others were not used) whose credit code is the issuer's."""
    name, section = CHECK_STATUS_SIGNATURES, SECTION_REVOCATION
    if events is None or registry is None:
        return _skipped(
            name,
            section,
            f"not performed: the registry's events were not read ({missing})",
            VERDICT_SIGNATURE_INVALID,
        )
    if not events:
        return _skipped(
            name,
            section,
            "not performed: the registry holds no change of this certificate",
            VERDICT_SIGNATURE_INVALID,
        )
    key = certificate_key(certificate.id)
    issuer = certificate.issuer.credit_code
    done: list[str] = []
    for event in events:
        what = event.action.value
        if event.key != key:
            return _failed(
                name,
                section,
                f"an event of 0x{event.key.hex()} given for {certificate.id} (0x{key.hex()})",
                VERDICT_SIGNATURE_INVALID,
            )
        try:
            statement = status_statement_of(event, *registry)
        except (CertsError, ValueError) as exc:
            return _failed(
                name,
                section,
                f"the {what} event does not make a status statement: {exc}",
                VERDICT_SIGNATURE_INVALID,
            )
        problems: list[str] = []
        for signer in signers:
            try:
                signed = check_status_signature(
                    statement,
                    event.signature,
                    signer.public_bytes(Encoding.DER),
                    sm2_engine=sm2_engine,
                )
            except (CertsError, UnsupportedAlgorithm, ValueError) as exc:
                problems.append(str(exc))
                continue
            if signed.signer_code != issuer:
                problems.append(f"signed by {signed.signer_code}, not by the issuer {issuer}")
                continue
            done.append(f"{what} (by certificate serial {signed.signer.serial_hex})")
            break
        else:
            return _failed(
                name,
                section,
                f"the {what} recorded on the chain is not signed by the issuer {issuer} under "
                f"the certificates given ({'; '.join([*problems, *refused])}): if the issuer "
                "signed it with another of its certificates (a renewal), give that one too",
                VERDICT_SIGNATURE_INVALID,
                action=what,
            )
    return _passed(
        name,
        section,
        f"every change on the chain is signed by the issuer {issuer}: {', '.join(done)}",
        VERDICT_SIGNATURE_INVALID,
        changes=str(len(done)),
    )


def _registry_status(record: StatusRecord | None, at: datetime, missing: str) -> ReportCheck:
    name, section = CHECK_REGISTRY_STATUS, SECTION_REVOCATION
    if record is None:
        return _skipped(name, section, f"not performed: {missing}", VERDICT_REVOKED)
    evidence = {
        "state": record.state.name.lower(),
        "issued_at": _epoch(record.issued_at),
        "issued_block": str(record.issued_block),
        "changed_at": _epoch(record.changed_at),
        "changed_block": str(record.changed_block),
    }
    state = record.state
    if state is CertificateState.NONE:
        return _failed(
            name, section, "the registry has no such certificate", VERDICT_UNKNOWN, **evidence
        )
    if state is CertificateState.SUPERSEDED:
        return _failed(
            name,
            section,
            f"superseded by 0x{record.successor.hex()} (block {record.changed_block}): the "
            "certificate no longer stands",
            VERDICT_REVOKED,
            successor=record.successor.hex(),
            **evidence,
        )
    if state is CertificateState.REVOKED:
        effective = datetime.fromtimestamp(record.effective_time, UTC)
        evidence |= {"reason_code": str(record.reason_code), "effective": _iso(effective)}
        if effective <= at:
            return _failed(
                name,
                section,
                f"revoked (reason code {record.reason_code}) effective {_iso(effective)}, at "
                f"or before {_iso(at)}",
                VERDICT_REVOKED,
                **evidence,
            )
        return _passed(
            name,
            section,
            f"issued at {_iso(at)}; revoked (reason code {record.reason_code}) effective only "
            f"from {_iso(effective)}",
            VERDICT_REVOKED,
            **evidence,
        )
    return _passed(
        name,
        section,
        f"issued (block {record.issued_block}, {_epoch(record.issued_at)}), neither revoked nor "
        "superseded",
        VERDICT_REVOKED,
        **evidence,
    )


def _certificate_validity(certificate: ECertificate, at: datetime) -> ReportCheck:
    """The certificate's own validity window, by Beijing dates (a day is valid whole)."""
    start = _day_start(certificate.valid_from)
    end = (
        _day_start(certificate.valid_until) + timedelta(days=1) if certificate.valid_until else None
    )
    until = certificate.valid_until.isoformat() if certificate.valid_until else "no end"
    evidence = {"valid_from": certificate.valid_from.isoformat(), "valid_until": until}
    span = f"valid {certificate.valid_from.isoformat()} to {until} (Beijing dates)"
    if at < start:
        return _failed(
            CHECK_CERTIFICATE_VALIDITY,
            SECTION_VALIDITY,
            f"{span}: not yet valid at {_iso(at)}",
            VERDICT_REVOKED,
            **evidence,
        )
    if end is not None and at >= end:
        return _failed(
            CHECK_CERTIFICATE_VALIDITY,
            SECTION_VALIDITY,
            f"{span}: expired at {_iso(at)}",
            VERDICT_REVOKED,
            **evidence,
        )
    return _passed(
        CHECK_CERTIFICATE_VALIDITY,
        SECTION_VALIDITY,
        f"{span}: holds at {_iso(at)}",
        VERDICT_REVOKED,
        **evidence,
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC) - _BEIJING


# --- Text ------------------------------------------------------------------------------------

_MARK: Final = {
    CheckStatus.PASSED: "ok  ",
    CheckStatus.FAILED: "FAIL",
    CheckStatus.NOT_PERFORMED: "--  ",
}


def render_text(report: VerificationReport) -> str:
    """The readable form: the verdict first, the subject, then one line per check under its
    section's name, then the notices (``note: …``)."""
    lines = [f"verdict: {report.verdict}"]
    subject = report.subject
    facts = dict(subject.facts)
    if subject.kind == "document":
        lines.append(
            f"document: {subject.id} (receipt version {facts.get('receipt_version')}), "
            f"SHA-256 {subject.sha256}"
        )
        if facts.get("signed"):
            form = (
                "a detached signature"
                if facts.get("signature_form") == "cms-detached"
                else "a signature in the PDF"
            )
            lines.append(
                f"signer: {facts['signer_institution']} (统一社会信用代码 "
                f"{facts['signer_credit_code']}), certificate SHA-256 "
                f"{facts['signer_certificate_sha256']}, {form}, signed at {facts['signed_at']} "
                f"({facts['signed_at_is']}; checked by the service at deposit)"
            )
    else:
        lines.append(
            f"certificate: {subject.id} ({facts.get('type')} {facts.get('number')}) issued by "
            f"{facts.get('issuer')} ({facts.get('issuer_credit_code')}), SHA-256 {subject.sha256}"
        )
    for name in SECTIONS:
        checks = report.section(name)
        if not checks:
            continue
        lines.append(f"[{name}]")
        lines += [f"{_MARK[c.status]} {c.name}: {c.detail}" for c in checks]
    lines += [f"note: {n}" for n in report.notices]
    return "\n".join(lines)


# --- Values ----------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _epoch(seconds: int) -> str:
    return _iso(datetime.fromtimestamp(seconds, UTC)) if seconds else "none"


def evidence_of(check: ReportCheck) -> Mapping[str, str]:
    """A check's evidence as a mapping."""
    return dict(check.evidence)
