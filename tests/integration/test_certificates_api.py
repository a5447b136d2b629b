"""Registered e-certificates end to end on a real ``zhenglian serve`` (embedded chain), on
SQLite and PostgreSQL: institution certificates from the server's own PKI (``zhenglian pki``:
ECDSA P-256 under the ECDSA root, and SM2 under the SM2 root made beside it), certificates
issued with ``zhenglian certificate issue`` (and, for the cases the CLI refuses to make, signed
here with the same pure code), registered, looked up, revoked, superseded and read back through
the API and ``zhenglian certificate register|revoke|supersede|status``; the chain's
``statusOf`` checked after every change, and the custody events in the database."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from api.settings import Settings
from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import InstitutionSubject, InstitutionType
from certs.formats.status_statement import (
    CertificateRevocationReason,
    StatusStatement,
    certificate_key,
)
from certs.sm2 import keys as sm2_keys
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.signing import sign_message
from certs.store.authority import CertificateAuthority
from certs.verify.status_signature import check_status_signature
from contracts import load_artifact
from evidence.formats.e_certificate import ECertificate, ECertificateError, IssueFields
from evidence.store.database import custody_events_table, open_database
from evidence.verify.e_certificate_signature import (
    certificate_fingerprint,
    sign_e_certificate,
    verify_e_certificate_signature,
)
from ledger.client import make_web3
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

ENGINE = GmsslEngine()
PASSPHRASES = {
    "ZHENGLIAN_CA_PASSPHRASE": "root passphrase for the tests",
    "ZHENGLIAN_SIGNING_PASSPHRASE": "institution passphrase for the tests",
}
PUBLIC_URL = "https://zhenglian.example.gov.cn"
NOTARY, NOTARY_CODE = "北京市某公证处", "11110000000029209E"
OTHER, OTHER_CODE = "广元市利州公证处", "32510802MB1530425A"
BUREAU, BUREAU_CODE = "广元市司法局", "11510800008950238H"

HOLDER_ID = "11010519491231002X"
STREET = "利州区滨河北路88号"


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


@dataclass(frozen=True)
class Signer:
    """An institution's key and certificate, also on disk for the CLI."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    directory: Path

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def cli(self) -> tuple[str, ...]:
        return (
            "--key",
            str(self.directory / "key.pem"),
            "--cert",
            str(self.directory / "cert.pem"),
        )


@dataclass(frozen=True)
class Sm2Signer:
    """An SM2 institution's key and certificate as ``zhenglian pki issue --algorithm sm2 --out``
    wrote them (encrypted PKCS #8, certificate of the SM2 root)."""

    directory: Path

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.directory / "cert.pem").read_bytes())

    @property
    def pem(self) -> str:
        return (self.directory / "cert.pem").read_text()

    def sign(self, data: bytes, signer_id: bytes = b"1234567812345678") -> bytes:
        key = sm2_keys.load_private_key(
            (self.directory / "key.pem").read_bytes(),
            PASSPHRASES["ZHENGLIAN_SIGNING_PASSPHRASE"].encode(),
            engine=ENGINE,
        )
        return sign_message(key, data, engine=ENGINE, signer_id=signer_id)

    def cli(self) -> tuple[str, ...]:
        return (
            "--key",
            str(self.directory / "key.pem"),
            "--cert",
            str(self.directory / "cert.pem"),
        )


@dataclass
class World:
    work: Path
    data: Path
    server: ZhenglianServer
    database_url: str
    notary: Signer
    other: Signer
    bureau: Signer
    sm2_notary: Sm2Signer
    sm2_other: Sm2Signer
    tokens: dict[str, str]
    chain_id: int
    registry: bytes
    serial: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def status_on_chain(self, identifier: str) -> tuple[Any, ...]:
        w3 = make_web3(self.server.rpc_url)
        contract = w3.eth.contract(
            address=w3.to_checksum_address(self.registry),
            abi=list(load_artifact("CertificateRegistry").abi),
        )
        return tuple(contract.functions.statusOf(certificate_key(identifier)).call())

    def custody(self, identifier: str) -> list[tuple[str, str]]:
        database = open_database(self.database_url, migrate=False)
        try:
            with database.session() as session:
                c = custody_events_table.c
                rows = session.execute(
                    select(c.action, c.actor_role)
                    .where(c.object_type == "certificate", c.object_id == identifier)
                    .order_by(c.leaf_index)
                ).all()
        finally:
            database.engine.dispose()
        return [(r.action, r.actor_role) for r in rows]


def _institution(
    authority: CertificateAuthority,
    work: Path,
    name: str,
    code: str,
    kind: InstitutionType,
    *,
    now: datetime | None = None,
) -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = InstitutionSubject(name, parse_credit_code(code), kind)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    issued = authority.issue(subject, spki, now=now)
    certificate = x509.load_der_x509_certificate(issued.certificate_der)
    directory = work / f"{code}-{issued.record.serial[:8]}"
    directory.mkdir()
    passphrase = PASSPHRASES["ZHENGLIAN_SIGNING_PASSPHRASE"].encode()
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Signer(key, certificate, directory)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One PKI (the ECDSA root and the SM2 root beside it) and one server per metadata
    database."""
    work = tmp_path_factory.mktemp("certificates")
    data = work / "data"
    database: dict[str, str] = {}
    if request.param == "postgresql":
        database["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    ok(zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局机构证书根"))
    ok(zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局SM2机构证书根",
          "--algorithm", "sm2"))  # fmt: skip
    sm2 = {}
    for label, name, code in (("notary", NOTARY, NOTARY_CODE), ("other", OTHER, OTHER_CODE)):
        sm2[label] = Sm2Signer(work / f"sm2-{label}")
        ok(
            zl("pki", "issue", "--data-dir", str(data), "--institution", name, "--credit-code",
               code, "--type", "notary_office", "--algorithm", "sm2", "--out",
               str(sm2[label].directory))
        )  # fmt: skip
    authority = CertificateAuthority.open(
        data, passphrase=PASSPHRASES["ZHENGLIAN_CA_PASSPHRASE"].encode()
    )
    notary = _institution(authority, work, NOTARY, NOTARY_CODE, InstitutionType.NOTARY_OFFICE)
    other = _institution(authority, work, OTHER, OTHER_CODE, InstitutionType.NOTARY_OFFICE)
    bureau = _institution(authority, work, BUREAU, BUREAU_CODE, InstitutionType.JUSTICE_BUREAU)
    with running_server(data, database) as server:
        tokens = {
            "notary": server.token(NOTARY, "notary"),
            "other": server.token(OTHER, "notary"),
            "admin": server.token(BUREAU, "admin"),
        }
        # The bureau's admin makes its practising-certificate office's token over the API.
        r = httpx.post(
            f"{server.url}/v1/admin/tokens",
            json={"institution": BUREAU, "role": "bureau_registrar"},
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        tokens["registrar"] = r.json()["token"]
        chain = httpx.get(f"{server.url}/v1/chain", timeout=30).json()
        yield World(
            work=work,
            data=data,
            server=server,
            database_url=database.get("ZHENGLIAN_DATABASE_URL")
            or Settings(data_dir=data).resolved_database_url(),
            notary=notary,
            other=other,
            bureau=bureau,
            sm2_notary=sm2["notary"],
            sm2_other=sm2["other"],
            tokens=tokens,
            chain_id=int(chain["chain_id"]),
            registry=bytes.fromhex(chain["certificate_registry"][2:]),
        )


def notarial_fields(world: World, number: str, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "notarial_certificate",
        "number": number,
        "issued": "2026-03-02",
        "valid_from": "2026-03-02",
        "valid_until": None,
        "holder": {
            "name": "王小红",
            "id_type": "resident_id",
            "id_number": HOLDER_ID,
            "address": f"四川省广元市{STREET}3栋2单元501室",
        },
        "issuer": {"name": NOTARY, "credit_code": NOTARY_CODE},
        "details": {"matter": "学历公证", "notary": "李明", "purpose": "赴英国留学"},
    }
    fields.update(changes)
    return fields


def practising_fields(number: str) -> dict[str, Any]:
    return {
        "type": "lawyer_practising_certificate",
        "number": number,
        "issued": "2026-03-02",
        "valid_from": "2026-03-02",
        "valid_until": "2027-05-31",
        "holder": {"name": "陈大文", "id_type": "hk_macao_permit", "id_number": "H1234567"},
        "issuer": {"name": BUREAU, "credit_code": BUREAU_CODE},
        "details": {
            "law_firm": "四川广元明法律师事务所",
            "licence_number": "15108202610123456",
            "practice_type": "full_time",
        },
    }


def make(fields: dict[str, Any], signer: Signer | Sm2Signer) -> tuple[ECertificate, bytes, bytes]:
    """A certificate signed as ``zhenglian certificate issue`` signs it: (it, ID.json, ID.sig)."""
    issue = IssueFields.from_json_bytes(json.dumps(fields, ensure_ascii=False).encode())
    category = signer.certificate.subject.get_attributes_for_oid(x509.NameOID.BUSINESS_CATEGORY)
    subject_type = InstitutionType(str(category[0].value))
    cert = issue.certificate(
        issuer_type=subject_type, certificate_sha256=certificate_fingerprint(signer.certificate)
    )
    if isinstance(signer, Sm2Signer):
        return cert, cert.encode(), signer.sign(cert.encode())
    return cert, cert.encode(), sign_e_certificate(cert, signer.key)


def issue_statement(world: World, identifier: str, code: str, encoded: bytes) -> bytes:
    return StatusStatement.issue(
        chain_id=world.chain_id,
        registry=world.registry,
        certificate=certificate_key(identifier),
        issuer=code,
        certificate_hash=hashlib.sha256(encoded).digest(),
    ).to_bytes()


def register(
    world: World,
    who: str,
    encoded: bytes,
    signature: bytes,
    signer: Signer | Sm2Signer,
    *,
    status_signer: Signer | Sm2Signer | None = None,
    pdf: bytes | None = None,
) -> httpx.Response:
    try:
        cert = ECertificate.decode(encoded)
        identifier, code = cert.id, cert.issuer.credit_code
    except ECertificateError:  # a broken one: the statement is never looked at
        identifier, code = "GZ-x", NOTARY_CODE
    statement = issue_statement(world, identifier, code, encoded)
    body = {
        "certificate": base64.b64encode(encoded).decode(),
        "signature": base64.b64encode(signature).decode(),
        "signer_certificate": signer.pem,
        "status_signature": base64.b64encode((status_signer or signer).sign(statement)).decode(),
        "pdf": None if pdf is None else base64.b64encode(pdf).decode(),
    }
    return httpx.post(
        f"{world.url}/v1/certificates", json=body, headers=world.auth(who), timeout=120
    )


def revoke_body(
    world: World, identifier: str, signer: Signer | Sm2Signer, reason: int = 1
) -> dict[str, Any]:
    when = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    statement = StatusStatement.revoke(
        chain_id=world.chain_id,
        registry=world.registry,
        certificate=certificate_key(identifier),
        reason=CertificateRevocationReason(reason),
        effective_time=when,
    ).to_bytes()
    return {
        "reason": str(reason),
        "effective_time": when,
        "signature": base64.b64encode(signer.sign(statement)).decode(),
        "signer_certificate": signer.pem,
    }


def next_number(world: World) -> str:
    world.serial += 1
    return f"(2026)京某证字第{world.serial}号"


# --- the tests ------------------------------------------------------------------------------


def test_register_look_up_and_revoke_with_the_cli(world: World) -> None:
    fields = world.work / "fields.json"
    fields.write_text(json.dumps(notarial_fields(world, next_number(world)), ensure_ascii=False))
    issued = world.work / "issued"
    done = ok(
        zl(
            "certificate",
            "issue",
            str(fields),
            *world.notary.cli(),
            "--public-url",
            PUBLIC_URL,
            "-o",
            str(issued),
        )
    )
    identifier = json.loads(done.stdout)["id"]

    registered = ok(
        zl(
            "certificate",
            "register",
            str(issued),
            *world.notary.cli(),
            "--server",
            world.url,
            "--token",
            world.tokens["notary"],
        )
    )
    line = json.loads(registered.stdout)
    assert line["id"] == identifier and line["state"] == "issued" and not line["pending"]
    # The chain holds it: issued, by this issuer, with this content.
    state, reason, issuer_code, _, certificate_hash, *_ = world.status_on_chain(identifier)
    assert state == 1 and issuer_code == NOTARY_CODE.encode()
    assert certificate_hash == hashlib.sha256((issued / f"{identifier}.json").read_bytes()).digest()
    assert line["issue"]["tx_hash"].startswith("0x") and line["issue"]["block"] > 0
    assert world.custody(identifier) == [("certificate_register", "notary")]

    status = ok(zl("certificate", "status", identifier, "--server", world.url))
    assert json.loads(status.stdout)["state"] == "issued"

    # The public page: masked; the signed material without the personal data.
    public = httpx.get(f"{world.url}/v1/certificates/{identifier}", timeout=30)
    assert public.status_code == 200
    body = public.json()
    assert body["view"]["view"] == "public" and body["view"]["holder"]["masked"]
    assert HOLDER_ID not in public.text and STREET not in public.text
    assert body["signed"]["certificate"] is None
    assert body["chain"]["key"] == "0x" + certificate_key(identifier).hex()
    assert body["signed"]["issue_statement"].encode() == issue_statement(
        world, identifier, NOTARY_CODE, (issued / f"{identifier}.json").read_bytes()
    )
    # The full view for the issuer, with ID.json as signed.
    full = httpx.get(
        f"{world.url}/v1/certificates/{identifier}", headers=world.auth("notary"), timeout=30
    ).json()
    assert full["view"]["view"] == "full" and full["view"]["holder"]["id_number"] == HOLDER_ID
    assert (
        base64.b64decode(full["signed"]["certificate"])
        == (issued / f"{identifier}.json").read_bytes()
    )
    # Another institution's token sees the public view only.
    other = httpx.get(
        f"{world.url}/v1/certificates/{identifier}", headers=world.auth("other"), timeout=30
    )
    assert other.json()["view"]["view"] == "public" and HOLDER_ID not in other.text

    # Lookup by number, and the issuer's PDF as uploaded.
    number = json.loads(fields.read_text())["number"]
    found = httpx.get(
        f"{world.url}/v1/certificates",
        params={"issuer": NOTARY_CODE, "type": "notarial_certificate", "number": number},
        timeout=30,
    )
    assert found.status_code == 200 and found.json()["id"] == identifier
    missing = httpx.get(
        f"{world.url}/v1/certificates",
        params={"issuer": NOTARY_CODE, "type": "notarial_certificate", "number": "nope"},
        timeout=30,
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    pdf = httpx.get(f"{world.url}/v1/certificates/{identifier}/pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == (issued / f"{identifier}.pdf").read_bytes()

    # Another notary office may not revoke it: 403, and the chain is untouched.
    refused = httpx.post(
        f"{world.url}/v1/certificates/{identifier}/revoke",
        json=revoke_body(world, identifier, world.other),
        headers=world.auth("other"),
        timeout=60,
    )
    assert refused.status_code == 403, refused.text
    assert world.status_on_chain(identifier)[0] == 1

    # The issuer revokes it with the CLI: the chain says revoked, with the reason and time.
    effective = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    revoked = ok(
        zl(
            "certificate",
            "revoke",
            identifier,
            "--reason",
            "privilegeWithdrawn",
            "--effective",
            effective.isoformat(),
            *world.notary.cli(),
            "--server",
            world.url,
            "--token",
            world.tokens["notary"],
        )
    )
    line = json.loads(revoked.stdout)
    assert line["state"] == "revoked" and line["reason"] == "privilegeWithdrawn"
    state, reason, _, effective_time, *_ = world.status_on_chain(identifier)
    assert (state, reason, effective_time) == (2, 9, int(effective.timestamp()))
    assert world.custody(identifier) == [
        ("certificate_register", "notary"),
        ("certificate_revoke", "notary"),
    ]
    answer = httpx.get(f"{world.url}/v1/certificates/{identifier}", timeout=30).json()
    assert answer["status"]["change"]["tx_hash"] == line["change"]["tx_hash"]
    assert answer["signed"]["change_statement"].startswith("zhenglian/certificate-status/v1\n")

    # status exits 1 for a revoked certificate; revoking again is a conflict (409, exit 2).
    assert zl("certificate", "status", identifier, "--server", world.url).returncode == 1
    again = zl(
        "certificate",
        "revoke",
        identifier,
        "--reason",
        "keyCompromise",
        *world.notary.cli(),
        "--server",
        world.url,
        "--token",
        world.tokens["notary"],
    )
    assert again.returncode == 2 and "409" in again.stderr, again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr


def test_a_number_is_registered_once_per_issuer_and_type(world: World) -> None:
    number = next_number(world)
    _, encoded, signature = make(notarial_fields(world, number), world.notary)
    first = register(world, "notary", encoded, signature, world.notary)
    assert first.status_code == 201, first.text
    assert first.json()["pdf"] is None
    assert httpx.get(f"{world.url}/v1/certificates/{first.json()['id']}/pdf").status_code == 404
    # The same number under another serial (another identifier): 409 naming the first.
    cert, encoded, signature = make(
        notarial_fields(world, number, serial="A000000001"), world.notary
    )
    second = register(world, "notary", encoded, signature, world.notary)
    assert second.status_code == 409, second.text
    assert second.json()["existing"] == first.json()["id"]
    assert world.status_on_chain(cert.id)[0] == 0  # never sent
    health = httpx.get(f"{world.url}/healthz", timeout=30).json()
    assert health["certificates"] == {"pending": 0}
    # The very same certificate again: 409 too.
    _, encoded, signature = make(notarial_fields(world, number), world.notary)
    assert register(world, "notary", encoded, signature, world.notary).status_code == 409


def _edited(encoded: bytes, edit: Any) -> bytes:
    prefix, body = encoded.split(b"\n", 1)
    obj = json.loads(body)
    edit(obj)
    return (
        prefix
        + b"\n"
        + json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    )


@pytest.mark.parametrize(
    ("case", "check", "words"),
    [
        ("unknown-type", "certificate", "type"),
        ("wrong-credit-code-check", "certificate", "credit_code"),
        ("signature-over-another", "signature", "does not verify"),
        ("status-signed-by-another", "status-signature", "not"),
    ],
)
def test_bad_certificates_are_refused_by_name(
    world: World, case: str, check: str, words: str
) -> None:
    cert, encoded, signature = make(notarial_fields(world, next_number(world)), world.notary)
    status_signer = None
    if case == "unknown-type":
        encoded = _edited(encoded, lambda o: o.update(type="marriage_certificate"))
    elif case == "wrong-credit-code-check":
        encoded = _edited(encoded, lambda o: o["issuer"].update(credit_code=NOTARY_CODE[:-1] + "F"))
    elif case == "signature-over-another":
        _, _, signature = make(notarial_fields(world, next_number(world)), world.notary)
    else:
        status_signer = world.other
    r = register(world, "notary", encoded, signature, world.notary, status_signer=status_signer)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["check"] == check and words in r.json()["detail"], r.json()
    assert world.status_on_chain(cert.id)[0] == 0


def test_revoked_and_expired_signers_are_refused(world: World) -> None:
    authority = CertificateAuthority.open(
        world.data, passphrase=PASSPHRASES["ZHENGLIAN_CA_PASSPHRASE"].encode()
    )
    expired = _institution(
        authority,
        world.work,
        NOTARY,
        NOTARY_CODE,
        InstitutionType.NOTARY_OFFICE,
        now=datetime.now(UTC) - timedelta(days=800),
    )
    revoked = _institution(
        authority, world.work, NOTARY, NOTARY_CODE, InstitutionType.NOTARY_OFFICE
    )
    serial = format(revoked.certificate.serial_number, "x")
    ok(
        zl(
            "pki",
            "revoke",
            "--data-dir",
            str(world.data),
            serial,
            "--reason",
            "keyCompromise",
        )
    )
    for signer, words in ((expired, "expired"), (revoked, "revoked")):
        cert, encoded, signature = make(notarial_fields(world, next_number(world)), signer)
        r = register(world, "notary", encoded, signature, signer)
        assert r.status_code == 422, r.text
        assert r.json()["check"] == "signer-certificate" and words in r.json()["detail"]
        assert world.status_on_chain(cert.id)[0] == 0


def test_practising_certificates_only_by_the_bureau_registrar(world: World) -> None:
    cert, encoded, signature = make(practising_fields("川律证2026-0031"), world.bureau)
    # The bureau's admin is not its registrar: refused before anything is read.
    admin = register(world, "admin", encoded, signature, world.bureau)
    assert admin.status_code == 403, admin.text
    # A notary office's token cannot register the bureau's certificate either.
    notary = register(world, "notary", encoded, signature, world.bureau)
    assert notary.status_code == 403, notary.text
    assert world.status_on_chain(cert.id)[0] == 0
    done = register(world, "registrar", encoded, signature, world.bureau)
    assert done.status_code == 201, done.text
    assert world.status_on_chain(cert.id)[0] == 1
    assert world.custody(cert.id) == [("certificate_register", "bureau_registrar")]
    # The registrar sees the full view; the public the masked one.
    full = httpx.get(
        f"{world.url}/v1/certificates/{cert.id}", headers=world.auth("registrar"), timeout=30
    ).json()
    assert full["view"]["holder"]["id_number"] == "H1234567"
    public = httpx.get(f"{world.url}/v1/certificates/{cert.id}", timeout=30)
    assert "H1234567" not in public.text
    # Revocation: the admin is refused (403) and the chain untouched; the registrar revokes.
    body = revoke_body(world, cert.id, world.bureau, reason=9)
    for who in ("admin", "notary"):
        r = httpx.post(
            f"{world.url}/v1/certificates/{cert.id}/revoke",
            json=body,
            headers=world.auth(who),
            timeout=60,
        )
        assert r.status_code == 403, (who, r.text)
    assert world.status_on_chain(cert.id)[0] == 1
    r = httpx.post(
        f"{world.url}/v1/certificates/{cert.id}/revoke",
        json=body,
        headers=world.auth("registrar"),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"]["state"] == "revoked" and r.json()["status"]["reason"] == 9
    assert world.status_on_chain(cert.id)[:2] == (2, 9)


def test_revocations_are_checked_before_the_chain(world: World) -> None:
    cert, encoded, signature = make(notarial_fields(world, next_number(world)), world.notary)
    assert register(world, "notary", encoded, signature, world.notary).status_code == 201
    url = f"{world.url}/v1/certificates/{cert.id}/revoke"
    future = revoke_body(world, cert.id, world.notary)
    future["effective_time"] = int(datetime.now(UTC).timestamp()) + 3600
    bad_reason = {**revoke_body(world, cert.id, world.notary), "reason": "certificateHold"}
    signed_by_other = revoke_body(world, cert.id, world.other)
    for body, check in (
        (future, "effective-time"),
        (bad_reason, "reason"),
        (signed_by_other, "status-signature"),
    ):
        r = httpx.post(url, json=body, headers=world.auth("notary"), timeout=60)
        assert r.status_code == 422 and r.json()["check"] == check, r.text
    assert world.status_on_chain(cert.id)[0] == 1
    nobody = httpx.post(
        f"{world.url}/v1/certificates/GZ-{NOTARY_CODE}-0000000000-0/revoke",
        json=revoke_body(world, cert.id, world.notary),
        headers=world.auth("notary"),
        timeout=60,
    )
    assert nobody.status_code == 404
    assert (
        httpx.post(url, json=revoke_body(world, cert.id, world.notary), timeout=30).status_code
        == 401
    )
    assert world.custody(cert.id) == [("certificate_register", "notary")]


# --- the node down between the database and the chain ----------------------------------------


class Relay:
    """A real HTTP relay to a JSON-RPC node on a fixed local port, which can be taken down
    (its socket closed: connection refused, as for a node that is down) and brought back."""

    def __init__(self, upstream: str) -> None:
        import socket

        self.upstream = upstream
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        upstream = self.upstream

        class Forward(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                answer = httpx.post(
                    upstream, content=body, headers={"content-type": "application/json"}
                )
                self.send_response(answer.status_code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Forward)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        from tests.support.postgres import fresh_database_url

        return fresh_database_url(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'pending.sqlite'}"


def test_a_change_the_chain_does_not_hold_is_pending_until_it_does(
    database_url: str, embedded_chain: tuple[str, str, Path], tmp_path: Path
) -> None:
    """The node goes down after the checks: the registration is answered 503 pending and
    read as pending — never issued — until the pending worker's step sends it; a revocation
    likewise; each completion is a custody event of ``system``."""
    from evidence.access.enforcement import Principal, add_institution, issue_token
    from evidence.access.policy import Role
    from evidence.services.certificate_registration import (
        CertificatePending,
        CertificateRegistration,
    )
    from evidence.services.custody_recording import CustodyRecorder
    from evidence.verify.document_signature import SignatureTrust
    from ledger.certificate_registry import CERTIFICATE_REGISTRY, CertificateRegistryClient
    from ledger.client import JsonDeploymentStore, LedgerClient

    rpc_url, key, _ = embedded_chain
    authority = CertificateAuthority.init(
        tmp_path / "pki",
        "某市司法局机构证书根",
        passphrase=b"a passphrase for the test",
        public_url=PUBLIC_URL,
    )
    notary = _institution(authority, tmp_path, NOTARY, NOTARY_CODE, InstitutionType.NOTARY_OFFICE)
    relay = Relay(rpc_url)
    relay.up()
    registry = CertificateRegistryClient(LedgerClient(relay.url, key))
    registry.ensure_deployed(
        JsonDeploymentStore(tmp_path / "registry.json", contract=CERTIFICATE_REGISTRY)
    )
    database = open_database(database_url)
    custody = CustodyRecorder(database)
    try:
        with database.session() as session:
            institution = add_institution(session, name=NOTARY, type="notary_office")
            _, token, _ = issue_token(session, institution=NOTARY, role="notary")
            session.commit()
        principal = Principal(Role.NOTARY, token.id, institution.id, NOTARY, "notary_office")
        trust = SignatureTrust(authority.root, authority.renew_crl())
        registration = CertificateRegistration(database, registry, lambda: trust, custody=custody)
        cert, encoded, signature = make(notarial_fields_plain("(2026)京某证字第900号"), notary)
        world_like = (registry.chain_id, registry.address)
        statement = StatusStatement.issue(
            chain_id=world_like[0],
            registry=world_like[1] or b"",
            certificate=certificate_key(cert.id),
            issuer=NOTARY_CODE,
            certificate_hash=hashlib.sha256(encoded).digest(),
        ).to_bytes()

        relay.down()
        with pytest.raises(CertificatePending):
            registration.register(
                principal,
                encoded=encoded,
                signature=signature,
                signer_certificate=notary.pem.encode(),
                status_signature=notary.sign(statement),
            )
        found = registration.get(cert.id)
        assert found is not None and found.record.status.value == "pending"
        assert registration.pending_count() == 1
        assert registration.complete_pending() == 0  # the node is still down

        relay.up()
        assert registration.complete_pending() == 1
        found = registration.get(cert.id)
        assert found is not None and found.record.status.value == "issued"
        assert registry.status_of(certificate_key(cert.id)).state.name == "ISSUED"
        assert registration.pending_count() == 0

        when = int(datetime.now(UTC).timestamp()) - 60
        revoke = StatusStatement.revoke(
            chain_id=world_like[0],
            registry=world_like[1] or b"",
            certificate=certificate_key(cert.id),
            reason=CertificateRevocationReason.KEY_COMPROMISE,
            effective_time=when,
        ).to_bytes()
        relay.down()
        with pytest.raises(CertificatePending):
            registration.revoke(
                principal,
                cert.id,
                reason=1,
                effective_time=when,
                signature=notary.sign(revoke),
                signer_certificate=notary.pem.encode(),
            )
        found = registration.get(cert.id)
        assert found is not None and found.record.status.value == "issued"
        assert found.record.change_pending
        relay.up()
        # The same request again completes it (as the worker would).
        done = registration.revoke(
            principal,
            cert.id,
            reason=1,
            effective_time=when,
            signature=notary.sign(revoke),
            signer_certificate=notary.pem.encode(),
        )
        assert done.record.status.value == "revoked" and not done.record.change_pending
        assert registry.status_of(certificate_key(cert.id)).state.name == "REVOKED"
        with database.session() as session:
            c = custody_events_table.c
            events = session.execute(
                select(c.action, c.actor_role)
                .where(c.object_type == "certificate", c.object_id == cert.id)
                .order_by(c.leaf_index)
            ).all()
        assert [tuple(e) for e in events] == [
            ("certificate_register", "system"),
            ("certificate_revoke", "notary"),
        ]
    finally:
        custody.close()
        relay.down()
        database.engine.dispose()


def notarial_fields_plain(number: str) -> dict[str, Any]:
    return {
        "type": "notarial_certificate",
        "number": number,
        "issued": "2026-03-02",
        "valid_from": "2026-03-02",
        "valid_until": None,
        "holder": {"name": "王小红", "id_type": "resident_id", "id_number": HOLDER_ID},
        "issuer": {"name": NOTARY, "credit_code": NOTARY_CODE},
        "details": {"matter": "学历公证", "notary": "李明", "purpose": None},
    }


def test_lookups_read_one_index_entry_and_seeding_inserts_in_bulk(database_url: str) -> None:
    """What the 10⁶-certificate benchmark relies on: bulk inserts of seeded rows, and a lookup
    by number that reads ``uq_certificates_number`` (and by identifier the primary key)."""
    import sqlalchemy as sa

    from evidence.errors import DuplicateRecord, InputError
    from evidence.store.repository import (
        MAX_CERTIFICATES_PER_INSERT,
        CertificateStatus,
        NewCertificate,
        add_certificates,
        certificate_number_query,
        find_certificate_by_number,
        get_certificate,
    )

    now = datetime.now(UTC)

    def row(i: int, number: str | None = None) -> NewCertificate:
        return NewCertificate(
            id=f"GZ-{NOTARY_CODE}-{i:010d}-X",
            issuer_code=NOTARY_CODE,
            issuer_name=NOTARY,
            issuer_type="notary_office",
            type="notarial_certificate",
            number=number or f"No.{i}",
            encoded=b"zhenglian/e-certificate/v1\n{}",
            certificate_sha256=hashlib.sha256(str(i).encode()).digest(),
            signature=b"\x30" * 70,
            signer_certificate=b"\x30" * 300,
            issue_signature=b"\x30" * 70,
            registered_by="00000000-0000-0000-0000-000000000000",
            registered_at=now,
            status=CertificateStatus.ISSUED,
            issue_tx=hashlib.sha256(b"tx%d" % i).digest(),
            issue_block=i + 1,
        )

    database = open_database(database_url)
    try:
        for start in range(0, 4000, 2000):
            with database.session() as session:
                add_certificates(session, [row(i) for i in range(start, start + 2000)])
                session.commit()
        with database.session() as session:
            found = find_certificate_by_number(
                session, issuer_code=NOTARY_CODE, type="notarial_certificate", number="No.1234"
            )
            assert found is not None and found.id == row(1234).id and not found.has_pdf
            by_id = get_certificate(session, row(3999).id)
            assert by_id is not None and by_id.issue_block == 4000
            with pytest.raises(DuplicateRecord):  # the same number under another identifier
                add_certificates(session, [row(5000, number="No.7")])
            session.rollback()
            with pytest.raises(InputError):
                add_certificates(session, [row(0)] * (MAX_CERTIFICATES_PER_INSERT + 1))
        with database.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
            query = certificate_number_query(NOTARY_CODE, "notarial_certificate", "No.1234")
            compiled = query.compile(dialect=conn.dialect)
            if compiled.positional:
                params: Any = tuple(compiled.params[k] for k in compiled.positiontup or ())
            else:
                params = compiled.params
            sqlite = database_url.startswith("sqlite")
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = " ".join(str(r) for r in conn.exec_driver_sql(explain + str(compiled), params))
        if sqlite:  # the unique constraint's automatic index
            assert "USING INDEX sqlite_autoindex_certificates" in plan, plan
        else:
            assert "uq_certificates_number" in plan, plan
    finally:
        database.engine.dispose()


def test_a_new_edition_supersedes_the_old_one(world: World) -> None:
    old, encoded, signature = make(notarial_fields(world, next_number(world)), world.notary)
    assert register(world, "notary", encoded, signature, world.notary).status_code == 201
    new, encoded, signature = make(notarial_fields(world, next_number(world)), world.notary)
    assert register(world, "notary", encoded, signature, world.notary).status_code == 201

    def body(successor: str, signer: Signer) -> dict[str, Any]:
        statement = StatusStatement.supersede(
            chain_id=world.chain_id,
            registry=world.registry,
            certificate=certificate_key(old.id),
            successor=certificate_key(successor),
        ).to_bytes()
        return {
            "successor": successor,
            "signature": base64.b64encode(signer.sign(statement)).decode(),
            "signer_certificate": signer.pem,
        }

    url = f"{world.url}/v1/certificates/{old.id}/supersede"
    unknown = httpx.post(
        url,
        json=body(f"GZ-{NOTARY_CODE}-0000000000-0", world.notary),
        headers=world.auth("notary"),
        timeout=60,
    )
    assert unknown.status_code == 422 and unknown.json()["check"] == "successor", unknown.text
    by_other = httpx.post(
        url, json=body(new.id, world.other), headers=world.auth("other"), timeout=60
    )
    assert by_other.status_code == 403
    done = httpx.post(
        url, json=body(new.id, world.notary), headers=world.auth("notary"), timeout=60
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"]["state"] == "superseded"
    assert done.json()["status"]["successor"] == new.id
    state, *_, successor, _, _, _, _ = world.status_on_chain(old.id)
    assert state == 3 and successor == certificate_key(new.id)
    assert world.custody(old.id)[-1] == ("certificate_supersede", "notary")


def test_the_server_reports_on_a_certificate_as_verify_does(world: World) -> None:
    """``GET /v1/certificates/{id}/report``: the stored material checked against the served
    PKI, the status read from the chain — intact while issued, ``revoked`` (exit 1 in the
    CLI's table) once the issuer revoked it, and a time before the revocation still intact."""
    cert, encoded, signature = make(notarial_fields(world, next_number(world)), world.notary)
    registered = register(world, "notary", encoded, signature, world.notary)
    assert registered.status_code == 201, registered.text
    url = f"{world.url}/v1/certificates/{cert.id}/report"
    report = httpx.get(url, timeout=30)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["verdict"] == "intact", body
    assert body["subject"]["id"] == cert.id
    checks = [c for section in body["sections"] for c in section["checks"]]
    assert {c["status"] for c in checks} <= {"passed", "not performed"}, checks
    # Nothing of the holder in a public report.
    assert HOLDER_ID not in report.text and STREET not in report.text
    # The service's record of the chain and the chain read now say the same.
    chain = httpx.get(url, params={"source": "chain"}, timeout=30).json()
    assert chain["verdict"] == "intact"
    assert _registry_evidence(chain) == _registry_evidence(body)
    assert _registry_evidence(body)["state"] == "issued"
    text = httpx.get(url, params={"format": "text"}, timeout=30)
    assert text.status_code == 200 and text.text.splitlines()[0] == "verdict: intact"

    before = datetime.now(UTC) - timedelta(minutes=1)
    revoked = httpx.post(
        f"{world.url}/v1/certificates/{cert.id}/revoke",
        json=revoke_body(world, cert.id, world.notary),
        headers=world.auth("notary"),
        timeout=60,
    )
    assert revoked.status_code == 200, revoked.text
    after = httpx.get(url, timeout=30).json()
    assert after["verdict"] == "revoked", after
    chain = httpx.get(url, params={"source": "chain"}, timeout=30).json()
    assert chain["verdict"] == "revoked"
    assert _registry_evidence(chain) == _registry_evidence(after)
    assert _registry_evidence(after)["state"] == "revoked"
    # The issuer's signatures on the issue and the revocation: from the chain's events and
    # from the service's record alike.
    for answer in (chain, after):
        signed = next(
            c for s in answer["sections"] for c in s["checks"] if c["name"] == "status-signatures"
        )
        assert signed["status"] == "passed" and signed["evidence"]["changes"] == "2", signed
    # Asked about a time before the revocation took effect (an hour ago): it stood then.
    earlier = (before - timedelta(hours=2)).isoformat()
    assert httpx.get(url, params={"at": earlier}, timeout=30).json()["verdict"] == "intact"
    assert httpx.get(url, params={"at": "2026-01-01T00:00:00"}, timeout=30).status_code == 422
    assert httpx.get(f"{url[: -len('/report')]}x/report", timeout=30).status_code == 404


def _registry_evidence(report: dict[str, Any]) -> dict[str, str]:
    [check] = [
        c
        for section in report["sections"]
        for c in section["checks"]
        if c["name"] == "registry-status"
    ]
    return dict(check["evidence"])


# --- SM2 institutions ---------------------------------------------------------------------------


def _cli_issue(world: World, signer: Signer | Sm2Signer, name: str) -> tuple[str, Path]:
    """``zhenglian certificate issue`` of a new notarial certificate into its own directory."""
    fields = world.work / f"{name}.fields.json"
    fields.write_text(json.dumps(notarial_fields(world, next_number(world)), ensure_ascii=False))
    out = world.work / name
    done = ok(
        zl("certificate", "issue", str(fields), *signer.cli(), "--public-url", PUBLIC_URL,
           "-o", str(out))
    )  # fmt: skip
    identifier = json.loads(done.stdout)["id"]
    return identifier, out / f"{identifier}.json"


def _cli(world: World, who: str, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    return zl("certificate", command, *args, "--server", world.url, "--token", world.tokens[who])


def test_an_sm2_institution_issues_registers_revokes_and_supersedes_with_the_cli(
    world: World,
) -> None:
    sm2 = world.sm2_notary
    # Issued with the SM2 key and certificate `pki issue --algorithm sm2 --out` wrote: the
    # signature is SM2 (SM3, default ID) over ID.json, checked as a relying party does.
    first, first_json = _cli_issue(world, sm2, "sm2-first")
    encoded = first_json.read_bytes()
    signature = first_json.with_suffix(".sig").read_bytes()
    signed = verify_e_certificate_signature(encoded, signature, sm2.certificate, sm2_engine=ENGINE)
    assert signed.algorithm == "sm2-sm3" and signed.signer.subject.name == NOTARY
    if shutil.which("openssl") is not None:  # independently: OpenSSL 3 with the default ID
        public = world.work / "sm2-notary-public.pem"
        public.write_bytes(
            ok(subprocess.run(
                ["openssl", "x509", "-in", str(sm2.directory / "cert.pem"), "-pubkey", "-noout"],
                capture_output=True, text=True, timeout=30,
            )).stdout.encode()
        )  # fmt: skip
        checked = subprocess.run(
            ["openssl", "dgst", "-sm3", "-verify", str(public), "-sigopt",
             "distid:1234567812345678", "-signature", str(first_json.with_suffix(".sig")),
             str(first_json)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert checked.returncode == 0 and "Verified OK" in checked.stdout, checked.stderr

    line = json.loads(ok(_cli(world, "notary", "register", str(first_json), *sm2.cli())).stdout)
    assert line["id"] == first and line["state"] == "issued" and not line["pending"]
    state, _, issuer_code, _, certificate_hash, *_ = world.status_on_chain(first)
    assert (state, issuer_code) == (1, NOTARY_CODE.encode())
    assert certificate_hash == hashlib.sha256(encoded).digest()
    # What the server keeps and serves checks offline: the issue statement under the SM2 key.
    answer = httpx.get(f"{world.url}/v1/certificates/{first}", timeout=30).json()
    issued = check_status_signature(
        answer["signed"]["issue_statement"].encode(),
        base64.b64decode(answer["signed"]["issue_signature"]),
        x509.load_pem_x509_certificate(
            answer["signed"]["signer_certificate"].encode()
        ).public_bytes(serialization.Encoding.DER),
        sm2_engine=ENGINE,
    )
    assert issued.signer_code == NOTARY_CODE and issued.signer.algorithm == "sm2"
    if shutil.which("openssl") is not None:  # the statement's signature likewise
        statement = world.work / "sm2-issue-statement.txt"
        statement.write_bytes(answer["signed"]["issue_statement"].encode())
        statement_signature = world.work / "sm2-issue-statement.sig"
        statement_signature.write_bytes(base64.b64decode(answer["signed"]["issue_signature"]))
        checked = subprocess.run(
            ["openssl", "dgst", "-sm3", "-verify", str(world.work / "sm2-notary-public.pem"),
             "-sigopt", "distid:1234567812345678", "-signature", str(statement_signature),
             str(statement)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert checked.returncode == 0 and "Verified OK" in checked.stdout, checked.stderr

    # Another notary office, SM2 too, may not revoke it: 403 (exit 2), the chain unchanged.
    refused = _cli(world, "other", "revoke", first, "--reason", "keyCompromise",
                   *world.sm2_other.cli())  # fmt: skip
    assert refused.returncode == 2 and "403" in refused.stderr, refused.stderr
    assert world.status_on_chain(first)[0] == 1

    effective = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    revoked = ok(
        _cli(world, "notary", "revoke", first, "--reason", "privilegeWithdrawn", "--effective",
             effective.isoformat(), *sm2.cli())
    )  # fmt: skip
    assert json.loads(revoked.stdout)["state"] == "revoked"
    state, reason, _, effective_time, *_ = world.status_on_chain(first)
    assert (state, reason, effective_time) == (2, 9, int(effective.timestamp()))
    assert world.custody(first) == [
        ("certificate_register", "notary"),
        ("certificate_revoke", "notary"),
    ]

    # The SM2 certificate with another key, or the right key with a wrong passphrase: one line.
    fields = world.work / "sm2-refused.fields.json"
    fields.write_text(json.dumps(notarial_fields(world, next_number(world)), ensure_ascii=False))
    issue = ("certificate", "issue", str(fields), "--public-url", PUBLIC_URL, "-o",
             str(world.work / "sm2-refused"))  # fmt: skip
    for key, env, code, words in (
        (world.notary.directory, None, 2, "not an SM2 key"),
        (world.sm2_other.directory, None, 2, "not the key of the certificate"),
        (sm2.directory, {"ZHENGLIAN_SIGNING_PASSPHRASE": "wrong"}, 1, "wrong"),
    ):
        refused = zl(*issue, "--key", str(key / "key.pem"), "--cert",
                     str(sm2.directory / "cert.pem"), env=env)  # fmt: skip
        assert refused.returncode == code and words in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1

    # A new edition supersedes an old one: `supersede OLD/ID.json --by NEW_ID`.
    old, old_json = _cli_issue(world, sm2, "sm2-old")
    new, new_json = _cli_issue(world, sm2, "sm2-new")
    for path in (old_json, new_json):
        ok(_cli(world, "notary", "register", str(path.parent), *sm2.cli()))
    done = ok(_cli(world, "notary", "supersede", str(old_json), "--by", new, *sm2.cli()))
    line = json.loads(done.stdout)
    assert line["id"] == old and line["state"] == "superseded" and line["successor"] == new
    assert line["change"]["tx_hash"].startswith("0x")
    state, *_, successor, _, _, _, _ = world.status_on_chain(old)
    assert state == 3 and successor == certificate_key(new)
    assert world.custody(old)[-1] == ("certificate_supersede", "notary")
    status = zl("certificate", "status", old, "--server", world.url)
    assert status.returncode == 1 and json.loads(status.stdout)["state"] == "superseded"
    # Final: superseding again is 409 (exit 2), one line.
    again = _cli(world, "notary", "supersede", old, "--by", new, *sm2.cli())
    assert again.returncode == 2 and "409" in again.stderr, again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr


def test_the_server_reports_on_an_sm2_certificate(world: World) -> None:
    """``GET /v1/certificates/{id}/report`` of an SM2 issuer's certificate: its signature
    checked with the SM2 engine, its signer against the SM2 root and the SM2 CRL — intact."""
    cert, encoded, signature = make(notarial_fields(world, next_number(world)), world.sm2_notary)
    registered = register(world, "notary", encoded, signature, world.sm2_notary)
    assert registered.status_code == 201, registered.text
    report = httpx.get(f"{world.url}/v1/certificates/{cert.id}/report", timeout=30)
    assert report.status_code == 200, report.text
    body = report.json()
    checks = {c["name"]: c for section in body["sections"] for c in section["checks"]}
    assert body["verdict"] == "intact", checks
    assert {c["status"] for c in checks.values()} <= {"passed", "not performed"}, checks
    assert _registry_evidence(body)["state"] == "issued"


def test_an_ecdsa_institution_supersedes_with_the_cli(world: World) -> None:
    old, encoded, signature = make(notarial_fields(world, next_number(world)), world.notary)
    assert register(world, "notary", encoded, signature, world.notary).status_code == 201
    new, encoded, signature = make(notarial_fields(world, next_number(world)), world.notary)
    assert register(world, "notary", encoded, signature, world.notary).status_code == 201
    # Another office's key and token: 403, exit 2, the chain unchanged.
    refused = _cli(world, "other", "supersede", old.id, "--by", new.id, *world.other.cli())
    assert refused.returncode == 2 and "403" in refused.stderr, refused.stderr
    assert world.status_on_chain(old.id)[0] == 1
    # A successor that is not registered: 422 successor, exit 2.
    never, _, _ = make(notarial_fields(world, next_number(world)), world.notary)
    unknown = _cli(world, "notary", "supersede", old.id, "--by", never.id, *world.notary.cli())
    assert unknown.returncode == 2 and "successor" in unknown.stderr, unknown.stderr
    bad = _cli(world, "notary", "supersede", old.id, "--by", "GZ-nope", *world.notary.cli())
    assert bad.returncode == 2 and "--by" in bad.stderr and "Traceback" not in bad.stderr
    done = ok(_cli(world, "notary", "supersede", old.id, "--by", new.id, *world.notary.cli()))
    assert json.loads(done.stdout)["state"] == "superseded"
    assert world.status_on_chain(old.id)[0] == 3


@pytest.mark.parametrize(
    ("case", "check", "words"),
    [
        ("another-signer-id", "signature", "signer ID 1234567812345678"),
        ("ecdsa-signature", "signature", "does not verify"),
        ("status-with-another-id", "status-signature", "signer ID 1234567812345678"),
        ("status-by-ecdsa-key", "status-signature", "not"),
    ],
)
def test_sm2_signatures_that_do_not_hold_are_refused_by_name(
    world: World, case: str, check: str, words: str
) -> None:
    sm2 = world.sm2_notary
    cert, encoded, signature = make(notarial_fields(world, next_number(world)), sm2)
    statement = issue_statement(world, cert.id, NOTARY_CODE, encoded)
    status_signature = sm2.sign(statement)
    if case == "another-signer-id":
        signature = sm2.sign(encoded, signer_id=b"")
    elif case == "ecdsa-signature":
        signature = world.notary.sign(encoded)
    elif case == "status-with-another-id":
        status_signature = sm2.sign(statement, signer_id=b"ALICE123@YAHOO.COM")
    else:
        status_signature = world.notary.sign(statement)
    body = {
        "certificate": base64.b64encode(encoded).decode(),
        "signature": base64.b64encode(signature).decode(),
        "signer_certificate": sm2.pem,
        "status_signature": base64.b64encode(status_signature).decode(),
        "pdf": None,
    }
    r = httpx.post(
        f"{world.url}/v1/certificates", json=body, headers=world.auth("notary"), timeout=60
    )
    assert r.status_code == 422, r.text
    assert r.json()["check"] == check and words in r.json()["detail"], r.json()
    assert world.status_on_chain(cert.id)[0] == 0
