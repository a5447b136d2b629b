"""The verification report end to end (docs/report.md §6), on a real ``zhenglian serve``, a real
``openssl ts`` authority and the embedded chain: a signed document verified offline with the
CRL (intact), its signer revoked after signing (intact with a notice), a signer revoked with an
effective time before the signing (revoked, exit 1), another document's signature
(signature-invalid), a stale CRL (said stale, the verdict unchanged); an e-certificate issued
with ``zhenglian certificate issue`` and registered on chain (intact), then revoked on chain
(revoked); and ``POST /v1/verify?format=report`` answering the same JSON as the CLI. Every
JSON report is validated against verification-report-v1.schema.json."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.formats.revocation_list import CrlContent, build_crl, revoked_entries
from certs.formats.status_statement import certificate_key, status_statement
from certs.store.authority import CRL_FILE, KEY_FILE, pki_directory
from evidence.formats.trust_bundle import TrustBundle
from ledger.certificate_registry import CERTIFICATE_REGISTRY, CertificateRegistryClient
from ledger.client import JsonDeploymentStore, LedgerClient
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.tsa import RunningAuthority, running_authority
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(
    (ROOT / "evidence/formats/schema/verification-report-v1.schema.json").read_text()
)
PASSPHRASES = {
    "ZHENGLIAN_CA_PASSPHRASE": "root passphrase for the tests",
    "ZHENGLIAN_SIGNING_PASSPHRASE": "institution passphrase for the tests",
}
CODE = "11110000000029209E"
INSTITUTION = "北京市某公证处"


def zl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **PASSPHRASES, **(env or {})},
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def report_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["exit_status"] == done.returncode, done.stderr
    return report


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for s in report["sections"] for c in s["checks"] if c["name"] == name]
    assert len(found) == 1, (name, report)
    return found[0]


@dataclass
class Setup:
    work: Path
    data: Path
    server: ZhenglianServer
    authority: RunningAuthority
    token: str
    trust: Path

    @property
    def tsa_env(self) -> dict[str, str]:
        return {
            "ZHENGLIAN_TSA_URL": self.authority.url(),
            "ZHENGLIAN_TSA_ROOTS": str(self.authority.authority.directory / "root.pem"),
        }

    def issue(self, name: str) -> Path:
        out = self.work / name
        ok(
            zl(
                *("pki", "issue", "--data-dir", str(self.data)),
                *("--institution", INSTITUTION, "--credit-code", CODE),
                *("--type", "notary_office", "--out", str(out)),
            )
        )
        return out

    def signed_deposit(self, name: str, institution: Path) -> tuple[Path, Path, Path]:
        """A document signed by ``institution`` (detached, time-stamped) and deposited: the
        file, its signature and its receipt."""
        document = self.work / f"{name}.txt"
        document.write_bytes(f"{name}: 公证书正文。\n".encode() * 30)
        ok(
            zl(
                *("sign", str(document), "--key", str(institution / "key.pem")),
                *("--cert", str(institution / "cert.pem"), "--server", self.server.url),
                env=self.tsa_env,
            )
        )
        signature = Path(f"{document}.p7s")
        receipt = self.work / f"{name}.receipt.json"
        ok(
            zl(
                *("deposit", str(document), "--server", self.server.url, "--token", self.token),
                *("--kind", "notary", "--signature", str(signature), "-o", str(receipt)),
            )
        )
        return document, signature, receipt

    def crl(self, name: str) -> Path:
        path = self.work / name
        path.write_bytes(httpx.get(f"{self.server.url}/v1/pki/crl", timeout=10).content)
        return path

    def verify(self, *args: str) -> subprocess.CompletedProcess[str]:
        return zl("verify", *args, "--trust", str(self.trust))


def serial_of(institution: Path) -> str:
    cert = x509.load_pem_x509_certificate((institution / "cert.pem").read_bytes())
    return f"{cert.serial_number:x}"


def institution_key(institution: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(
        (institution / "key.pem").read_bytes(),
        password=PASSPHRASES["ZHENGLIAN_SIGNING_PASSPHRASE"].encode(),
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("report")
    data = work / "data"
    database: dict[str, str] = {}
    if request.param == "postgresql":
        database["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    ok(zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局机构证书根"))
    with running_authority(work / "tsa") as authority:
        env = {"ZHENGLIAN_TSA_ROOTS": str(authority.authority.directory / "root.pem")}
        with running_server(data, {**env, **database}) as server:
            token = server.token(INSTITUTION, "notary")
            trust = work / "trust.json"
            trust.write_text(httpx.get(f"{server.url}/v1/trust", timeout=10).text)
            yield Setup(work, data, server, authority, token, trust)


def test_a_signed_document_is_intact_then_revoked_after_signing_is_a_notice(
    setup: Setup,
) -> None:
    institution = setup.issue("later")
    document, signature, receipt = setup.signed_deposit("later", institution)
    args = (str(document), "--receipt", str(receipt), "--signature", str(signature))

    crl = setup.crl("current.crl")
    done = setup.verify(*args, "--crl", str(crl), "--json")
    report = report_of(done)
    assert (done.returncode, report["verdict"]) == (0, "intact"), done.stdout
    assert report["subject"]["kind"] == "document" and report["subject"]["signed"] is True
    assert check(report, "signature-valid")["status"] == "passed"
    assert check(report, "signer-chain")["status"] == "passed"
    assert check(report, "signer-validity")["status"] == "passed"
    assert check(report, "crl")["evidence"]["stale"] == "no"
    assert check(report, "revocation-at-signing")["status"] == "passed"
    assert check(report, "revocation-now")["status"] == "passed"
    # The text form: the verdict first, one line per check.
    text = setup.verify(*args, "--crl", str(crl))
    assert text.stdout.splitlines()[0] == "verdict: intact", text.stdout
    assert "ok   revocation-now: not revoked now" in text.stdout

    # Without a CRL: revocation not performed, said so; the verdict stays intact.
    bare = report_of(setup.verify(*args, "--json"))
    assert bare["verdict"] == "intact"
    assert check(bare, "revocation-now")["status"] == "not performed"
    assert any("revocation was not checked" in n for n in bare["notices"])

    # Revoked now, effective after the signing time: intact, with a notice.
    ok(
        zl(
            *("pki", "revoke", "--data-dir", str(setup.data), serial_of(institution)),
            *("--reason", "keyCompromise"),
        )
    )
    online = setup.verify(*args, "--server", setup.server.url, "--json")
    report = report_of(online)
    assert (online.returncode, report["verdict"]) == (0, "intact"), online.stdout
    now = check(report, "revocation-now")
    assert now["status"] == "passed" and "revoked after signing" in now["detail"]
    assert now["evidence"]["reason"] == "keyCompromise"
    assert any("revoked after signing" in n for n in report["notices"])


def test_revoked_before_the_signing_time_is_revoked(setup: Setup) -> None:
    institution = setup.issue("early")
    document, signature, receipt = setup.signed_deposit("early", institution)
    signed_at = datetime.now(UTC) - timedelta(minutes=10)
    ok(
        zl(
            *("pki", "revoke", "--data-dir", str(setup.data), serial_of(institution)),
            *("--reason", "keyCompromise", "--effective", signed_at.isoformat()),
        )
    )
    crl = setup.crl("after-early.crl")
    args = (str(document), "--receipt", str(receipt), "--signature", str(signature))
    done = setup.verify(*args, "--crl", str(crl), "--json")
    report = report_of(done)
    assert (done.returncode, report["verdict"]) == (1, "revoked"), done.stdout
    at_signing = check(report, "revocation-at-signing")
    assert at_signing["status"] == "failed" and at_signing["fails_as"] == "revoked"
    assert "at or before" in at_signing["detail"]
    assert check(report, "signature-valid")["status"] == "passed"
    text = setup.verify(*args, "--crl", str(crl))
    assert text.returncode == 1 and text.stdout.startswith("verdict: revoked"), text.stdout
    assert "zhenglian: revoked: revocation-at-signing:" in text.stderr


def test_another_documents_signature_is_signature_invalid(setup: Setup) -> None:
    institution = setup.issue("pair")
    document, _, receipt = setup.signed_deposit("pair-one", institution)
    _, other_signature, _ = setup.signed_deposit("pair-two", institution)
    crl = setup.crl("pair.crl")
    done = setup.verify(
        str(document),
        *("--receipt", str(receipt), "--signature", str(other_signature)),
        *("--crl", str(crl), "--json"),
    )
    report = report_of(done)
    assert (done.returncode, report["verdict"]) == (1, "signature-invalid"), done.stdout
    assert check(report, "signature-committed")["status"] == "failed"
    assert check(report, "signature-valid")["detail"].startswith("content-mismatch")
    assert check(report, "document digest")["status"] == "passed"


def test_a_stale_crl_is_said_stale(setup: Setup) -> None:
    institution = setup.issue("stale")
    document, signature, receipt = setup.signed_deposit("stale", institution)
    directory = pki_directory(setup.data)
    root_key = serialization.load_pem_private_key(
        (directory / KEY_FILE).read_bytes(),
        password=PASSPHRASES["ZHENGLIAN_CA_PASSPHRASE"].encode(),
    )
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    current = x509.load_der_x509_crl((directory / CRL_FILE).read_bytes())
    root = x509.load_pem_x509_certificate(httpx.get(f"{setup.server.url}/v1/pki/ca").content)
    old = build_crl(
        CrlContent(1, datetime.now(UTC) - timedelta(days=8), revoked_entries(current)),
        root_key=root_key,
        root=root,
    )
    stale = setup.work / "stale.crl"
    stale.write_bytes(old.public_bytes(serialization.Encoding.DER))
    done = setup.verify(
        str(document),
        *("--receipt", str(receipt), "--signature", str(signature)),
        *("--crl", str(stale), "--json"),
    )
    report = report_of(done)
    assert (done.returncode, report["verdict"]) == (0, "intact"), done.stdout
    crl = check(report, "crl")
    assert crl["status"] == "not performed" and "stale" in crl["detail"]
    assert crl["evidence"]["stale"] == "yes"
    assert check(report, "revocation-now")["status"] == "not performed"
    assert any("stale" in n for n in report["notices"])


def test_the_api_answers_the_same_report(setup: Setup) -> None:
    institution = setup.issue("api")
    document, signature, receipt = setup.signed_deposit("api", institution)
    crl = setup.crl("api.crl")
    cli = report_of(
        setup.verify(
            str(document),
            *("--receipt", str(receipt), "--signature", str(signature)),
            *("--crl", str(crl), "--json"),
        )
    )
    answer = httpx.post(
        f"{setup.server.url}/v1/verify",
        params={"format": "report"},
        files={
            "file": (document.name, document.read_bytes()),
            "receipt": ("receipt.json", receipt.read_bytes()),
            "signature": ("signature.p7s", signature.read_bytes()),
        },
        headers={"Authorization": f"Bearer {setup.token}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    api = answer.json()
    jsonschema.validate(api, SCHEMA)
    assert api["verdict"] == "intact"
    for report in (api, cli):
        del report["checked_at"]
    differing = [
        (mine, theirs)
        for ours, others in zip(api["sections"], cli["sections"], strict=True)
        for mine, theirs in zip(ours["checks"], others["checks"], strict=True)
        if mine != theirs
    ]
    assert not differing, differing
    assert api == cli

    # A report needs the receipt: without one, a problem naming it.
    refused = httpx.post(
        f"{setup.server.url}/v1/verify",
        params={"format": "report"},
        files={"file": (document.name, document.read_bytes())},
        headers={"Authorization": f"Bearer {setup.token}"},
        timeout=60,
    )
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "receipt" in refused.json()["detail"]


E_CERTIFICATE_FIELDS = {
    "type": "notarial_certificate",
    "number": "(2026)京某证字第7号",
    "issued": "2026-03-02",
    "valid_from": "2026-03-02",
    "valid_until": None,
    "holder": {
        "name": "王小红",
        "id_type": "resident_id",
        "id_number": "11010519491231002X",
        "address": "四川省广元市利州区滨河北路88号3栋2单元501室",
    },
    "issuer": {"name": INSTITUTION, "credit_code": CODE},
    "details": {"matter": "学历公证", "notary": "李明", "purpose": "赴英国留学"},
}


def test_an_e_certificate_is_intact_then_revoked_on_chain(
    setup: Setup, embedded_chain: tuple[str, str, Path]
) -> None:
    url, chain_key, _ = embedded_chain
    institution = setup.issue("issuer")
    fields = setup.work / "fields.json"
    fields.write_text(json.dumps(E_CERTIFICATE_FIELDS, ensure_ascii=False), encoding="utf-8")
    out = setup.work / f"issued-{setup.server.url.rsplit(':', 1)[-1]}"
    issued = json.loads(
        ok(
            zl(
                *("certificate", "issue", str(fields), "--key", str(institution / "key.pem")),
                *("--cert", str(institution / "cert.pem")),
                *("--public-url", "https://zhenglian.example.gov.cn", "-o", str(out)),
            )
        ).stdout
    )
    identifier = issued["id"]
    encoded = (out / f"{identifier}.json").read_bytes()

    registry = CertificateRegistryClient(LedgerClient(url, chain_key))
    registry.ensure_deployed(
        JsonDeploymentStore(setup.work / "registry.json", contract=CERTIFICATE_REGISTRY)
    )
    assert registry.address is not None
    key = certificate_key(identifier)
    signer = institution_key(institution)

    def signed(**change: Any) -> bytes:
        assert registry.address is not None
        statement = status_statement(
            chain_id=registry.chain_id, registry=registry.address, certificate=key, **change
        )
        return signer.sign(statement, ec.ECDSA(hashes.SHA256()))

    digest = hashlib.sha256(encoded).digest()
    registry.issue(key, CODE, digest, signed(action="issue", issuer=CODE, certificate_hash=digest))
    bundle = replace(
        TrustBundle.from_json_bytes(setup.trust.read_bytes()),
        chain_id=registry.chain_id,
        certificate_registry=registry.address,
    )
    trust = setup.work / "trust-registry.json"
    trust.write_bytes(bundle.to_json_bytes())
    args = (
        *("--certificate", str(out / f"{identifier}.json")),
        *("--certificate-signature", str(out / f"{identifier}.sig")),
        *("--signer-cert", str(institution / "cert.pem"), "--trust", str(trust)),
        *("--server", setup.server.url),
    )
    done = zl("verify", *args, "--rpc", url, "--json")
    report = report_of(done)
    assert (done.returncode, report["verdict"]) == (0, "intact"), done.stdout
    assert report["subject"] == report["subject"] | {"kind": "certificate", "id": identifier}
    assert check(report, "certificate-signature")["status"] == "passed"
    assert check(report, "registered-digest")["status"] == "passed"
    assert check(report, "registry-status")["evidence"]["state"] == "issued"
    assert check(report, "signer-chain")["status"] == "passed"
    assert check(report, "certificate-validity")["status"] == "passed"
    # The issue event's signature, rebuilt from the chain's event, is the institution's.
    signatures = check(report, "status-signatures")
    assert signatures["status"] == "passed" and signatures["evidence"]["changes"] == "1"

    # Offline: the registry is not performed, and says so.
    offline = report_of(zl("verify", *args, "--json"))
    assert offline["verdict"] == "intact"
    assert check(offline, "registry-status")["status"] == "not performed"

    # Revoked on chain: revoked, exit 1.
    effective = int(time.time()) - 60
    registry.revoke(
        key,
        9,
        effective,
        signed(action="revoke", reason=9, effective_time=effective),
    )
    done = zl("verify", *args, "--rpc", url)
    assert done.returncode == 1 and done.stdout.startswith("verdict: revoked"), done.stdout
    assert "FAIL registry-status: revoked (reason code 9)" in done.stdout
    assert "ok   status-signatures: every change on the chain is signed by the issuer" in (
        done.stdout
    )

    # Bytes other than the registered ones: the signature does not hold over them.
    tampered = setup.work / f"{identifier}.json"
    tampered.write_bytes(encoded.replace("学历公证".encode(), "婚姻公证".encode()))
    done = zl(
        "verify",
        *("--certificate", str(tampered)),
        *args[2:],
        "--json",
    )
    report = report_of(done)
    assert report["verdict"] == "signature-invalid", done.stdout
    assert check(report, "certificate-signature")["status"] == "failed"


def test_the_admissibility_report_shows_the_signature_rows(setup: Setup) -> None:
    institution = setup.issue("court")
    document, signature, receipt = setup.signed_deposit("court", institution)
    crl = setup.crl("court.crl")
    out = setup.work / "court-report.md"
    done = zl(
        *("report", str(receipt), str(document), "--trust", str(setup.trust)),
        *("--signature", str(signature), "--crl", str(crl), "-o", str(out)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    for title in (
        "Signature valid over the file",
        "Signer chain to the trusted root",
        "Signer certificate validity",
        "Certificate revocation list",
        "Revocation at signing time",
        "Revocation now",
    ):
        assert title in text, title
    assert "未通过 / FAILED" not in text

    # Another document's signature: the report is written and says signature-invalid.
    _, other, _ = setup.signed_deposit("court-other", institution)
    failed = zl(
        *("report", str(receipt), str(document), "--trust", str(setup.trust)),
        *("--signature", str(other), "--crl", str(crl), "-o", str(out)),
    )
    assert failed.returncode == 1 and "verdict: signature-invalid" in failed.stdout, failed.stdout
    assert "signature invalid" in out.read_text(encoding="utf-8")
