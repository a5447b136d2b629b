"""The CertificateRegistry client (ledger/certificate_registry.py) against real nodes (the
embedded chain and Hardhat): deployment recorded and re-attached, every change sent and
waited for, refusals typed before anything is sent, status and history read back, and a real
institution signature over the status statement checked from what the chain returns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account

from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import InstitutionSubject, InstitutionType
from certs.formats.status_statement import (
    CertificateRevocationReason,
    StatusStatement,
    certificate_key,
)
from certs.store.authority import CertificateAuthority
from certs.verify.status_signature import check_status_signature
from ledger.certificate_registry import CERTIFICATE_REGISTRY, CertificateRegistryClient
from ledger.certificate_status import CertificateState, StatusAction, StatusEvent
from ledger.client import JsonDeploymentStore, LedgerClient
from ledger.errors import (
    CertificateAlreadyRegistered,
    CertificateNotRegistered,
    CertificateStatusFinal,
    ContractError,
    InvalidStatusChange,
    RegistrarNotAuthorized,
    StatusChangeRefused,
    SuccessorNotIssued,
)

pytestmark = pytest.mark.integration

NOTARY = InstitutionSubject(
    "北京市某公证处", parse_credit_code("11110000000029209E"), InstitutionType.NOTARY_OFFICE
)
ISSUER = NOTARY.credit_code.text
SIGNATURE = b"\x30" + bytes(range(71))


def key_of(label: str) -> bytes:
    return certificate_key(f"GZS-{ISSUER}-{label}")


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@pytest.fixture(scope="module")
def registry(
    chain_endpoint: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> CertificateRegistryClient:
    url, key = chain_endpoint
    client = CertificateRegistryClient(LedgerClient(url, key))
    store = JsonDeploymentStore(
        tmp_path_factory.mktemp("registry") / "certificate-registry-deployments.json",
        contract=CERTIFICATE_REGISTRY,
    )
    client.ensure_deployed(store)
    return client


@pytest.fixture(scope="module")
def notary(tmp_path_factory: pytest.TempPathFactory) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    authority = CertificateAuthority.init(
        tmp_path_factory.mktemp("pki") / "data",
        "某市司法局机构证书根",
        passphrase=b"correct horse battery staple",
        public_url="https://zl.example.cn/",
    )
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return key, authority.issue(NOTARY, spki).certificate_der


def test_the_deployment_is_recorded_and_reattached(
    chain_endpoint: tuple[str, str], tmp_path: Path
) -> None:
    url, key = chain_endpoint
    path = tmp_path / "certificate-registry-deployments.json"
    store = JsonDeploymentStore(path, contract=CERTIFICATE_REGISTRY)
    first = CertificateRegistryClient(LedgerClient(url, key))
    deployment = first.ensure_deployed(store)
    assert '"CertificateRegistry"' in path.read_text()
    again = CertificateRegistryClient(LedgerClient(url, key))
    assert again.ensure_deployed(store) == deployment
    assert again.address == deployment.address
    assert again.is_registrar(again.client.account.address)
    with pytest.raises(ContractError, match="no CertificateRegistry"):
        again.attach(b"\x01" * 20)


def test_issue_revoke_supersede_and_history(registry: CertificateRegistryClient) -> None:
    a, b, c = key_of("a"), key_of("b"), key_of("c")
    issued = registry.issue(a, ISSUER, digest("a"), SIGNATURE)
    assert issued.event == StatusEvent(
        StatusAction.ISSUE,
        a,
        SIGNATURE,
        bytes.fromhex(registry.client.account.address[2:]),
        issuer_code=ISSUER.encode(),
        certificate_hash=digest("a"),
    )
    status = registry.status_of(a)
    assert status.state is CertificateState.ISSUED
    assert status.issued_block == issued.block_number
    assert [e.event for e in registry.history(a)] == [issued.event]

    revoked = registry.revoke(a, 1, 1_780_000_000, SIGNATURE + b"!")
    status = registry.status_of(a)
    assert (status.state, status.reason_code, status.effective_time) == (
        CertificateState.REVOKED,
        1,
        1_780_000_000,
    )
    history = registry.history(a)
    assert [h.event.action for h in history] == [StatusAction.ISSUE, StatusAction.REVOKE]
    assert history[1].event.signature == SIGNATURE + b"!"
    assert history[1].tx_hash == revoked.tx_hash

    registry.issue(b, ISSUER, digest("b"), SIGNATURE)
    registry.issue(c, ISSUER, digest("c"), SIGNATURE)
    superseded = registry.supersede(b, c, SIGNATURE)
    assert superseded.event.successor == c
    assert registry.status_of(b).successor == c
    assert registry.history(key_of("never")) == []


def test_refusals_are_typed_and_nothing_is_sent(registry: CertificateRegistryClient) -> None:
    k, successor = key_of("refused"), key_of("refused-successor")
    registry.issue(k, ISSUER, digest("refused"), SIGNATURE)
    nonce = registry.client.mined_nonce()

    with pytest.raises(CertificateAlreadyRegistered, match="AlreadyRegistered") as excinfo:
        registry.issue(k, ISSUER, digest("other"), SIGNATURE)
    assert excinfo.value.rule == "AlreadyRegistered"
    assert excinfo.value.values == (k, int(CertificateState.ISSUED))
    with pytest.raises(CertificateNotRegistered):
        registry.revoke(key_of("unknown"), 1, 1, SIGNATURE)
    with pytest.raises(SuccessorNotIssued, match="SuccessorNotIssued"):
        registry.supersede(k, successor, SIGNATURE)
    with pytest.raises(SuccessorNotIssued, match="SelfSuccessor"):
        registry.supersede(k, k, SIGNATURE)
    with pytest.raises(InvalidStatusChange, match="ReasonNotAllowed"):
        registry.revoke(k, 8, 1, SIGNATURE)  # removeFromCRL: no un-revoke
    with pytest.raises(InvalidStatusChange, match="0 bytes") as empty:
        registry.revoke(k, 1, 1, b"")  # refused before the node is asked
    assert empty.value.rule == "SignatureLength"
    with pytest.raises(InvalidStatusChange, match="513 bytes"):
        registry.revoke(k, 1, 1, bytes(513))
    with pytest.raises(InvalidStatusChange, match="18 ASCII"):
        registry.issue(key_of("x"), "1111", digest("x"), SIGNATURE)
    assert registry.client.mined_nonce() == nonce  # none of them was sent

    registry.revoke(k, 0, 1, SIGNATURE)
    with pytest.raises(CertificateStatusFinal) as final:
        registry.revoke(k, 1, 1, SIGNATURE)
    assert final.value.values == (k, int(CertificateState.REVOKED))
    assert isinstance(final.value, StatusChangeRefused)


def test_a_stranger_is_not_a_registrar(
    chain_endpoint: tuple[str, str], registry: CertificateRegistryClient
) -> None:
    url, _ = chain_endpoint
    stranger = CertificateRegistryClient(LedgerClient(url, bytes(Account.create().key)))
    assert registry.address is not None
    stranger.attach(registry.address)
    with pytest.raises(RegistrarNotAuthorized, match="AccessControlUnauthorizedAccount"):
        stranger.issue(key_of("stranger"), ISSUER, digest("s"), SIGNATURE)
    assert registry.status_of(key_of("stranger")).state is CertificateState.NONE


def test_the_gas_limits_hold_for_the_longest_signature(
    registry: CertificateRegistryClient,
) -> None:
    longest = b"\x5a" * 512
    a, b = key_of("long-a"), key_of("long-b")
    registry.issue(a, ISSUER, digest("long-a"), longest)
    registry.issue(b, ISSUER, digest("long-b"), longest)
    registry.supersede(a, b, longest)
    assert registry.revoke(b, 5, 1, longest).event.signature == longest


def test_the_reasons_offered_are_the_contracts(registry: CertificateRegistryClient) -> None:
    contract = registry.client._contract()
    allowed = [r for r in range(12) if contract.functions.isAllowedReason(r).call()]
    assert allowed == [int(r) for r in CertificateRevocationReason]


def test_a_real_signature_is_checked_from_the_chain(
    registry: CertificateRegistryClient, notary: tuple[ec.EllipticCurvePrivateKey, bytes]
) -> None:
    """The institution signs the statement; the registry keeps the signature in the event; a
    verifier rebuilds the statement from the event, the chain id and the registry's address
    and checks the signature with the institution's certificate."""
    private_key, certificate = notary
    assert registry.address is not None
    k = certificate_key(f"GZS-{ISSUER}-2026000042-3")
    statement = StatusStatement.issue(
        chain_id=registry.chain_id,
        registry=registry.address,
        certificate=k,
        issuer=ISSUER,
        certificate_hash=digest("signed"),
    )
    signature = private_key.sign(statement.to_bytes(), ec.ECDSA(hashes.SHA256()))
    registry.issue(k, ISSUER, digest("signed"), signature)
    revocation = StatusStatement.revoke(
        chain_id=registry.chain_id,
        registry=registry.address,
        certificate=k,
        reason=CertificateRevocationReason.PRIVILEGE_WITHDRAWN,
        effective_time=1_780_000_000,
    )
    registry.revoke(
        k,
        9,
        1_780_000_000,
        private_key.sign(revocation.to_bytes(), ec.ECDSA(hashes.SHA256())),
    )

    issue_event, revoke_event = (h.event for h in registry.history(k))
    assert issue_event.issuer_code is not None and issue_event.certificate_hash is not None
    rebuilt = StatusStatement.issue(
        chain_id=registry.chain_id,
        registry=registry.address,
        certificate=issue_event.key,
        issuer=issue_event.issuer_code.decode("ascii"),
        certificate_hash=issue_event.certificate_hash,
    )
    signed = check_status_signature(rebuilt.to_bytes(), issue_event.signature, certificate)
    assert signed.signer_code == ISSUER
    assert revoke_event.reason_code is not None and revoke_event.effective_time is not None
    rebuilt_revocation = StatusStatement.revoke(
        chain_id=registry.chain_id,
        registry=registry.address,
        certificate=revoke_event.key,
        reason=CertificateRevocationReason(revoke_event.reason_code),
        effective_time=revoke_event.effective_time,
    )
    check_status_signature(rebuilt_revocation.to_bytes(), revoke_event.signature, certificate)
