"""Decoding the CertificateRegistry's events (ledger.certificate_status): what the contract
emits (encoded here with eth_abi, independently of the decoder) reads back field by field, and
an encoding the contract could not have emitted is refused."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from ledger.certificate_status import (
    CERTIFICATE_ISSUED_SIGNATURE,
    CERTIFICATE_REVOKED_SIGNATURE,
    CERTIFICATE_SUPERSEDED_SIGNATURE,
    StatusAction,
    StatusEvent,
    decode_status_event,
)
from ledger.errors import AnchorEventError, MalformedStatusEventError

KEY = keccak(b"key")
SUCCESSOR = keccak(b"successor")
HASH = keccak(b"certificate")
ISSUER = b"11110000000029209E"
REGISTRAR = bytes(range(20))
SIGNATURE = bytes(range(70))

ISSUED = (
    (keccak(text=CERTIFICATE_ISSUED_SIGNATURE), KEY, ISSUER + bytes(14), bytes(12) + REGISTRAR),
    encode(["bytes32", "bytes"], [HASH, SIGNATURE]),
)
REVOKED = (
    (keccak(text=CERTIFICATE_REVOKED_SIGNATURE), KEY, bytes(12) + REGISTRAR),
    encode(["uint8", "uint64", "bytes"], [9, 2**64 - 1, SIGNATURE]),
)
SUPERSEDED = (
    (keccak(text=CERTIFICATE_SUPERSEDED_SIGNATURE), KEY, SUCCESSOR, bytes(12) + REGISTRAR),
    encode(["bytes"], [SIGNATURE]),
)


def test_the_three_events() -> None:
    assert decode_status_event(*ISSUED) == StatusEvent(
        StatusAction.ISSUE, KEY, SIGNATURE, REGISTRAR, issuer_code=ISSUER, certificate_hash=HASH
    )
    assert decode_status_event(*REVOKED) == StatusEvent(
        StatusAction.REVOKE, KEY, SIGNATURE, REGISTRAR, reason_code=9, effective_time=2**64 - 1
    )
    assert decode_status_event(*SUPERSEDED) == StatusEvent(
        StatusAction.SUPERSEDE, KEY, SIGNATURE, REGISTRAR, successor=SUCCESSOR
    )


def _with_word(data: bytes, index: int, word: bytes) -> bytes:
    return data[: 32 * index] + word + data[32 * (index + 1) :]


@pytest.mark.parametrize(
    ("topics", "data", "match"),
    [
        ((keccak(b"Other()"), KEY), b"", "not a CertificateRegistry"),
        ((), b"", "not a CertificateRegistry"),
        (ISSUED[0][:3], ISSUED[1], "4 topics"),
        ((*ISSUED[0][:2], ISSUER + b"\x01" + bytes(13), ISSUED[0][3]), ISSUED[1], "bytes18"),
        ((*ISSUED[0][:3], b"\x01" + bytes(11) + REGISTRAR), ISSUED[1], "registrar"),
        (ISSUED[0], ISSUED[1][:-32], "the event data is"),
        (ISSUED[0], ISSUED[1] + bytes(32), "the event data is"),
        (ISSUED[0], _with_word(ISSUED[1], 1, (96).to_bytes(32, "big")), "offset"),
        (ISSUED[0], _with_word(ISSUED[1], 2, (0).to_bytes(32, "big")), "0 bytes"),
        (ISSUED[0], _with_word(ISSUED[1], 2, (513).to_bytes(32, "big")), "513 bytes"),
        (ISSUED[0], ISSUED[1][:-1] + b"\x01", "padding"),
        (REVOKED[0], _with_word(REVOKED[1], 0, (256).to_bytes(32, "big")), "uint8"),
        (REVOKED[0], _with_word(REVOKED[1], 1, (2**64).to_bytes(32, "big")), "uint64"),
        (SUPERSEDED[0], SUPERSEDED[1][:32], "ends before word 1"),
    ],
    ids=[
        "other-event",
        "no-topics",
        "too-few-topics",
        "issuer-not-padded",
        "registrar-not-address",
        "data-short",
        "data-trailing",
        "offset",
        "empty-signature",
        "long-signature",
        "padding",
        "reason-not-uint8",
        "time-not-uint64",
        "truncated",
    ],
)
def test_encodings_the_contract_cannot_emit(
    topics: tuple[bytes, ...], data: bytes, match: str
) -> None:
    with pytest.raises(MalformedStatusEventError, match=match):
        decode_status_event(topics, data)
    assert issubclass(MalformedStatusEventError, AnchorEventError)
