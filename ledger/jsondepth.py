"""The nesting depth of a JSON text, counted on its bytes before any parser recurses into it.

Both servers refuse deeply nested JSON before parsing it: the JSON-RPC node (where py-evm
raises Python's recursion limit to 100,000, far past what the C stack of ``json``'s parser
survives, so a deep body would crash the process) and the API (whose bodies are flat).
Pure: no I/O.
"""

from __future__ import annotations

import itertools
import operator
import re

__all__ = ["json_nesting_depth"]

# A JSON string: its quote, any run of plain characters and backslash escapes (possessive, so
# the match never backtracks), and its closing quote; an unterminated one runs to the end.
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# Opening bracket -> 2, closing -> 0; less 1, that is the step in nesting depth (+1, -1).
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def json_nesting_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` outside strings in a UTF-8 JSON text, unparsed.

    One linear pass of each step, all in C: cut out the strings (escapes included), keep only
    the brackets, and take the highest running sum of +1 per opening and -1 per closing one.
    Up to the first byte a JSON parser refuses, this is exactly the depth it recurses to; past
    it the count may only be higher. ``body`` must be valid UTF-8, in which no byte of a
    multi-byte character can be taken for a quote, backslash or bracket.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    steps = map(operator.sub, brackets.translate(_BRACKET_STEP), itertools.repeat(1))
    return int(max(itertools.accumulate(steps, initial=0)))
