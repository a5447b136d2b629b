"""The verification report model (evidence/verify/verification_report.py): the committed
vectors are what the model makes and what the schema accepts, corrupted ones are refused,
verdicts follow the precedence, and the e-certificate report — a pure function of the
certificate, its signature, the signer's certificate, the roots, the CRL, the registry record
and the times — says intact, revoked, signature-invalid, altered, unknown or untrusted for the
right reason, with a real authority's certificates and CRLs."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import InstitutionSubject, InstitutionType
from certs.formats.revocation_list import CrlContent, RevocationReason, build_crl
from certs.formats.status_statement import (
    CertificateRevocationReason,
    StatusStatement,
    certificate_key,
)
from certs.store.authority import CertificateAuthority
from evidence.formats.e_certificate import ECertificate, IssueFields, fields_of
from evidence.verify.e_certificate_signature import certificate_fingerprint, sign_e_certificate
from evidence.verify.verification_report import (
    VERDICT_PRECEDENCE,
    CheckStatus,
    ReportCheck,
    ReportError,
    Subject,
    VerificationReport,
    certificate_report,
    combine_verdicts,
    exit_status,
    render_text,
)
from ledger.certificate_status import CertificateState, StatusEvent, StatusRecord
from ledger.certificate_status import StatusAction as StatusEventAction

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "assets" / "verification_report"
SCHEMA = json.loads(
    (ROOT / "evidence/formats/schema/verification-report-v1.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("report_vectors", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Vectors and schema ------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_committed_vectors_are_what_the_model_makes() -> None:
    made = _generator().reports()
    assert sorted(made) == sorted(p.name for p in VECTORS.glob("document-*.json"))
    for name, data in made.items():
        assert (VECTORS / name).read_bytes() == data, f"{name} changed: run generate.py"


@pytest.mark.parametrize("path", sorted(VECTORS.glob("document-*.json")), ids=lambda p: p.stem)
def test_each_vector_is_valid_and_says_its_verdict(path: Path) -> None:
    report = json.loads(path.read_text(encoding="utf-8"))
    VALIDATOR.validate(report)
    assert report["verdict"] == report["result"] == path.stem.removeprefix("document-")
    failed = [
        c["fails_as"] for s in report["sections"] for c in s["checks"] if c["status"] == "failed"
    ]
    assert combine_verdicts(failed) == report["verdict"]
    assert report["exit_status"] == exit_status(report["verdict"])


def _mutate(report: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(report)
    *parents, last = case["path"]
    node: Any = out
    for key in parents:
        node = node[key]
    if case.get("delete"):
        del node[last]
    elif isinstance(node, list):
        node[last] = case["set"]
    else:
        node[last] = case["set"]
    return out


CORRUPTED = json.loads((VECTORS / "corrupted.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CORRUPTED, ids=lambda c: c["name"])
def test_corrupted_reports_are_refused_by_the_schema(case: dict[str, Any]) -> None:
    base = json.loads((VECTORS / case["base"]).read_text(encoding="utf-8"))
    VALIDATOR.validate(base)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(_mutate(base, case))


VERDICTS = json.loads((VECTORS / "verdicts.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", VERDICTS["cases"], ids=lambda c: "+".join(c["failed"]) or "none")
def test_verdicts_follow_the_precedence(case: dict[str, Any]) -> None:
    assert combine_verdicts(case["failed"]) == case["verdict"]


@pytest.mark.parametrize("word", VERDICTS["refused"])
def test_a_word_that_is_not_a_verdict_is_refused(word: str) -> None:
    with pytest.raises(ValueError):
        combine_verdicts(["revoked", word])


def test_every_verdict_but_intact_exits_1() -> None:
    assert [exit_status(v) for v in VERDICT_PRECEDENCE] == [1] * 7 + [0]


def test_a_check_names_a_known_section_and_a_failing_verdict() -> None:
    with pytest.raises(ValueError, match="section"):
        ReportCheck("x", "feelings", CheckStatus.PASSED, "")
    with pytest.raises(ValueError, match="fail as"):
        ReportCheck("x", "integrity", CheckStatus.FAILED, "", fails_as="intact")


def test_the_text_says_the_verdict_first_then_one_line_per_check() -> None:
    checks = (
        ReportCheck("a", "integrity", CheckStatus.PASSED, "fine", "altered"),
        ReportCheck("b", "revocation", CheckStatus.FAILED, "gone", "revoked"),
        ReportCheck("c", "revocation", CheckStatus.NOT_PERFORMED, "not performed: why", "revoked"),
    )
    report = VerificationReport(
        Subject("certificate", "GZS-x", None, (("type", "notarial_certificate"),)),
        datetime(2026, 1, 1, tzinfo=UTC),
        checks,
        ("a notice",),
    )
    lines = render_text(report).splitlines()
    assert lines[0] == "verdict: revoked"
    assert lines[2:] == [
        "[integrity]",
        "ok   a: fine",
        "[revocation]",
        "FAIL b: gone",
        "--   c: not performed: why",
        "note: a notice",
    ]
    VALIDATOR.validate(report.to_json())


# --- E-certificates ------------------------------------------------------------------------

NOTARY = InstitutionSubject(
    "广元市利州公证处", parse_credit_code("32510802MB1530425A"), InstitutionType.NOTARY_OFFICE
)
PASSPHRASE = b"bureau root passphrase"
NOTARIAL = ROOT / "tests" / "assets" / "e_certificates" / "notarial-certificate.ecert"


@dataclass
class Issued:
    authority: CertificateAuthority
    root: x509.Certificate
    signer: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    encoded: bytes
    signature: bytes
    certificate: ECertificate
    registered_at: datetime

    def crl(self) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl((self.authority.data_dir / "pki" / "crl.der").read_bytes())

    def record(self, state: CertificateState, **changes: Any) -> StatusRecord:
        base = StatusRecord(
            key=certificate_key(self.certificate.id),
            state=state,
            reason_code=0,
            issuer_code=NOTARY.credit_code.text.encode(),
            effective_time=0,
            certificate_hash=hashlib.sha256(self.encoded).digest(),
            successor=b"\x00" * 32,
            issued_at=int(self.registered_at.timestamp()),
            issued_block=7,
            changed_at=0,
            changed_block=0,
        )
        return replace(base, **changes)

    def report(
        self,
        record: StatusRecord | None,
        *,
        at: datetime | None = None,
        crl: x509.CertificateRevocationList | None = None,
        encoded: bytes | None = None,
        roots: tuple[x509.Certificate, ...] | None = None,
    ) -> VerificationReport:
        now = datetime.now(UTC)
        report = certificate_report(
            encoded if encoded is not None else self.encoded,
            self.signature,
            self.signer,
            roots if roots is not None else (self.root,),
            crl if crl is not None else self.crl(),
            record,
            at or now,
            now,
        )
        VALIDATOR.validate(report.to_json())
        return report


def _issue(tmp: Path, name: str) -> Issued:
    authority = CertificateAuthority.init(
        tmp / name,
        "广元市司法局机构证书根",
        passphrase=PASSPHRASE,
        public_url="https://zl.example.cn/",
    )
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    signer = x509.load_der_x509_certificate(authority.issue(NOTARY, spki).certificate_der)
    fields = dict(fields_of(ECertificate.decode(NOTARIAL.read_bytes())))
    fields["issued"] = fields["valid_from"] = date.today().isoformat()
    fields["valid_until"] = None
    certificate = IssueFields.from_json_bytes(json.dumps(fields).encode()).certificate(
        issuer_type=NOTARY.type, certificate_sha256=certificate_fingerprint(signer)
    )
    return Issued(
        authority,
        authority.root,
        signer,
        key,
        certificate.encode(),
        sign_e_certificate(certificate, key),
        certificate,
        datetime.now(UTC) + timedelta(seconds=1),
    )


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    return _issue(tmp_path_factory.mktemp("report-pki"), "data")


def _status(report: VerificationReport, name: str) -> CheckStatus:
    check = report.check(name)
    assert check is not None, name
    return check.status


def test_a_registered_certificate_is_intact(issued: Issued) -> None:
    report = issued.report(issued.record(CertificateState.ISSUED))
    assert report.verdict == "intact", render_text(report)
    assert report.subject.id == issued.certificate.id
    assert report.signing_time == datetime.fromtimestamp(int(issued.registered_at.timestamp()), UTC)
    for name in (
        "certificate-encoding",
        "registered-digest",
        "certificate-signature",
        "signer-validity",
        "signer-chain",
        "crl",
        "revocation-at-signing",
        "revocation-now",
        "registry-status",
        "certificate-validity",
    ):
        assert _status(report, name) is CheckStatus.PASSED, name
    assert not report.notices


def test_without_the_registry_the_status_is_not_performed_and_said(issued: Issued) -> None:
    report = issued.report(None)
    assert report.verdict == "intact"
    assert _status(report, "registry-status") is CheckStatus.NOT_PERFORMED
    assert any("status was not checked" in n for n in report.notices)
    assert any("registration time is not known" in n for n in report.notices)


def test_revoked_or_superseded_on_the_registry_is_revoked(issued: Issued) -> None:
    past = int(datetime.now(UTC).timestamp()) - 60
    revoked = issued.report(
        issued.record(CertificateState.REVOKED, reason_code=9, effective_time=past)
    )
    assert revoked.verdict == "revoked" and revoked.exit_status == 1
    check = revoked.check("registry-status")
    assert check is not None and "reason code 9" in check.detail
    superseded = issued.report(issued.record(CertificateState.SUPERSEDED, successor=b"\x01" * 32))
    assert superseded.verdict == "revoked"
    # Asked about a time before the revocation took effect: it stood then.
    earlier = issued.report(
        issued.record(CertificateState.REVOKED, reason_code=1, effective_time=past),
        at=datetime.fromtimestamp(past - 30, UTC),
    )
    assert earlier.verdict == "intact", render_text(earlier)


def test_an_identifier_the_registry_does_not_know_is_unknown(issued: Issued) -> None:
    report = issued.report(issued.record(CertificateState.NONE))
    assert report.verdict == "unknown"
    assert _status(report, "registered-digest") is CheckStatus.NOT_PERFORMED


def test_bytes_other_than_the_registered_ones_are_altered(issued: Issued) -> None:
    record = issued.record(CertificateState.ISSUED, certificate_hash=b"\x02" * 32)
    assert issued.report(record).verdict == "altered"


def test_a_signature_over_other_bytes_is_signature_invalid(issued: Issued) -> None:
    fields = dict(fields_of(issued.certificate))
    fields["number"] = fields["number"].replace("1024", "1025")
    other = IssueFields.from_json_bytes(json.dumps(fields).encode()).certificate(
        issuer_type=NOTARY.type, certificate_sha256=certificate_fingerprint(issued.signer)
    )
    report = issued.report(None, encoded=other.encode())
    assert report.verdict == "signature-invalid", render_text(report)
    assert _status(report, "certificate-signature") is CheckStatus.FAILED


def test_a_signer_of_another_root_is_signature_invalid(issued: Issued, tmp_path: Path) -> None:
    stranger = _issue(tmp_path, "stranger")
    report = issued.report(None, roots=(stranger.root,), crl=stranger.crl())
    assert report.verdict == "signature-invalid"
    assert _status(report, "signer-chain") is CheckStatus.FAILED
    assert _status(report, "revocation-now") is CheckStatus.NOT_PERFORMED


def test_a_crl_not_by_the_root_is_untrusted(issued: Issued, tmp_path: Path) -> None:
    stranger = _issue(tmp_path, "forger")
    report = issued.report(issued.record(CertificateState.ISSUED), crl=stranger.crl())
    assert report.verdict == "untrusted"
    assert _status(report, "crl") is CheckStatus.FAILED


def test_signer_revoked_before_registration_is_revoked_after_is_a_notice(
    tmp_path: Path,
) -> None:
    early = _issue(tmp_path, "early")
    early.authority.revoke(
        f"{early.signer.serial_number:x}",
        RevocationReason.KEY_COMPROMISE,
        effective=datetime.now(UTC) - timedelta(minutes=1),
    )
    report = early.report(early.record(CertificateState.ISSUED))
    assert report.verdict == "revoked", render_text(report)
    assert _status(report, "revocation-at-signing") is CheckStatus.FAILED

    late = _issue(tmp_path, "late")
    late.registered_at = datetime.now(UTC) - timedelta(minutes=5)
    late.authority.revoke(f"{late.signer.serial_number:x}", RevocationReason.AFFILIATION_CHANGED)
    report = late.report(late.record(CertificateState.ISSUED))
    # Registered five minutes ago with a signer then valid... but issued only seconds ago:
    # the signer's validity names the time; the revocation after it is a notice.
    check = report.check("revocation-now")
    assert check is not None and "revoked after signing" in check.detail
    assert any("revoked after signing" in n for n in report.notices)


def test_a_stale_crl_is_said_and_decides_nothing(issued: Issued) -> None:
    root_key = serialization.load_pem_private_key(
        (issued.authority.data_dir / "pki" / "ca-key.pem").read_bytes(), password=PASSPHRASE
    )
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    stale = build_crl(
        CrlContent(1, datetime.now(UTC) - timedelta(days=9), ()),
        root_key=root_key,
        root=issued.root,
    )
    report = issued.report(issued.record(CertificateState.ISSUED), crl=stale)
    assert report.verdict == "intact"
    crl = report.check("crl")
    assert crl is not None and crl.status is CheckStatus.NOT_PERFORMED and "stale" in crl.detail
    assert dict(crl.evidence)["stale"] == "yes"
    assert _status(report, "revocation-now") is CheckStatus.NOT_PERFORMED
    assert any("stale" in n for n in report.notices)


def test_outside_its_own_validity_window_it_does_not_stand(issued: Issued) -> None:
    record = issued.record(CertificateState.ISSUED)
    before = datetime.combine(issued.certificate.valid_from, datetime.min.time(), UTC) - timedelta(
        days=2
    )
    report = issued.report(record, at=before)
    check = report.check("certificate-validity")
    assert check is not None and "not yet valid" in check.detail
    assert report.verdict == "revoked"


def test_times_need_their_zone(issued: Issued) -> None:
    with pytest.raises(ReportError, match="timezone"):
        certificate_report(
            issued.encoded,
            issued.signature,
            issued.signer,
            (issued.root,),
            None,
            None,
            datetime(2026, 1, 1),
            datetime.now(UTC),
        )


def test_a_bundles_members_and_custody_join_the_report_and_decide_with_it(issued: Issued) -> None:
    """``with_checks``: the bundle's member checks (integrity, altered) and its custody
    export's (custody; a broken proof receipt-invalid, one by what is not pinned untrusted)
    join a report; the verdict follows from all of them; the JSON stays schema-valid."""
    from evidence.verify.verification_report import (
        bundle_member_check,
        custody_check,
        with_checks,
    )

    base = issued.report(issued.record(CertificateState.ISSUED))
    good = with_checks(
        base,
        [
            bundle_member_check("original/a.txt", True, "as listed"),
            custody_check("event 1 inclusion proof", True, "holds"),
        ],
        ["custody: 1 event anchored"],
    )
    assert good.verdict == "intact" and good.notices[-1] == "custody: 1 event anchored"
    VALIDATOR.validate(good.to_json())
    sections = {s["name"] for s in good.to_json()["sections"]}
    assert "custody" in sections
    untrusted = with_checks(base, [custody_check("anchor", False, "other seal", trust=True)])
    assert untrusted.verdict == "untrusted"
    broken = with_checks(base, [custody_check("complete", False, "an event left out")])
    assert broken.verdict == "receipt-invalid"
    altered = with_checks(
        base,
        [
            bundle_member_check("original/a.txt", False, "another SHA-256"),
            custody_check("anchor", False, "other seal", trust=True),
        ],
    )
    assert altered.verdict == "untrusted"  # untrusted comes before altered (report.md §6.2)
    VALIDATOR.validate(altered.to_json())
    assert with_checks(base, [bundle_member_check("x", False, "y")]).verdict == "altered"


# --- The issuer's signatures on the registry's changes -------------------------------------

CHAIN_ID = 31337
REGISTRY = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")


def _signed_events(
    issued: Issued, key: ec.EllipticCurvePrivateKey, *, revoke_key: ec.EllipticCurvePrivateKey
) -> list[StatusEvent]:
    """An issue event signed with ``key`` and a revoke event signed with ``revoke_key``, over
    the statements docs/certificate-registry.md §3 defines (built here by their own class)."""
    identifier = certificate_key(issued.certificate.id)
    issue = StatusStatement.issue(
        chain_id=CHAIN_ID,
        registry=REGISTRY,
        certificate=identifier,
        issuer=NOTARY.credit_code.text,
        certificate_hash=hashlib.sha256(issued.encoded).digest(),
    ).to_bytes()
    revoke = StatusStatement.revoke(
        chain_id=CHAIN_ID,
        registry=REGISTRY,
        certificate=identifier,
        reason=CertificateRevocationReason(1),
        effective_time=1_790_000_000,
    ).to_bytes()
    registrar = b"\x11" * 20
    return [
        StatusEvent(
            action=StatusEventAction.ISSUE,
            key=identifier,
            signature=key.sign(issue, ec.ECDSA(hashes.SHA256())),
            registrar=registrar,
            issuer_code=NOTARY.credit_code.text.encode(),
            certificate_hash=hashlib.sha256(issued.encoded).digest(),
        ),
        StatusEvent(
            action=StatusEventAction.REVOKE,
            key=identifier,
            signature=revoke_key.sign(revoke, ec.ECDSA(hashes.SHA256())),
            registrar=registrar,
            reason_code=1,
            effective_time=1_790_000_000,
        ),
    ]


def _with_events(
    issued: Issued, events: list[StatusEvent] | None, signers: tuple[x509.Certificate, ...] = ()
) -> VerificationReport:
    now = datetime.now(UTC)
    report = certificate_report(
        issued.encoded,
        issued.signature,
        issued.signer,
        (issued.root,),
        issued.crl(),
        issued.record(CertificateState.ISSUED),
        now,
        now,
        status_events=events,
        registry=(CHAIN_ID, REGISTRY),
        status_signers=signers,
    )
    VALIDATOR.validate(report.to_json())
    return report


def test_every_change_signed_by_the_issuer_passes(issued: Issued) -> None:
    report = _with_events(issued, _signed_events(issued, issued.key, revoke_key=issued.key))
    check = report.check("status-signatures")
    assert check is not None and check.status is CheckStatus.PASSED, render_text(report)
    assert "issue" in check.detail and "revoke" in check.detail
    assert dict(check.evidence)["changes"] == "2"
    # Not read: said, and decides nothing.
    bare = issued.report(issued.record(CertificateState.ISSUED))
    assert _status(bare, "status-signatures") is CheckStatus.NOT_PERFORMED
    assert bare.verdict == "intact"


def test_a_change_not_signed_by_the_issuer_is_signature_invalid(
    issued: Issued, tmp_path: Path
) -> None:
    # The operator (or anyone) revoking with a key of its own: caught.
    forged = _signed_events(issued, issued.key, revoke_key=ec.generate_private_key(ec.SECP256R1()))
    report = _with_events(issued, forged)
    check = report.check("status-signatures")
    assert check is not None and check.status is CheckStatus.FAILED
    assert "revoke" in check.detail and report.verdict == "signature-invalid"
    # Another registry or chain than the one the statements name: the same.
    report = certificate_report(
        issued.encoded,
        issued.signature,
        issued.signer,
        (issued.root,),
        issued.crl(),
        issued.record(CertificateState.ISSUED),
        datetime.now(UTC),
        datetime.now(UTC),
        status_events=_signed_events(issued, issued.key, revoke_key=issued.key),
        registry=(CHAIN_ID + 1, REGISTRY),
    )
    assert _status(report, "status-signatures") is CheckStatus.FAILED
    # A "renewal" with the issuer's very name and code, certified by a root of the forger's
    # own, does not help: the issuer's other certificates must chain to a pinned root.
    stranger = _issue(tmp_path, "stranger-notary")
    assert stranger.signer.subject == issued.signer.subject
    report = _with_events(
        issued,
        _signed_events(issued, issued.key, revoke_key=stranger.key),
        signers=(stranger.signer,),
    )
    check = report.check("status-signatures")
    assert check is not None and check.status is CheckStatus.FAILED
    assert f"certificate serial {stranger.signer.serial_number:x}" in check.detail


def test_a_change_signed_under_a_renewed_certificate_passes_when_given(issued: Issued) -> None:
    renewed_key = ec.generate_private_key(ec.SECP256R1())
    spki = renewed_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    renewed = x509.load_der_x509_certificate(issued.authority.issue(NOTARY, spki).certificate_der)
    events = _signed_events(issued, issued.key, revoke_key=renewed_key)
    assert _status(_with_events(issued, events), "status-signatures") is CheckStatus.FAILED
    given = _with_events(issued, events, signers=(renewed,))
    check = given.check("status-signatures")
    assert check is not None and check.status is CheckStatus.PASSED, check.detail
    assert f"{renewed.serial_number:x}" in check.detail
