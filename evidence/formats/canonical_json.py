"""Strict JSON parsing shared by the self-describing formats (entries, custody events,
receipts, custody exports): a document with a key given twice is refused, never read as the
last value (which a second parser might read differently)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["unique_keys"]


def unique_keys(
    what: str, error: Callable[[str], Exception]
) -> Callable[[list[tuple[str, object]]], dict[str, object]]:
    """A ``json.loads`` ``object_pairs_hook`` that raises
    ``error("<what> has a duplicate key ...")`` on a key given twice."""

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in pairs:
            if key in out:
                raise error(f"{what} has a duplicate key {key!r:.80}")
            out[key] = value
        return out

    return hook
