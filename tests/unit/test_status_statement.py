"""The certificate status statement (certs/formats/status_statement.py) and the check of an
institution's ECDSA P-256 signature over it (certs/verify/status_signature.py).

The statement vectors come from an independent generator
(tests/assets/certificate_status/generate.py); the signatures are made with a real P-256 key
certified by the project's own authority (certs/store/authority.py), as an institution's are.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from certs.errors import (
    CertsError,
    CertsInputError,
    StatusSignatureError,
    StatusSignerMismatch,
    UnsupportedAlgorithm,
)
from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import InstitutionSubject, InstitutionType
from certs.formats.status_statement import (
    MAX_STATUS_STATEMENT_BYTES,
    STATUS_STATEMENT_HEADER,
    CertificateRevocationReason,
    StatusAction,
    StatusStatement,
    StatusStatementError,
    certificate_key,
    parse_status_statement,
    status_statement,
)
from certs.store.authority import CertificateAuthority
from certs.verify.status_signature import MAX_STATUS_SIGNATURE_BYTES, check_status_signature
from tests.support.servers import REPO_ROOT

VECTORS = REPO_ROOT / "tests" / "assets" / "certificate_status"
CASES = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(VECTORS.glob("*.json"))}

NOTARY = InstitutionSubject(
    "北京市某公证处", parse_credit_code("11110000000029209E"), InstitutionType.NOTARY_OFFICE
)
OTHER_CODE = "91110000600037341L"  # another valid 统一社会信用代码
REGISTRY = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
KEY = certificate_key("GZS-11110000000029209E-2026000001-7")
CERTIFICATE_HASH = hashlib.sha256(b"canonical certificate bytes").digest()


def _fields(statement: StatusStatement) -> dict[str, Any]:
    def plain(value: object) -> object:
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, CertificateRevocationReason):
            return int(value)
        if isinstance(value, StatusAction):
            return value.value
        return value

    names = [
        "chain_id",
        "registry",
        "certificate",
        "action",
        "issuer",
        "certificate_hash",
        "reason",
        "effective_time",
        "successor",
    ]
    return {name: plain(getattr(statement, name)) for name in names}


# --- The vectors ---------------------------------------------------------------------------------


def test_regenerating_the_vectors_gives_the_committed_bytes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--out", str(tmp_path)], check=True
    )
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in VECTORS.glob("*.json")}
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], name


def test_the_generator_imports_nothing_of_the_project() -> None:
    source = (VECTORS / "generate.py").read_text()
    imported = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, re.MULTILINE)
    project = {"evidence", "ledger", "api", "zhenglian", "certs", "contracts", "tests"}
    assert not {name.split(".")[0] for name in imported} & project


def test_there_are_valid_and_corrupted_cases_of_every_action() -> None:
    valid = {c["want"]["action"] for c in CASES.values() if c["want"]}
    assert valid == {"issue", "revoke", "supersede"}
    assert sum(1 for c in CASES.values() if c["error"]) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector(name: str) -> None:
    case = CASES[name]
    data = bytes.fromhex(case["statement_hex"])
    if case["error"] is None:
        statement = parse_status_statement(data)
        assert _fields(statement) == case["want"]
        assert statement.to_bytes() == data
        assert status_statement(**{k: v for k, v in _typed(case["want"]).items()}) == data
        return
    with pytest.raises(StatusStatementError) as excinfo:
        parse_status_statement(data)
    assert type(excinfo.value).__name__ == case["error"]
    assert excinfo.value.line == case["line"], str(excinfo.value)


def _typed(want: dict[str, Any]) -> dict[str, Any]:
    out = dict(want)
    for name in ("registry", "certificate", "certificate_hash", "successor"):
        if out[name] is not None:
            out[name] = bytes.fromhex(out[name])
    return out


# --- Building ------------------------------------------------------------------------------------


def test_named_constructors_give_the_vectors() -> None:
    issue = StatusStatement.issue(
        chain_id=23116,
        registry=REGISTRY,
        certificate=KEY,
        issuer="11110000000029209E",
        certificate_hash=CERTIFICATE_HASH,
    )
    assert issue.to_bytes() == bytes.fromhex(CASES["issue"]["statement_hex"])
    assert issue.to_bytes().startswith(STATUS_STATEMENT_HEADER)
    revoke = StatusStatement.revoke(
        chain_id=23116,
        registry=REGISTRY,
        certificate=KEY,
        reason=CertificateRevocationReason.KEY_COMPROMISE,
        effective_time=1_780_000_000,
    )
    assert revoke.to_bytes() == bytes.fromhex(CASES["revoke-reason-1"]["statement_hex"])


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"action": "issue"}, "needs issuer"),
        ({"action": "revoke", "reason": 1}, "needs effective_time"),
        ({"action": "supersede", "successor": KEY}, "successor is the certificate itself"),
        ({"action": "supersede", "successor": bytes(31) + b"\x01"}, None),
        (
            {"action": "supersede", "successor": b"\x01" * 32, "reason": 1, "effective_time": 5},
            "has no reason",
        ),
        ({"action": "revoke", "reason": 8, "effective_time": 5}, "final"),
        ({"action": "revoke", "reason": 4, "effective_time": 5}, "supersede the certificate"),
        ({"action": "revoke", "reason": 1, "effective_time": 2**64}, "effective time"),
        ({"action": "undo"}, "unknown action"),
        (
            {"action": "issue", "issuer": "11110000000029209e", "certificate_hash": b"\x01" * 32},
            "canonical form",
        ),
    ],
)
def test_building_refuses_what_the_contract_would(
    fields: dict[str, Any], match: str | None
) -> None:
    common: dict[str, Any] = {"chain_id": 5, "registry": REGISTRY, "certificate": KEY}
    if match is None:
        status_statement(**common, **fields)
        return
    with pytest.raises(StatusStatementError, match=match):
        status_statement(**common, **fields)


def test_reasons_by_name_and_code() -> None:
    assert CertificateRevocationReason.parse("keyCompromise") is (
        CertificateRevocationReason.KEY_COMPROMISE
    )
    assert CertificateRevocationReason.parse("9") is CertificateRevocationReason.PRIVILEGE_WITHDRAWN
    assert [int(r) for r in CertificateRevocationReason] == [0, 1, 2, 3, 5, 9]
    assert CertificateRevocationReason.CESSATION_OF_OPERATION.rfc5280_name == (
        "cessationOfOperation"
    )
    with pytest.raises(StatusStatementError, match="no holds"):
        CertificateRevocationReason.parse("certificateHold")


def test_certificate_key_is_sha256_of_utf8() -> None:
    identifier = "GZS-11110000000029209E-2026000001-7"
    assert certificate_key(identifier) == hashlib.sha256(identifier.encode()).digest()
    assert certificate_key("公证") == hashlib.sha256("公证".encode()).digest()


def test_errors_are_input_errors_of_certs() -> None:
    assert issubclass(StatusStatementError, CertsInputError)
    assert issubclass(StatusSignerMismatch, StatusSignatureError)
    assert issubclass(StatusSignatureError, CertsError)


_keys = st.binary(min_size=32, max_size=32).filter(lambda b: b != bytes(32))


@given(
    chain_id=st.integers(1, 2**64 - 1),
    registry=st.binary(min_size=20, max_size=20),
    certificate=_keys,
    reason=st.sampled_from(list(CertificateRevocationReason)),
    effective_time=st.integers(1, 2**64 - 1),
    successor=_keys,
    certificate_hash=_keys,
)
def test_every_statement_round_trips(
    chain_id: int,
    registry: bytes,
    certificate: bytes,
    reason: CertificateRevocationReason,
    effective_time: int,
    successor: bytes,
    certificate_hash: bytes,
) -> None:
    common: dict[str, Any] = {
        "chain_id": chain_id,
        "registry": registry,
        "certificate": certificate,
    }
    statements = [
        StatusStatement.issue(**common, issuer=OTHER_CODE, certificate_hash=certificate_hash),
        StatusStatement.revoke(**common, reason=reason, effective_time=effective_time),
    ]
    if successor != certificate:
        statements.append(StatusStatement.supersede(**common, successor=successor))
    for statement in statements:
        data = statement.to_bytes()
        assert len(data) <= MAX_STATUS_STATEMENT_BYTES
        assert parse_status_statement(data) == statement


# --- Signatures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def notary(tmp_path_factory: pytest.TempPathFactory) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A notary office's P-256 key and its certificate (DER), issued by a real authority."""
    authority = CertificateAuthority.init(
        tmp_path_factory.mktemp("pki") / "data",
        "某市司法局机构证书根",
        passphrase=b"correct horse battery staple",
        public_url="https://zl.example.cn/",
    )
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return key, authority.issue(NOTARY, spki).certificate_der


def _statement(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "chain_id": 23116,
        "registry": REGISTRY,
        "certificate": KEY,
        "action": "issue",
        "issuer": NOTARY.credit_code.text,
        "certificate_hash": CERTIFICATE_HASH,
    }
    return status_statement(**(fields | changes))


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def test_a_valid_signature(notary: tuple[ec.EllipticCurvePrivateKey, bytes]) -> None:
    key, certificate = notary
    for statement in (
        _statement(),
        _statement(
            action="revoke",
            issuer=None,
            certificate_hash=None,
            reason=CertificateRevocationReason.AFFILIATION_CHANGED,
            effective_time=1_780_000_000,
        ),
        _statement(action="supersede", issuer=None, certificate_hash=None, successor=b"\x07" * 32),
    ):
        signed = check_status_signature(statement, _sign(key, statement), certificate)
        assert signed.signer_code == "11110000000029209E"
        assert signed.signer.subject.name == "北京市某公证处"
        assert signed.statement == parse_status_statement(statement)


@pytest.mark.parametrize(
    "replayed",
    [
        {"chain_id": 23117},
        {"registry": b"\x01" * 20},
        {"certificate": certificate_key("GZS-11110000000029209E-2026000002-5")},
        {"certificate_hash": hashlib.sha256(b"another certificate").digest()},
        {
            "action": "revoke",
            "issuer": None,
            "certificate_hash": None,
            "reason": 0,
            "effective_time": 1,
        },
    ],
    ids=["chain", "registry", "certificate", "content", "action"],
)
def test_a_signature_is_not_replayed_elsewhere(
    notary: tuple[ec.EllipticCurvePrivateKey, bytes], replayed: dict[str, Any]
) -> None:
    key, certificate = notary
    signature = _sign(key, _statement())
    with pytest.raises(StatusSignatureError, match="not 北京市某公证处's"):
        check_status_signature(_statement(**replayed), signature, certificate)


def test_a_signature_by_another_key(notary: tuple[ec.EllipticCurvePrivateKey, bytes]) -> None:
    _, certificate = notary
    statement = _statement()
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(StatusSignatureError):
        check_status_signature(statement, _sign(stranger, statement), certificate)


def test_an_issue_naming_another_institution(
    notary: tuple[ec.EllipticCurvePrivateKey, bytes],
) -> None:
    key, certificate = notary
    statement = _statement(issuer=OTHER_CODE)
    with pytest.raises(StatusSignerMismatch) as excinfo:
        check_status_signature(statement, _sign(key, statement), certificate)
    assert excinfo.value.statement_issuer == OTHER_CODE
    assert excinfo.value.certificate_issuer == "11110000000029209E"


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x30\x00", b"\x30" + bytes(71), bytes(MAX_STATUS_SIGNATURE_BYTES + 1)],
    ids=["empty", "empty-der", "zeros", "too-long"],
)
def test_malformed_signatures(
    notary: tuple[ec.EllipticCurvePrivateKey, bytes], signature: bytes
) -> None:
    _, certificate = notary
    with pytest.raises(StatusSignatureError):
        check_status_signature(_statement(), signature, certificate)


def test_a_flipped_bit_in_signature_or_statement(
    notary: tuple[ec.EllipticCurvePrivateKey, bytes],
) -> None:
    key, certificate = notary
    statement = _statement()
    signature = _sign(key, statement)
    flipped = bytearray(signature)
    flipped[-1] ^= 0x01
    with pytest.raises(StatusSignatureError):
        check_status_signature(statement, bytes(flipped), certificate)
    with pytest.raises(StatusStatementError):  # not a canonical statement any more
        check_status_signature(statement.replace(b"issue\n", b"issuf\n"), signature, certificate)


def test_a_certificate_that_is_not_p256(notary: tuple[ec.EllipticCurvePrivateKey, bytes]) -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed25519")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ed_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(ed_key, None)
    )
    statement = _statement()
    with pytest.raises(UnsupportedAlgorithm):
        check_status_signature(
            statement, ed_key.sign(statement), certificate.public_bytes(Encoding.DER)
        )
