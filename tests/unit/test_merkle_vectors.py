"""RFC 6962 Merkle proof vectors (transparency-dev/merkle testdata) against ledger.merkle.

Every vector must behave as it says: ``wantErr: false`` verifies, ``wantErr: true`` raises a
MerkleError (never another exception type, even for roots, leaf hashes or proof nodes of the
wrong length). The happy paths are also regenerated from the vectors' own tree and compared.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import MerkleError
from ledger.merkle import (
    MerkleLog,
    hash_leaf,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import VECTORS_DIR

#: Number of vector files in tests/assets/rfc6962; a different count means a broken copy.
EXPECTED_VECTOR_COUNT = 196

#: The 8 leaves of transparency-dev's proof tests, from which the happy-path vectors come.
TEST_TREE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def _collect_cases() -> list[str]:
    """Vector files as ``kind/.../case`` ids (relative path without ``.json``)."""
    return sorted(
        path.relative_to(VECTORS_DIR).with_suffix("").as_posix()
        for path in VECTORS_DIR.rglob("*.json")
    )


CASES = _collect_cases()


def _load(vectors: Path, case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((vectors / f"{case}.json").read_text())
    return data


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(data: dict[str, Any]) -> list[bytes]:
    return [_b64(node) for node in data["proof"] or []]


def _check_inclusion(data: dict[str, Any]) -> None:
    verify_inclusion(
        data["leafIdx"], data["treeSize"], _b64(data["leafHash"]), _proof(data), _b64(data["root"])
    )


def _check_consistency(data: dict[str, Any]) -> None:
    verify_consistency(
        data["size1"], data["size2"], _b64(data["root1"]), _b64(data["root2"]), _proof(data)
    )


@pytest.mark.parametrize("case", CASES)
def test_vector(rfc6962_vectors: Path, case: str) -> None:
    data = _load(rfc6962_vectors, case)
    check = _check_inclusion if case.startswith("inclusion/") else _check_consistency
    if data["wantErr"]:
        with pytest.raises(MerkleError):
            check(data)
    else:
        check(data)


@pytest.mark.parametrize("case", [c for c in CASES if c.endswith("/happy-path")])
def test_root_from_proof_computes_the_vector_root(rfc6962_vectors: Path, case: str) -> None:
    data = _load(rfc6962_vectors, case)
    if case.startswith("inclusion/"):
        root = root_from_inclusion_proof(
            data["leafIdx"], data["treeSize"], _b64(data["leafHash"]), _proof(data)
        )
        assert root == _b64(data["root"])
    else:
        root = root_from_consistency_proof(
            data["size1"], data["size2"], _b64(data["root1"]), _proof(data)
        )
        assert root == _b64(data["root2"])


@pytest.mark.parametrize("case", [c for c in CASES if c.endswith("/happy-path")])
def test_merkle_log_generates_the_vector_proof(rfc6962_vectors: Path, case: str) -> None:
    data = _load(rfc6962_vectors, case)
    leaf_hashes = [hash_leaf(leaf) for leaf in TEST_TREE_LEAVES]
    log = MerkleLog()
    log.append_many(leaf_hashes)
    if case.startswith("inclusion/"):
        index, size = data["leafIdx"], data["treeSize"]
        assert _b64(data["leafHash"]) == leaf_hashes[index]
        assert log.root(size) == root_from_leaf_hashes(leaf_hashes[:size]) == _b64(data["root"])
        assert list(log.inclusion_proof(index, size).hashes) == _proof(data)
    else:
        size1, size2 = data["size1"], data["size2"]
        assert log.root(size1) == _b64(data["root1"])
        assert log.root(size2) == _b64(data["root2"])
        assert list(log.consistency_proof(size1, size2).hashes) == _proof(data)


def test_vector_set_is_complete() -> None:
    assert len(CASES) == EXPECTED_VECTOR_COUNT
    kinds = {case.split("/", 1)[0] for case in CASES}
    assert kinds == {"inclusion", "consistency"}
