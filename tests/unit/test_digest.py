"""Dual digests (SHA-256 + SM3 in one pass): GB/T 32905 known answers, the threaded path."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes

from evidence.digest import DualHasher, digest_stream, parse_sha256_hex
from evidence.errors import InputError


def test_dual_digest_known_answers() -> None:
    d = digest_stream([b"a", b"", b"bc"])
    assert d.sm3.hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert d.sha256 == hashlib.sha256(b"abc").digest() and d.size == 3
    empty = DualHasher().finalize()
    assert empty.sm3.hex() == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
    h = DualHasher()
    h.update(memoryview(b"abcd" * 16))
    assert (
        h.finalize().sm3.hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )
    assert parse_sha256_hex("AB" * 32) == b"\xab" * 32
    with pytest.raises(InputError):
        parse_sha256_hex("xyz")


def test_dual_digest_parallel_path_matches_one_shot() -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    d = digest_stream([data[:1], data[1 : 2 * 1024 * 1024], data[2 * 1024 * 1024 :]])
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(data)
    assert d.sha256 == hashlib.sha256(data).digest() and d.sm3 == sm3.finalize()
    assert d.size == len(data)
