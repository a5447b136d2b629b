"""Offline verification: the committed vectors behave as labelled, every check is reported,
"altered" is told apart from "receipt invalid", trust is explicit, the module stays pure."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.errors
from evidence.digest import DocumentDigest, digest_stream
from evidence.formats.log_entry import new_entry
from evidence.formats.receipt_format import Receipt, ReceiptError
from evidence.verify.receipt_verifier import (
    CHECK_ANCHOR_PROOF,
    CHECK_DOCUMENT_DIGEST,
    CHECK_INCLUSION_PROOF,
    CHECK_LEAF_HASH,
    CHECK_LEAF_INDEX,
    CHECK_TREE_HEAD,
    Check,
    DigestMismatchError,
    DocumentAltered,
    DocumentDigestError,
    ReceiptInvalid,
    TreeHeadMismatchError,
    VerificationFailed,
    VerificationResult,
    verify_receipt,
)
from ledger.anchor_proof import AnchorProof, ChainTrust
from ledger.errors import RootMismatchError
from ledger.merkle import MerkleLog

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "assets" / "receipts"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "cases.json").read_text())
CASES = {case["name"]: case for case in MANIFEST["cases"]}
ALL_CHECKS = [
    CHECK_DOCUMENT_DIGEST,
    CHECK_LEAF_HASH,
    CHECK_LEAF_INDEX,
    CHECK_INCLUSION_PROOF,
    CHECK_ANCHOR_PROOF,
    CHECK_TREE_HEAD,
]
#: Error classes a vector may name as the cause of a failed check.
CAUSES = {
    "DigestMismatchError": DigestMismatchError,
    "TreeHeadMismatchError": TreeHeadMismatchError,
    **{name: getattr(ledger.errors, name) for name in ledger.errors.__dict__ if name[0].isupper()},
}


def _address(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


TRUST_JSON = MANIFEST["trust"]
TRUST = ChainTrust.sealed(
    TRUST_JSON["chainId"],
    [_address(v) for v in TRUST_JSON["validators"]],
    contract=_address(TRUST_JSON["contract"]),
)


def document(name: str) -> DocumentDigest:
    """The digest of a vector document, computed here from its text (not read from the file)."""
    doc = MANIFEST["documents"][name]
    digest = digest_stream([doc["text"].encode()])
    assert (digest.sha256.hex(), digest.sm3.hex(), digest.size) == (
        doc["sha256"],
        doc["sm3"],
        doc["size"],
    )
    return digest


def receipt(name: str) -> Receipt:
    return Receipt.from_json_bytes((VECTORS / CASES[name]["receipt"]).read_bytes())


VALID = receipt("valid")
DEPOSITED = document("deposited")


# --- The committed vectors ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c["stage"] != "parse"))
def test_vectors_verify_or_fail_as_labelled(name: str) -> None:
    case = CASES[name]
    parsed = receipt(name)
    doc = document(case["document"])
    if not case["wantErr"]:
        result = verify_receipt(parsed, doc, TRUST)
        assert [c.name for c in result.checks] == ALL_CHECKS
        assert all(c.ok for c in result.checks)
        return
    with pytest.raises(VerificationFailed) as caught:
        verify_receipt(parsed, doc, TRUST)
    failure = caught.value
    assert type(failure).__name__ == case["error"]
    failed = {check.name: type(failure.causes[check.name]).__name__ for check in failure.failed}
    assert failed == case["failedChecks"]
    for check_name, cause in case["failedChecks"].items():
        assert isinstance(failure.causes[check_name], CAUSES[cause])
    assert [c.name for c in failure.checks][:5] == ALL_CHECKS[:5]
    assert str(failure) == "; ".join(f"{c.name}: {c.detail}" for c in failure.failed)


def test_valid_vector_reports_what_it_proves() -> None:
    want = CASES["valid"]["want"]
    result = verify_receipt(VALID, DEPOSITED, TRUST)
    assert isinstance(result, VerificationResult)
    assert result.document_id == want["documentId"]
    assert result.entry == VALID.entry
    assert (result.institution, result.kind, result.case_code) == (
        want["institution"],
        want["kind"],
        want["caseCode"],
    )
    assert result.deposited_at == datetime(2024, 5, 31, 23, 57, 35, tzinfo=UTC)
    assert want["depositedAt"] == "2024-05-31T23:57:35Z"
    assert (result.leaf_index, result.tree_size) == (want["leafIndex"], want["treeSize"])
    assert result.root_hash.hex() == want["rootHash"]
    assert result.chain_id == want["chainId"]
    assert "0x" + result.contract.hex() == want["contract"]
    assert "0x" + result.tx_hash.hex() == want["txHash"]
    assert result.block_number == want["blockNumber"]
    assert result.block_time == datetime(2024, 6, 1, tzinfo=UTC) == VALID.block_time
    assert result.anchor_index == want["anchorIndex"]
    assert result.seal.is_sealed and result.sealed_by is not None
    assert "0x" + result.sealed_by.hex() == want["sealSigner"]
    assert result.seal_description == f"sealed by {want['sealSigner']}"
    leaf_check = next(c for c in result.checks if c.name == CHECK_LEAF_HASH)
    assert want["leafHash"] in leaf_check.detail
    assert str(result.checks[0]).startswith("ok document digest: SHA-256, SM3, size")


def test_altered_is_told_apart_from_invalid() -> None:
    altered = document("altered")
    with pytest.raises(DocumentAltered) as caught:
        verify_receipt(VALID, altered, TRUST)
    assert [c.name for c in caught.value.failed] == [CHECK_DOCUMENT_DIGEST]
    assert isinstance(caught.value.__cause__, DigestMismatchError)
    # An invalid receipt says nothing about the document, even if the digest differs too.
    with pytest.raises(ReceiptInvalid) as invalid:
        verify_receipt(receipt("untrusted-validator"), altered, TRUST)
    assert {c.name for c in invalid.value.failed} == {CHECK_DOCUMENT_DIGEST, CHECK_ANCHOR_PROOF}
    assert not issubclass(ReceiptInvalid, DocumentAltered)
    assert not issubclass(DocumentAltered, ReceiptInvalid)


def test_root_mismatch_carries_both_roots() -> None:
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(receipt("modified-tree-head-root"), DEPOSITED, TRUST)
    mismatch = caught.value.causes[CHECK_INCLUSION_PROOF]
    assert isinstance(mismatch, RootMismatchError)
    claimed = receipt("modified-tree-head-root").root_hash
    assert mismatch.expected_root == claimed and mismatch.calculated_root == VALID.root_hash
    head = caught.value.causes[CHECK_TREE_HEAD]
    assert isinstance(head, TreeHeadMismatchError)
    assert head.anchored_head == (7, VALID.root_hash) and head.receipt_head == (7, claimed)


# --- The document ---------------------------------------------------------------------------


def test_each_digest_is_compared() -> None:
    sha_only = verify_receipt(VALID, DEPOSITED.sha256, TRUST)
    assert sha_only.checks[0].detail == "SHA-256 equal the deposited entry's"
    explicit = verify_receipt(VALID, DEPOSITED.sha256, TRUST, sm3=DEPOSITED.sm3, size=68)
    assert explicit.checks == verify_receipt(VALID, DEPOSITED, TRUST).checks
    for wrong, what in (
        (dataclasses.replace(DEPOSITED, sm3=b"\x00" * 32), "SM3"),
        (dataclasses.replace(DEPOSITED, size=69), "size"),
    ):
        with pytest.raises(DocumentAltered) as caught:
            verify_receipt(VALID, wrong, TRUST)
        cause = caught.value.causes[CHECK_DOCUMENT_DIGEST]
        assert isinstance(cause, DigestMismatchError) and cause.what == what
        assert what in caught.value.failed[0].detail
    with pytest.raises(DocumentAltered):
        verify_receipt(VALID, DEPOSITED.sha256, TRUST, size=0)


def test_any_object_with_digests_will_do() -> None:
    @dataclasses.dataclass(frozen=True)
    class Digests:
        sha256: bytes
        sm3: bytes
        size: int

    assert verify_receipt(VALID, Digests(DEPOSITED.sha256, DEPOSITED.sm3, 68), TRUST)


def test_malformed_document_digests_are_input_errors() -> None:
    with pytest.raises(DocumentDigestError):
        verify_receipt(VALID, b"\x00" * 31, TRUST)
    with pytest.raises(DocumentDigestError):
        verify_receipt(VALID, DEPOSITED.sha256.hex(), TRUST)  # type: ignore[arg-type]
    with pytest.raises(DocumentDigestError):
        verify_receipt(VALID, DEPOSITED.sha256, TRUST, sm3=b"short")
    with pytest.raises(TypeError):
        verify_receipt(VALID, DEPOSITED, TRUST, sm3=DEPOSITED.sm3)


# --- Trust ----------------------------------------------------------------------------------


def test_trust_is_explicit() -> None:
    other_chain = dataclasses.replace(TRUST, chain_id=TRUST.chain_id + 1)
    other_contract = dataclasses.replace(TRUST, contract=b"\xbb" * 20)
    stranger_only = ChainTrust.sealed(TRUST.chain_id, [b"\x12" * 20])
    for trust, cause in (
        (other_chain, ledger.errors.ChainIdMismatchError),
        (other_contract, ledger.errors.ContractMismatchError),
        (stranger_only, ledger.errors.UntrustedSignerError),
    ):
        with pytest.raises(ReceiptInvalid) as caught:
            verify_receipt(VALID, DEPOSITED, trust)
        assert isinstance(caught.value.causes[CHECK_ANCHOR_PROOF], cause)
        assert CHECK_TREE_HEAD not in {c.name for c in caught.value.checks}  # not performed
    unpinned = ChainTrust.sealed(TRUST.chain_id, TRUST.validators)
    assert verify_receipt(VALID, DEPOSITED, unpinned).seal.is_sealed


def test_unsafe_trust_accepts_unsealed_blocks_and_says_so() -> None:
    unsafe = ChainTrust.unsafe_unsealed(TRUST.chain_id, contract=TRUST.contract)
    result = verify_receipt(receipt("unsealed-block"), DEPOSITED, unsafe)
    assert not result.seal.is_sealed and result.sealed_by is None
    assert result.seal_description == "unsealed"
    anchor_check = next(c for c in result.checks if c.name == CHECK_ANCHOR_PROOF)
    assert "UNSEALED" in anchor_check.detail
    assert not verify_receipt(VALID, DEPOSITED, unsafe).seal.is_sealed  # never "sealed"


# --- A receipt assembled like the service does ------------------------------------------------


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_a_receipt_built_from_a_merkle_log_verifies() -> None:
    vectors = _load(VECTORS / "generate.py", "zhenglian_receipt_vectors")
    t0 = datetime(2024, 5, 31, 12, tzinfo=UTC)
    documents = [f"document {i}".encode() for i in range(11)]
    entries = []
    for content in documents:
        digest = digest_stream([content])
        entries.append(
            new_entry(digest.sha256, digest.sm3, digest.size, "other", "某公证处", None, t0)
        )
    log = MerkleLog()
    log.append_many([e.leaf_hash() for e in entries])
    root = log.root()
    anchor = AnchorProof.from_json(vectors.anchor_json(len(entries), root)["proof"])
    for index in (0, 6, 10):
        built = Receipt(
            document_id=f"00000000-0000-4000-8000-{index:012d}",
            entry=entries[index],
            entry_bytes=entries[index].encode(),
            leaf_index=index,
            tree_size=len(entries),
            root_hash=root,
            inclusion=log.inclusion_proof(index, len(entries)),
            anchor=anchor,
        )
        reparsed = Receipt.from_json_bytes(built.to_json_bytes())
        assert reparsed == built
        result = verify_receipt(reparsed, digest_stream([documents[index]]), TRUST)
        assert result.leaf_index == index and result.tree_size == 11
        with pytest.raises(DocumentAltered):
            verify_receipt(reparsed, digest_stream([documents[index - 1]]), TRUST)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, 10**6), bit=st.integers(0, 7))
def test_no_flipped_bit_verifies_with_other_proven_content(position: int, bit: int) -> None:
    data = bytearray((VECTORS / "valid.json").read_bytes())
    position %= len(data)
    data[position] ^= 1 << bit
    try:
        flipped = Receipt.from_json_bytes(bytes(data))
        result = verify_receipt(flipped, DEPOSITED, TRUST)
    except (ReceiptError, VerificationFailed):
        return
    # Only unproven text may change and still verify (issued_at); everything proven is equal.
    proven = ("entry_bytes", "leaf_index", "tree_size", "root_hash", "inclusion", "anchor")
    for name in proven:
        assert getattr(flipped, name) == getattr(VALID, name)
    assert result.checks == verify_receipt(VALID, DEPOSITED, TRUST).checks


# --- Shape of the API -------------------------------------------------------------------------


def test_checks_and_failures_are_plain_records() -> None:
    check = Check("leaf hash", True, "leaf hash 00")
    assert check.__dict__ == {
        "name": "leaf hash",
        "ok": True,
        "detail": "leaf hash 00",
        "trust": False,
    }
    assert str(Check("x", False, "why")) == "FAILED x: why"
    with pytest.raises(VerificationFailed) as caught:
        verify_receipt(receipt("wrong-leaf-index"), DEPOSITED, TRUST)
    assert all(isinstance(c, Check) for c in caught.value.checks)
    assert len(caught.value.failed) == 1 and "\n" not in str(caught.value.failed[0])


def test_verification_core_imports_no_io_adapters() -> None:
    code = (
        "import sys, evidence.verify.receipt_verifier, evidence.formats.receipt_format,"
        " evidence.formats.log_entry\n"
        "bad = ('web3', 'sqlalchemy', 'minio', 'fastapi', 'httpx', 'requests', 'urllib3',"
        " 'sqlite3', 'ledger.client', 'ledger.node', 'evidence.digest',"
        " 'evidence.store.repository')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(bad))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
