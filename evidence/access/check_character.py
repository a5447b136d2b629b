"""Check characters for human-typed codes: Damm's check over GF(32), 32 unambiguous symbols.

**Pure** (standard library only). Case codes (一案一码) and share codes (证据提取码) end with one
check character computed here. The alphabet is Crockford's base 32: the digits and the
letters without ``I``, ``L``, ``O`` and ``U``, so that nothing looks like anything else; when
reading, ``O`` is taken as ``0`` and ``I``/``L`` as ``1`` (what people mistype), lowercase as
uppercase.

The check is H. M. Damm's (2004) construction with the totally anti-symmetric quasigroup
``x ∘ y = αx + y`` over the field GF(32) = GF(2)[α]/(α⁵ + α² + 1), symbols taken as field
elements by their value::

    state = 0;  for each symbol v:  state = α·state + v;   valid iff the final state is 0

so the check symbol of a payload is ``α·state`` (``+`` is XOR in GF(2⁵)). Written out, the
final state of a code ``v₁ … vₙ`` is ``Σ αⁿ⁻ⁱ vᵢ``: the check is a linear code, and an error
pattern ``e`` goes unnoticed only if ``Σ αⁿ⁻ⁱ eᵢ = 0``. Hence it catches, provably:

* every single wrong symbol (``αᵏ e ≠ 0`` for ``e ≠ 0``), the check symbol included;
* every swap of two adjacent symbols ``x ≠ y`` (``αᵏ(α + 1)(x − y) ≠ 0``, as ``α ≠ 1``),
  the check symbol included;
* also every swap across one symbol (``αᵏ(α + 1)²(x − y)``) and every twin error
  ``xx → yy``.

(ISO/IEC 7064's hybrid system, as in MOD 37,36, was rejected: with 32 symbols its second
modulus is 33, not a prime, and 64 adjacent swaps go unnoticed.) ``tests/unit/test_codes.py``
checks the quasigroup's anti-symmetry for all 32 × 32 × 32 cases and the properties on whole
codes with hypothesis.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ALPHABET", "FIELD_POLYNOMIAL", "check_symbol", "is_valid", "normalise", "step"]

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""The 32 symbols, in value order (Crockford's base 32)."""

FIELD_POLYNOMIAL: Final = 0b100101
"""α⁵ + α² + 1, the primitive polynomial defining GF(32)."""

_VALUE: Final = {ch: i for i, ch in enumerate(ALPHABET)}
_ALIASES: Final = {"O": "0", "I": "1", "L": "1"}


def normalise(text: str) -> str:
    """Uppercase, Crockford's look-alikes replaced (``O``→``0``, ``I``/``L``→``1``).

    Hyphens and spaces are left for the caller; any other symbol outside :data:`ALPHABET`
    stays as it is (and is refused by :func:`is_valid` and the code parsers).
    """
    return "".join(_ALIASES.get(ch, ch) for ch in text.upper())


def _times_alpha(x: int) -> int:
    x <<= 1
    return x ^ FIELD_POLYNOMIAL if x & 0b100000 else x


def step(state: int, value: int) -> int:
    """Damm's quasigroup operation ``state ∘ value = α·state + value`` in GF(32)."""
    return _times_alpha(state) ^ value


def _state(symbols: str) -> int:
    state = 0
    for ch in symbols:
        try:
            state = step(state, _VALUE[ch])
        except KeyError:
            raise ValueError(f"{ch!r} is not one of {ALPHABET}") from None
    return state


def check_symbol(payload: str) -> str:
    """The symbol that makes ``payload + symbol`` valid. ValueError outside :data:`ALPHABET`."""
    return ALPHABET[_times_alpha(_state(payload))]


def is_valid(code: str) -> bool:
    """Whether ``code`` (a normalised payload followed by its check symbol) checks out."""
    if len(code) < 2 or any(ch not in _VALUE for ch in code):
        return False
    return _state(code) == 0
