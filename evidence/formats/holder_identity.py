"""A certificate holder's identity documents and address: their checks, and how they are
masked in public views (``docs/e-certificates.md`` §4).

**Pure** (standard library and :mod:`certs.formats.credit_code`). The ID types and number
rules are part of the version 1 certificate encoding; the masking rules decide what the
public sees of a person and may be tightened at any time (they are not part of any
encoding or signature).

Masking, in short: a 居民身份证号 keeps its first 6 characters (the region where it was
registered) and its last 4 (sequence number and check digit), hiding the date of birth;
other personal ID numbers keep their first character and last 2 when they have at least 8
characters, and are hidden entirely when shorter; an organisation's 统一社会信用代码 is
public (shown whole). An address keeps its province and city (up to the first 市, 自治州,
地区 or 盟 after an optional 省, 自治区 or 特别行政区) and hides the rest; an address where
no city can be found is hidden entirely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from certs.errors import CreditCodeError
from certs.formats.credit_code import parse_credit_code

__all__ = [
    "ID_TYPES",
    "MASK",
    "MAX_ID_NUMBER_CHARS",
    "MAX_KEPT_REGION_CHARS",
    "RESIDENT_ID_LENGTH",
    "IdNumberError",
    "IdType",
    "check_id_number",
    "id_type",
    "mask_address",
    "mask_id_number",
    "resident_id_check_character",
]

MASK: Final = "*"
"""The character that stands for each hidden character of an ID number, and (four of them)
for the hidden part of an address."""

RESIDENT_ID_LENGTH: Final = 18
"""Length of a 公民身份号码 (GB 11643-1999)."""

MAX_ID_NUMBER_CHARS: Final = 32
"""Longest ID number of the other types (passports and permits have 8 to 18 characters)."""

MAX_KEPT_REGION_CHARS: Final = 12
"""Longest province, and longest city, an address mask keeps (the longest Chinese
prefecture names, such as 克孜勒苏柯尔克孜自治州, have 11 characters); a longer run before
the marker is not taken for a region name."""

_RESIDENT_ID: Final = re.compile(r"[0-9]{17}[0-9X]")
_OTHER_ID: Final = re.compile(r"[0-9A-Z]{1,32}")
_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_PROVINCE_ENDS: Final = ("特别行政区", "自治区", "省")
_CITY_ENDS: Final = ("自治州", "地区", "市", "盟")


class IdNumberError(ValueError):
    """An ID number does not fit its type's rules (the message says which)."""


@dataclass(frozen=True)
class IdType:
    """A kind of identity document a holder may be named by."""

    key: str
    zh: str
    en: str
    personal: bool
    """Whether its number is personal data (masked in public views)."""


ID_TYPES: Final[tuple[IdType, ...]] = (
    IdType("resident_id", "居民身份证", "Resident identity card", True),
    IdType("passport", "护照", "Passport", True),
    IdType(
        "hk_macao_permit",
        "港澳居民来往内地通行证",
        "Mainland travel permit for Hong Kong and Macao residents",
        True,
    ),
    IdType(
        "taiwan_permit",
        "台湾居民来往大陆通行证",
        "Mainland travel permit for Taiwan residents",
        True,
    ),
    IdType(
        "foreign_permanent_id",
        "外国人永久居留身份证",
        "Foreign permanent resident ID card",
        True,
    ),
    IdType("credit_code", "统一社会信用代码", "Unified social credit code (organisation)", False),
    IdType("other", "其他证件", "Other identity document", True),
)
"""Every ID type, in documentation order."""

_BY_KEY: Final = {t.key: t for t in ID_TYPES}


def id_type(key: object) -> IdType:
    """The ID type named ``key``. :raises IdNumberError: not one of :data:`ID_TYPES`."""
    found = _BY_KEY.get(key) if isinstance(key, str) else None
    if found is None:
        raise IdNumberError(f"must be one of {', '.join(_BY_KEY)}, got {key!r:.40}")
    return found


def resident_id_check_character(first17: str) -> str:
    """The check character of a 公民身份号码 (GB 11643-1999, ISO/IEC 7064 MOD 11-2) whose
    first 17 digits are ``first17``: ``(12 − Σ dᵢ·2^(17−i) mod 11) mod 11``, 10 written
    ``X``."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def check_id_number(kind: IdType, number: object) -> str:
    """``number`` if it fits ``kind``: a 公民身份号码 is 17 digits and its MOD 11-2 check
    character (upper-case ``X``); a credit code passes both its check characters and is
    written upper case; any other number is 1..:data:`MAX_ID_NUMBER_CHARS` characters of
    ``0-9 A-Z`` (upper case, no spaces or hyphens).

    :raises IdNumberError: otherwise (for a wrong check character, with the expected one)."""
    if not isinstance(number, str):
        raise IdNumberError(f"must be a string, not {type(number).__name__}")
    if kind.key == "resident_id":
        if _RESIDENT_ID.fullmatch(number) is None:
            raise IdNumberError(
                f"a 居民身份证 number is 17 digits and a digit or X, got {len(number)} "
                "characters" + (" (write X upper case)" if number.endswith("x") else "")
            )
        expected = resident_id_check_character(number[:17])
        if number[17] != expected:
            raise IdNumberError(
                f"wrong 居民身份证 check character (GB 11643, ISO/IEC 7064 MOD 11-2) at "
                f"position 18: {number[17]!r}, expected {expected!r}"
            )
        return number
    if kind.key == "credit_code":
        try:
            code = parse_credit_code(number)
        except CreditCodeError as exc:
            raise IdNumberError(str(exc)) from None
        if code.text != number:
            raise IdNumberError("a credit code is written upper case without spaces")
        return number
    if _OTHER_ID.fullmatch(number) is None:
        raise IdNumberError(
            f"must be 1..{MAX_ID_NUMBER_CHARS} characters of 0-9 and A-Z (upper case, no "
            f"spaces or hyphens), got {number!r:.40}"
        )
    return number


def mask_id_number(kind: IdType, number: str) -> str:
    """``number`` as the public sees it (the module's docstring has the rules)."""
    if not kind.personal:
        return number
    if kind.key == "resident_id":
        return number[:6] + MASK * 8 + number[-4:]
    if len(number) >= 8:
        return number[0] + MASK * (len(number) - 3) + number[-2:]
    return MASK * len(number)


_NOT_IN_REGION_NAME: Final = frozenset("县区镇乡街路巷村组号栋楼室")
"""Characters that mark a finer place than a province or city: a run containing one is not
taken for a province's or city's name (so ``苍溪县城市场路`` is not read as a city)."""


def _region_end(text: str, start: int, ends: tuple[str, ...]) -> int | None:
    """The index just after the earliest marker of ``ends`` that follows a name of
    1..:data:`MAX_KEPT_REGION_CHARS` characters starting at ``start``, or None."""
    best: int | None = None
    for end in ends:
        found = text.find(end, start + 1)
        if found == -1 or found - start > MAX_KEPT_REGION_CHARS:
            continue
        if _NOT_IN_REGION_NAME.intersection(text[start:found]):
            continue
        if best is None or found + len(end) < best:
            best = found + len(end)
    return best


def mask_address(address: str) -> str:
    """``address`` with everything after its province and city replaced by ``****`` (the
    province alone kept when no city follows it; all of it ``****`` when neither is found).
    The module's docstring has the rules."""
    province = _region_end(address, 0, _PROVINCE_ENDS)
    city = _region_end(address, province or 0, _CITY_ENDS)
    kept = city if city is not None else province
    if kept is None:
        return MASK * 4
    if kept >= len(address):
        return address
    return address[:kept] + MASK * 4
