"""``Accept`` negotiation (api/negotiation.py): browsers get HTML, programs and ``*/*`` JSON,
q-values weighed by the most specific matching range, malformed ranges skipped."""

from __future__ import annotations

import pytest

from api.negotiation import MAX_ACCEPT_CHARS, media_ranges, preferred, prefers_html, quality_of

CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
WECHAT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/wxpic,image/tpg,"
    "image/webp,image/apng,*/*;q=0.8"
)


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/json, text/html", False),  # a tie: the default
        ("text/html", True),
        ("TEXT/HTML", True),
        (CHROME, True),
        (FIREFOX, True),
        (SAFARI, True),
        (WECHAT, True),
        ("text/html;q=0.5, application/json", False),
        ("application/json;q=0.5, text/html", True),
        ("text/*", True),
        ("text/*;q=0.9, application/*;q=0.9", False),
        ("text/*;q=0.9, application/*;q=0.8", True),
        ("text/html;q=0, */*", False),  # HTML ruled out, the rest welcome
        ("text/html;q=0", False),  # nothing acceptable: the default, not a 406
        ("text/html;q=0.001", True),
        ("text/html;q=abc, application/json;q=0.1", False),  # a bad q: the range is skipped
        ("text/html;q=1.5, application/json;q=0.1", False),
        ("text/html;q=0.1234, application/json;q=0.1", False),
        ("text/html;level=1;q=0.2, application/json;q=0.1", True),  # parameters ignored
        ("text/html;q=0.2;ext=1, application/json;q=0.1", True),  # extensions after q
        ("*/html, application/json;q=0.1", False),  # not a media range
        ("text, application/json;q=0.1", False),
        ("text/html , ,application/json;q=0.9", True),  # empty elements, spaces
        ("application/*;q=0.5, text/html;q=0.4, application/json;q=0.3", True),  # specific wins
        ("text/html;q=0.4, text/*;q=0.9, application/json;q=0.5", False),
    ],
)
def test_browsers_get_html_and_programs_json(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html


def test_an_over_long_accept_is_not_read() -> None:
    accept = "text/html" + " " * (MAX_ACCEPT_CHARS - len("text/html"))
    assert prefers_html(accept)
    assert not prefers_html(accept + " ")
    assert media_ranges(accept + " ") == []


def test_the_most_specific_range_gives_the_weight() -> None:
    ranges = media_ranges("*/*;q=0.1, text/*;q=0.5, text/html;q=0.7, text/html;q=0.9")
    assert quality_of(ranges, "text/html") == 0.7  # the first of the equally specific
    assert quality_of(ranges, "text/plain") == 0.5
    assert quality_of(ranges, "application/json") == 0.1
    assert quality_of(media_ranges("text/plain"), "text/html") == 0.0


def test_the_default_is_the_first_offered() -> None:
    assert preferred("*/*", ("text/html", "application/json")) == "text/html"
    assert preferred("image/png", ("application/json", "text/html")) == "application/json"
    with pytest.raises(ValueError):
        preferred("*/*", ())
