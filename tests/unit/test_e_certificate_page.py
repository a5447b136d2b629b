"""The public page of a registered e-certificate (evidence/formats/e_certificate_page.py):
the public view's values and nothing of the full one, every status, the successor's link,
every value escaped (only the page's own tags and attributes in the output), links relative
to the page and commands naming the server's public URL, and the "not registered" page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from certs.formats.institution_profile import InstitutionType
from evidence.formats.e_certificate import ECertificate, IssueFields
from evidence.formats.e_certificate_page import (
    MAX_SHOWN_IDENTIFIER_CHARS,
    CertificatePageError,
    certificate_page,
    not_registered_page,
)
from evidence.formats.e_certificate_views import full_view, public_view

VECTORS = Path(__file__).resolve().parents[1] / "assets" / "e_certificates"
CASES: dict[str, dict[str, Any]] = json.loads((VECTORS / "cases.json").read_text("utf-8"))
VALID = sorted(name for name, case in CASES.items() if case["valid"])
SERVER = "https://zhenglian.example.gov.cn/zl"
CHECKED = datetime(2026, 3, 5, 2, 30, tzinfo=UTC)  # 2026-03-05 10:30 in Beijing
SUCCESSOR = "GZ-32510802MB1530425A-A000000001-3"

#: Everything the page itself writes; any other tag or attribute came from the data.
PAGE_TAGS = {
    "html", "head", "meta", "title", "body", "p", "h1", "h2", "br", "section", "dl", "dt",
    "dd", "strong", "code", "wbr", "time", "a", "ol", "li", "footer",
}  # fmt: skip
PAGE_ATTRIBUTES = {"lang", "charset", "name", "content", "datetime", "href"}


def vector(name: str) -> ECertificate:
    return ECertificate.decode((VECTORS / f"{name}.ecert").read_bytes())


def answer(cert: ECertificate, state: str = "issued", **status: Any) -> dict[str, Any]:
    """The public answer of GET /v1/certificates/{id} (docs/e-certificates.md §8.2)."""
    return {
        "id": cert.id,
        "view": public_view(cert),
        "status": {
            "state": state,
            "reason": None,
            "reason_name": None,
            "effective_time": None,
            "successor": None,
            "pending": state == "pending",
            "pending_change": None,
            "registered_at": "2026-03-02T08:00:00Z",
            "issue": None if state == "pending" else {"tx_hash": "0x" + "ab" * 32, "block": 12},
            "change": None,
            **status,
        },
        "chain": {"chain_id": 23116, "registry": "0x" + "12" * 20, "key": "0x" + "cd" * 32},
        "signed": {"certificate": None, "certificate_sha256": "ef" * 32},
        "pdf": None,
    }


def page(cert: ECertificate, state: str = "issued", **status: Any) -> str:
    return certificate_page(answer(cert, state, **status), server_url=SERVER, checked_at=CHECKED)


def text(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, break opportunities gone."""
    parser = _Collector()
    parser.feed(html)
    return "".join(parser.text)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Collector()
    parser.feed(html)
    return parser.tags


def hrefs(html: str) -> list[str]:
    return [v or "" for _, attrs in tags(html) for k, v in attrs if k == "href"]


@pytest.mark.parametrize("name", VALID)
def test_the_page_shows_the_public_view_and_nothing_of_the_full_one(name: str) -> None:
    cert = vector(name)
    html = page(cert)
    shown = text(html)
    public, full = public_view(cert), full_view(cert)
    assert cert.holder.id_number not in html and cert.holder.id_number not in shown
    if cert.holder.address is not None:
        assert cert.holder.address not in shown
        assert public["holder"]["address"] in shown
    assert public["holder"]["id_number"] in shown
    if public["holder"]["id_number"] != full["holder"]["id_number"]:
        assert full["holder"]["id_number"] not in shown
    for value in (
        cert.id,
        cert.number,
        cert.holder.name,
        cert.type.zh,
        cert.type.en,
        cert.holder.id_type.zh,
        cert.issuer.name,
        cert.issuer.credit_code,
        public["issued"],
        public["valid_from"],
        cert.issuer.certificate_sha256.hex(),
        "ef" * 32,  # the SHA-256 of the registered bytes
    ):
        assert value in shown, value
    for row in public["details"]:
        assert row["zh"] in shown and row["value_zh"] in shown
    assert "已遮蔽" in shown and "masks the holder's ID number and address" in shown


def test_the_page_is_self_contained_html_for_phones() -> None:
    html = page(vector("notarial-certificate"))
    assert html.startswith('<!doctype html>\n<html lang="zh-CN">')
    assert '<meta charset="utf-8">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    found = tags(html)
    assert {tag for tag, _ in found} <= PAGE_TAGS
    assert {key for _, attrs in found for key, _ in attrs} <= PAGE_ATTRIBUTES
    # Nothing the CSP default-src 'none' would block, nor anything loaded from elsewhere.
    for banned in ("<script", "<style", "style=", "<img", "<link", "<iframe", "<form", "src="):
        assert banned not in html


def test_the_issued_page_says_when_and_from_where_the_status_came() -> None:
    cert = vector("notarial-certificate")
    shown = text(page(cert))
    assert "已登记，有效" in shown and "Registered and in force" in shown
    assert "有效 (issued)" in shown
    assert "2026-03-05 10:30:00 北京时间 (UTC+8)" in shown  # checked
    assert 'datetime="2026-03-05T02:30:00Z"' in page(cert)
    assert "2026-03-02 16:00:00 北京时间" in shown  # registered
    assert "区块 block 12" in shown and "0x" + "ab" * 32 in shown
    assert "23116" in shown and "0x" + "12" * 20 in shown and "0x" + "cd" * 32 in shown
    assert "The service's record of the registry contract's transactions" in shown
    assert "2026-03-02 起长期有效" in shown


def test_validity_is_judged_on_the_day_the_status_was_checked_in_beijing() -> None:
    cert = vector("lawyer-practising-certificate")
    view = public_view(cert)
    until = datetime.fromisoformat(view["valid_until"] + "T23:59:59+08:00")
    ans = answer(cert)
    last_day = certificate_page(ans, server_url=SERVER, checked_at=until)
    assert "Registered and in force" in text(last_day)
    assert f"{view['valid_from']} 至 {view['valid_until']}" in text(last_day)
    next_day = certificate_page(ans, server_url=SERVER, checked_at=until + timedelta(seconds=1))
    assert "已过有效期" in text(next_day) and "past its validity" in text(next_day)
    start = datetime.fromisoformat(view["valid_from"] + "T00:00:00+08:00")
    before = certificate_page(ans, server_url=SERVER, checked_at=start - timedelta(seconds=1))
    assert "尚未生效" in text(before) and "not valid yet" in text(before)


def test_the_revoked_page_gives_the_reason_and_the_effective_time() -> None:
    cert = vector("notarial-certificate")
    change = {"action": "revoke", "tx_hash": "0x" + "99" * 32, "block": 40}
    change["at"] = "2026-03-04T01:00:00Z"
    shown = text(
        page(
            cert,
            "revoked",
            reason=9,
            reason_name="privilegeWithdrawn",
            effective_time="2026-03-03T16:00:00Z",
            change=change,
        )
    )
    assert "已撤销 · Revoked" in shown
    assert "已撤销 (revoked)" in shown
    assert "资格或许可被撤回 (privilegeWithdrawn, 9)" in shown
    assert "2026-03-04 00:00:00 北京时间" in shown  # effective
    assert "revoke transaction" in shown and "区块 block 40" in shown
    assert "2026-03-04 09:00:00 北京时间" in shown  # the change's time
    assert "Registered and in force" not in shown


def test_the_superseded_page_links_to_the_successor() -> None:
    cert = vector("notarial-certificate")
    html = page(cert, "superseded", successor=SUCCESSOR)
    shown = text(html)
    assert "已被新版本取代" in shown and "已被取代 (superseded)" in shown
    assert hrefs(html).count(SUCCESSOR) == 2  # in the verdict and in the status
    assert "Registered and in force" not in shown


def test_a_successor_that_is_no_identifier_is_shown_not_linked() -> None:
    cert = vector("notarial-certificate")
    html = page(cert, "superseded", successor='x" onclick="alert(1)')
    assert 'x" onclick' not in html and "x&quot; onclick=&quot;alert(1)" in html
    assert all("onclick" not in href for href in hrefs(html))


def test_pending_registrations_and_changes_are_not_relied_on() -> None:
    cert = vector("notarial-certificate")
    shown = text(page(cert, "pending"))
    assert "登记尚未上链确认" in shown and "do not rely on it now" in shown
    assert "Registered and in force" not in shown and "登记交易" not in shown
    shown = text(page(cert, pending_change="revoke"))
    assert "Registered and in force" in shown
    assert "签发机构已提交变更（revoke），尚待上链确认" in shown


def test_every_value_is_escaped() -> None:
    hostile = '<script>alert("x")</script>&\'王'
    fields = {
        "type": "notarial_certificate",
        "number": "</dd><script>1</script>",
        "issued": "2026-03-02",
        "valid_from": "2026-03-02",
        "valid_until": None,
        "holder": {
            "name": hostile,
            "id_type": "passport",
            "id_number": "E12345678",
            "address": '<img src=x onerror="alert(1)">',
        },
        "issuer": {"name": "广元市<b>利州</b>公证处", "credit_code": "32510802MB1530425A"},
        "details": {
            "matter": "<a href=javascript:alert(1)>x</a>",
            "notary": "李明",
            "purpose": None,
        },
    }
    cert = IssueFields.from_json_bytes(json.dumps(fields).encode()).certificate(
        issuer_type=InstitutionType.NOTARY_OFFICE, certificate_sha256=bytes(32)
    )
    html = page(cert)
    found = tags(html)
    assert {tag for tag, _ in found} <= PAGE_TAGS
    assert {key for _, attrs in found for key, _ in attrs} <= PAGE_ATTRIBUTES
    assert all(not href.startswith(("javascript", "http", "/")) for href in hrefs(html))
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;王" in html
    shown = text(html)
    assert hostile in shown and "</dd><script>1</script>" in shown
    assert "E12345678" not in shown and "E******78" in shown
    assert "onerror" not in shown  # the address is masked whole (no province or city)
    assert "广元市<b>利州</b>公证处" in shown


def test_links_are_relative_and_commands_name_the_public_url() -> None:
    cert = vector("notarial-certificate")
    ans = answer(cert)
    ans["pdf"] = f"/v1/certificates/{cert.id}/pdf"
    html = certificate_page(ans, server_url=SERVER + "/", checked_at=CHECKED)
    assert "127.0.0.1" not in html and "localhost" not in html
    assert sorted(hrefs(html)) == sorted(
        [
            f"{cert.id}/report?format=text",
            f"{cert.id}/report",
            f"{cert.id}/report?source=chain&format=text",
            f"{cert.id}/pdf",
        ]
    )
    shown = text(html)
    assert f"curl {SERVER}/v1/certificates/{cert.id}" in shown
    assert f"zhenglian certificate status {cert.id} --server {SERVER}" in shown
    assert (
        f"zhenglian verify --certificate {cert.id}.json --certificate-signature {cert.id}.sig "
        f"--signer-cert signer.pem --trust trust.json --server {SERVER} --rpc NODE_URL"
    ) in shown
    assert f"{SERVER}/v1/trust" in shown
    assert f"{SERVER}/v1/certificates/{cert.id}/report?source=chain&format=text" in shown
    assert f"{SERVER}/v1/certificates/{cert.id}/pdf" in shown
    # Long URLs may break after a slash on a phone, and copy whole.
    assert re.search(r"https://zhenglian\.example\.gov\.cn/<wbr>zl/<wbr>v1", html)


def test_only_the_public_view_is_ever_rendered() -> None:
    cert = vector("notarial-certificate")
    full = answer(cert)
    full["view"] = full_view(cert)
    with pytest.raises(CertificatePageError, match="public view only"):
        certificate_page(full, server_url=SERVER, checked_at=CHECKED)
    unmasked = answer(cert)
    unmasked["view"]["holder"]["masked"] = False
    with pytest.raises(CertificatePageError, match="public view only"):
        certificate_page(unmasked, server_url=SERVER, checked_at=CHECKED)
    broken = answer(cert)
    del broken["chain"]
    with pytest.raises(CertificatePageError, match="not a public certificate answer"):
        certificate_page(broken, server_url=SERVER, checked_at=CHECKED)
    unknown = answer(cert, "suspended")
    with pytest.raises(CertificatePageError):
        certificate_page(unknown, server_url=SERVER, checked_at=CHECKED)
    with pytest.raises(CertificatePageError, match="zone"):
        certificate_page(answer(cert), server_url=SERVER, checked_at=datetime(2026, 3, 5))


def test_the_not_registered_page_escapes_and_cuts_what_was_asked() -> None:
    html = not_registered_page("<script>x</script>", problem="an identifier has 34 <characters>")
    assert html.startswith('<!doctype html>\n<html lang="zh-CN">')
    assert {tag for tag, _ in tags(html)} <= PAGE_TAGS
    shown = text(html)
    assert "未登记" in shown and "Not registered" in shown
    assert "<script>x</script>" in shown and "<script" not in html
    assert "This is not a valid identifier: an identifier has 34 <characters>" in shown
    long = "A" * (MAX_SHOWN_IDENTIFIER_CHARS + 50)
    shown = text(not_registered_page(long))
    assert "A" * MAX_SHOWN_IDENTIFIER_CHARS + "…" in shown
    assert "A" * (MAX_SHOWN_IDENTIFIER_CHARS + 1) not in shown
    assert "not a valid identifier" not in shown
