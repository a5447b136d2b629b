"""The 统一社会信用代码 (GB 32100-2015): published codes accepted, corrupted ones refused with
an error naming what is wrong, and any single changed character refused (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from certs.errors import CheckCharacterMismatch, CreditCodeError
from certs.formats.credit_code import (
    ALPHABET,
    CreditCode,
    credit_code_check_character,
    organization_code_check_character,
    parse_credit_code,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "credit_code"


def _cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((ASSETS / name).read_text("utf-8"))["codes"]
    return cases


PUBLISHED = _cases("published.json")
CORRUPTED = _cases("corrupted.json")


@pytest.mark.parametrize("case", PUBLISHED, ids=lambda c: c["code"])
def test_published_codes_are_accepted(case: dict[str, Any]) -> None:
    code = parse_credit_code(case["code"])
    assert code.text == case["code"]
    assert code.organization_code == case["code"][8:17]
    assert code.division.isdigit()


@pytest.mark.parametrize("case", CORRUPTED, ids=lambda c: c["case"])
def test_corrupted_codes_are_refused_saying_what_is_wrong(case: dict[str, Any]) -> None:
    with pytest.raises(CreditCodeError) as refused:
        parse_credit_code(case["code"])
    assert case["error"] in str(refused.value)
    if "expected" in case:
        assert isinstance(refused.value, CheckCharacterMismatch)
        assert refused.value.expected == case["expected"]
        assert f"expected {case['expected']!r}" in str(refused.value)


def test_only_whitespace_and_case_are_normalised() -> None:
    assert parse_credit_code("  91440300708461136t\n").text == "91440300708461136T"
    # L is a letter of this alphabet, never read as 1 (as the case codes do).
    first17 = "91110000MA0" + "L" + "0000"
    first17 += organization_code_check_character(first17[8:16])
    code = first17 + credit_code_check_character(first17)
    assert parse_credit_code(code).text == code
    with pytest.raises(CreditCodeError):
        parse_credit_code(code.replace("L", "1"))
    with pytest.raises(CreditCodeError, match="18 characters"):
        parse_credit_code("9144 0300 7084 6113 6T")


def test_a_credit_code_object_holds_only_normal_text() -> None:
    assert CreditCode("914403001922038216").registration_authority == "9"
    with pytest.raises(CreditCodeError, match="normal form"):
        CreditCode("91440300708461136t")
    with pytest.raises(CreditCodeError, match="this text has 1000"):
        parse_credit_code("9" * 1000)


def test_check_character_of_31_is_written_0() -> None:
    # Find a prefix whose weighted sum is 0 mod 31: its check character is "0", not "31".
    first17 = "9111000000000000"
    for c in ALPHABET:
        candidate = first17 + c
        if credit_code_check_character(candidate) == "0":
            break
    else:
        raise AssertionError("no prefix with check character 0")
    assert credit_code_check_character(candidate) == "0"


def _valid_codes() -> st.SearchStrategy[str]:
    """Every valid code: any authority and category, a digit division, any organisation
    code whose GB 11714 check is not X (X is outside the alphabet: no such credit code)."""
    alphabet = st.sampled_from(ALPHABET)

    def build(head: list[str], division: list[str], organisation: list[str]) -> str:
        first16 = "".join(head + division + organisation)
        first17 = first16 + organization_code_check_character(first16[8:16])
        return first17 + credit_code_check_character(first17) if first17[16] != "X" else ""

    return st.builds(
        build,
        st.lists(alphabet, min_size=2, max_size=2),
        st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6),
        st.lists(alphabet, min_size=8, max_size=8),
    ).filter(bool)


@given(
    _valid_codes(),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(ALPHABET + "IOZSVabx-! ６"),
)
def test_any_valid_code_with_one_character_changed_is_refused(
    code: str, position: int, replacement: str
) -> None:
    assert parse_credit_code(code).text == code
    assume(replacement.upper() != code[position])  # upper-casing is the one normalisation
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(CreditCodeError):
        parse_credit_code(changed)
