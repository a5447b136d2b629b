"""SM2 message signatures: round trips, bit flips, malformed input never raising."""

from __future__ import annotations

import gmssl_pyx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs.sm2.algorithm import DEFAULT_SIGNER_ID, SM2Signature
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.keys import SM2PrivateKey, generate_private_key
from certs.sm2.signing import sign_message, verify_message

ENGINE = GmsslEngine()
KEY: SM2PrivateKey = generate_private_key(ENGINE)
OTHER: SM2PrivateKey = generate_private_key(ENGINE)


def _flip(data: bytes, bit: int) -> bytes:
    index = bit % (8 * len(data))
    out = bytearray(data)
    out[index // 8] ^= 1 << (index % 8)
    return bytes(out)


@settings(max_examples=40, deadline=None)
@given(message=st.binary(max_size=2048), signer_id=st.binary(min_size=0, max_size=64))
def test_round_trip(message: bytes, signer_id: bytes) -> None:
    signature = sign_message(KEY, message, engine=ENGINE, signer_id=signer_id)
    assert verify_message(KEY.public_key, message, signature, engine=ENGINE, signer_id=signer_id)
    # GmSSL's own Z (message-level API) agrees with ours for any ID but the empty one, which
    # gmssl-pyx's sm2_verify takes as "no Z at all"
    if signer_id:
        assert gmssl_pyx.sm2_verify(KEY.public_key.raw, message, signature, signer_id)
    assert not verify_message(
        OTHER.public_key, message, signature, engine=ENGINE, signer_id=signer_id
    )


@settings(max_examples=40, deadline=None)
@given(message=st.binary(min_size=1, max_size=512), bit=st.integers(min_value=0))
def test_any_bit_flip_in_the_message_fails(message: bytes, bit: int) -> None:
    signature = sign_message(KEY, message, engine=ENGINE)
    assert not verify_message(KEY.public_key, _flip(message, bit), signature, engine=ENGINE)


@settings(max_examples=60, deadline=None)
@given(message=st.binary(max_size=512), bit=st.integers(min_value=0))
def test_any_bit_flip_in_the_signature_fails(message: bytes, bit: int) -> None:
    signature = sign_message(KEY, message, engine=ENGINE)
    assert not verify_message(KEY.public_key, message, _flip(signature, bit), engine=ENGINE)


@settings(max_examples=100, deadline=None)
@given(garbage=st.binary(max_size=100))
def test_arbitrary_signature_bytes_never_raise(garbage: bytes) -> None:
    assert verify_message(KEY.public_key, b"doc", garbage, engine=ENGINE) in (False,)


def test_signatures_are_canonical_der_and_randomised() -> None:
    a = sign_message(KEY, b"same", engine=ENGINE)
    b = sign_message(KEY, b"same", engine=ENGINE)
    assert a != b  # fresh k each time
    assert SM2Signature.from_der(a).to_der() == a


def test_wrong_signer_id_fails() -> None:
    signature = sign_message(KEY, b"doc", engine=ENGINE)
    assert not verify_message(
        KEY.public_key, b"doc", signature, engine=ENGINE, signer_id=b"1234567812345679"
    )
    assert verify_message(
        KEY.public_key, b"doc", signature, engine=ENGINE, signer_id=DEFAULT_SIGNER_ID
    )


def test_non_canonical_der_is_refused() -> None:
    signature = SM2Signature.from_der(sign_message(KEY, b"doc", engine=ENGINE))
    body = (
        b"\x02\x21\x00"
        + signature.r.to_bytes(32, "big")
        + b"\x02\x21\x00"
        + signature.s.to_bytes(32, "big")
    )
    padded = b"\x30" + bytes([len(body)]) + body  # INTEGERs with a superfluous leading zero
    if padded != signature.to_der():
        with pytest.raises(MalformedSM2Data):
            SM2Signature.from_der(padded)
        assert not verify_message(KEY.public_key, b"doc", padded, engine=ENGINE)


def test_over_long_signer_id_is_refused() -> None:
    with pytest.raises(MalformedSM2Data):
        sign_message(KEY, b"doc", engine=ENGINE, signer_id=bytes(8192))
