"""What an e-certificate's QR code opens in a browser, on a real ``zhenglian serve`` (embedded
chain, SQLite): ``GET /v1/certificates/{id}`` with a browser's ``Accept`` answers the public
page (text/html; charset=utf-8, the security headers, the masked values and never the holder's
ID number or address — the issuer's token included —, every status, the successor's page
through the page's own link, the holder's name escaped), a 404 page for an identifier not
registered, and JSON as before without that header; HTML and JSON calls share the public
rate limit."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from certs.formats.institution_profile import InstitutionType
from certs.formats.status_statement import (
    CertificateRevocationReason,
    StatusStatement,
    certificate_key,
)
from certs.store.authority import CertificateAuthority
from evidence.formats.e_certificate import ECertificate
from evidence.formats.e_certificate_identifier import CertificateIdentifier
from evidence.formats.e_certificate_views import public_view
from tests.integration.test_certificates_api import PASSPHRASES, Signer, _institution, make, ok, zl
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://zhenglian.example.gov.cn/zl"
NOTARY, NOTARY_CODE = "北京市某公证处", "11110000000029209E"
HOLDER_ID = "11010519491231002X"
STREET = "滨河北路88号"
HOSTILE_NAME = '<script>alert("证链")</script>王小红'
CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
BROWSER = {"Accept": CHROME}
#: The public rate of this module's server: the last test goes past the burst.
RATE, BURST = 2, 20


@dataclass
class Site:
    server: ZhenglianServer
    notary: Signer
    token: str
    chain_id: int
    registry: bytes
    serial: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def statement(self, identifier: str, action: str, **fields: Any) -> bytes:
        build = getattr(StatusStatement, action)
        statement: StatusStatement = build(
            chain_id=self.chain_id,
            registry=self.registry,
            certificate=certificate_key(identifier),
            **fields,
        )
        return statement.to_bytes()

    def register(self, holder_name: str = "王小红") -> ECertificate:
        self.serial += 1
        fields = {
            "type": "notarial_certificate",
            "number": f"(2026)京某证字第{self.serial}号",
            "issued": "2026-03-02",
            "valid_from": "2026-03-02",
            "valid_until": None,
            "holder": {
                "name": holder_name,
                "id_type": "resident_id",
                "id_number": HOLDER_ID,
                "address": f"四川省广元市利州区{STREET}3栋2单元501室",
            },
            "issuer": {"name": NOTARY, "credit_code": NOTARY_CODE},
            "details": {"matter": "学历公证", "notary": "李明", "purpose": "赴英国留学"},
        }
        cert, encoded, signature = make(fields, self.notary)
        statement = self.statement(
            cert.id, "issue", issuer=NOTARY_CODE, certificate_hash=hashlib.sha256(encoded).digest()
        )
        body = {
            "certificate": base64.b64encode(encoded).decode(),
            "signature": base64.b64encode(signature).decode(),
            "signer_certificate": self.notary.pem,
            "status_signature": base64.b64encode(self.notary.sign(statement)).decode(),
            "pdf": None,
        }
        r = httpx.post(f"{self.url}/v1/certificates", json=body, headers=self.auth, timeout=120)
        assert r.status_code == 201, r.text
        return cert

    def change(self, identifier: str, action: str, body: dict[str, Any]) -> None:
        r = httpx.post(
            f"{self.url}/v1/certificates/{identifier}/{action}",
            json={**body, "signer_certificate": self.notary.pem},
            headers=self.auth,
            timeout=120,
        )
        assert r.status_code == 200, r.text

    def revoke(self, identifier: str, effective: int) -> None:
        reason = CertificateRevocationReason.PRIVILEGE_WITHDRAWN
        statement = self.statement(identifier, "revoke", reason=reason, effective_time=effective)
        signature = base64.b64encode(self.notary.sign(statement)).decode()
        body = {"reason": str(int(reason)), "effective_time": effective, "signature": signature}
        self.change(identifier, "revoke", body)

    def supersede(self, identifier: str, successor: str) -> None:
        statement = self.statement(identifier, "supersede", successor=certificate_key(successor))
        signature = base64.b64encode(self.notary.sign(statement)).decode()
        self.change(identifier, "supersede", {"successor": successor, "signature": signature})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("certificate-page")
    data = work / "data"
    ok(zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局机构证书根"))
    authority = CertificateAuthority.open(
        data, passphrase=PASSPHRASES["ZHENGLIAN_CA_PASSPHRASE"].encode()
    )
    notary = _institution(authority, work, NOTARY, NOTARY_CODE, InstitutionType.NOTARY_OFFICE)
    env = {
        "ZHENGLIAN_PUBLIC_URL": PUBLIC_URL,
        "ZHENGLIAN_PUBLIC_RATE_LIMIT_PER_S": str(RATE),
        "ZHENGLIAN_PUBLIC_RATE_LIMIT_BURST": str(BURST),
    }
    with running_server(data, env) as server:
        chain = httpx.get(f"{server.url}/v1/chain", timeout=30).json()
        yield Site(
            server=server,
            notary=notary,
            token=server.token(NOTARY, "notary"),
            chain_id=int(chain["chain_id"]),
            registry=bytes.fromhex(chain["certificate_registry"][2:]),
        )


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for key, value in attrs if key == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(response: httpx.Response) -> _Page:
    page = _Page()
    page.feed(response.text)
    return page


def shown(response: httpx.Response) -> str:
    return "".join(read(response).text)


def assert_page(response: httpx.Response, status: int = 200) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["vary"] == "Accept"
    assert response.text.startswith('<!doctype html>\n<html lang="zh-CN">')
    assert "<script" not in response.text and "<style" not in response.text


def test_a_browser_gets_the_masked_page_and_a_program_the_json(site: Site) -> None:
    cert = site.register(HOSTILE_NAME)
    url = f"{site.url}/v1/certificates/{cert.id}"
    page = httpx.get(url, headers=BROWSER, timeout=30)
    assert_page(page)
    text = shown(page)
    public = public_view(cert)
    for value in (
        cert.id,
        cert.number,
        HOSTILE_NAME,  # shown as text, never as markup
        "110105********002X",
        "四川省广元市****",
        "公证书",
        "Notarial certificate",
        "居民身份证",
        "学历公证",
        NOTARY,
        NOTARY_CODE,
        "2026-03-02 起长期有效",
        "有效 (issued)",
        "Registered and in force",
        "查询时间",  # when the status was checked, and where it comes from:
        "The service's record of the registry contract's transactions",
        f"zhenglian certificate status {cert.id} --server {PUBLIC_URL}",
        f"curl {PUBLIC_URL}/v1/certificates/{cert.id}",
    ):
        assert value in text, value
    assert public["holder"]["id_number"] in text
    assert HOLDER_ID not in page.text and STREET not in page.text
    assert "127.0.0.1" not in page.text
    assert "&lt;script&gt;alert(&quot;证链&quot;)&lt;/script&gt;王小红" in page.text
    # The SHA-256 the chain commits to, and the block of the issue, as the JSON gives them.
    answer = httpx.get(url, timeout=30)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["vary"] == "Accept"
    body = answer.json()
    assert body["signed"]["certificate_sha256"] in text
    assert f"区块 block {body['status']['issue']['block']}" in text
    assert body["status"]["issue"]["tx_hash"] in text
    assert body["chain"]["key"] in text and body["chain"]["registry"] in text
    # The JSON is unchanged for programs: no Accept, */*, or JSON preferred.
    assert body["view"] == public and body["signed"]["certificate"] is None
    for accept in ("*/*", "application/json", "text/html;q=0.5, application/json"):
        again = httpx.get(url, headers={"Accept": accept}, timeout=30)
        assert again.headers["content-type"] == "application/json"
        assert again.json()["view"] == public
    # The issuer's token: the full view in JSON, and still the public page in a browser.
    full = httpx.get(url, headers=site.auth, timeout=30)
    assert full.json()["view"]["holder"]["id_number"] == HOLDER_ID
    assert full.headers["cache-control"] == "no-store"
    issuer_page = httpx.get(url, headers={**BROWSER, **site.auth}, timeout=30)
    assert_page(issuer_page)
    assert HOLDER_ID not in issuer_page.text and STREET not in issuer_page.text
    assert "110105********002X" in shown(issuer_page)
    # A bad token is refused, as for JSON, not silently answered with the public page.
    refused = httpx.get(url, headers={**BROWSER, "Authorization": "Bearer zl_nope"}, timeout=30)
    assert refused.status_code == 401
    # The page's report link works where the page was opened.
    report = [h for h in read(page).hrefs if h.endswith("/report?format=text")]
    assert report == [f"{cert.id}/report?format=text"]
    text_report = httpx.get(str(httpx.URL(url).join(report[0])), timeout=30)
    assert text_report.status_code == 200
    assert text_report.text.splitlines()[0] == "verdict: intact"


def test_the_page_follows_revocation_and_supersession(site: Site) -> None:
    revoked = site.register()
    effective = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    site.revoke(revoked.id, int(effective.timestamp()))
    page = httpx.get(f"{site.url}/v1/certificates/{revoked.id}", headers=BROWSER, timeout=30)
    assert_page(page)
    text = shown(page)
    assert "已撤销 · Revoked" in text and "已撤销 (revoked)" in text
    assert "资格或许可被撤回 (privilegeWithdrawn, 9)" in text
    beijing = effective.astimezone(timezone(timedelta(hours=8)))
    assert f"{beijing:%Y-%m-%d %H:%M:%S} 北京时间" in text
    assert "revoke transaction" in text and "Registered and in force" not in text

    old, new = site.register(), site.register()
    site.supersede(old.id, new.id)
    url = f"{site.url}/v1/certificates/{old.id}"
    page = httpx.get(url, headers=BROWSER, timeout=30)
    assert_page(page)
    assert "已被新版本取代" in shown(page) and "已被取代 (superseded)" in shown(page)
    links = [h for h in read(page).hrefs if h == new.id]
    assert len(links) == 2
    successor = httpx.get(str(httpx.URL(url).join(links[0])), headers=BROWSER, timeout=30)
    assert_page(successor)
    assert new.id in shown(successor) and "Registered and in force" in shown(successor)


def test_an_identifier_not_registered_gets_a_404_page(site: Site) -> None:
    unknown = CertificateIdentifier("GZ", NOTARY_CODE, "0000000000").text
    page = httpx.get(f"{site.url}/v1/certificates/{unknown}", headers=BROWSER, timeout=30)
    assert_page(page, 404)
    text = shown(page)
    assert "未登记" in text and "Not registered" in text and unknown in text
    assert "not a valid identifier" not in text
    wrong = unknown[:-1] + ("0" if unknown[-1] != "0" else "1")
    page = httpx.get(f"{site.url}/v1/certificates/{wrong}", headers=BROWSER, timeout=30)
    assert_page(page, 404)
    assert "not a valid identifier: wrong identifier check character" in shown(page)
    mistyped = httpx.get(
        f"{site.url}/v1/certificates/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
        headers=BROWSER,
        timeout=30,
    )
    assert_page(mistyped, 404)
    assert '"><img src=x onerror=alert(1)>' in shown(mistyped) and "<img" not in mistyped.text
    assert "an identifier has 34 characters" in shown(mistyped)
    problem = httpx.get(f"{site.url}/v1/certificates/{unknown}", timeout=30)
    assert problem.status_code == 404
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["detail"] == "no such certificate"


def test_pages_and_json_share_the_public_rate_limit(site: Site) -> None:
    cert = site.register()
    url = f"{site.url}/v1/certificates/{cert.id}"
    time.sleep(BURST / RATE)  # earlier tests' public calls: start with a full bucket
    with httpx.Client(timeout=30) as client:
        codes = [client.get(url, headers=BROWSER).status_code for _ in range(3 * BURST)]
        assert codes[0] == 200 and 429 in codes, codes
        json_call = client.get(url)
    assert json_call.status_code == 429
    assert json_call.headers["content-type"].startswith("application/problem+json")
    assert json.loads(json_call.text)["status"] == 429
