"""CertificateRegistry on a real Ethereum node (the embedded chain and Hardhat), through web3.py.

Every transition and every refusal of the state machine, the events (byte-exact topics and
data), who may write, the signature bounds, and the gas of each change. Transactions are
signed locally and sent raw, as in test_log_anchor_contract.py (whose chain helpers this
reuses); refusals are shown with eth_call and, for the writer check, mined as well.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.types import TxParams

from contracts import ContractArtifact, load_artifact
from tests.integration.test_log_anchor_contract import (
    DEFAULT_ADMIN_ROLE,
    RPC_TIMEOUT,
    UNESTIMATED_GAS,
    ZERO_ADDRESS,
    Chain,
    Revert,
    revert_of,
)

pytestmark = pytest.mark.integration

REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")

#: The state enum's values, frozen.
NONE, ISSUED, REVOKED, SUPERSEDED = 0, 1, 2, 3

#: RFC 5280 CRLReason codes a revocation may carry, and those it may not.
ALLOWED_REASONS = (0, 1, 2, 3, 5, 9)
REFUSED_REASONS = (4, 6, 7, 8, 10, 11, 255)

MAX_SIGNATURE_LENGTH = 512

#: A DER ECDSA P-256 signature is 70-72 bytes; the gas is measured with the longest.
SIGNATURE = bytes(range(0x30, 0x30 + 72))

ISSUER = b"31110000MD0000001M"  # 18 ASCII characters, the shape of a 统一社会信用代码
CERTIFICATE_HASH = hashlib.sha256(b"canonical certificate").digest()

#: Gas bounds the changes must stay under (measured values are printed and in the docs).
ISSUE_GAS_BOUND = 130_000
REVOKE_GAS_BOUND = 60_000
SUPERSEDE_GAS_BOUND = 80_000

ISSUED_EVENT = "CertificateIssued(bytes32,bytes18,bytes32,bytes,address)"
REVOKED_EVENT = "CertificateRevoked(bytes32,uint8,uint64,bytes,address)"
SUPERSEDED_EVENT = "CertificateSuperseded(bytes32,bytes32,bytes,address)"


def certificate_id(identifier: str) -> bytes:
    """The registry key: SHA-256 of the identifier's UTF-8 bytes."""
    return hashlib.sha256(identifier.encode()).digest()


@dataclass(frozen=True)
class Registry:
    contract: Contract
    chain: Chain

    @property
    def abi(self) -> Any:
        return self.contract.abi

    def status(self, key: bytes) -> tuple[Any, ...]:
        return tuple(self.contract.functions.statusOf(key).call())

    def issue(self, key: bytes, *, signature: bytes = SIGNATURE) -> Any:
        fn = self.contract.functions.issue(key, ISSUER, CERTIFICATE_HASH, signature)
        return self.chain.send(fn, self.chain.funded)

    def revoke(self, key: bytes, reason: int = 1, effective: int = 1_700_000_000) -> Any:
        fn = self.contract.functions.revoke(key, reason, effective, SIGNATURE)
        return self.chain.send(fn, self.chain.funded)

    def supersede(self, key: bytes, successor: bytes) -> Any:
        fn = self.contract.functions.supersede(key, successor, SIGNATURE)
        return self.chain.send(fn, self.chain.funded)

    def refusal(self, fn: Any) -> Revert:
        me: TxParams = {"from": self.chain.funded.address}
        return revert_of(lambda: fn.call(me), self.abi)


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(chain_endpoint: tuple[str, str]) -> Chain:
    from eth_account import Account

    from ledger.client import make_web3

    url, key = chain_endpoint
    w3 = make_web3(url, timeout=RPC_TIMEOUT)
    assert w3.is_connected(), f"no node at {url}"
    return Chain(w3=w3, funded=Account.from_key(key), chain_id=w3.eth.chain_id)


@pytest.fixture(scope="module")
def artifact() -> ContractArtifact:
    return load_artifact("CertificateRegistry")


@pytest.fixture(scope="module")
def registry(chain: Chain, artifact: ContractArtifact) -> Registry:
    """One registry for the module (each test uses identifiers of its own); the funded key is
    admin and registrar."""
    return Registry(chain.deploy(artifact, chain.funded.address, chain.funded.address), chain)


# --- Roles ---------------------------------------------------------------------------------------


def test_constructor_grants_roles(chain: Chain, registry: Registry) -> None:
    functions = registry.contract.functions
    assert functions.REGISTRAR_ROLE().call() == REGISTRAR_ROLE
    assert functions.MAX_SIGNATURE_LENGTH().call() == MAX_SIGNATURE_LENGTH
    assert functions.hasRole(DEFAULT_ADMIN_ROLE, chain.funded.address).call()
    assert functions.hasRole(REGISTRAR_ROLE, chain.funded.address).call()


def test_constructor_skips_zero_addresses(chain: Chain, artifact: ContractArtifact) -> None:
    fixed = chain.deploy(artifact, ZERO_ADDRESS, ZERO_ADDRESS)
    assert not fixed.functions.hasRole(DEFAULT_ADMIN_ROLE, ZERO_ADDRESS).call()
    key = certificate_id("zero-roles")
    assert revert_of(
        lambda: fixed.functions.issue(key, ISSUER, CERTIFICATE_HASH, SIGNATURE).call(
            {"from": chain.funded.address}
        ),
        fixed.abi,
    ) == Revert("AccessControlUnauthorizedAccount", (chain.funded.address, REGISTRAR_ROLE))


def test_a_non_registrar_is_refused_and_changes_nothing(chain: Chain, registry: Registry) -> None:
    stranger = chain.new_account("certificate stranger")
    functions = registry.contract.functions
    issued, fresh = certificate_id("stranger-issued"), certificate_id("stranger-fresh")
    registry.issue(issued)
    successor = certificate_id("stranger-successor")
    registry.issue(successor)
    unauthorized = Revert("AccessControlUnauthorizedAccount", (stranger.address, REGISTRAR_ROLE))
    for fn in (
        functions.issue(fresh, ISSUER, CERTIFICATE_HASH, SIGNATURE),
        functions.revoke(issued, 1, 1_700_000_000, SIGNATURE),
        functions.supersede(issued, successor, SIGNATURE),
    ):
        assert revert_of(lambda fn=fn: fn.call({"from": stranger.address}), registry.abi) == (
            unauthorized
        )
        receipt = chain.send(fn, stranger, gas=UNESTIMATED_GAS)  # mined, and reverted
        assert receipt["status"] == 0
    assert registry.status(fresh)[0] == NONE
    assert registry.status(issued)[0] == ISSUED


def test_the_admin_hands_the_registrar_role_over(chain: Chain, registry: Registry) -> None:
    """As for LogAnchor: the admin grants the role to a new service account and revokes it
    from the old one; the admin role itself is handed over the same way."""
    successor_account = chain.new_account("next registrar")
    functions = registry.contract.functions
    key = certificate_id("handover")
    assert revert_of(
        lambda: functions.grantRole(REGISTRAR_ROLE, successor_account.address).call(
            {"from": successor_account.address}
        ),
        registry.abi,
    ) == Revert("AccessControlUnauthorizedAccount", (successor_account.address, DEFAULT_ADMIN_ROLE))
    assert chain.send(functions.grantRole(REGISTRAR_ROLE, successor_account.address), chain.funded)[
        "status"
    ]
    receipt = chain.send(
        functions.issue(key, ISSUER, CERTIFICATE_HASH, SIGNATURE), successor_account
    )
    (event,) = registry.contract.events.CertificateIssued().process_receipt(receipt)
    assert event["args"]["registrar"] == successor_account.address
    assert chain.send(
        functions.revokeRole(REGISTRAR_ROLE, successor_account.address), chain.funded
    )["status"]
    assert revert_of(
        lambda: functions.revoke(key, 1, 1, SIGNATURE).call({"from": successor_account.address}),
        registry.abi,
    ) == Revert("AccessControlUnauthorizedAccount", (successor_account.address, REGISTRAR_ROLE))


# --- Transitions ---------------------------------------------------------------------------------


def test_issue(chain: Chain, registry: Registry) -> None:
    key = certificate_id("GZS-31110000MD0000001M-000001-7")
    assert registry.status(key) == (NONE, 0, bytes(18), 0, bytes(32), bytes(32), 0, 0, 0, 0)
    receipt = registry.issue(key)
    assert receipt["status"] == 1
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    assert registry.status(key) == (
        ISSUED,
        0,
        ISSUER,
        0,
        CERTIFICATE_HASH,
        bytes(32),
        block["timestamp"],
        receipt["blockNumber"],
        0,
        0,
    )
    (log,) = receipt["logs"]
    assert log["topics"] == [
        keccak(text=ISSUED_EVENT),
        key,
        ISSUER + bytes(14),
        bytes(12) + bytes.fromhex(chain.funded.address[2:]),
    ]
    assert log["data"] == abi_encode(["bytes32", "bytes"], [CERTIFICATE_HASH, SIGNATURE])


def test_revoke(chain: Chain, registry: Registry) -> None:
    key = certificate_id("revoke-me")
    issued = registry.issue(key)
    receipt = registry.revoke(key, reason=1, effective=1_650_000_000)
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    assert registry.status(key) == (
        REVOKED,
        1,
        ISSUER,
        1_650_000_000,
        CERTIFICATE_HASH,
        bytes(32),
        chain.w3.eth.get_block(issued["blockNumber"])["timestamp"],
        issued["blockNumber"],
        block["timestamp"],
        receipt["blockNumber"],
    )
    (log,) = receipt["logs"]
    assert log["topics"] == [
        keccak(text=REVOKED_EVENT),
        key,
        bytes(12) + bytes.fromhex(chain.funded.address[2:]),
    ]
    assert log["data"] == abi_encode(["uint8", "uint64", "bytes"], [1, 1_650_000_000, SIGNATURE])


def test_supersede(chain: Chain, registry: Registry) -> None:
    old, new = certificate_id("old edition"), certificate_id("new edition")
    registry.issue(old)
    registry.issue(new)
    receipt = registry.supersede(old, new)
    status = registry.status(old)
    assert status[0] == SUPERSEDED and status[5] == new and status[9] == receipt["blockNumber"]
    assert status[1] == 0 and status[3] == 0  # no reason, no effective time
    assert registry.status(new)[0] == ISSUED
    (log,) = receipt["logs"]
    assert log["topics"] == [
        keccak(text=SUPERSEDED_EVENT),
        old,
        new,
        bytes(12) + bytes.fromhex(chain.funded.address[2:]),
    ]
    assert log["data"] == abi_encode(["bytes"], [SIGNATURE])
    # The successor lives on: it can be superseded or revoked in turn.
    newest = certificate_id("newest edition")
    registry.issue(newest)
    assert registry.supersede(new, newest)["status"] == 1


# --- Refusals ------------------------------------------------------------------------------------


def test_an_identifier_is_registered_once_ever(registry: Registry) -> None:
    functions = registry.contract.functions
    issued, revoked, superseded, successor = (
        certificate_id(f"once-{name}") for name in ("issued", "revoked", "superseded", "next")
    )
    for key in (issued, revoked, superseded, successor):
        registry.issue(key)
    registry.revoke(revoked)
    registry.supersede(superseded, successor)
    for key, state in ((issued, ISSUED), (revoked, REVOKED), (superseded, SUPERSEDED)):
        other_hash = hashlib.sha256(b"another certificate").digest()
        assert registry.refusal(functions.issue(key, ISSUER, other_hash, SIGNATURE)) == Revert(
            "AlreadyRegistered", (key, state)
        )


def test_final_states_stay_final(registry: Registry) -> None:
    """No un-revoke: a revoked or superseded certificate is neither revoked, superseded nor
    issued again (the last in the test above), and removeFromCRL is not a reason."""
    functions = registry.contract.functions
    revoked, superseded, successor, spare = (
        certificate_id(f"final-{name}") for name in ("revoked", "superseded", "next", "spare")
    )
    for key in (revoked, superseded, successor, spare):
        registry.issue(key)
    registry.revoke(revoked, reason=9)
    registry.supersede(superseded, successor)
    for key, state in ((revoked, REVOKED), (superseded, SUPERSEDED)):
        final = Revert("StatusIsFinal", (key, state))
        assert registry.refusal(functions.revoke(key, 1, 1, SIGNATURE)) == final
        assert registry.refusal(functions.supersede(key, spare, SIGNATURE)) == final
    assert registry.refusal(functions.revoke(spare, 8, 1, SIGNATURE)) == Revert(
        "ReasonNotAllowed", (8,)
    )
    assert registry.status(revoked)[:2] == (REVOKED, 9)


def test_changes_of_an_unknown_certificate(registry: Registry) -> None:
    functions = registry.contract.functions
    unknown, successor = certificate_id("never issued"), certificate_id("unknown-successor")
    registry.issue(successor)
    assert registry.refusal(functions.revoke(unknown, 0, 1, SIGNATURE)) == Revert(
        "UnknownCertificate", (unknown,)
    )
    assert registry.refusal(functions.supersede(unknown, successor, SIGNATURE)) == Revert(
        "UnknownCertificate", (unknown,)
    )


def test_the_successor_must_be_issued(registry: Registry) -> None:
    functions = registry.contract.functions
    key, unissued, revoked, superseded, newest = (
        certificate_id(f"succ-{name}")
        for name in ("key", "unissued", "revoked", "superseded", "newest")
    )
    for each in (key, revoked, superseded, newest):
        registry.issue(each)
    registry.revoke(revoked)
    registry.supersede(superseded, newest)
    for successor, state in ((unissued, NONE), (revoked, REVOKED), (superseded, SUPERSEDED)):
        assert registry.refusal(functions.supersede(key, successor, SIGNATURE)) == Revert(
            "SuccessorNotIssued", (successor, state)
        )
    assert registry.refusal(functions.supersede(key, key, SIGNATURE)) == Revert(
        "SelfSuccessor", (key,)
    )
    assert registry.status(key)[0] == ISSUED


@pytest.mark.parametrize("reason", REFUSED_REASONS)
def test_refused_reason_codes(registry: Registry, reason: int) -> None:
    functions = registry.contract.functions
    assert functions.isAllowedReason(reason).call() is False
    key = certificate_id("reasons")  # not even issued: the reason is checked first
    assert registry.refusal(functions.revoke(key, reason, 1, SIGNATURE)) == Revert(
        "ReasonNotAllowed", (reason,)
    )


def test_allowed_reason_codes(registry: Registry) -> None:
    functions = registry.contract.functions
    candidates = [*range(12), 255]
    assert [r for r in candidates if functions.isAllowedReason(r).call()] == list(ALLOWED_REASONS)
    key = certificate_id("allowed reasons")
    registry.issue(key)
    for reason in ALLOWED_REASONS:  # each would be accepted
        functions.revoke(key, reason, 1, SIGNATURE).call({"from": registry.chain.funded.address})


def test_zero_values_are_refused(registry: Registry) -> None:
    functions = registry.contract.functions
    key = certificate_id("zeroes")
    registry.issue(key)
    assert registry.refusal(
        functions.issue(bytes(32), ISSUER, CERTIFICATE_HASH, SIGNATURE)
    ) == Revert("ZeroIdentifier", ())
    other = certificate_id("zeroes-2")
    assert registry.refusal(
        functions.issue(other, bytes(18), CERTIFICATE_HASH, SIGNATURE)
    ) == Revert("ZeroIssuerCode", ())
    assert registry.refusal(functions.issue(other, ISSUER, bytes(32), SIGNATURE)) == Revert(
        "ZeroCertificateHash", ()
    )
    assert registry.refusal(functions.revoke(key, 1, 0, SIGNATURE)) == Revert(
        "ZeroEffectiveTime", ()
    )


def test_signature_length_bounds(registry: Registry) -> None:
    functions = registry.contract.functions
    key, successor = certificate_id("sig-bounds"), certificate_id("sig-bounds-next")
    for bad in (b"", bytes(MAX_SIGNATURE_LENGTH + 1)):
        refused = Revert("SignatureLength", (len(bad), MAX_SIGNATURE_LENGTH))
        assert registry.refusal(functions.issue(key, ISSUER, CERTIFICATE_HASH, bad)) == refused
    registry.issue(key, signature=b"\x01" * MAX_SIGNATURE_LENGTH)
    registry.issue(successor)
    for bad in (b"", bytes(MAX_SIGNATURE_LENGTH + 1)):
        refused = Revert("SignatureLength", (len(bad), MAX_SIGNATURE_LENGTH))
        assert registry.refusal(functions.revoke(key, 1, 1, bad)) == refused
        assert registry.refusal(functions.supersede(key, successor, bad)) == refused


# --- Gas -----------------------------------------------------------------------------------------


def test_gas(chain: Chain, registry: Registry) -> None:
    """Gas of each change with a 72-byte signature and with the longest one (receipt gasUsed:
    what a transaction costs, the 21,000 base and the calldata included); the client's fixed
    gas limits (ledger.certificate_registry) must cover the longest."""
    from ledger.certificate_registry import ISSUE_GAS, REVOKE_GAS, SUPERSEDE_GAS

    for signature in (SIGNATURE, b"\x5a" * MAX_SIGNATURE_LENGTH):
        a, b, c = (certificate_id(f"gas-{n}-{len(signature)}") for n in "abc")
        functions = registry.contract.functions
        issue = chain.send(functions.issue(a, ISSUER, CERTIFICATE_HASH, signature), chain.funded)[
            "gasUsed"
        ]
        registry.issue(b)
        registry.issue(c)
        revoke = chain.send(functions.revoke(a, 1, 1_700_000_000, signature), chain.funded)[
            "gasUsed"
        ]
        supersede = chain.send(functions.supersede(b, c, signature), chain.funded)["gasUsed"]
        print(
            f"CertificateRegistry gas, {len(signature)}-byte signature: issue {issue}, "
            f"revoke {revoke}, supersede {supersede}"
        )
        assert issue < ISSUE_GAS and revoke < REVOKE_GAS and supersede < SUPERSEDE_GAS
        if signature == SIGNATURE:
            assert issue < ISSUE_GAS_BOUND
            assert revoke < REVOKE_GAS_BOUND
            assert supersede < SUPERSEDE_GAS_BOUND
