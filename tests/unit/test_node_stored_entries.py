"""Which keys of the chain database the start-up scan treats as lookups, not content hashes."""

from __future__ import annotations

import pytest
from eth.db.schema import SchemaV1
from eth_typing import BlockNumber, Hash32
from eth_utils.crypto import keccak

from ledger.node.chain import _lookup_kind

HASH = Hash32(keccak(b"block"))
HASH_WITH_QUOTE = Hash32(b"'" + HASH[1:])  # its repr() is b"..."


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (SchemaV1.make_block_number_to_hash_lookup_key(BlockNumber(0)), b"block-number-to-hash:"),
        # 32 bytes long, like a hash, from block 10**10 on
        (
            SchemaV1.make_block_number_to_hash_lookup_key(BlockNumber(10**10)),
            b"block-number-to-hash:",
        ),
        (SchemaV1.make_block_hash_to_score_lookup_key(HASH), b"block-hash-to-score:"),
        (
            SchemaV1.make_transaction_hash_to_block_lookup_key(HASH_WITH_QUOTE),
            b"transaction-hash-to-block:",
        ),
        (
            SchemaV1.make_withdrawal_hash_to_block_lookup_key(HASH),
            b"withdrawal-hash-to-block:",
        ),
        (SchemaV1.make_canonical_head_hash_lookup_key(), b"v1:canonical_head_hash"),
        # 32 bytes long too
        (SchemaV1.make_checkpoint_headers_key(), b"v1:checkpoint-header-hashes-list"),
    ],
)
def test_py_evm_lookup_keys_are_lookups(key: bytes, kind: bytes) -> None:
    assert _lookup_kind(key) == kind


@pytest.mark.parametrize(
    "key",
    [
        HASH,
        b"block-number-to-hash:01",  # not a number py-evm writes
        b"block-hash-to-score:" + HASH,  # raw bytes, not their repr()
        b"something-else",
    ],
)
def test_other_keys_are_not_lookups(key: bytes) -> None:
    assert _lookup_kind(key) is None


def test_two_lookup_keys_are_as_long_as_a_hash() -> None:
    assert len(SchemaV1.make_block_number_to_hash_lookup_key(BlockNumber(10**10))) == 32
    assert len(SchemaV1.make_checkpoint_headers_key()) == 32
