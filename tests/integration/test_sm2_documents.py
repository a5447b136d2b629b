"""SM2 (国密) institutions end to end on a real ``zhenglian serve`` and a real ``openssl ts``
authority, on SQLite and PostgreSQL: the SM2 root beside the ECDSA one (``pki init --algorithm
sm2``), SM2 institution certificates issued with ``--out`` and with an SM2 ``--csr`` (checked by
``openssl verify`` with the default signer ID), documents signed with ``zhenglian sign`` (a
detached GM/T 0010 signature with a CAdES-T token, a PDF left unchanged), deposited and checked
on deposit (another signer ID, a revoked signer and an SM2 key under the ECDSA root refused by
name), committed to by version 2 entries, and named by ``zhenglian verify`` offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from certs.sm2 import keys as sm2_keys
from certs.sm2.certificates import SM2Certificate
from certs.sm2.crl import check_crl
from certs.sm2.csr import build_certificate_request
from certs.sm2.detached_signature import sign_detached
from certs.sm2.gmssl_engine import GmsslEngine
from evidence.formats.log_entry import LogEntry
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.tsa import RunningAuthority, running_authority
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

ENGINE = GmsslEngine()
PASSPHRASES = {
    "ZHENGLIAN_CA_PASSPHRASE": "root passphrase for the tests",
    "ZHENGLIAN_SIGNING_PASSPHRASE": "institution passphrase for the tests",
}
CODE = "11110000000029209E"
INSTITUTION = "北京市某公证处"
SM2_ROOT = "某市司法局SM2机构证书根"


def zl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **PASSPHRASES, **(env or {})},
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stderr
    return done


@dataclass
class Setup:
    work: Path
    data: Path
    server: ZhenglianServer
    authority: RunningAuthority
    token: str
    institution: Path

    @property
    def tsa_env(self) -> dict[str, str]:
        return {
            "ZHENGLIAN_TSA_URL": self.authority.url(),
            "ZHENGLIAN_TSA_ROOTS": str(self.authority.authority.directory / "root.pem"),
        }

    def issue(self, name: str, *how: str) -> subprocess.CompletedProcess[str]:
        return zl(
            "pki", "issue", "--data-dir", str(self.data), "--institution", INSTITUTION,
            "--credit-code", CODE, "--type", "notary_office", "--algorithm", "sm2", *how,
        )  # fmt: skip

    def sign(self, file: Path, institution: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return zl(
            "sign", str(file), "--key", str(institution / "key.pem"),
            "--cert", str(institution / "cert.pem"), *extra, env=self.tsa_env,
        )  # fmt: skip

    def deposit(self, file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return zl(
            "deposit", str(file), "--server", self.server.url, "--token", self.token,
            "--kind", "notary", *extra,
        )  # fmt: skip

    def server_report(self, document: Path, receipt: Path, signature: Path) -> httpx.Response:
        """``POST /v1/verify?format=report`` with the file, its receipt and its signature."""
        return httpx.post(
            f"{self.server.url}/v1/verify",
            params={"format": "report"},
            files={
                "file": (document.name, document.read_bytes()),
                "receipt": ("receipt.json", receipt.read_bytes()),
                "signature": ("signature.p7s", signature.read_bytes()),
            },
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )

    def last_serial(self) -> str:
        lines = ok(zl("pki", "list", "--data-dir", str(self.data))).stdout.splitlines()
        return str(json.loads(lines[-1])["serial"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    """One PKI with both roots, one time-stamp authority and one server per database."""
    work = tmp_path_factory.mktemp("sm2")
    data = work / "data"
    database: dict[str, str] = {}
    if request.param == "postgresql":
        database["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    ok(zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局机构证书根"))
    made = ok(zl("pki", "init", "--data-dir", str(data), "--name", SM2_ROOT, "--algorithm", "sm2"))
    assert made.stdout.strip().endswith("sm2-ca.pem")
    with running_authority(work / "tsa") as authority:
        env = {"ZHENGLIAN_TSA_ROOTS": str(authority.authority.directory / "root.pem")}
        with running_server(data, {**env, **database}) as server:
            token = server.token(INSTITUTION, "notary")
            institution = work / "notary"
            setup = Setup(work, data, server, authority, token, institution)
            ok(setup.issue("notary", "--out", str(institution)))
            yield setup


def test_an_sm2_signature_is_checked_kept_committed_and_verified_offline(setup: Setup) -> None:
    # The certificate: GM/T 0015, the institution's subject, an all-SM2 chain OpenSSL accepts.
    certificate = SM2Certificate.from_pem((setup.institution / "cert.pem").read_bytes())
    assert (setup.institution / "key.pem").stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (setup.institution / "key.pem").read_bytes()
    assert ("2.5.4.97", f"NTRCN-{CODE}") in certificate.subject
    checked = subprocess.run(
        ["openssl", "verify", "-vfyopt", "distid:1234567812345678", "-CAfile",
         str(setup.data / "pki" / "sm2-ca.pem"), str(setup.institution / "cert.pem")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0 and ": OK" in checked.stdout, checked.stderr
    ecdsa_root = subprocess.run(
        ["openssl", "verify", "-vfyopt", "distid:1234567812345678", "-CAfile",
         str(setup.data / "pki" / "ca.pem"), str(setup.institution / "cert.pem")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert ecdsa_root.returncode != 0  # not under the ECDSA root
    # Both roots served, in the trust bundle too.
    served = httpx.get(f"{setup.server.url}/v1/pki/ca", timeout=10).text
    assert served.count("BEGIN CERTIFICATE") == 2
    trust = setup.work / "trust.json"
    trust.write_text(httpx.get(f"{setup.server.url}/v1/trust", timeout=10).text)
    assert len(json.loads(trust.read_text())["pki_roots"]) == 2

    document = setup.work / "opinion.txt"
    document.write_bytes("司法鉴定意见书（SM2）：检材与样本系同一人书写。\n".encode() * 40)
    signed = ok(setup.sign(document, setup.institution))
    signature = Path(f"{document}.p7s")
    assert signature.exists() and "SM2" in signed.stderr and "time-stamped" in signed.stderr
    receipt = setup.work / "opinion.receipt.json"
    ok(setup.deposit(document, "--signature", str(signature), "-o", str(receipt)))
    entry = LogEntry.decode(bytes.fromhex(json.loads(receipt.read_text())["entry"]))
    assert entry.version == 2 and entry.signature is not None
    assert entry.signature.form == "cms-detached"
    assert entry.signature.signer_credit_code == CODE
    assert entry.signature.signer_name == INSTITUTION
    assert entry.signature.signed_at_proof == "time-stamp"
    assert abs(entry.signature.signed_at - datetime.now(UTC)) < timedelta(minutes=5)

    verified = zl(
        "verify", str(document), "--receipt", str(receipt), "--trust", str(trust),
        "--signature", str(signature),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert INSTITUTION in verified.stdout and CODE in verified.stdout
    assert "SM2" in verified.stdout
    # The server's report of the same: the SM2 signature checked with the SM2 root.
    answer = setup.server_report(document, receipt, signature)
    assert answer.status_code == 200, answer.text
    checks = {c["name"]: c["status"] for s in answer.json()["sections"] for c in s["checks"]}
    assert answer.json()["verdict"] == "intact", answer.text
    assert checks["signature-valid"] == "passed" and checks["signer-chain"] == "passed", checks
    # Another file beside the same receipt and signature: refused offline.
    other = setup.work / "other.txt"
    other.write_bytes(b"not the signed opinion\n")
    wrong = zl(
        "verify", str(other), "--receipt", str(receipt), "--trust", str(trust),
        "--signature", str(signature),
    )  # fmt: skip
    assert wrong.returncode == 1, wrong.stdout


def test_an_sm2_pdf_keeps_its_signature_beside_it(setup: Setup) -> None:
    pdf = setup.work / "notarial.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% an SM2-signed notarial certificate\n%%EOF\n")
    before = pdf.read_bytes()
    signed = ok(setup.sign(pdf, setup.institution))
    assert pdf.read_bytes() == before and Path(f"{pdf}.p7s").exists()
    assert "beside it" in signed.stderr and "pyHanko signs no SM2" in signed.stderr
    ok(setup.deposit(pdf, "--signature", f"{pdf}.p7s"))


def test_an_sm2_csr_is_certified_and_its_signatures_accepted(setup: Setup) -> None:
    key = sm2_keys.generate_private_key(ENGINE)
    request = build_certificate_request(
        subject=[("2.5.4.3", "token-held key")], key=key, engine=ENGINE
    )
    csr = setup.work / "token.csr"
    csr.write_bytes(request.to_pem())
    done = ok(setup.issue("token", "--csr", str(csr)))
    record = json.loads(done.stdout)
    assert record["algorithm"] == "sm2" and record["institution"] == INSTITUTION
    certificate = SM2Certificate.from_pem((setup.work / "token.cert.pem").read_bytes())
    assert certificate.public_key == key.public_key
    # The institution signs on its own side (here: in-process, as its token would).
    holder = setup.work / "token"
    holder.mkdir()
    (holder / "key.pem").write_bytes(
        sm2_keys.private_key_to_pem(
            key, PASSPHRASES["ZHENGLIAN_SIGNING_PASSPHRASE"].encode(), iterations=1000
        )
    )
    (holder / "cert.pem").write_bytes(certificate.to_pem())
    document = setup.work / "token-signed.txt"
    document.write_bytes(b"signed with a key that never left its token\n")
    ok(setup.sign(document, holder))
    ok(setup.deposit(document, "--signature", f"{document}.p7s"))
    # A tampered request, and an ECDSA request given as SM2: refused, exit 2.
    tampered = bytearray(request.der)
    tampered[-3] ^= 1
    bad = setup.work / "tampered.csr"
    bad.write_bytes(bytes(tampered))
    refused = setup.issue("bad", "--csr", str(bad), "--cert-out", str(setup.work / "bad.pem"))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1


def test_an_sm2_signature_with_another_signer_id_is_refused(setup: Setup) -> None:
    key = sm2_keys.load_private_key(
        (setup.institution / "key.pem").read_bytes(),
        PASSPHRASES["ZHENGLIAN_SIGNING_PASSPHRASE"].encode(),
        engine=ENGINE,
    )
    certificate = SM2Certificate.from_pem((setup.institution / "cert.pem").read_bytes())
    document = setup.work / "openssl-style.txt"
    document.write_bytes(b"signed with the empty signer ID, as OpenSSL 3.0 does in CMS\n")
    digest = hashes.Hash(hashes.SM3())
    digest.update(document.read_bytes())
    signature = setup.work / "openssl-style.p7s"
    signature.write_bytes(
        sign_detached(
            digest.finalize(), key=key, certificate=certificate,
            signing_time=datetime.now(UTC), engine=ENGINE, signer_id=b"",
        )
    )  # fmt: skip
    done = setup.deposit(document, "--signature", str(signature))
    assert done.returncode == 2, done.stderr
    assert "422 Signature refused [signature-invalid]" in done.stderr
    assert "signer ID" in done.stderr and "Traceback" not in done.stderr


def test_a_revoked_sm2_signer_is_refused_and_only_the_sm2_crl_lists_it(setup: Setup) -> None:
    revoked = setup.work / "revoked-notary"
    ok(setup.issue("revoked", "--out", str(revoked)))
    serial = setup.last_serial()
    ok(
        zl(
            "pki", "revoke", "--data-dir", str(setup.data), serial, "--reason", "keyCompromise",
            "--effective", (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    )  # fmt: skip
    sm2_crl = httpx.get(f"{setup.server.url}/v1/pki/crl", params={"algorithm": "sm2"}, timeout=10)
    assert sm2_crl.status_code == 200
    root = SM2Certificate.from_pem((setup.data / "pki" / "sm2-ca.pem").read_bytes())
    listed = check_crl(sm2_crl.content, root, at=datetime.now(UTC), engine=ENGINE)
    assert listed.ok and listed.entry(int(serial, 16)) is not None
    ecdsa_crl = x509.load_der_x509_crl(
        httpx.get(f"{setup.server.url}/v1/pki/crl", timeout=10).content
    )
    assert ecdsa_crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is None
    document = setup.work / "after-compromise.txt"
    document.write_bytes(b"signed after the SM2 key was compromised\n")
    ok(setup.sign(document, revoked))
    done = setup.deposit(document, "--signature", f"{document}.p7s")
    assert done.returncode == 2 and "[revoked]" in done.stderr, done.stderr


def test_an_sm2_key_under_the_ecdsa_root_is_refused(setup: Setup) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.unit.test_sm2_document_signature import _mixed_chain

    root_key = serialization.load_pem_private_key(
        (setup.data / "pki" / "ca-key.pem").read_bytes(),
        PASSPHRASES["ZHENGLIAN_CA_PASSPHRASE"].encode(),
    )
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root = x509.load_pem_x509_certificate((setup.data / "pki" / "ca.pem").read_bytes())
    key = sm2_keys.generate_private_key(ENGINE)
    mixed = _mixed_chain((root_key, root), key)
    parsed = x509.load_der_x509_certificate(mixed)
    from asn1crypto import x509 as asn1_x509

    carrier = SM2Certificate(
        der=mixed, tbs_der=b"", serial_number=parsed.serial_number,
        issuer_der=bytes(asn1_x509.Name.load(parsed.issuer.public_bytes()).dump()),
        subject_der=b"", subject=(), not_before=parsed.not_valid_before_utc,
        not_after=parsed.not_valid_after_utc, public_key=key.public_key, signature=b"",
        subject_key_identifier=None, authority_key_identifier=None, extensions=(),
    )  # fmt: skip
    document = setup.work / "mixed.txt"
    document.write_bytes(b"an SM2 key certified by the ECDSA root\n")
    digest = hashes.Hash(hashes.SM3())
    digest.update(document.read_bytes())
    signature = setup.work / "mixed.p7s"
    signature.write_bytes(
        sign_detached(
            digest.finalize(), key=key, certificate=carrier, signing_time=datetime.now(UTC),
            engine=ENGINE,
        )
    )  # fmt: skip
    done = setup.deposit(document, "--signature", str(signature))
    assert done.returncode == 2, done.stderr
    assert "[signer-certificate]" in done.stderr and "all-SM2 chain" in done.stderr


def _report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _check(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for s in report["sections"] for c in s["checks"] if c["name"] == name
    )
    return found


def test_an_sm2_signer_s_revocation_is_judged_by_the_sm2_root_s_crl(setup: Setup) -> None:
    """The report's revocation rows for an SM2 signer: the SM2 root's CRL from --server, from
    --crl files (both roots' given), inside the evidence bundle and in the server's own report;
    then a revocation effective before the signing time makes the verdict ``revoked``."""
    institution = setup.work / "sm2-report-notary"
    ok(setup.issue("sm2-report", "--out", str(institution)))
    serial = setup.last_serial()
    trust = setup.work / "trust-report.json"
    trust.write_text(httpx.get(f"{setup.server.url}/v1/trust", timeout=10).text)
    document = setup.work / "sm2-report.txt"
    document.write_bytes("公证书（SM2）：吊销核验。\n".encode() * 20)
    ok(setup.sign(document, institution))
    signature = Path(f"{document}.p7s")
    receipt = setup.work / "sm2-report.receipt.json"
    ok(setup.deposit(document, "--signature", str(signature), "-o", str(receipt)))
    args = (
        str(document), "--receipt", str(receipt), "--trust", str(trust),
        "--signature", str(signature), "--json",
    )  # fmt: skip
    sm2_root = x509.load_pem_x509_certificate((setup.data / "pki" / "sm2-ca.pem").read_bytes())

    online = zl("verify", *args, "--server", setup.server.url)
    report = _report(online)
    assert (online.returncode, report["verdict"]) == (0, "intact"), online.stdout
    crl = _check(report, "crl")
    assert crl["status"] == "passed", crl
    assert crl["evidence"]["issuer"] == sm2_root.subject.rfc4514_string()
    assert _check(report, "revocation-at-signing")["status"] == "passed"
    assert _check(report, "revocation-now")["status"] == "passed"

    # --crl files: both roots' CRLs, told apart by their signature algorithm.
    ecdsa_crl = setup.work / "ecdsa.crl"
    ecdsa_crl.write_bytes(httpx.get(f"{setup.server.url}/v1/pki/crl", timeout=10).content)
    sm2_crl = setup.work / "sm2.crl"
    sm2_crl.write_bytes(
        httpx.get(f"{setup.server.url}/v1/pki/crl", params={"algorithm": "sm2"}, timeout=10).content
    )
    both = _report(ok(zl("verify", *args, "--crl", str(ecdsa_crl), "--crl", str(sm2_crl))))
    assert _check(both, "revocation-now")["status"] == "passed"
    only_ecdsa = _report(ok(zl("verify", *args, "--crl", str(ecdsa_crl))))
    skipped = _check(only_ecdsa, "crl")
    assert skipped["status"] == "not performed" and "SM2 root" in skipped["detail"], skipped
    twice = zl("verify", *args, "--crl", str(sm2_crl), "--crl", str(sm2_crl))
    assert twice.returncode == 2 and "two SM2 CRLs" in twice.stderr, twice.stderr

    # The bundle carries the SM2 root and the SM2 root's CRL; checked offline from it alone.
    document_id = json.loads(receipt.read_text())["document_id"]
    bundle = setup.work / "sm2-report.bundle.zip"
    answer = httpx.get(
        f"{setup.server.url}/v1/documents/{document_id}/bundle",
        headers={"Authorization": f"Bearer {setup.token}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    bundle.write_bytes(answer.content)
    with zipfile.ZipFile(bundle) as zf:
        root = x509.load_der_x509_certificate(zf.read("signature/root.cer"))
        kept_crl = x509.load_der_x509_crl(zf.read("signature/crl-now.crl"))
    assert root == sm2_root and kept_crl.issuer == sm2_root.subject
    from_bundle = zl("verify", "--bundle", str(bundle), "--trust", str(trust), "--json")
    report = _report(from_bundle)
    assert (from_bundle.returncode, report["verdict"]) == (0, "intact"), from_bundle.stdout
    assert _check(report, "crl")["status"] == "passed"
    assert _check(report, "revocation-now")["status"] == "passed"

    # Revoked effective before the signing time: the server's report and the CLI say revoked.
    signed_at = LogEntry.decode(bytes.fromhex(json.loads(receipt.read_text())["entry"]))
    assert signed_at.signature is not None
    effective = signed_at.signature.signed_at - timedelta(minutes=1)
    ok(
        zl(
            "pki", "revoke", "--data-dir", str(setup.data), serial, "--reason", "keyCompromise",
            "--effective", effective.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    )  # fmt: skip
    revoked = zl("verify", *args, "--server", setup.server.url)
    report = _report(revoked)
    assert (revoked.returncode, report["verdict"]) == (1, "revoked"), revoked.stdout
    assert _check(report, "revocation-at-signing")["status"] == "failed"
    assert _check(report, "revocation-at-signing")["evidence"]["reason"] == "keyCompromise"
    served = setup.server_report(document, receipt, signature)
    assert served.status_code == 200, served.text
    assert served.json()["verdict"] == "revoked", served.text
    assert _check(served.json(), "revocation-at-signing")["status"] == "failed"
