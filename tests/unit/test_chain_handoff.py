"""The record the embedded chain's process hands to ``zhenglian serve`` is parsed strictly."""

from __future__ import annotations

from typing import Any

import pytest

from zhenglian.chain_process import ChainHandoff, ChainProcessError

VALID = ChainHandoff(
    url="http://127.0.0.1:8545",
    chain_id=0x5A4C,
    validators=(b"\x11" * 20,),
    contract=b"\x22" * 20,
    anchorer_key=b"\x33" * 32,
)


def test_round_trip() -> None:
    assert ChainHandoff.from_json(VALID.to_json()) == VALID


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"url": "ftp://x"},
        {"url": 5},
        {"chain_id": 0},
        {"chain_id": True},
        {"chain_id": "23116"},
        {"validators": []},
        {"validators": ["0x" + "11" * 19]},
        {"validators": "0x" + "11" * 20},
        {"contract": "0xzz"},
        {"anchorer_key": "33" * 31},
        {"anchorer_key": None},
    ],
)
def test_malformed_handoffs_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ChainProcessError, match="bad handoff"):
        ChainHandoff.from_json({**VALID.to_json(), **change})


def test_missing_key_is_refused() -> None:
    obj = VALID.to_json()
    del obj["contract"]
    with pytest.raises(ChainProcessError):
        ChainHandoff.from_json(obj)
