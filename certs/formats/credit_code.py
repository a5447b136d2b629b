"""The 统一社会信用代码 (unified social credit code, GB 32100-2015).

**Verification-critical.** Institution certificates name their institution by this code, and
later checks (signatures on deposit, e-certificate identifiers) compare it. Pure: the
standard library only.

Layout of the 18 characters (positions 1-based)::

    1      registration authority code (登记管理部门代码), e.g. 3 司法行政, 9 工商, 1 机构编制
    2      institution category (机构类别代码), e.g. after 3: 1 律师事务所, 2 公证处, 4 鉴定机构
    3-8    administrative division of the registering authority (GB/T 2260), six digits
    9-17   organisation code (主体标识码, GB 11714): eight characters and, at position 17,
           the organisation code's own check character (0-9 or X in GB 11714; X is not in
           this alphabet, so 0-9 here)
    18     check character of the whole code (GB 32100, per GB/T 17710 MOD 31)

The alphabet is ``0-9 A-H J-N P-R T-U W-Y`` (31 characters: no I, O, Z, S, V); each
character's value is its index in it. Check character 18: ``C18 = 31 - (Σ value(Ci)·3^(i-1)
mod 31, i = 1..17) mod 31``, with 31 written as ``0``.

Decisions (docs/pki.md §2):

* Both check characters are validated. GB 32100 mandates only the 18th; the 17th is the
  GB 11714 check of the organisation code, which every institution of our catalogue (notary
  offices, law firms, courts, bureaus …) holds, so a typo there is caught too. GB 11714:
  ``C9 = 11 - (Σ value(Ci)·Wi mod 11)``, W = 3 7 9 10 5 8 4 2, digits their value, letters
  A=10 … Z=35; 10 is written ``X``, 11 ``0``.
* Positions 1-8 are checked against the alphabet and 3-8 to be digits, but not against the
  tables of authorities, categories and divisions: those tables change (a code ``A`` was added
  for military units) and a stale table would refuse real institutions.
* The only normalisation is stripping surrounding whitespace and upper-casing. ``L`` is a
  letter of this alphabet: nothing is read as anything else (the case codes'
  ``L``-as-``1`` rule does not apply here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from certs.errors import CheckCharacterMismatch, CreditCodeError

__all__ = [
    "ALPHABET",
    "CREDIT_CODE_LENGTH",
    "MAX_CREDIT_CODE_INPUT",
    "CreditCode",
    "credit_code_check_character",
    "organization_code_check_character",
    "parse_credit_code",
]

ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100, in value order (no I, O, Z, S, V)."""
CREDIT_CODE_LENGTH: Final = 18
MAX_CREDIT_CODE_INPUT: Final = 64
"""Longest text looked at (whitespace included) before it is refused as too long."""

_VALUE: Final = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
"""GB 32100 weights: 3^(i-1) mod 31 for positions 1..17."""
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714 weights of the organisation code's first eight characters."""


def credit_code_check_character(first17: str) -> str:
    """The 18th character of a credit code whose first 17 characters are ``first17``
    (which must already be in the alphabet)."""
    if len(first17) != 17:
        raise CreditCodeError(
            f"need 17 characters to compute a check character, got {len(first17)}"
        )
    total = sum(
        _value(c, i + 1) * w for i, (c, w) in enumerate(zip(first17, _WEIGHTS, strict=True))
    )
    return ALPHABET[(31 - total % 31) % 31]


def organization_code_check_character(first8: str) -> str:
    """The GB 11714 check character of an organisation code whose first 8 characters are
    ``first8`` (digits and capital letters): ``0``-``9`` or ``X``."""
    if len(first8) != 8:
        raise CreditCodeError(
            f"an organisation code has 8 characters before its check, got {len(first8)}"
        )
    total = 0
    for c, w in zip(first8, _ORG_WEIGHTS, strict=True):
        if "0" <= c <= "9":
            value = ord(c) - ord("0")
        elif "A" <= c <= "Z":
            value = ord(c) - ord("A") + 10
        else:
            raise CreditCodeError(f"{c!r} cannot be in an organisation code")
        total += value * w
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


@dataclass(frozen=True)
class CreditCode:
    """A checked 统一社会信用代码. Build it with :func:`parse_credit_code`."""

    text: str

    def __post_init__(self) -> None:
        if _checked(self.text) != self.text:
            raise CreditCodeError(f"not in normal form (upper case, no spaces): {self.text!r}")

    @property
    def registration_authority(self) -> str:
        """Position 1 (登记管理部门代码)."""
        return self.text[0]

    @property
    def institution_category(self) -> str:
        """Position 2 (机构类别代码)."""
        return self.text[1]

    @property
    def division(self) -> str:
        """Positions 3-8: the registering authority's administrative division (GB/T 2260)."""
        return self.text[2:8]

    @property
    def organization_code(self) -> str:
        """Positions 9-17: the GB 11714 organisation code, its check character last."""
        return self.text[8:17]

    def __str__(self) -> str:
        return self.text


def parse_credit_code(text: str) -> CreditCode:
    """Check ``text`` as a 统一社会信用代码 and return it normalised.

    Only surrounding whitespace is stripped and letters upper-cased; nothing else is changed.

    :raises CreditCodeError: wrong length, a character outside the alphabet (with its
        position), positions 3-8 not digits, or a wrong check character
        (:class:`CheckCharacterMismatch`, with the one expected).
    """
    return CreditCode(_checked(text))


def _checked(text: str) -> str:
    """``text`` normalised, once every rule of :func:`parse_credit_code` holds."""
    if len(text) > MAX_CREDIT_CODE_INPUT:
        raise CreditCodeError(
            f"a credit code has {CREDIT_CODE_LENGTH} characters; this text has {len(text)}"
        )
    code = text.strip().upper()
    if len(code) != CREDIT_CODE_LENGTH:
        raise CreditCodeError(
            f"a credit code has {CREDIT_CODE_LENGTH} characters, not {len(code)}: {code!r}"
        )
    for position, c in enumerate(code, start=1):
        _value(c, position)
    for position in range(3, 9):
        if not code[position - 1].isdigit():
            raise CreditCodeError(
                f"position {position} ({code[position - 1]!r}) is in the administrative "
                "division (positions 3-8), which is digits only",
                position=position,
            )
    organization_check = organization_code_check_character(code[8:16])
    if code[16] != organization_check:
        raise CheckCharacterMismatch(
            "organisation code (GB 11714)", 17, code[16], organization_check
        )
    check = credit_code_check_character(code[:17])
    if code[17] != check:
        raise CheckCharacterMismatch("credit code (GB 32100)", 18, code[17], check)
    return code


def _value(c: str, position: int) -> int:
    value = _VALUE.get(c)
    if value is None:
        hint = " (I, O, Z, S and V are not used)" if c in "IOZSV" else ""
        raise CreditCodeError(
            f"position {position}: {c!r} is not a character of the credit code alphabet "
            f"0-9 A-H J-N P-R T-U W-Y{hint}",
            position=position,
        )
    return value
