"""Generate the receipt test vectors in this folder (deterministic: fixed key, salts and times).

    python tests/assets/receipts/generate.py [--out DIR]

Writes ``cases.json`` (the manifest) and one receipt file per case, byte for byte what a
verifier would be handed. The manifest holds the trust (chainId, validators, contract,
requireSeal), the documents (text and digests) and, per case: the receipt file, which
document is checked against it, ``wantErr``, the ``stage`` that must refuse it (``parse``:
``Receipt.from_json_bytes``; ``verify``: ``verify_receipt``), the expected ``error`` class
(of ``evidence.formats.receipt_format`` or ``evidence.verify.receipt_verifier``), and for
verification failures the failed checks with the class of the error behind each. Valid cases
have ``want``: the values the verification must report.

Independent of ``evidence`` and ``ledger`` on purpose: entries, Merkle trees and receipts are
built here with ``json`` and ``hashlib`` from the specification in ``docs/receipt.md``, so the
vectors do not inherit the verifier's bugs. Blocks, seals and receipt tries come from
``tests/assets/anchor_proofs/generate.py`` (itself independent of ``ledger``). ECDSA
signatures are deterministic (RFC 6979), so the output is stable;
``tests/unit/test_receipt.py`` checks that regenerating gives the committed bytes.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives import hashes

HERE = Path(__file__).resolve().parent


def _load_anchor_vectors() -> ModuleType:
    path = HERE.parent / "anchor_proofs" / "generate.py"
    spec = importlib.util.spec_from_file_location("zhenglian_anchor_proof_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while being built
    spec.loader.exec_module(module)
    return module


anchors = _load_anchor_vectors()

#: Maximum receipt size of the format (docs/receipt.md), for the "oversized" case.
MAX_RECEIPT_BYTES = 256 * 1024
ENTRY_PREFIX = b"zhenglian/entry/v1\n"

DOCUMENT = "遗嘱公证书 (test vector): 本人自愿将房产留给女儿。\n".encode()
ALTERED_DOCUMENT = DOCUMENT.replace("女儿".encode(), "儿子".encode())
DOCUMENT_ID = "5f0c3a52-8d1e-4b7a-9c2f-0e6d4a1b7c93"
ISSUED_AT = "2024-06-01T00:00:30Z"
LOG_SIZE = 7
LEAF_INDEX = 5
FIRST_DEPOSIT = datetime(2024, 5, 31, 23, 52, 0, tzinfo=UTC)
INSTITUTIONS = ('Notary "Ōkubo" \\ Branch', "成都市蜀都公证处", "广元市城东公证处")
KINDS = ("notary", "forensic", "legal_aid", "other")


# --- Independent implementations of the specification ---------------------------------


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def document_json(content: bytes) -> dict[str, Any]:
    return {
        "text": content.decode(),
        "sha256": hashlib.sha256(content).hexdigest(),
        "sm3": sm3(content).hex(),
        "size": len(content),
    }


def entry_fields(index: int) -> dict[str, Any]:
    content = DOCUMENT if index == LEAF_INDEX else f"document {index} of the log".encode()
    time = FIRST_DEPOSIT + timedelta(minutes=index, seconds=7 * index)
    return {
        "case": None if index % 3 == 1 else f"GY-2024-{index:04d}",
        "institution": INSTITUTIONS[index % len(INSTITUTIONS)],
        "kind": KINDS[(index + 3) % len(KINDS)],
        "salt": hashlib.sha256(b"zhenglian test vectors: receipt salt %d" % index).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "sm3": sm3(content).hex(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "v": 1,
    }


def encode_entry(fields: dict[str, Any]) -> bytes:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return ENTRY_PREFIX + body.encode("utf-8")


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle tree hash of leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 audit path of leaf ``m``, leaf-side first."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


# --- Receipts ----------------------------------------------------------------------------


def log_leaves() -> list[bytes]:
    return [leaf_hash(encode_entry(entry_fields(i))) for i in range(LOG_SIZE)]


def anchor_json(tree_size: int, root: bytes, sealer: Any = anchors.VALIDATOR_KEY) -> dict[str, Any]:
    """The receipt's ``anchor``: a sealed block whose anchoring event names (size, root)."""
    block = anchors.Block(anchor_log_data=tree_size.to_bytes(32, "big") + root, sealer=sealer)
    _trust, proof = anchors.build(block)
    block_time = datetime.fromtimestamp(anchors.TIMESTAMP, UTC)
    return {
        "chain_id": proof["chainId"],
        "contract": proof["contract"],
        "tx_hash": proof["txHash"],
        "block_number": proof["blockNumber"],
        "block_time": block_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "proof": proof,
    }


def valid_receipt() -> dict[str, Any]:
    leaves = log_leaves()
    fields = entry_fields(LEAF_INDEX)
    root = mth(leaves)
    return {
        "type": "zhenglian-receipt",
        "version": 1,
        "document_id": DOCUMENT_ID,
        "issued_at": ISSUED_AT,
        "entry_fields": fields,
        "entry": encode_entry(fields).hex(),
        "leaf_index": LEAF_INDEX,
        "tree_head": {"tree_size": LOG_SIZE, "root_hash": root.hex()},
        "inclusion_proof": [h.hex() for h in path(LEAF_INDEX, leaves)],
        "anchor": anchor_json(LOG_SIZE, root),
    }


def dump(receipt: dict[str, Any]) -> bytes:
    """The receipt file format: UTF-8 JSON, 2-space indent, newline at the end."""
    return (json.dumps(receipt, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def flip(hex_value: str, byte_index: int) -> str:
    data = bytearray(bytes.fromhex(hex_value))
    data[byte_index] ^= 0x01
    return data.hex()


# --- Cases -------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], "dict[str, Any] | bytes | None"]


def _set(*keys: str | int, value: Any) -> Mutation:
    def change(receipt: dict[str, Any]) -> None:
        target: Any = receipt
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _extra_node(r: dict[str, Any]) -> None:
    r["inclusion_proof"].append(r["inclusion_proof"][0])


def _missing_node(r: dict[str, Any]) -> None:
    r["inclusion_proof"].pop()


def _flip_proof(r: dict[str, Any]) -> None:
    r["inclusion_proof"][0] = flip(r["inclusion_proof"][0], 3)


def _flip_root(r: dict[str, Any]) -> None:
    r["tree_head"]["root_hash"] = flip(r["tree_head"]["root_hash"], 31)


def _anchor_for_earlier_head(r: dict[str, Any]) -> None:
    leaves = log_leaves()
    r["anchor"] = anchor_json(LOG_SIZE - 1, mth(leaves[: LOG_SIZE - 1]))


def _untrusted_sealer(r: dict[str, Any]) -> None:
    r["anchor"] = anchor_json(LOG_SIZE, mth(log_leaves()), sealer=anchors.STRANGER_KEY)


def _unsealed(r: dict[str, Any]) -> None:
    r["anchor"] = anchor_json(LOG_SIZE, mth(log_leaves()), sealer=None)


def _substituted_entry(r: dict[str, Any]) -> None:
    fields = entry_fields(LEAF_INDEX - 1)
    r["entry_fields"] = fields
    r["entry"] = encode_entry(fields).hex()


def _duplicate_key(r: dict[str, Any]) -> bytes:
    text = dump(r).decode()
    once = f'"tree_size": {LOG_SIZE},'
    assert text.count(once) == 1
    return text.replace(once, f"{once}\n    {once}").encode()


def _oversized(r: dict[str, Any]) -> bytes:
    data = dump(r)
    return data + b" " * (MAX_RECEIPT_BYTES + 1 - len(data))


def _deeply_nested(r: dict[str, Any]) -> None:
    node: Any = r["inclusion_proof"][0]
    for _ in range(8):
        node = [node]
    r["inclusion_proof"][0] = node


def _unknown_field(r: dict[str, Any]) -> None:
    r["note"] = "valid until 2030"


def _missing_field(r: dict[str, Any]) -> None:
    del r["issued_at"]


def _other_institution(r: dict[str, Any]) -> None:
    r["entry_fields"]["institution"] = "北京市长安公证处"


def _non_canonical_entry(r: dict[str, Any]) -> None:
    data = bytes.fromhex(r["entry"])
    r["entry"] = data.replace(b'","kind"', b'", "kind"', 1).hex()


def _no_change(r: dict[str, Any]) -> None:
    del r


def _verify_error(error: str, causes: dict[str, str]) -> dict[str, Any]:
    return {"stage": "verify", "error": error, "failedChecks": causes}


def _parse_error(error: str) -> dict[str, Any]:
    return {"stage": "parse", "error": error, "failedChecks": {}}


_INVALID = "ReceiptInvalid"

#: (name, description, document, mutation, expectation): the file is ``<name>.json``,
#: except for cases that reuse another case's receipt with another document.
CASES: list[tuple[str, str, str, Mutation, dict[str, Any] | None]] = [
    ("valid", "a valid receipt for the deposited document", "deposited", _no_change, None),
    (
        "wrong-leaf-index",
        "leaf_index 4 instead of 5 (a proof of the same length, so the root differs)",
        "deposited",
        _set("leaf_index", value=LEAF_INDEX - 1),
        _verify_error(_INVALID, {"inclusion proof": "RootMismatchError"}),
    ),
    (
        "modified-inclusion-proof-0-bit-@3",
        "one bit of the first inclusion proof node flipped",
        "deposited",
        _flip_proof,
        _verify_error(_INVALID, {"inclusion proof": "RootMismatchError"}),
    ),
    (
        "extra-inclusion-proof-node",
        "a copy of the first inclusion proof node appended",
        "deposited",
        _extra_node,
        _parse_error("ReceiptInclusionProofError"),
    ),
    (
        "missing-inclusion-proof-node",
        "the last inclusion proof node removed",
        "deposited",
        _missing_node,
        _parse_error("ReceiptInclusionProofError"),
    ),
    (
        "modified-tree-head-root",
        "one bit of the tree head root flipped: neither the proof nor the anchor agree",
        "deposited",
        _flip_root,
        _verify_error(
            _INVALID,
            {"inclusion proof": "RootMismatchError", "anchored tree head": "TreeHeadMismatchError"},
        ),
    ),
    (
        "anchor-for-another-head",
        "a valid, sealed anchor of the earlier head of size 6, not of the receipt's head",
        "deposited",
        _anchor_for_earlier_head,
        _verify_error(_INVALID, {"anchored tree head": "TreeHeadMismatchError"}),
    ),
    (
        "untrusted-validator",
        "the anchoring block is validly sealed by a key that is not a trusted validator",
        "deposited",
        _untrusted_sealer,
        _verify_error(_INVALID, {"anchor proof": "UntrustedSignerError"}),
    ),
    (
        "unsealed-block",
        "the anchoring block has no seal and the trust requires one",
        "deposited",
        _unsealed,
        _verify_error(_INVALID, {"anchor proof": "MissingSealError"}),
    ),
    (
        "substituted-entry",
        "the entry (and its fields) of the neighbouring deposit, with this receipt's proof",
        "deposited",
        _substituted_entry,
        _verify_error(
            _INVALID,
            {"document digest": "DigestMismatchError", "inclusion proof": "RootMismatchError"},
        ),
    ),
    (
        "duplicate-key",
        "tree_head.tree_size given twice (with the same value)",
        "deposited",
        _duplicate_key,
        _parse_error("ReceiptDuplicateKeyError"),
    ),
    (
        "oversized",
        f"the valid receipt padded with spaces to {MAX_RECEIPT_BYTES + 1} bytes",
        "deposited",
        _oversized,
        _parse_error("ReceiptTooLargeError"),
    ),
    (
        "deeply-nested",
        "an inclusion proof node wrapped in 8 arrays (10 levels in all)",
        "deposited",
        _deeply_nested,
        _parse_error("ReceiptNestingError"),
    ),
    (
        "unknown-field",
        'an extra top-level field "note"',
        "deposited",
        _unknown_field,
        _parse_error("ReceiptFieldError"),
    ),
    (
        "missing-field",
        "issued_at removed",
        "deposited",
        _missing_field,
        _parse_error("ReceiptFieldError"),
    ),
    (
        "boolean-leaf-index",
        "leaf_index is the JSON boolean true",
        "deposited",
        _set("leaf_index", value=True),
        _parse_error("ReceiptFieldError"),
    ),
    (
        "index-not-below-size",
        "leaf_index equal to tree_size",
        "deposited",
        _set("leaf_index", value=LOG_SIZE),
        _parse_error("ReceiptIndexError"),
    ),
    (
        "entry-fields-disagree",
        "entry_fields name another institution than the entry bytes",
        "deposited",
        _other_institution,
        _parse_error("ReceiptEntryError"),
    ),
    (
        "non-canonical-entry",
        "entry bytes with one space inserted (the leaf would hash differently)",
        "deposited",
        _non_canonical_entry,
        _parse_error("ReceiptEntryError"),
    ),
    (
        "anchor-field-disagrees",
        "anchor.block_number one higher than the block in the proof",
        "deposited",
        _set("anchor", "block_number", value=anchors.BLOCK_NUMBER + 1),
        _parse_error("ReceiptAnchorError"),
    ),
]

#: Cases that reuse the receipt of another case with another document.
DOCUMENT_CASES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    (
        "altered-document",
        "the valid receipt, checked against a document with two characters changed",
        "valid",
        "altered",
        _verify_error("DocumentAltered", {"document digest": "DigestMismatchError"}),
    ),
]


def want(receipt: dict[str, Any]) -> dict[str, Any]:
    fields = receipt["entry_fields"]
    anchor = receipt["anchor"]
    return {
        "documentId": receipt["document_id"],
        "leafIndex": receipt["leaf_index"],
        "leafHash": leaf_hash(bytes.fromhex(receipt["entry"])).hex(),
        "treeSize": receipt["tree_head"]["tree_size"],
        "rootHash": receipt["tree_head"]["root_hash"],
        "institution": fields["institution"],
        "kind": fields["kind"],
        "caseCode": fields["case"],
        "depositedAt": fields["time"],
        "chainId": anchor["chain_id"],
        "contract": anchor["contract"],
        "txHash": anchor["tx_hash"],
        "blockNumber": anchor["block_number"],
        "blockTime": anchor["block_time"],
        "anchorIndex": anchors.ANCHOR_INDEX,
        "sealSigner": anchors.hx(anchors.VALIDATOR_KEY.public_key.to_canonical_address()),
    }


def generate() -> dict[str, bytes]:
    """Every file of this folder but the script: name -> bytes."""
    files: dict[str, bytes] = {}
    manifest_cases: list[dict[str, Any]] = []
    base = valid_receipt()
    for name, description, document, mutate, expectation in CASES:
        receipt = copy.deepcopy(base)
        changed = mutate(receipt)
        files[f"{name}.json"] = changed if isinstance(changed, bytes) else dump(receipt)
        case: dict[str, Any] = {
            "name": name,
            "description": description,
            "receipt": f"{name}.json",
            "document": document,
            "wantErr": expectation is not None,
        }
        if expectation is None:
            case.update(stage=None, error=None, failedChecks={}, want=want(receipt))
        else:
            case.update(expectation)
        manifest_cases.append(case)
    for name, description, receipt_of, document, expectation in DOCUMENT_CASES:
        manifest_cases.append(
            {
                "name": name,
                "description": description,
                "receipt": f"{receipt_of}.json",
                "document": document,
                "wantErr": True,
                **expectation,
            }
        )
    trust, _proof = anchors.build(anchors.Block())
    manifest = {
        "description": (
            "Receipt test vectors: generated by generate.py, see its docstring. A receipt "
            f"for leaf {LEAF_INDEX} of a log of {LOG_SIZE} entries, anchored in a sealed block."
        ),
        "trust": trust,
        "documents": {
            "deposited": document_json(DOCUMENT),
            "altered": document_json(ALTERED_DOCUMENT),
        },
        "cases": manifest_cases,
    }
    files["cases.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for name, content in generate().items():
        (out / name).write_bytes(content)


if __name__ == "__main__":
    main()
