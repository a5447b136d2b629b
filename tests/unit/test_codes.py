"""Case codes and share codes: the check symbol catches every single error and adjacent swap."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.access.case_code import CASE_CODE_CHARS, CASE_TYPES, CaseCode, CaseCodeError
from evidence.access.check_character import ALPHABET, check_symbol, is_valid, normalise, step
from evidence.access.share_code import ShareCode, ShareCodeError
from evidence.errors import InputError
from evidence.formats.log_entry import CASE_CODE_RE

symbols = st.text(alphabet=ALPHABET, min_size=1, max_size=20)
case_codes = st.builds(
    CaseCode,
    st.sampled_from(CASE_TYPES),
    st.integers(2000, 2999),
    st.text(alphabet=ALPHABET, min_size=6, max_size=6),
)


def test_the_quasigroup_is_totally_anti_symmetric_exhaustively() -> None:
    """(c∘x)∘y = (c∘y)∘x only if x = y, for all 32³ cases: the basis of the swap guarantee."""
    for c, x, y in itertools.product(range(32), repeat=3):
        if x != y:
            assert step(step(c, x), y) != step(step(c, y), x), (c, x, y)
    for c in range(32):  # each row and column is a permutation (a quasigroup)
        assert sorted(step(c, x) for x in range(32)) == list(range(32))
        assert sorted(step(x, c) for x in range(32)) == list(range(32))


@given(symbols, st.data())
def test_every_single_wrong_symbol_is_caught(payload: str, data: st.DataObject) -> None:
    code = payload + check_symbol(payload)
    assert is_valid(code)
    for position in range(len(code)):  # every position, the check symbol included
        wrong = data.draw(st.sampled_from([s for s in ALPHABET if s != code[position]]))
        assert not is_valid(code[:position] + wrong + code[position + 1 :])


@given(symbols)
def test_every_adjacent_swap_is_caught(payload: str) -> None:
    code = payload + check_symbol(payload)
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not is_valid(swapped), (code, i)


@given(case_codes)
def test_case_codes_round_trip_and_fit_log_entries(code: CaseCode) -> None:
    text = str(code)
    assert len(text) == CASE_CODE_CHARS and CASE_CODE_RE.fullmatch(text)
    assert CaseCode.parse(text) == code
    assert CaseCode.parse(text.lower().replace("-", " ")) == code  # as people type it


@given(case_codes, st.data())
def test_case_code_typos_are_refused_before_any_lookup(code: CaseCode, data: st.DataObject) -> None:
    text = str(code)
    positions = [i for i, ch in enumerate(text) if ch != "-"]
    for i in positions:
        wrong = data.draw(st.sampled_from([s for s in ALPHABET if s != text[i]]))
        typo = text[:i] + wrong + text[i + 1 :]
        with pytest.raises(CaseCodeError):
            CaseCode.parse(typo)
    compact = text.replace("-", "")
    for i in range(len(compact) - 1):
        if compact[i] != compact[i + 1]:
            with pytest.raises(CaseCodeError):
                CaseCode.parse(compact[:i] + compact[i + 1] + compact[i] + compact[i + 2 :])


def test_look_alikes_are_read_as_what_was_meant() -> None:
    code = CaseCode("notary", 2026, "0A1B1C")
    assert CaseCode.parse(str(code).replace("0", "O").replace("1", "l")) == code
    assert normalise("oil") == "011"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GZ-2026-0001",  # the old free-text style
        "XX-2026-7K3M9Q-E",  # unknown prefix
        "GZ-1999-7K3M9Q-E",  # year out of range
        "GZ-2026-7K3M9U-E",  # U is not a symbol
        "GZ-2026-7K3M9Q-E" + "-" * 60,  # over the input limit
        "GZ-2026-7K3M9Q-EE",  # too long
        "GZ-2O2六-7K3M9Q-E",
    ],
)
def test_malformed_case_codes(text: str) -> None:
    with pytest.raises(CaseCodeError) as caught:
        CaseCode.parse(text)
    assert isinstance(caught.value, InputError) and "not a case code" in str(caught.value)


def test_new_case_codes_are_valid_and_differ() -> None:
    codes = {str(CaseCode.new("litigation", 2026)) for _ in range(200)}
    assert len(codes) == 200 and all(c.startswith("SS-2026-") for c in codes)
    assert all(CaseCode.parse(c) for c in codes)


def test_share_codes() -> None:
    code = ShareCode.new()
    text = str(code)
    assert len(text) == 16 and text.count("-") == 3
    assert ShareCode.parse(text.lower()) == code
    assert code.digest() == ShareCode.parse(text.replace("-", "")).digest()
    assert len({ShareCode.new().compact for _ in range(100)}) == 100
    typo = text[:2] + ("A" if text[2] != "A" else "B") + text[3:]
    for bad in (typo, text[:-1], text + "0", "x" * 41, "ABCD-EFGH-JKMN-U"):
        with pytest.raises(ShareCodeError):
            ShareCode.parse(bad)
