"""LogAnchor and its RFC 6962 library on a real Ethereum node, through web3.py.

Every transaction is signed locally (eth_account) and sent raw, with explicit chain id, nonce,
gas and fees: the embedded chain accepts nothing else, and a node-managed account would hide
what a production client must do.

Proofs are built here with a deliberately naive RFC 6962 implementation (the §2.1.2 recursion,
nothing clever), independent of ``ledger.merkle``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from contracts import ContractArtifact, load_artifact
from ledger.client import make_web3
from tests.conftest import VECTORS_DIR
from tests.support.servers import allow_sender

pytestmark = pytest.mark.integration

CONSISTENCY_VECTORS_DIR = VECTORS_DIR / "consistency"

#: Number of consistency vectors in tests/assets/rfc6962 (transparency-dev/merkle testdata).
CONSISTENCY_VECTOR_COUNT = 98

#: Seconds one JSON-RPC request may take.
RPC_TIMEOUT = 30.0

#: Gas limit given to a transaction, in percent of the node's estimate.
GAS_MARGIN_PERCENT = 120

#: Seconds to wait for a transaction to be mined.
RECEIPT_TIMEOUT = 60.0

#: Ether given to each extra test account.
ACCOUNT_FUNDING = 10**18

#: Gas of a plain value transfer.
TRANSFER_GAS = 21_000

#: Gas limit for transactions sent without estimation (to see a revert happen on chain).
UNESTIMATED_GAS = 500_000

ANCHOR_ROLE = keccak(text="ANCHOR_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32
ZERO_ADDRESS = "0x" + "00" * 20


# --- Naive RFC 6962 (RFC 9162 §2.1) ------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """Largest power of two smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


#: Hash of the leaves [start, end) of a tree.
RangeHash = Callable[[int, int], bytes]


def consistency_proof(size1: int, size2: int, range_hash: RangeHash) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2, for 0 < size1 <= size2."""

    def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [range_hash(start, end)]
        k = split_point(n)
        if m <= k:
            return [*subproof(m, start, start + k, complete), range_hash(start + k, end)]
        return [*subproof(m - k, start + k, end, False), range_hash(start, start + k)]

    assert 0 < size1 <= size2
    return subproof(size1, 0, size2, True)


class LeafTree:
    """A tree over real leaf data; subtree hashes computed by the definition, memoised."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._hashes = [leaf_hash(data) for data in leaves]
        self.range_hash: RangeHash = functools.cache(self._range_hash)

    def _range_hash(self, start: int, end: int) -> bytes:
        if end - start == 1:
            return self._hashes[start]
        k = split_point(end - start)
        return node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))

    def root(self, size: int) -> bytes:
        return self.range_hash(0, size)

    def proof(self, size1: int, size2: int) -> list[bytes]:
        return consistency_proof(size1, size2, self.range_hash)


class UniformTree:
    """A tree whose leaves are all equal: a subtree's hash depends only on its size, so roots
    and proofs of trees of 10^9 leaves (or 2^63) take O(log n) hashes."""

    def __init__(self, leaf: bytes = b"zhenglian uniform leaf") -> None:
        self._leaf = leaf_hash(leaf)
        self._size_hash = functools.cache(self._size_hash_uncached)

    def _size_hash_uncached(self, size: int) -> bytes:
        if size == 1:
            return self._leaf
        k = split_point(size)
        return node_hash(self._size_hash(k), self._size_hash(size - k))

    def range_hash(self, start: int, end: int) -> bytes:
        return self._size_hash(end - start)

    def root(self, size: int) -> bytes:
        return self._size_hash(size)

    def proof(self, size1: int, size2: int) -> list[bytes]:
        return consistency_proof(size1, size2, self.range_hash)


def random_tree(size: int, seed: bytes) -> LeafTree:
    return LeafTree([hashlib.sha256(seed + i.to_bytes(8, "big")).digest() for i in range(size)])


def flip_bit(node: bytes, bit: int = 4) -> bytes:
    return bytes([node[0] ^ (1 << bit)]) + node[1:]


# --- Test vectors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsistencyVector:
    """One transparency-dev/merkle consistency case."""

    name: str
    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: tuple[bytes, ...]
    want_err: bool

    @classmethod
    def from_file(cls, path: Path) -> ConsistencyVector:
        document = json.loads(path.read_text())
        return cls(
            name=f"{path.parent.name}/{path.stem}",
            size1=int(document["size1"]),
            size2=int(document["size2"]),
            root1=base64.b64decode(document["root1"]),
            root2=base64.b64decode(document["root2"]),
            proof=tuple(base64.b64decode(node) for node in document["proof"] or ()),
            want_err=bool(document["wantErr"]),
        )


def _vector_params() -> list[Any]:
    paths = sorted(CONSISTENCY_VECTORS_DIR.glob("*/*.json"))
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in paths]


# --- Chain access --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revert:
    """A decoded custom error: its name and arguments."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Chain:
    """A real node and a funded key; every transaction is signed here and sent raw."""

    w3: Web3
    funded: LocalAccount
    chain_id: int

    def fields(self, sender: LocalAccount, gas: int) -> TxParams:
        """Every field a type-2 transaction needs, so that web3 asks the node for nothing."""
        base_fee = self.w3.eth.get_block("latest")["baseFeePerGas"]
        tip = self.w3.eth.max_priority_fee  # 0 on the embedded chain, where gas is free
        return {
            "type": 2,
            "chainId": self.chain_id,
            "from": sender.address,
            "nonce": self.w3.eth.get_transaction_count(sender.address, "pending"),
            "gas": gas,
            "maxPriorityFeePerGas": Wei(tip),
            "maxFeePerGas": Wei(2 * base_fee + tip),
        }

    def sign_and_send(self, sender: LocalAccount, tx: TxParams) -> TxReceipt:
        signed = sender.sign_transaction(cast(dict[str, Any], tx))
        try:
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError:
            # Hardhat (throwOnTransactionFailures, on by default) answers a transaction that
            # reverts with an error, yet mines it; Besu and geth just return its hash.
            if not self.was_mined(signed.hash):
                raise
        return self.w3.eth.wait_for_transaction_receipt(signed.hash, timeout=RECEIPT_TIMEOUT)

    def was_mined(self, tx_hash: HexBytes) -> bool:
        try:
            self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return False
        return True

    def send(
        self, function: ContractFunction, sender: LocalAccount, *, gas: int | None = None
    ) -> TxReceipt:
        """Call ``function`` in a transaction signed by ``sender``.

        Without ``gas`` the node estimates it first, so a revert raises (with its data) before
        anything is sent; with ``gas`` the transaction is mined whatever it does.
        """
        if gas is None:
            gas = function.estimate_gas({"from": sender.address}) * GAS_MARGIN_PERCENT // 100
        return self.sign_and_send(sender, function.build_transaction(self.fields(sender, gas)))

    def deploy(self, artifact: ContractArtifact, *args: Any) -> Contract:
        factory = self.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
        constructor = factory.constructor(*args)
        gas = constructor.estimate_gas({"from": self.funded.address}) * GAS_MARGIN_PERCENT // 100
        receipt = self.sign_and_send(
            self.funded, constructor.build_transaction(self.fields(self.funded, gas))
        )
        assert receipt["status"] == 1, receipt
        address = receipt["contractAddress"]
        assert address is not None
        return self.w3.eth.contract(address=address, abi=list(artifact.abi))

    def new_account(self, label: str) -> LocalAccount:
        """A fresh account, funded from the funded key (so the test works on any chain)."""
        account: LocalAccount = Account.from_key(keccak(text=f"zhenglian test account {label}"))
        transfer = self.fields(self.funded, TRANSFER_GAS)
        transfer["to"] = account.address
        transfer["value"] = Wei(ACCOUNT_FUNDING)
        receipt = self.sign_and_send(self.funded, transfer)
        assert receipt["status"] == 1
        allow_sender(self.w3.provider.endpoint_uri, account.address)  # type: ignore[attr-defined]
        return account


def revert_of(action: Callable[[], object], abi: Sequence[Any]) -> Revert:
    """Run ``action``, expect a revert with a custom error of ``abi``, decode it."""
    with pytest.raises(ContractLogicError) as excinfo:
        action()
    data = excinfo.value.data
    if isinstance(data, dict):  # Hardhat/EDR: {"message": ..., "data": "0x..."}
        data = data.get("data")
    assert isinstance(data, str) and data.startswith("0x"), f"no revert data: {excinfo.value!r}"
    raw = bytes.fromhex(data[2:])
    for entry in abi:
        if entry["type"] != "error":
            continue
        types = [arg["type"] for arg in entry["inputs"]]
        if keccak(text=f"{entry['name']}({','.join(types)})")[:4] == raw[:4]:
            values = abi_decode(types, raw[4:])
            return Revert(
                entry["name"],
                tuple(
                    Web3.to_checksum_address(v) if t == "address" else v
                    for t, v in zip(types, values, strict=True)
                ),
            )
    raise AssertionError(f"revert data {data} matches no error of the ABI")


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(chain_endpoint: tuple[str, str]) -> Chain:
    url, key = chain_endpoint
    w3 = make_web3(url, timeout=RPC_TIMEOUT)  # accepts PoA (Clique) extraData
    assert w3.is_connected(), f"no node at {url}"
    return Chain(w3=w3, funded=Account.from_key(key), chain_id=w3.eth.chain_id)


@pytest.fixture(scope="module")
def artifact() -> ContractArtifact:
    return load_artifact("LogAnchor")


@pytest.fixture(scope="module")
def checker(chain: Chain, artifact: ContractArtifact) -> Contract:
    """One LogAnchor deployment for the pure ``verifyConsistency`` calls."""
    return chain.deploy(artifact, ZERO_ADDRESS, ZERO_ADDRESS)


@pytest.fixture
def log_anchor(chain: Chain, artifact: ContractArtifact) -> Contract:
    """A fresh LogAnchor; the funded key is both admin and anchorer."""
    return chain.deploy(artifact, chain.funded.address, chain.funded.address)


# --- verifyConsistency: the transparency-dev vectors ---------------------------------------------


def test_all_consistency_vectors_are_present() -> None:
    assert len(list(CONSISTENCY_VECTORS_DIR.glob("*/*.json"))) == CONSISTENCY_VECTOR_COUNT


@pytest.mark.parametrize("vector_path", _vector_params())
def test_consistency_vector(checker: Contract, vector_path: Path) -> None:
    v = ConsistencyVector.from_file(vector_path)
    valid = checker.functions.verifyConsistency(
        v.size1, v.size2, v.root1, v.root2, list(v.proof)
    ).call()
    assert valid is (not v.want_err), v


def test_verify_consistency_accepts_every_real_proof_up_to_17(checker: Contract) -> None:
    tree = random_tree(17, b"all pairs")
    for size2 in range(1, 18):
        for size1 in range(1, size2 + 1):
            proof = tree.proof(size1, size2)
            root1, root2 = tree.root(size1), tree.root(size2)
            verify = checker.functions.verifyConsistency
            assert verify(size1, size2, root1, root2, proof).call(), (size1, size2)
            if proof:
                wrong = [*proof[:-1], flip_bit(proof[-1])]
                assert not verify(size1, size2, root1, root2, wrong).call(), (size1, size2)
                assert not verify(size1, size2, root1, root2, proof[:-1]).call(), (size1, size2)


@pytest.mark.parametrize("size2", [10**9, 2**63 + 12345, 2**64 - 1])
def test_verify_consistency_on_huge_uniform_trees(checker: Contract, size2: int) -> None:
    tree = UniformTree()
    size1 = size2 - 1234
    proof = tree.proof(size1, size2)
    verify = checker.functions.verifyConsistency
    assert verify(size1, size2, tree.root(size1), tree.root(size2), proof).call()
    assert not verify(size1, size2, tree.root(size1), tree.root(size2 - 1), proof).call()


def test_verify_consistency_rejects_sizes_beyond_uint64(checker: Contract) -> None:
    root = leaf_hash(b"x")
    verify = checker.functions.verifyConsistency
    assert verify(2**64 - 1, 2**64 - 1, root, root, []).call()
    assert not verify(2**64, 2**64, root, root, []).call()
    assert not verify(2**64 + 1, 2**64 + 1, root, root, []).call()


# --- anchor: the rules ---------------------------------------------------------------------------


def test_reads_before_any_head(log_anchor: Contract) -> None:
    abi = log_anchor.abi
    assert log_anchor.functions.headCount().call() == 0
    assert revert_of(log_anchor.functions.latestHead().call, abi) == Revert("NoHeads", ())
    assert revert_of(log_anchor.functions.headAt(0).call, abi) == Revert(
        "HeadIndexOutOfRange", (0, 0)
    )


def test_constructor_grants_roles(chain: Chain, log_anchor: Contract) -> None:
    has_role = log_anchor.functions.hasRole
    assert log_anchor.functions.ANCHOR_ROLE().call() == ANCHOR_ROLE
    assert has_role(DEFAULT_ADMIN_ROLE, chain.funded.address).call()
    assert has_role(ANCHOR_ROLE, chain.funded.address).call()


def test_constructor_skips_zero_addresses(chain: Chain, checker: Contract) -> None:
    assert not checker.functions.hasRole(DEFAULT_ADMIN_ROLE, ZERO_ADDRESS).call()
    assert not checker.functions.hasRole(ANCHOR_ROLE, ZERO_ADDRESS).call()
    assert revert_of(
        lambda: checker.functions.anchor(1, leaf_hash(b"a"), []).call(
            {"from": chain.funded.address}
        ),
        checker.abi,
    ) == Revert("AccessControlUnauthorizedAccount", (chain.funded.address, ANCHOR_ROLE))


def test_first_head(chain: Chain, log_anchor: Contract) -> None:
    tree = random_tree(5, b"first head")
    me: TxParams = {"from": chain.funded.address}
    anchor = log_anchor.functions.anchor
    abi = log_anchor.abi

    assert revert_of(lambda: anchor(0, tree.root(1), []).call(me), abi) == Revert(
        "EmptyTreeHead", ()
    )
    assert revert_of(lambda: anchor(5, tree.root(5), [tree.root(1)]).call(me), abi) == Revert(
        "ProofForFirstHead", (1,)
    )
    assert anchor(5, tree.root(5), []).call(me) == 0

    receipt = chain.send(anchor(5, tree.root(5), []), chain.funded)
    assert receipt["status"] == 1
    (event,) = log_anchor.events.TreeHeadAnchored().process_receipt(receipt)
    assert dict(event["args"]) == {
        "index": 0,
        "treeSize": 5,
        "rootHash": tree.root(5),
        "anchorer": chain.funded.address,
    }
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    head = (5, tree.root(5), block["timestamp"], receipt["blockNumber"])
    assert log_anchor.functions.headCount().call() == 1
    assert log_anchor.functions.headAt(0).call() == head
    assert log_anchor.functions.latestHead().call() == head
    assert revert_of(log_anchor.functions.headAt(1).call, abi) == Revert(
        "HeadIndexOutOfRange", (1, 1)
    )


def test_event_signature_and_topics(chain: Chain, log_anchor: Contract) -> None:
    root = leaf_hash(b"only leaf")
    receipt = chain.send(log_anchor.functions.anchor(1, root, []), chain.funded)
    (log,) = receipt["logs"]
    topic0 = keccak(text="TreeHeadAnchored(uint256,uint64,bytes32,address)")
    assert log["topics"][0] == topic0
    assert log["topics"][1] == (0).to_bytes(32, "big")
    assert log["topics"][2] == bytes(12) + bytes.fromhex(chain.funded.address[2:])
    assert log["data"] == (1).to_bytes(32, "big") + root


def test_growing_log_with_real_proofs(chain: Chain, log_anchor: Contract) -> None:
    tree = random_tree(100, b"growing log")
    sizes = [1, 2, 3, 7, 8, 13, 64, 65, 100]
    previous: int | None = None
    for index, size in enumerate(sizes):
        proof = [] if previous is None else tree.proof(previous, size)
        receipt = chain.send(
            log_anchor.functions.anchor(size, tree.root(size), proof), chain.funded
        )
        assert receipt["status"] == 1
        (event,) = log_anchor.events.TreeHeadAnchored().process_receipt(receipt)
        assert (event["args"]["index"], event["args"]["treeSize"]) == (index, size)
        assert event["args"]["rootHash"] == tree.root(size)
        previous = size
    assert log_anchor.functions.headCount().call() == len(sizes)
    for index, size in enumerate(sizes):
        assert log_anchor.functions.headAt(index).call()[:2] == (size, tree.root(size))
    assert log_anchor.functions.latestHead().call()[:2] == (100, tree.root(100))


def test_tampered_proofs_revert(chain: Chain, log_anchor: Contract) -> None:
    tree = random_tree(13, b"tampered")
    me: TxParams = {"from": chain.funded.address}
    anchor = log_anchor.functions.anchor
    abi = log_anchor.abi
    assert chain.send(anchor(6, tree.root(6), []), chain.funded)["status"] == 1
    proof = tree.proof(6, 13)
    assert len(proof) == 4  # subtree [4, 6), then siblings at levels 1, 2, 3

    # A flipped bit in the first node: root1 recomputed from the proof no longer matches.
    bad = [flip_bit(proof[0]), *proof[1:]]
    revert = revert_of(lambda: anchor(13, tree.root(13), bad).call(me), abi)
    assert revert.name == "RootMismatch"
    assert revert.args[0] == tree.root(6)
    assert revert.args[1] != tree.root(6)

    # A right-hand node only feeds root2: the claimed root2 is what does not match.
    bad = [*proof[:-1], flip_bit(proof[-1])]
    revert = revert_of(lambda: anchor(13, tree.root(13), bad).call(me), abi)
    assert revert.name == "RootMismatch"
    assert revert.args[0] == tree.root(13)

    # A root2 that is not the tree's: the proof computes the real one.
    assert revert_of(lambda: anchor(13, tree.root(12), proof).call(me), abi) == Revert(
        "RootMismatch", (tree.root(12), tree.root(13))
    )
    # Wrong shapes: truncated, padded, and the proof of another size.
    assert revert_of(lambda: anchor(13, tree.root(13), proof[:-1]).call(me), abi) == Revert(
        "ConsistencyProofShape", (6, 13, 3, 4)
    )
    assert revert_of(lambda: anchor(13, tree.root(13), [*proof, proof[0]]).call(me), abi) == Revert(
        "ConsistencyProofShape", (6, 13, 5, 4)
    )
    assert revert_of(lambda: anchor(8, tree.root(8), proof).call(me), abi) == Revert(
        "ConsistencyProofShape", (6, 8, 4, 3)
    )

    # Sent for real (no estimation), the transaction is mined, fails, and changes nothing.
    receipt = chain.send(
        anchor(13, tree.root(13), [flip_bit(proof[0]), *proof[1:]]),
        chain.funded,
        gas=UNESTIMATED_GAS,
    )
    assert receipt["status"] == 0
    assert log_anchor.functions.headCount().call() == 1
    assert chain.send(anchor(13, tree.root(13), proof), chain.funded)["status"] == 1


def test_head_must_be_larger(chain: Chain, log_anchor: Contract) -> None:
    tree = random_tree(9, b"not larger")
    me: TxParams = {"from": chain.funded.address}
    anchor = log_anchor.functions.anchor
    abi = log_anchor.abi
    assert chain.send(anchor(9, tree.root(9), []), chain.funded)["status"] == 1
    # The same head again: refused, so no head is ever anchored twice.
    assert revert_of(lambda: anchor(9, tree.root(9), []).call(me), abi) == Revert(
        "HeadNotLarger", (9, 9)
    )
    assert revert_of(lambda: anchor(8, tree.root(8), []).call(me), abi) == Revert(
        "HeadNotLarger", (9, 8)
    )
    assert revert_of(lambda: anchor(0, tree.root(1), []).call(me), abi) == Revert(
        "HeadNotLarger", (9, 0)
    )
    assert log_anchor.functions.headCount().call() == 1


def test_non_anchorer_is_refused(chain: Chain, log_anchor: Contract) -> None:
    stranger = chain.new_account("stranger")
    root = leaf_hash(b"x")
    revert = revert_of(
        lambda: log_anchor.functions.anchor(1, root, []).call({"from": stranger.address}),
        log_anchor.abi,
    )
    assert revert == Revert("AccessControlUnauthorizedAccount", (stranger.address, ANCHOR_ROLE))
    receipt = chain.send(log_anchor.functions.anchor(1, root, []), stranger, gas=UNESTIMATED_GAS)
    assert receipt["status"] == 0
    assert log_anchor.functions.headCount().call() == 0


def test_admin_grants_and_revokes_anchor_role(chain: Chain, log_anchor: Contract) -> None:
    other = chain.new_account("other anchorer")
    tree = random_tree(4, b"roles")
    functions = log_anchor.functions
    abi = log_anchor.abi

    # Only the admin may grant.
    assert revert_of(
        lambda: functions.grantRole(ANCHOR_ROLE, other.address).call({"from": other.address}),
        abi,
    ) == Revert("AccessControlUnauthorizedAccount", (other.address, DEFAULT_ADMIN_ROLE))

    assert chain.send(functions.grantRole(ANCHOR_ROLE, other.address), chain.funded)["status"]
    assert functions.hasRole(ANCHOR_ROLE, other.address).call()
    receipt = chain.send(functions.anchor(2, tree.root(2), []), other)
    (event,) = log_anchor.events.TreeHeadAnchored().process_receipt(receipt)
    assert event["args"]["anchorer"] == other.address

    assert chain.send(functions.revokeRole(ANCHOR_ROLE, other.address), chain.funded)["status"]
    assert not functions.hasRole(ANCHOR_ROLE, other.address).call()
    assert revert_of(
        lambda: functions.anchor(4, tree.root(4), tree.proof(2, 4)).call({"from": other.address}),
        abi,
    ) == Revert("AccessControlUnauthorizedAccount", (other.address, ANCHOR_ROLE))
    # The admin's own role is untouched.
    assert chain.send(functions.anchor(4, tree.root(4), tree.proof(2, 4)), chain.funded)["status"]


# --- Gas ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GasSample:
    size1: int
    size2: int
    proof_length: int
    first_anchor_gas: int
    anchor_gas: int
    verify_gas: int


def measure_anchor_gas(
    chain: Chain,
    artifact: ContractArtifact,
    pairs: Sequence[tuple[int, int]],
    *,
    show: Callable[[str], None] = print,
) -> list[GasSample]:
    """Gas of ``anchor`` (receipt gasUsed) for a head extending another by a real proof.

    Uses uniform trees, whose roots and proofs are real and valid at any size. Each sample
    deploys a contract, anchors (size1, root1) as first head (``first_anchor_gas``), then anchors
    (size2, root2): the second anchor is the steady-state cost (array length already non-zero).
    ``verify_gas`` is eth_estimateGas of the pure ``verifyConsistency`` for the same proof (a
    transaction's cost: it includes the 21000 base and the calldata).
    """
    tree = UniformTree()
    samples = []
    show(
        f"{'size1':>12} {'size2':>12} {'nodes':>5} {'1st anchor':>10} {'anchor':>10} {'verify':>10}"
    )
    for size1, size2 in pairs:
        contract = chain.deploy(artifact, chain.funded.address, chain.funded.address)
        anchor = contract.functions.anchor
        proof = tree.proof(size1, size2)
        first = chain.send(anchor(size1, tree.root(size1), []), chain.funded)
        assert first["status"] == 1
        receipt = chain.send(anchor(size2, tree.root(size2), proof), chain.funded)
        assert receipt["status"] == 1
        verify = contract.functions.verifyConsistency(
            size1, size2, tree.root(size1), tree.root(size2), proof
        )
        assert verify.call()
        verify_gas = verify.estimate_gas({"from": chain.funded.address})
        sample = GasSample(
            size1, size2, len(proof), first["gasUsed"], receipt["gasUsed"], verify_gas
        )
        samples.append(sample)
        show(
            f"{size1:>12} {size2:>12} {sample.proof_length:>5} {sample.first_anchor_gas:>10} "
            f"{sample.anchor_gas:>10} {sample.verify_gas:>10}"
        )
    return samples


#: Head pairs measured: grown by 1, 100 and 10^4 leaves up to about 10^3, 10^6 and 10^9 leaves.
GAS_PAIRS = [
    (size2 - grown, size2)
    for size2 in (1_000, 1_000_000, 1_000_000_000)
    for grown in (1, 100, 10_000)
    if grown < size2
]


def test_anchor_gas(chain: Chain, artifact: ContractArtifact) -> None:
    samples = measure_anchor_gas(chain, artifact, GAS_PAIRS)
    assert all(s.anchor_gas < 200_000 for s in samples), samples
