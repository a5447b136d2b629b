"""Content negotiation: which of a route's representations the client's ``Accept`` prefers
(RFC 9110 §12.5.1), for routes that answer JSON to programs and HTML to browsers.

Each offered media type takes the weight (``q``) of the most specific media range that
matches it — ``type/subtype`` over ``type/*`` over ``*/*``; of several equally specific ones
the first — and 0 when none matches. The offered type of the highest weight above 0 wins; a
tie goes to the type offered first (the route's default), so ``*/*``, a missing or empty
``Accept`` and an ``Accept`` that rules out everything all get the default (no 406: an API
client always gets an answer it can read). Parameters of a media range other than ``q`` are
ignored (they never narrow our representations, which take none); a range that is not
``type/subtype`` or whose ``q`` is not ``0``–``1`` with at most three decimals is skipped,
as is an ``Accept`` longer than :data:`MAX_ACCEPT_CHARS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MAX_ACCEPT_CHARS: Final = 2048
"""Longest ``Accept`` header read; a longer one is answered with the default representation
(browsers send about 100 characters)."""

_TOKEN: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_RANGE: Final = re.compile(rf"({_TOKEN})/({_TOKEN})")
_QUALITY: Final = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


@dataclass(frozen=True)
class MediaRange:
    """One element of an ``Accept`` header: ``type/subtype`` (lower case) and its weight."""

    type: str
    subtype: str
    quality: float

    def specificity(self, media_type: str) -> int:
        """How closely this range names ``media_type`` (``type/subtype``, lower case): 2 the
        type itself, 1 ``type/*``, 0 ``*/*``, -1 no match."""
        kind, _, sub = media_type.partition("/")
        if self.type == "*" and self.subtype == "*":
            return 0
        if self.type != kind:
            return -1
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == sub else -1


def media_ranges(accept: str) -> list[MediaRange]:
    """The well-formed media ranges of an ``Accept`` value, in order (the rules above)."""
    if len(accept) > MAX_ACCEPT_CHARS:
        return []
    ranges = []
    for element in accept.split(","):
        name, *parameters = (part.strip() for part in element.split(";"))
        match = _RANGE.fullmatch(name)
        if match is None or (match.group(1) == "*" and match.group(2) != "*"):
            continue
        quality: float | None = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                value = value.strip()
                quality = float(value) if _QUALITY.fullmatch(value) else None
                break  # what follows q are accept-extensions, not media type parameters
        if quality is not None:
            ranges.append(MediaRange(match.group(1).lower(), match.group(2).lower(), quality))
    return ranges


def quality_of(ranges: Sequence[MediaRange], media_type: str) -> float:
    """The weight ``ranges`` give ``media_type``: that of the most specific matching range."""
    best, weight = -1, 0.0
    for candidate in ranges:
        specificity = candidate.specificity(media_type)
        if specificity > best:
            best, weight = specificity, candidate.quality
    return weight


def preferred(accept: str | None, offered: Sequence[str]) -> str:
    """The representation of ``offered`` (lower-case ``type/subtype``, the default first)
    that ``accept`` prefers (the module's rules)."""
    if not offered:
        raise ValueError("offer at least one media type")
    ranges = media_ranges(accept or "")
    choice, weight = offered[0], 0.0
    for media_type in offered:
        quality = quality_of(ranges, media_type)
        if quality > weight:
            choice, weight = media_type, quality
    return choice


def prefers_html(accept: str | None) -> bool:
    """Whether ``accept`` prefers ``text/html`` over ``application/json`` (JSON on a tie)."""
    return preferred(accept, ("application/json", "text/html")) == "text/html"
