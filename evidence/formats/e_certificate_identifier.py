"""The self-checking identifier of a registered e-certificate (电子证照标识).

**Verification-critical and pure** (standard library and :mod:`certs.formats.credit_code`).
An identifier is printed on the certificate, encoded in its QR code and in the verification
URL, and stored in the ``CertificateRegistry`` contract; changing the layout or the check
makes every identifier issued so far unreadable. Change it only with a new certificate
format version (``docs/e-certificates.md``).

Layout (34 characters, ASCII, upper case, hyphens at fixed places)::

    TT-CCCCCCCCCCCCCCCCCC-SSSSSSSSSS-K
    GZ-32510802MB1530425A-N22MBNCBBQ-J     (the notarial certificate of the vectors)

* ``TT`` — the certificate type's code from the catalogue
  (:mod:`evidence.formats.e_certificate_catalogue`: ``GZ`` 公证书, ``JD`` 司法鉴定意见书,
  ``FY`` 法律援助决定书, ``LS`` 律师执业证); two letters ``A``-``Z``.
* ``C…`` — the issuer's 统一社会信用代码, 18 characters, both of its own check characters
  valid (GB 32100, GB 11714).
* ``S…`` — the serial: exactly :data:`SERIAL_LENGTH` characters of the credit code's
  alphabet (digits and the letters without I, O, Z, S, V), chosen by the issuer or derived
  from the certificate number (:func:`derived_serial`).
* ``K`` — the check character: ISO/IEC 7064 MOD 37,36 (hybrid system, alphabet ``0``-``9``
  ``A``-``Z``) over the 30 characters ``TT || C… || S…`` (hyphens left out).

Every part has a fixed length, so a character inserted or deleted changes the length and is
refused by the layout; a hyphen replaced is refused by the layout; any other single changed
character is refused by MOD 37,36, which detects every single substitution (36 is the
alphabet's size and 37 is prime); a change inside the credit code is also caught by the
credit code's own checks. Parsing is exact: no case folding and no look-alike mapping
(``L`` is a letter of the credit code's alphabet; the case codes' rule reading ``L`` as
``1`` does not apply), so every identifier has exactly one spelling.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from certs.errors import CreditCodeError
from certs.formats.credit_code import ALPHABET as CREDIT_CODE_ALPHABET
from certs.formats.credit_code import CREDIT_CODE_LENGTH, parse_credit_code
from evidence.errors import InputError

__all__ = [
    "CHECK_ALPHABET",
    "IDENTIFIER_LENGTH",
    "MAX_IDENTIFIER_INPUT",
    "SERIAL_ALPHABET",
    "SERIAL_LENGTH",
    "SERIAL_PREFIX",
    "TYPE_CODE_LENGTH",
    "CertificateIdentifier",
    "IdentifierCheckMismatch",
    "IdentifierError",
    "check_serial",
    "derived_serial",
    "mod37_36_check_character",
    "parse_identifier",
]

TYPE_CODE_LENGTH: Final = 2
"""Length of a certificate type's code."""

SERIAL_LENGTH: Final = 10
"""Length of the serial (31¹⁰ ≈ 8·10¹⁴ serials per issuer and type)."""

SERIAL_ALPHABET: Final = CREDIT_CODE_ALPHABET
"""The serial's characters: the credit code's alphabet (no I, O, Z, S, V)."""

CHECK_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""ISO/IEC 7064 MOD 37,36's alphabet, each character worth its index."""

IDENTIFIER_LENGTH: Final = TYPE_CODE_LENGTH + 1 + CREDIT_CODE_LENGTH + 1 + SERIAL_LENGTH + 2
"""34: the four parts and three hyphens."""

MAX_IDENTIFIER_INPUT: Final = 64
"""Longest text :func:`parse_identifier` looks at (longer is refused before any work)."""

SERIAL_PREFIX: Final = b"zhenglian/e-certificate-serial/v1\n"
"""Domain-separation prefix of the hash a derived serial is taken from."""

_CHECK_VALUE: Final = {c: i for i, c in enumerate(CHECK_ALPHABET)}
_TYPE_CODE: Final = re.compile(r"[A-Z]{2}")


class IdentifierError(InputError):
    """A text is not a certificate identifier (the message says which part is wrong)."""


class IdentifierCheckMismatch(IdentifierError):
    """The identifier's check character is not the one its other characters give."""

    def __init__(self, found: str, expected: str) -> None:
        self.found = found
        self.expected = expected
        super().__init__(
            f"wrong identifier check character (ISO/IEC 7064 MOD 37,36): {found!r}, "
            f"expected {expected!r}"
        )


def mod37_36_check_character(payload: str) -> str:
    """The ISO/IEC 7064 MOD 37,36 check character of ``payload`` (characters of
    :data:`CHECK_ALPHABET`)::

        p = 36
        for each character c:  s = (p + value(c)) mod 36, or 36 if that is 0;  p = 2s mod 37
        check = (37 - p) mod 36

    :raises ValueError: a character outside :data:`CHECK_ALPHABET`.
    """
    p = 36
    for c in payload:
        value = _CHECK_VALUE.get(c)
        if value is None:
            raise ValueError(f"{c!r} is not one of {CHECK_ALPHABET}")
        s = (p + value) % 36 or 36
        p = (2 * s) % 37
    return CHECK_ALPHABET[(37 - p) % 36]


def check_serial(serial: object, what: str = "serial") -> str:
    """``serial`` if it is :data:`SERIAL_LENGTH` characters of :data:`SERIAL_ALPHABET`.

    :raises IdentifierError: otherwise, naming the first wrong character."""
    if not isinstance(serial, str):
        raise IdentifierError(f"{what} must be a string, not {type(serial).__name__}")
    if len(serial) != SERIAL_LENGTH:
        raise IdentifierError(
            f"{what} must have {SERIAL_LENGTH} characters, got {len(serial)}: {serial!r:.40}"
        )
    for position, c in enumerate(serial, start=1):
        if c not in SERIAL_ALPHABET:
            hint = " (I, O, Z, S and V are not used)" if c in "IOZSV" else ""
            raise IdentifierError(
                f"{what} position {position}: {c!r} is not one of 0-9 A-H J-N P-R T-U W-Y{hint}"
            )
    return serial


def derived_serial(type_code: str, credit_code: str, number: str) -> str:
    """The serial of a certificate whose issuer gave none: the big-endian integer
    ``SHA-256(SERIAL_PREFIX || type_code || "\\n" || credit_code || "\\n" || UTF-8(number))``
    modulo 31^10, written as :data:`SERIAL_LENGTH` digits of :data:`SERIAL_ALPHABET` (most
    significant first, leading zeros kept). The same (type, issuer, number) always gets the same
    serial, so issuing again gives the same identifier."""
    digest = hashlib.sha256(
        SERIAL_PREFIX + f"{type_code}\n{credit_code}\n{number}".encode()
    ).digest()
    value = int.from_bytes(digest, "big")
    digits = []
    for _ in range(SERIAL_LENGTH):
        value, digit = divmod(value, len(SERIAL_ALPHABET))
        digits.append(SERIAL_ALPHABET[digit])
    return "".join(reversed(digits))


@dataclass(frozen=True)
class CertificateIdentifier:
    """A checked identifier. Build one with :meth:`build` or :func:`parse_identifier`."""

    type_code: str
    credit_code: str
    serial: str

    def __post_init__(self) -> None:
        if not isinstance(self.type_code, str) or _TYPE_CODE.fullmatch(self.type_code) is None:
            raise IdentifierError(
                f"a certificate type code is two letters A-Z, got {self.type_code!r:.20}"
            )
        try:
            code = parse_credit_code(self.credit_code)
        except CreditCodeError as exc:
            raise IdentifierError(f"the identifier's credit code: {exc}") from None
        if code.text != self.credit_code:
            raise IdentifierError("the identifier's credit code must be upper case, no spaces")
        check_serial(self.serial)

    @property
    def check_character(self) -> str:
        return mod37_36_check_character(self.type_code + self.credit_code + self.serial)

    @property
    def text(self) -> str:
        """The identifier as written: ``TT-CCCCCCCCCCCCCCCCCC-SSSSSSSSSS-K``."""
        return f"{self.type_code}-{self.credit_code}-{self.serial}-{self.check_character}"

    def __str__(self) -> str:
        return self.text


def parse_identifier(text: object) -> CertificateIdentifier:
    """Parse an identifier exactly as :attr:`CertificateIdentifier.text` writes it.

    Whether the type code is in the catalogue is checked by
    :func:`evidence.formats.e_certificate_catalogue.certificate_type_by_code`.

    :raises IdentifierError: the length, a hyphen, a part, or (:class:`IdentifierCheckMismatch`)
        the check character is wrong.
    """
    if not isinstance(text, str):
        raise IdentifierError(f"an identifier is a string, not {type(text).__name__}")
    if len(text) > MAX_IDENTIFIER_INPUT or len(text) != IDENTIFIER_LENGTH:
        raise IdentifierError(
            f"an identifier has {IDENTIFIER_LENGTH} characters "
            f"(TT-CCCCCCCCCCCCCCCCCC-SSSSSSSSSS-K), got {len(text)}"
        )
    hyphens = (TYPE_CODE_LENGTH, TYPE_CODE_LENGTH + 1 + CREDIT_CODE_LENGTH, IDENTIFIER_LENGTH - 2)
    for index in hyphens:
        if text[index] != "-":
            raise IdentifierError(
                f"an identifier has a '-' at position {index + 1}, not {text[index]!r}"
            )
    type_code = text[: hyphens[0]]
    credit_code = text[hyphens[0] + 1 : hyphens[1]]
    serial = text[hyphens[1] + 1 : hyphens[2]]
    found = text[-1]
    if found not in CHECK_ALPHABET:
        raise IdentifierError(
            f"the identifier's check character {found!r} is not one of 0-9 A-Z (upper case)"
        )
    if credit_code != credit_code.upper():
        raise IdentifierError("the identifier's credit code must be upper case")
    identifier = CertificateIdentifier(type_code, credit_code, check_serial(serial, "the serial"))
    expected = identifier.check_character
    if found != expected:
        raise IdentifierCheckMismatch(found, expected)
    return identifier
