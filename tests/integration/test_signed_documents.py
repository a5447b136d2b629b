"""Signed documents end to end on a real ``zhenglian serve`` and a real ``openssl ts``
authority: an institution certificate from ``zhenglian pki``, documents signed with
``zhenglian sign`` (a detached CAdES-T signature, a PAdES PDF), deposited with
``zhenglian deposit``, checked on deposit (tampered and revoked signers refused by name),
committed to by version 2 entries, named by ``zhenglian verify``, and served back."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from evidence.formats.log_entry import LogEntry
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.tsa import RunningAuthority, running_authority
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

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
    database: dict[str, str]
    """ZHENGLIAN_DATABASE_URL for PostgreSQL (empty: SQLite in the data directory)."""

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
                "pki",
                "issue",
                "--data-dir",
                str(self.data),
                "--institution",
                INSTITUTION,
                "--credit-code",
                CODE,
                "--type",
                "notary_office",
                "--out",
                str(out),
            )
        )
        return out

    def sign(self, file: Path, institution: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return zl(
            "sign",
            str(file),
            "--key",
            str(institution / "key.pem"),
            "--cert",
            str(institution / "cert.pem"),
            "--server",
            self.server.url,
            *extra,
            env=self.tsa_env,
        )

    def deposit(self, file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return zl(
            "deposit",
            str(file),
            "--server",
            self.server.url,
            "--token",
            self.token,
            "--kind",
            "notary",
            *extra,
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    """One PKI, one authority and one server per metadata database."""
    work = tmp_path_factory.mktemp("signed")
    data = work / "data"
    database: dict[str, str] = {}
    if request.param == "postgresql":
        database["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    ok(zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局机构证书根"))
    with running_authority(work / "tsa") as authority:
        env = {"ZHENGLIAN_TSA_ROOTS": str(authority.authority.directory / "root.pem")}
        with running_server(data, {**env, **database}) as server:
            token = server.token(INSTITUTION, "notary")
            setup = Setup(work, data, server, authority, token, work / "unset", database)
            setup.institution = setup.issue("notary")
            yield setup


def test_a_detached_signature_is_checked_kept_and_committed_to(setup: Setup) -> None:
    document = setup.work / "opinion.txt"
    document.write_bytes("司法鉴定意见书：检材与样本系同一人书写。\n".encode() * 40)
    signed = ok(setup.sign(document, setup.institution))
    signature = Path(f"{document}.p7s")
    assert signature.exists() and "time-stamped" in signed.stderr

    receipt = setup.work / "opinion.receipt.json"
    done = ok(setup.deposit(document, "--signature", str(signature), "-o", str(receipt)))
    record = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    body = json.loads(receipt.read_text())
    entry = LogEntry.decode(bytes.fromhex(body["entry"]))
    assert entry.version == 2 and entry.signature is not None
    assert entry.signature.form == "cms-detached"
    assert entry.signature.signer_credit_code == CODE
    assert entry.signature.signer_name == INSTITUTION
    assert entry.signature.signed_at_proof == "time-stamp"
    assert abs(entry.signature.signed_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert body["entry_fields"]["signature_sha256"] == entry.signature.signature_sha256.hex()  # type: ignore[union-attr]

    # Kept with the original, served to those who may read it.
    headers = {"Authorization": f"Bearer {setup.token}"}
    r = httpx.get(
        f"{setup.server.url}/v1/documents/{record['id']}/signature", headers=headers, timeout=30
    )
    assert r.status_code == 200, r.text
    served = r.json()
    import base64

    assert base64.b64decode(served["signature"]) == signature.read_bytes()
    assert served["signer"]["credit_code"] == CODE

    # verify names the signer, and checks the signature offline against the bundle's root.
    trust = setup.work / "trust.json"
    trust.write_text(httpx.get(f"{setup.server.url}/v1/trust", timeout=10).text)
    checked = zl(
        "verify",
        str(document),
        "--receipt",
        str(receipt),
        "--trust",
        str(trust),
        "--signature",
        str(signature),
    )
    assert f"signer: {INSTITUTION} (统一社会信用代码 {CODE})" in checked.stdout, checked.stdout
    assert "proven by a time stamp" in checked.stdout
    assert "ok   signature-valid" in checked.stdout and "ok   signer-chain" in checked.stdout
    assert "FAIL signature" not in checked.stdout, checked.stdout

    # Another document's signature beside this receipt: not the committed one, not over FILE.
    other = setup.work / "other-opinion.txt"
    other.write_bytes(b"another opinion\n")
    ok(setup.sign(other, setup.institution))
    wrong = zl(
        "verify",
        str(document),
        "--receipt",
        str(receipt),
        "--trust",
        str(trust),
        "--signature",
        f"{other}.p7s",
    )
    assert wrong.returncode == 1
    assert "FAIL signature-committed" in wrong.stdout, wrong.stdout
    assert "FAIL signature-valid: content-mismatch" in wrong.stdout


def test_a_signature_over_other_bytes_is_refused_by_name(setup: Setup) -> None:
    document = setup.work / "contract.txt"
    document.write_bytes(b"original terms\n" * 100)
    ok(setup.sign(document, setup.institution))
    tampered = setup.work / "contract-tampered.txt"
    content = bytearray(document.read_bytes())
    content[7] ^= 0x01
    tampered.write_bytes(bytes(content))
    done = setup.deposit(tampered, "--signature", f"{document}.p7s")
    assert done.returncode == 2, done.stderr
    assert "422 Signature refused [content-mismatch]" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_revoked_signer_is_refused_and_an_unsigned_deposit_still_accepted(
    setup: Setup,
) -> None:
    revoked = setup.issue("revoked-notary")
    document = setup.work / "later.txt"
    document.write_bytes(b"signed after the key was compromised\n" * 20)
    serial = json.loads(
        ok(zl("pki", "list", "--data-dir", str(setup.data))).stdout.splitlines()[-1]
    )["serial"]
    ok(
        zl(
            "pki",
            "revoke",
            "--data-dir",
            str(setup.data),
            serial,
            "--reason",
            "keyCompromise",
            "--effective",
            (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    )
    ok(setup.sign(document, revoked))
    done = setup.deposit(document, "--signature", f"{document}.p7s")
    assert done.returncode == 2 and "[revoked]" in done.stderr, done.stderr
    ok(setup.deposit(document))  # without a signature: accepted, unsigned, as before


def test_signing_without_an_authority_is_refused_unless_asked(setup: Setup) -> None:
    document = setup.work / "note.txt"
    document.write_bytes(b"a note\n")
    done = zl(
        "sign",
        str(document),
        "--key",
        str(setup.institution / "key.pem"),
        "--cert",
        str(setup.institution / "cert.pem"),
        env={"ZHENGLIAN_TSA_URL": ""},
    )
    assert done.returncode == 2 and "a court needs a trusted signing time" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = zl(
        "sign",
        str(document),
        "--key",
        str(setup.institution / "key.pem"),
        "--cert",
        str(setup.institution / "cert.pem"),
        "--no-time-stamp",
        env={"ZHENGLIAN_TSA_URL": ""},
    )
    assert done.returncode == 0, done.stderr
    receipt = setup.work / "note.receipt.json"
    ok(setup.deposit(document, "--signature", f"{document}.p7s", "-o", str(receipt)))
    entry = LogEntry.decode(bytes.fromhex(json.loads(receipt.read_text())["entry"]))
    assert entry.signature is not None and entry.signature.signed_at_proof == "claimed"


def test_a_wrong_passphrase_is_one_line(setup: Setup) -> None:
    document = setup.work / "x.txt"
    document.write_bytes(b"x")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zhenglian.cli",
            "sign",
            str(document),
            "--key",
            str(setup.institution / "key.pem"),
            "--cert",
            str(setup.institution / "cert.pem"),
            "--no-time-stamp",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ZHENGLIAN_SIGNING_PASSPHRASE": "wrong", "ZHENGLIAN_TSA_URL": ""},
    )
    assert done.returncode == 2 and "ZHENGLIAN_SIGNING_PASSPHRASE" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_signed_pdf_is_pades_b_lta_checked_on_deposit_and_named_by_verify(
    setup: Setup,
) -> None:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
    from pyhanko_certvalidator import ValidationContext

    document = setup.work / "notarial.pdf"
    document.write_bytes(_pdf("公证书 No. (2026)京某证字第42号"))
    done = ok(setup.sign(document, setup.institution))
    signed = setup.work / "notarial.signed.pdf"
    assert signed.exists() and "PAdES" in done.stderr
    data = signed.read_bytes()

    # pyHanko's own validator: the signature, its time stamp, the DSS, the document stamp.
    root = httpx.get(f"{setup.server.url}/v1/pki/ca", timeout=10).content
    crl = httpx.get(f"{setup.server.url}/v1/pki/crl", timeout=10).content
    from cryptography import x509

    roots = [
        asn1_x509.Certificate.load(
            x509.load_pem_x509_certificate(root).public_bytes(serialization.Encoding.DER)
        ),
        asn1_x509.Certificate.load(setup.authority.authority.root_der),
    ]
    reader = PdfFileReader(io.BytesIO(data))
    assert [s.sig_object_type for s in reader.embedded_signatures] == ["/Sig", "/DocTimeStamp"]
    status = validate_pdf_signature(
        reader.embedded_signatures[0],
        signer_validation_context=ValidationContext(
            trust_roots=roots, crls=[crl], allow_fetching=False
        ),
        ts_validation_context=ValidationContext(trust_roots=roots, allow_fetching=False),
    )
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert validate_pdf_timestamp(
        reader.embedded_signatures[1],
        validation_context=ValidationContext(trust_roots=roots, allow_fetching=False),
    ).trusted
    assert "/DSS" in reader.root
    if shutil.which("pdfsig"):
        checked = subprocess.run(
            ["pdfsig", str(signed)], capture_output=True, text=True, timeout=60
        )
        assert "Signature is Valid" in checked.stdout, checked.stdout

    receipt = setup.work / "notarial.receipt.json"
    ok(setup.deposit(signed, "-o", str(receipt)))
    entry = LogEntry.decode(bytes.fromhex(json.loads(receipt.read_text())["entry"]))
    assert entry.signature is not None and entry.signature.form == "pades-embedded"
    assert entry.signature.signature_sha256 is None
    assert entry.signature.signed_at_proof == "time-stamp"

    trust = setup.work / "trust-pdf.json"
    trust.write_text(httpx.get(f"{setup.server.url}/v1/trust", timeout=10).text)
    verified = zl("verify", str(signed), "--receipt", str(receipt), "--trust", str(trust))
    assert (
        f"signer: {INSTITUTION}" in verified.stdout and "a signature in the PDF" in verified.stdout
    )
    assert "ok   signature-valid" in verified.stdout and "ok   signer-chain" in verified.stdout

    # Changed after signing by an incremental update: refused by name, nothing stored.
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    writer.root["/Lang"] = generic.TextStringObject("en")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    updated = setup.work / "notarial.updated.pdf"
    updated.write_bytes(out.getvalue())
    refused = setup.deposit(updated)
    assert refused.returncode == 2 and "[modified-after-signing]" in refused.stderr, refused.stderr


def test_the_signature_part_has_its_limits_and_its_place(setup: Setup) -> None:
    url = f"{setup.server.url}/v1/documents"
    headers = {"Authorization": f"Bearer {setup.token}"}
    form = {"kind": "notary", "title": "limits"}
    too_large = httpx.post(
        url,
        headers=headers,
        data=form,
        files={"signature": ("s.p7s", b"0" * (64 * 1024 + 1)), "file": ("f.txt", b"x")},
        timeout=30,
    )
    assert too_large.status_code == 413, too_large.text
    after = httpx.post(
        url,
        headers=headers,
        data=form,
        files={"file": ("f.txt", b"x"), "signature": ("s.p7s", b"0")},
        timeout=30,
    )
    assert after.status_code == 400 and "last part" in after.json()["detail"]
    garbage = httpx.post(
        url,
        headers=headers,
        data=form,
        files={"signature": ("s.p7s", b"not DER"), "file": ("f.txt", b"x")},
        timeout=30,
    )
    assert garbage.status_code == 422 and garbage.json()["reason"] == "malformed"
    assert garbage.headers["content-type"].startswith("application/problem+json")


def _pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


def test_the_audit_rehashes_kept_signatures(setup: Setup) -> None:
    """Last in this module: it alters a kept signature."""

    def audit() -> list[dict[str, object]]:
        done = zl("audit", "--data-dir", str(setup.data), env=setup.database)
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    assert not [f for f in audit() if str(f["kind"]).startswith("signature-")]
    signature = (setup.work / "opinion.txt.p7s").read_bytes()
    digest = hashlib.sha256(signature).hexdigest()
    kept = setup.data / "blobs" / "signatures" / "sha256" / digest[:2] / digest[2:4] / digest
    assert kept.read_bytes() == signature
    kept.chmod(0o640)
    kept.write_bytes(signature[:-1] + bytes([signature[-1] ^ 1]))
    found = [f for f in audit() if f["kind"] == "signature-altered"]
    assert len(found) == 1 and digest in str(found[0]), found
