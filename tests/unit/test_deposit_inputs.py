"""Deposit metadata checks: file names are kept exactly or refused, never repaired."""

from __future__ import annotations

import pytest

from evidence.errors import InputError
from evidence.services.deposits import (
    MAX_FILENAME_CHARS,
    MAX_TITLE_CHARS,
    check_title,
    clean_filename,
)


@pytest.mark.parametrize(
    "name", ["a.pdf", "公证书 (2026) 第1号.pdf", ".hidden", "x" * MAX_FILENAME_CHARS, "a..b"]
)
def test_ordinary_names_are_kept_exactly(name: str) -> None:
    assert clean_filename(name) == name


@pytest.mark.parametrize("name", [None, ""])
def test_no_name(name: str | None) -> None:
    assert clean_filename(name) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../../etc/passwd", "path separator"),
        ("dir/a.pdf", "path separator"),
        ("C:\\Users\\a.pdf", "path separator"),
        ("a\x00b.pdf", "NUL"),
        ("a\nb.pdf", "control characters"),
        ("a\u202eb.pdf", "control characters"),  # right-to-left override
        (".", "not a file name"),
        ("..", "not a file name"),
        ("   ", "not a file name"),
        ("x" * (MAX_FILENAME_CHARS + 1), "longer than"),
    ],
)
def test_bad_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        clean_filename(name)


def test_titles() -> None:
    assert check_title("  公证书  ") == "公证书"
    for bad, message in [
        ("", "empty"),
        ("a\tb", "control"),
        ("x" * (MAX_TITLE_CHARS + 1), "longer"),
    ]:
        with pytest.raises(InputError, match=message):
            check_title(bad)
