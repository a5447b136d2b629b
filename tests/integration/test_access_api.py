"""Who may do what, through a real ``zhenglian serve`` on SQLite and PostgreSQL.

The matrix test sends every served endpoint as every role, against the caller's own object
(its case or, for a lawyer or court, a case shared with it; a share code made for it or by
it; its institution or token), another institution's, and none (no object, or a well-formed
id that nothing has), with real tokens, and compares with the expectations written out
below — by hand, from the issue, not derived from ``evidence.access.policy`` (so a wrong policy
table fails here). Two justice bureaus share the server: the world's admin's, which made the
world's institutions, and a neighbouring one with institutions of its own; administration is
also sent against an institution of the caller's bureau, of the other bureau, and of none.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from evidence.access.case_code import CaseCode
from evidence.access.check_character import check_symbol
from evidence.access.share_code import ShareCode
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://evidence.example.org/zl"
ROLES = ("admin", "notary", "forensic", "legal_aid", "court", "lawyer", "public")
RELATIONS = ("own", "other", "none")
KIND = {"notary": "notary", "forensic": "forensic", "legal_aid": "legal_aid"}
INSTITUTION_TYPE = {
    "admin": "justice_bureau",
    "notary": "notary_office",
    "forensic": "forensic_institution",
    "legal_aid": "legal_aid_centre",
    "court": "court",
    "lawyer": "law_firm",
}
#: A well-formed case code that no case has (its serial is never drawn in these tests).
MISSING_CASE = str(CaseCode("notary", 2026, "000000"))
#: A well-formed share code, check symbol and all, that no share has (one in 2⁶⁰ to be drawn).
MISSING_SHARE = str(ShareCode("0123456789AB" + check_symbol("0123456789AB")))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZhenglianServer]:
    env = {"ZHENGLIAN_PUBLIC_URL": PUBLIC_URL}
    if request.param == "postgresql":
        env["ZHENGLIAN_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    with running_server(tmp_path_factory.mktemp("zl") / "data", env) as srv:
        yield srv


def db_execute(server: ZhenglianServer, statement: str, **params: Any) -> None:
    """Change the server's database behind its back (to age a token or a share code)."""
    url = server.env.get("ZHENGLIAN_DATABASE_URL") or (
        f"sqlite:///{server.data_dir / 'zhenglian.sqlite'}"
    )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


@dataclass
class World:
    """Institutions, tokens, cases, documents and share codes the tests run against."""

    server: ZhenglianServer
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    institution: dict[str, str] = field(default_factory=dict)
    case: dict[str, dict[str, str]] = field(default_factory=dict)
    doc: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    redeem: dict[str, dict[str, str]] = field(default_factory=dict)
    redeem_case: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    """Per role and relation: a case share code and a document of the case, to fetch."""
    revoke: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def admin_token(
        self, name: str, type_: str, role: str, *, admin_key: str = "admin"
    ) -> dict[str, str]:
        admin = self.headers[admin_key]
        r = httpx.post(
            f"{self.url}/v1/admin/institutions", headers=admin, json={"name": name, "type": type_}
        )
        assert r.status_code == 201, r.text
        r = httpx.post(
            f"{self.url}/v1/admin/tokens", headers=admin, json={"institution": name, "role": role}
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def throwaway(self, role: str, *, admin_key: str = "admin") -> Throwaway:
        """A new institution of ``role``'s type with a token, to be disabled or revoked: made
        by the admin ``admin_key`` (its bureau's), or — a bureau — by the operator."""
        name = f"一次性机构 {uuid.uuid4().hex[:12]}"
        if role == "admin":  # bureaus are the operator's to make
            headers = {"Authorization": f"Bearer {self.server.token(name, 'admin')}"}
            tokens = httpx.get(f"{self.url}/v1/institutions/me/tokens", headers=headers).json()
            return Throwaway(headers, self.institution_id(headers, name), tokens[0]["id"])
        admin = self.headers[admin_key]
        made = httpx.post(
            f"{self.url}/v1/admin/institutions",
            headers=admin,
            json={"name": name, "type": INSTITUTION_TYPE[role]},
        )
        assert made.status_code == 201, made.text
        r = httpx.post(
            f"{self.url}/v1/admin/tokens", headers=admin, json={"institution": name, "role": role}
        )
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        return Throwaway(headers, made.json()["id"], r.json()["id"])

    def institution_id(self, admin: dict[str, str], name: str) -> str:
        listed = httpx.get(f"{self.url}/v1/admin/institutions", headers=admin).json()
        return str(next(i["id"] for i in listed if i["name"] == name))

    def new_case(self, headers: dict[str, str], type_: str, title: str = "案件") -> str:
        r = httpx.post(
            f"{self.url}/v1/cases", headers=headers, json={"type": type_, "title": title}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["code"])

    def participate(self, owner: dict[str, str], code: str, institution: str) -> None:
        r = httpx.post(
            f"{self.url}/v1/cases/{code}/participants",
            headers=owner,
            json={"institution": institution},
        )
        assert r.status_code == 201, r.text

    def deposit(
        self, headers: dict[str, str], kind: str, content: bytes, case: str | None = None
    ) -> httpx.Response:
        data = {"kind": kind, "title": "证据"}
        if case is not None:
            data["case_code"] = case
        return httpx.post(
            f"{self.url}/v1/documents",
            headers=headers,
            files={"file": ("evidence.pdf", content, "application/pdf")},
            data=data,
            timeout=30,
        )

    def share(self, headers: dict[str, str], recipient: str, **target: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/shares",
            headers=headers,
            json={"recipient": recipient, "max_uses": 1000, **target},
        )


@dataclass(frozen=True)
class Throwaway:
    """An institution made for the matrix's administration calls, and a token of it."""

    headers: dict[str, str]
    institution_id: str
    token_id: str


@pytest.fixture(scope="module")
def world(server: ZhenglianServer) -> World:
    w = World(server)
    w.headers["admin"] = {"Authorization": f"Bearer {server.token('市司法局', 'admin')}"}
    w.headers["public"] = {}
    w.institution["admin"] = "市司法局"
    for role, name, type_ in (
        ("notary", "城东公证处", "notary_office"),
        ("forensic", "华东司法鉴定中心", "forensic_institution"),
        ("legal_aid", "市法律援助中心", "legal_aid_centre"),
        ("court", "第一中级人民法院", "court"),
        ("lawyer", "金杜律师事务所", "law_firm"),
        ("notary2", "城西公证处", "notary_office"),
    ):
        w.headers[role] = w.admin_token(name, type_, role.rstrip("2"))
        w.institution[role] = name
    for name, type_ in (("君合律师事务所", "law_firm"), ("第二中级人民法院", "court")):
        r = httpx.post(
            f"{w.url}/v1/admin/institutions",
            headers=w.headers["admin"],
            json={"name": name, "type": type_},
        )
        assert r.status_code == 201, r.text
    w.extra["firm2"], w.extra["court2"] = "君合律师事务所", "第二中级人民法院"

    # Cases: each depositor owns one; the notary's is shared with the lawyer and the court.
    own_case = {role: w.new_case(w.headers[role], KIND[role]) for role in KIND}
    other_case = w.new_case(w.headers["notary2"], "notary", "别家的案件")
    for role in ("lawyer", "court"):
        w.participate(w.headers["notary"], own_case["notary"], w.institution[role])
    n = 0

    def put(role: str, case: str | None) -> dict[str, Any]:
        nonlocal n
        n += 1
        r = w.deposit(w.headers[role], KIND[role], f"doc {n} {role}".encode(), case)
        assert r.status_code == 201, r.text
        return dict(r.json())

    r = w.deposit(w.headers["notary2"], "notary", b"other institution's will", other_case)
    assert r.status_code == 201, r.text
    other_doc = r.json()
    n1_case_doc, n1_loose_doc = put("notary", own_case["notary"]), put("notary", None)
    for role in ROLES:
        case = own_case.get(role, own_case["notary"])
        w.case[role] = {"own": case, "other": other_case, "none": MISSING_CASE}
        if role in KIND and role != "notary":
            w.doc[role] = {"own": put(role, case), "other": other_doc, "none": put(role, None)}
        else:
            w.doc[role] = {"own": n1_case_doc, "other": other_doc, "none": n1_loose_doc}

    # Share codes: to be fetched by each role's institution, and to be revoked by their makers.
    other_share = w.share(w.headers["notary2"], "城西公证处", document_id=other_doc["id"])
    assert other_share.status_code == 201, other_share.text
    other_case_share = w.share(w.headers["notary2"], "城西公证处", case_code=other_case)
    assert other_case_share.status_code == 201, other_case_share.text
    for role in ROLES:
        recipient = w.institution.get(role, "城西公证处")
        made = w.share(w.headers["notary"], recipient, document_id=n1_case_doc["id"])
        assert made.status_code == 201, made.text
        w.redeem[role] = {
            "own": made.json()["code"],
            "other": other_share.json()["code"],
            "none": MISSING_SHARE,
        }
        case_share = w.share(w.headers["notary"], recipient, case_code=own_case["notary"])
        assert case_share.status_code == 201, case_share.text
        w.redeem_case[role] = {
            "own": (case_share.json()["code"], n1_case_doc["id"]),
            "other": (other_case_share.json()["code"], other_doc["id"]),
            "none": (MISSING_SHARE, n1_case_doc["id"]),
        }
        maker = role if role in KIND else "notary"
        mine = w.share(w.headers[maker], "金杜律师事务所", document_id=w.doc[maker]["own"]["id"])
        assert mine.status_code == 201, mine.text
        w.revoke[role] = {
            "own": mine.json()["code"],
            "other": other_share.json()["code"],
            "none": MISSING_SHARE,
        }
    w.extra["own_case"], w.extra["other_case"] = own_case, other_case
    w.extra["n1_case_doc"], w.extra["other_doc"] = n1_case_doc, other_doc
    w.extra["bystander"] = w.throwaway("lawyer")
    # The operator, while there is one bureau: what it makes belongs to it, without a flag.
    alone = server.cli(
        "tokens",
        "create",
        "--data-dir",
        str(server.data_dir),
        "--institution",
        "单局律所",
        "--role",
        "lawyer",
    )
    assert "managed by the admins of 市司法局" in alone.stderr, alone.stderr

    # A neighbouring bureau with a law firm of its own; then, two bureaus being there, a law
    # firm the operator makes belongs to neither (no --bureau): only the operator manages it.
    w.headers["admin_b"] = {"Authorization": f"Bearer {server.token('邻市司法局', 'admin')}"}
    w.extra["firm_b"] = "邻市律师事务所"
    w.admin_token(w.extra["firm_b"], "law_firm", "lawyer", admin_key="admin_b")
    data = str(server.data_dir)
    made = server.cli(
        "institutions",
        "create",
        "--data-dir",
        data,
        "--name",
        "无主律师事务所",
        "--type",
        "law_firm",
    )
    assert "managed by no bureau's admins" in made.stderr, made.stderr
    issued = server.cli(
        "tokens",
        "create",
        "--data-dir",
        data,
        "--institution",
        "无主律师事务所",
        "--role",
        "lawyer",
    )
    token_id = issued.stderr.split()[1]  # "token <id> for ..."
    headers = {"Authorization": f"Bearer {issued.stdout.splitlines()[-1]}"}
    w.extra["unlinked"] = Throwaway(headers, made.stdout.strip(), token_id)
    w.extra["unlinked_name"] = "无主律师事务所"
    return w


# --- The matrix ------------------------------------------------------------------------------

Send = Callable[[World, str, str], httpx.Response]


def _get(path: Callable[[World, str, str], str]) -> Send:
    return lambda w, role, rel: httpx.get(f"{w.url}{path(w, role, rel)}", headers=w.headers[role])


def _checkpoint(w: World, role: str, rel: str) -> httpx.Response:
    """The latest checkpoint: public; signed once the first deposits are anchored."""
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(f"{w.url}/v1/log/checkpoint", headers=w.headers[role])
        if r.status_code != 404 or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def _deposit(w: World, role: str, rel: str) -> httpx.Response:
    case = None if rel == "none" else w.case[role][rel]
    content = f"matrix deposit {role} {rel} {uuid.uuid4()}".encode()
    return w.deposit(w.headers[role], KIND.get(role, "other"), content, case)


def _create_case(w: World, role: str, rel: str) -> httpx.Response:
    return httpx.post(
        f"{w.url}/v1/cases",
        headers=w.headers[role],
        json={"type": KIND.get(role, "litigation"), "title": "新案件"},
    )


def _add_participant(w: World, role: str, rel: str) -> httpx.Response:
    return httpx.post(
        f"{w.url}/v1/cases/{w.case[role][rel]}/participants",
        headers=w.headers[role],
        json={"institution": w.extra["firm2"]},
    )


def _share_document(w: World, role: str, rel: str) -> httpx.Response:
    return w.share(w.headers[role], "金杜律师事务所", document_id=w.doc[role][rel]["id"])


def _share_case(w: World, role: str, rel: str) -> httpx.Response:
    return w.share(w.headers[role], "金杜律师事务所", case_code=w.case[role][rel])


def _verify(w: World, role: str, rel: str) -> httpx.Response:
    sha = w.doc[role]["own"]["sha256"]
    return httpx.post(f"{w.url}/v1/verify", headers=w.headers[role], json={"sha256": sha})


#: A well-formed e-certificate identifier that nothing has.
NO_CERTIFICATE = "GZ-11110000000029209E-0000000000-0"


def _certificate_post(suffix: str) -> Send:
    """Register (``""``) or change a certificate with an empty body: refused by role first."""
    path = "/v1/certificates" + (f"/{NO_CERTIFICATE}{suffix}" if suffix else "")
    return lambda w, role, rel: httpx.post(f"{w.url}{path}", headers=w.headers[role], json={})


def _revoke(w: World, role: str, rel: str) -> httpx.Response:
    return httpx.delete(f"{w.url}/v1/shares/{w.revoke[role][rel]}", headers=w.headers[role])


def _shared_case_content(w: World, role: str, rel: str) -> httpx.Response:
    code, document_id = w.redeem_case[role][rel]
    url = f"{w.url}/v1/shares/{code}/documents/{document_id}/content"
    return httpx.get(url, headers=w.headers[role])


# Administration. own: the caller's institution, or its token; other: another institution,
# or its token; none: an id (or a name) that nothing has. Nothing the world uses is ever
# disabled or revoked, not even by a call wrongly allowed: "own" is a new caller of a new
# institution (Throwaway); "other" is a new one for the admin, whose call succeeds, and one
# bystander for everyone else, whose calls are refused.


def _other_institution(w: World, role: str) -> Throwaway:
    """For an admin, a new institution of the other bureau; for anyone else, the bystander."""
    return w.throwaway("lawyer", admin_key="admin_b") if role == "admin" else w.extra["bystander"]


def _bureau_target(w: World, rel: str) -> Throwaway:
    """own: a new institution of the world's bureau; other: a new one of the neighbouring
    bureau; none: the institution of no bureau."""
    if rel == "own":
        return w.throwaway("lawyer")
    if rel == "other":
        return w.throwaway("lawyer", admin_key="admin_b")
    unlinked: Throwaway = w.extra["unlinked"]
    return unlinked


def _create_institution(w: World, role: str, rel: str) -> httpx.Response:
    return httpx.post(
        f"{w.url}/v1/admin/institutions",
        headers=w.headers[role],
        json={"name": f"新机构 {uuid.uuid4().hex[:12]}", "type": "law_firm"},
    )


def _disable_institution(w: World, role: str, rel: str) -> httpx.Response:
    headers = w.headers[role]
    if rel == "own":
        caller = w.throwaway(role)
        headers, target = caller.headers, caller.institution_id
    elif rel == "other":
        target = _other_institution(w, role).institution_id
    else:
        target = str(uuid.uuid4())
    return httpx.post(f"{w.url}/v1/admin/institutions/{target}/disable", headers=headers)


def _issue_token(w: World, role: str, rel: str) -> httpx.Response:
    institution, token_role = {
        "own": (w.institution.get(role), role),
        "other": (w.extra["firm_b" if role == "admin" else "firm2"], "lawyer"),
        "none": ("无此机构", "lawyer"),
    }[rel]
    return httpx.post(
        f"{w.url}/v1/admin/tokens",
        headers=w.headers[role],
        json={"institution": institution, "role": token_role},
    )


def _revoke_token(w: World, role: str, rel: str) -> httpx.Response:
    headers = w.headers[role]
    if rel == "own":
        caller = w.throwaway(role)
        headers, target = caller.headers, caller.token_id
    elif rel == "other":
        target = _other_institution(w, role).token_id
    else:
        target = str(uuid.uuid4())
    return httpx.delete(f"{w.url}/v1/admin/tokens/{target}", headers=headers)


def _disable_in_bureau(w: World, role: str, rel: str) -> httpx.Response:
    target = _bureau_target(w, rel).institution_id
    return httpx.post(f"{w.url}/v1/admin/institutions/{target}/disable", headers=w.headers[role])


def _issue_in_bureau(w: World, role: str, rel: str) -> httpx.Response:
    institution = {"own": w.extra["firm2"], "other": w.extra["firm_b"]}.get(
        rel, w.extra["unlinked_name"]
    )
    return httpx.post(
        f"{w.url}/v1/admin/tokens",
        headers=w.headers[role],
        json={"institution": institution, "role": "lawyer"},
    )


def _revoke_in_bureau(w: World, role: str, rel: str) -> httpx.Response:
    target = _bureau_target(w, rel).token_id
    return httpx.delete(f"{w.url}/v1/admin/tokens/{target}", headers=w.headers[role])


def _remove_participant(w: World, role: str, rel: str) -> httpx.Response:
    """Take a law firm off the case: one added for this call (own, other), or the second firm,
    which takes part in no case (none: no such case)."""
    case = w.case[role][rel]
    firm = w.extra["firm2"]
    if rel != "none":
        # The case's owner: the neighbour's (other), the caller's own, or the notary's, which
        # the court and the lawyer take part in (and which admin and public are sent to).
        owner = "notary2" if rel == "other" else role if role in KIND else "notary"
        firm = f"待移除律所 {uuid.uuid4().hex[:12]}"
        made = httpx.post(
            f"{w.url}/v1/admin/institutions",
            headers=w.headers["admin"],
            json={"name": firm, "type": "law_firm"},
        )
        assert made.status_code == 201, made.text
        w.participate(w.headers[owner], case, firm)
    return httpx.delete(f"{w.url}/v1/cases/{case}/participants/{firm}", headers=w.headers[role])


def _own_token_custody(w: World, role: str, rel: str) -> httpx.Response:
    headers = w.headers[role]
    target = str(uuid.uuid4())
    if rel == "own" and role != "public":
        mine = httpx.get(f"{w.url}/v1/institutions/me/tokens", headers=headers)
        assert mine.status_code == 200, mine.text
        target = mine.json()[0]["id"]
    elif rel == "other":
        target = w.extra["bystander"].token_id
    return httpx.get(f"{w.url}/v1/institutions/me/tokens/{target}/custody", headers=headers)


def _bundle(w: World, role: str, rel: str) -> httpx.Response:
    """The evidence bundle, asked again while its receipt is pending (409 with Retry-After)."""
    return _until_ready(w, role, f"/v1/documents/{w.doc[role][rel]['id']}/bundle")


def _shared_bundle(w: World, role: str, rel: str) -> httpx.Response:
    return _until_ready(w, role, f"/v1/shares/{w.redeem[role][rel]}/bundle")


def _shared_case_bundle(w: World, role: str, rel: str) -> httpx.Response:
    code, document_id = w.redeem_case[role][rel]
    return _until_ready(w, role, f"/v1/shares/{code}/documents/{document_id}/bundle")


def _until_ready(w: World, role: str, path: str) -> httpx.Response:
    url = f"{w.url}{path}"
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(url, headers=w.headers[role], timeout=60)
        if "retry-after" not in r.headers or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


SENDERS: dict[str, Send] = {
    "POST /v1/documents": _deposit,
    "GET /v1/documents/{document_id}": _get(
        lambda w, r, rel: f"/v1/documents/{w.doc[r][rel]['id']}"
    ),
    "GET /v1/documents/{document_id}/custody": _get(
        lambda w, r, rel: f"/v1/documents/{w.doc[r][rel]['id']}/custody"
    ),
    "GET /v1/documents/{document_id}/receipt": _get(
        lambda w, r, rel: f"/v1/documents/{w.doc[r][rel]['id']}/receipt"
    ),
    "GET /v1/documents/{document_id}/content": _get(
        lambda w, r, rel: f"/v1/documents/{w.doc[r][rel]['id']}/content"
    ),
    "GET /v1/documents/{document_id}/signature": _get(
        lambda w, r, rel: f"/v1/documents/{w.doc[r][rel]['id']}/signature"
    ),
    "GET /v1/documents/{document_id}/bundle": _bundle,
    "POST /v1/cases": _create_case,
    "GET /v1/cases/{code}": _get(lambda w, r, rel: f"/v1/cases/{w.case[r][rel]}"),
    "GET /v1/cases/{code}/custody": _get(lambda w, r, rel: f"/v1/cases/{w.case[r][rel]}/custody"),
    "GET /v1/cases/{code}/qr.png": _get(lambda w, r, rel: f"/v1/cases/{w.case[r][rel]}/qr.png"),
    "GET /v1/cases/{code}/qr.svg": _get(lambda w, r, rel: f"/v1/cases/{w.case[r][rel]}/qr.svg"),
    "POST /v1/cases/{code}/participants": _add_participant,
    "DELETE /v1/cases/{code}/participants/{institution}": _remove_participant,
    "POST /v1/shares (document)": _share_document,
    "POST /v1/shares (case)": _share_case,
    "GET /v1/shares/{code}": _get(lambda w, r, rel: f"/v1/shares/{w.redeem[r][rel]}"),
    "GET /v1/shares/{code}/content": _get(
        lambda w, r, rel: f"/v1/shares/{w.redeem[r][rel]}/content"
    ),
    "GET /v1/shares/{code}/documents/{document_id}/content": _shared_case_content,
    "GET /v1/shares/{code}/bundle": _shared_bundle,
    "GET /v1/shares/{code}/documents/{document_id}/bundle": _shared_case_bundle,
    "DELETE /v1/shares/{code}": _revoke,
    "POST /v1/verify": _verify,
    "GET /v1/public/cases/{code}": _get(lambda w, r, rel: f"/v1/public/cases/{w.case[r][rel]}"),
    "GET /v1/log/head": _get(lambda w, r, rel: "/v1/log/head"),
    "GET /v1/log/consistency": _get(lambda w, r, rel: "/v1/log/consistency?first=1&second=2"),
    "GET /v1/log/key": _get(lambda w, r, rel: "/v1/log/key"),
    "GET /v1/log/checkpoint": _checkpoint,
    "GET /v1/log/custody": _get(lambda w, r, rel: "/v1/log/custody"),
    "GET /v1/chain": _get(lambda w, r, rel: "/v1/chain"),
    "GET /v1/trust": _get(lambda w, r, rel: "/v1/trust"),
    "GET /v1/pki/ca": _get(lambda w, r, rel: "/v1/pki/ca"),
    "GET /v1/pki/crl": _get(lambda w, r, rel: "/v1/pki/crl"),
    "GET /healthz": _get(lambda w, r, rel: "/healthz"),
    # Registered e-certificates: only "none" here (a well-formed identifier nothing has, an
    # empty body); own and other, per role, are in test_certificates_api.py.
    "POST /v1/certificates": _certificate_post(""),
    "GET /v1/certificates": _get(
        lambda w, r, rel: (
            f"/v1/certificates?issuer={NO_CERTIFICATE[3:21]}&type=notarial_certificate&number=none"
        )
    ),
    "GET /v1/certificates/{certificate_id}": _get(
        lambda w, r, rel: f"/v1/certificates/{NO_CERTIFICATE}"
    ),
    "GET /v1/certificates/{certificate_id}/report": _get(
        lambda w, r, rel: f"/v1/certificates/{NO_CERTIFICATE}/report"
    ),
    "GET /v1/certificates/{certificate_id}/pdf": _get(
        lambda w, r, rel: f"/v1/certificates/{NO_CERTIFICATE}/pdf"
    ),
    "POST /v1/certificates/{certificate_id}/revoke": _certificate_post("/revoke"),
    "POST /v1/certificates/{certificate_id}/supersede": _certificate_post("/supersede"),
    "GET /v1/admin/institutions": _get(lambda w, r, rel: "/v1/admin/institutions"),
    "POST /v1/admin/institutions": _create_institution,
    "POST /v1/admin/institutions/{institution_id}/disable": _disable_institution,
    "GET /v1/admin/tokens": _get(lambda w, r, rel: "/v1/admin/tokens"),
    "POST /v1/admin/tokens": _issue_token,
    "DELETE /v1/admin/tokens/{token_id}": _revoke_token,
    "POST /v1/admin/institutions/{institution_id}/disable (bureau)": _disable_in_bureau,
    "POST /v1/admin/tokens (bureau)": _issue_in_bureau,
    "DELETE /v1/admin/tokens/{token_id} (bureau)": _revoke_in_bureau,
    "GET /v1/institutions/me/tokens": _get(lambda w, r, rel: "/v1/institutions/me/tokens"),
    "GET /v1/institutions/me/custody": _get(lambda w, r, rel: "/v1/institutions/me/custody"),
    "GET /v1/institutions/me/tokens/{token_id}/custody": _own_token_custody,
}

Row = tuple[int | None, int | None, int | None]
_401: Row = (401, 401, 401)


def _by_role(
    *, admin: Row, depositor: Row, court: Row, lawyer: Row | None = None, public: Row = _401
) -> dict[str, Row]:
    return {
        "admin": admin,
        "notary": depositor,
        "forensic": depositor,
        "legal_aid": depositor,
        "court": court,
        "lawyer": lawyer or court,
        "public": public,
    }


_READ_DOCUMENT = _by_role(admin=(404, 404, 404), depositor=(200, 404, 200), court=(200, 404, 404))
_READ_CASE = _by_role(admin=(404, 404, 404), depositor=(200, 404, 404), court=(200, 404, 404))
_MAY_NOT_SHARE = (403, 403, 403)
_REDEEM = _by_role(
    admin=(404, 404, 404),
    depositor=(200, 404, 404),
    court=(200, 404, 404),
    public=(401, 401, 401),
)
_ANYONE = {role: (None, None, 200) for role in ROLES}
_ADMIN_ONLY = _by_role(
    admin=(None, None, 200),
    depositor=(None, None, 403),
    court=(None, None, 403),
    public=(None, None, 401),
)
#: Revoke a token: the caller's own, another bureau's (for an admin; for anyone else another
#: institution's), one that is not there.
_ADMIN_REMOVES = _by_role(
    admin=(204, 404, 404),
    depositor=(403, 403, 403),
    court=(403, 403, 403),
    public=(None, 401, 401),
)
#: Administration in a bureau: an institution (or its token) of the caller's bureau, of the
#: other bureau, of no bureau. Only an admin, and only in its own bureau; the rest is hidden.
_IN_BUREAU = _by_role(
    admin=(204, 404, 404),
    depositor=(403, 403, 403),
    court=(403, 403, 403),
    public=(401, 401, 401),
)
#: The caller's own institution's record: every token holder, its own only.
_OWN_RECORD = _by_role(
    admin=(None, None, 200),
    depositor=(None, None, 200),
    court=(None, None, 200),
    public=(None, None, 401),
)

#: Register or change an e-certificate: roles that may (the depositing institutions) get to
#: the body (an empty one: 422); the others are refused by role (403), the public 401.
_CERTIFICATE_CHANGE = _by_role(
    admin=(None, None, 403),
    depositor=(None, None, 422),
    court=(None, None, 403),
    public=(None, None, 401),
)

#: (own, other, none) status per endpoint and role; None where the relation does not apply.
EXPECTED: dict[str, dict[str, Row]] = {
    "POST /v1/documents": _by_role(
        admin=(403, 403, 403), depositor=(201, 404, 201), court=(403, 403, 403)
    ),
    "GET /v1/documents/{document_id}": _READ_DOCUMENT,
    "GET /v1/documents/{document_id}/receipt": _READ_DOCUMENT,
    "GET /v1/documents/{document_id}/custody": _READ_DOCUMENT,
    "GET /v1/documents/{document_id}/content": _READ_DOCUMENT,
    "GET /v1/documents/{document_id}/signature": _READ_DOCUMENT,
    "GET /v1/documents/{document_id}/bundle": _READ_DOCUMENT,
    "POST /v1/cases": _by_role(
        admin=(None, None, 403),
        depositor=(None, None, 201),
        court=(None, None, 403),
        public=(None, None, 401),
    ),
    "GET /v1/cases/{code}": _READ_CASE,
    "GET /v1/cases/{code}/custody": _READ_CASE,
    "GET /v1/cases/{code}/qr.png": _READ_CASE,
    "GET /v1/cases/{code}/qr.svg": _READ_CASE,
    "POST /v1/cases/{code}/participants": _by_role(
        admin=(404, 404, 404), depositor=(201, 404, 404), court=(403, 404, 404)
    ),
    "DELETE /v1/cases/{code}/participants/{institution}": _by_role(
        admin=(404, 404, 404), depositor=(200, 404, 404), court=(403, 404, 404)
    ),
    "POST /v1/shares (document)": _by_role(
        admin=_MAY_NOT_SHARE, depositor=(201, 404, 201), court=_MAY_NOT_SHARE
    ),
    "POST /v1/shares (case)": _by_role(
        admin=_MAY_NOT_SHARE, depositor=(201, 404, 404), court=_MAY_NOT_SHARE
    ),
    "GET /v1/shares/{code}": _REDEEM,
    "GET /v1/shares/{code}/content": _REDEEM,
    "GET /v1/shares/{code}/documents/{document_id}/content": _REDEEM,
    "GET /v1/shares/{code}/bundle": _REDEEM,
    "GET /v1/shares/{code}/documents/{document_id}/bundle": _REDEEM,
    "DELETE /v1/shares/{code}": _by_role(
        admin=(404, 404, 404),
        depositor=(204, 404, 404),
        court=(404, 404, 404),
        public=(401, 401, 401),
    ),
    "POST /v1/verify": _ANYONE,
    "GET /v1/public/cases/{code}": {role: (200, 200, 404) for role in ROLES},
    "GET /v1/log/head": _ANYONE,
    "GET /v1/log/consistency": _ANYONE,
    "GET /v1/log/key": _ANYONE,
    "GET /v1/log/checkpoint": _ANYONE,
    "GET /v1/log/custody": _ANYONE,
    "GET /v1/chain": _ANYONE,
    "GET /v1/trust": _ANYONE,
    # Public; this server has no PKI, so 404 for everyone (test_pki.py serves one).
    "GET /v1/pki/ca": {role: (None, None, 404) for role in ROLES},
    "GET /v1/pki/crl": {role: (None, None, 404) for role in ROLES},
    "GET /healthz": _ANYONE,
    "POST /v1/certificates": _CERTIFICATE_CHANGE,
    "GET /v1/certificates": {role: (None, None, 404) for role in ROLES},
    "GET /v1/certificates/{certificate_id}": {role: (None, None, 404) for role in ROLES},
    "GET /v1/certificates/{certificate_id}/pdf": {role: (None, None, 404) for role in ROLES},
    "GET /v1/certificates/{certificate_id}/report": {role: (None, None, 404) for role in ROLES},
    "POST /v1/certificates/{certificate_id}/revoke": _CERTIFICATE_CHANGE,
    "POST /v1/certificates/{certificate_id}/supersede": _CERTIFICATE_CHANGE,
    "GET /v1/admin/institutions": _ADMIN_ONLY,
    "POST /v1/admin/institutions": {**_ADMIN_ONLY, "admin": (None, None, 201)},
    # An admin's own institution: 409, it would lock every admin of it out; another bureau's:
    # hidden.
    "POST /v1/admin/institutions/{institution_id}/disable": _by_role(
        admin=(409, 404, 404),
        depositor=(403, 403, 403),
        court=(403, 403, 403),
        public=(None, 401, 401),
    ),
    "GET /v1/admin/tokens": _ADMIN_ONLY,
    "POST /v1/admin/tokens": _by_role(
        admin=(201, 404, 404),
        depositor=(403, 403, 403),
        court=(403, 403, 403),
        public=(None, 401, 401),
    ),
    "DELETE /v1/admin/tokens/{token_id}": _ADMIN_REMOVES,
    "POST /v1/admin/institutions/{institution_id}/disable (bureau)": _IN_BUREAU,
    "POST /v1/admin/tokens (bureau)": {**_IN_BUREAU, "admin": (201, 404, 404)},
    "DELETE /v1/admin/tokens/{token_id} (bureau)": _IN_BUREAU,
    "GET /v1/institutions/me/tokens": _OWN_RECORD,
    "GET /v1/institutions/me/custody": _OWN_RECORD,
    "GET /v1/institutions/me/tokens/{token_id}/custody": _by_role(
        admin=(200, 404, 404),
        depositor=(200, 404, 404),
        court=(200, 404, 404),
        public=(401, 401, 401),
    ),
}


def test_every_endpoint_is_in_the_matrix(server: ZhenglianServer) -> None:
    """Every route of the served OpenAPI is in the matrix, and nothing else."""
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    covered = {key.split(" (")[0] for key in SENDERS}
    served = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
    assert served == covered
    assert set(EXPECTED) == set(SENDERS)


#: Roles whose matrix rows also run on PostgreSQL. Every endpoint's repository queries run
#: there through them: an admin's (institutions, tokens, bureaus), a depositor's own cases,
#: documents and share codes (the notary), and a participant's reads through its case (the
#: court). The other roles send the same queries with other tokens: forensic and legal_aid
#: are depositors like the notary, the lawyer a participant like the court, and the public
#: is refused (401) before any query or reads what every role reads. All roles run on SQLite.
POSTGRESQL_MATRIX_ROLES = ("admin", "notary", "court")


def selected_parametrization(test: str, params: dict[str, object]) -> bool:
    """The rows of test_matrix that run (tests/conftest.py deselects the others): every
    (endpoint, role) on SQLite, those of :data:`POSTGRESQL_MATRIX_ROLES` on PostgreSQL."""
    if test != "test_matrix" or params.get("server") != "postgresql":
        return True
    return params.get("role") in POSTGRESQL_MATRIX_ROLES


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(SENDERS))
def test_matrix(world: World, endpoint: str, role: str) -> None:
    got: list[int | None] = []
    for relation, expected in zip(RELATIONS, EXPECTED[endpoint][role], strict=True):
        if expected is None:
            got.append(None)
            continue
        r = SENDERS[endpoint](world, role, relation)
        status = 200 if r.status_code == 202 else r.status_code  # receipt still pending
        got.append(status)
        if status >= 400:
            assert r.headers["content-type"].startswith("application/problem+json"), r.text
    assert tuple(got) == EXPECTED[endpoint][role], f"{endpoint} as {role}"


def test_a_refusal_looks_exactly_like_a_missing_document(world: World) -> None:
    lawyer = world.headers["lawyer"]
    other = world.extra["other_doc"]["id"]
    for suffix in ("", "/receipt", "/content"):
        guessed = httpx.get(f"{world.url}/v1/documents/{other}{suffix}", headers=lawyer)
        missing = httpx.get(f"{world.url}/v1/documents/{uuid.uuid4()}{suffix}", headers=lawyer)
        assert guessed.status_code == missing.status_code == 404
        assert guessed.json() == missing.json()
        assert guessed.headers.keys() == missing.headers.keys()
    case = world.extra["other_case"]
    guessed = httpx.get(f"{world.url}/v1/cases/{case}", headers=lawyer)
    missing = httpx.get(f"{world.url}/v1/cases/{MISSING_CASE}", headers=lawyer)
    assert guessed.status_code == missing.status_code == 404
    assert guessed.json() == missing.json()
    # Someone else's share code (here the lawyer is neither its recipient nor its maker).
    doc = world.extra["n1_case_doc"]["id"]
    for method, suffix in (
        ("GET", ""),
        ("GET", "/content"),
        ("GET", f"/documents/{doc}/content"),
        ("DELETE", ""),
    ):
        guessed, missing = (
            httpx.request(method, f"{world.url}/v1/shares/{code}{suffix}", headers=lawyer)
            for code in (world.redeem["lawyer"]["other"], MISSING_SHARE)
        )
        assert guessed.status_code == missing.status_code == 404, (method, suffix)
        assert guessed.json() == missing.json()


# --- Content, case listing, QR codes ---------------------------------------------------------


def test_content_is_the_original_with_its_receipt_beside_it(world: World) -> None:
    doc = world.extra["n1_case_doc"]
    r = httpx.get(f"{world.url}/v1/documents/{doc['id']}/content", headers=world.headers["lawyer"])
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == doc["sha256"]
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == str(doc["size"])
    assert r.headers["etag"] == f'"{doc["sha256"]}"'
    assert r.headers["content-disposition"].startswith('attachment; filename="evidence.pdf"')
    link = r.headers["link"]
    assert link.startswith(f"</v1/documents/{doc['id']}/receipt>")
    receipt_path = link[1 : link.index(">")]
    receipt = httpx.get(f"{world.url}{receipt_path}", headers=world.headers["lawyer"])
    assert receipt.status_code in (200, 202)


def test_case_listing_shows_participants_and_documents(world: World) -> None:
    code = world.extra["own_case"]["notary"]
    seen = httpx.get(f"{world.url}/v1/cases/{code}", headers=world.headers["court"]).json()
    assert seen["relation"] == "participant" and seen["institution"] == "城东公证处"
    assert {p["institution"] for p in seen["participants"]} >= {
        "金杜律师事务所",
        "第一中级人民法院",
    }
    assert world.extra["n1_case_doc"]["id"] in {d["id"] for d in seen["documents"]}
    assert seen["verify_url"] == f"{PUBLIC_URL}/v1/public/cases/{code}"
    # Typed loosely (lowercase, no hyphens) it is the same case.
    loose = code.replace("-", "").lower()
    assert httpx.get(f"{world.url}/v1/cases/{loose}", headers=world.headers["court"]).json() == seen


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    import png  # pypng

    width, height, rows, info = png.Reader(bytes=data).asDirect()
    top = (1 << info["bitdepth"]) - 1
    pixels = bytearray()
    for row in rows:
        pixels.extend(v * 255 // top for v in row[:: info["planes"]])
    return width, height, bytes(pixels)


def test_qr_codes_open_the_public_case_page(world: World) -> None:
    import zxingcpp

    code = world.extra["own_case"]["notary"]
    headers = world.headers["notary"]
    page = f"{PUBLIC_URL}/v1/public/cases/{code}"
    r = httpx.get(f"{world.url}/v1/cases/{code}/qr.png", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, pixels = _png_pixels(r.content)
    found = zxingcpp.read_barcodes(memoryview(pixels).cast("B", (height, width)))
    assert [b.text for b in found] == [page]
    svg = httpx.get(f"{world.url}/v1/cases/{code}/qr.svg", headers=headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # What the QR opens, for anyone: no title, no documents, just that it is genuine.
    public = httpx.get(f"{world.url}/v1/public/cases/{code}").json()
    assert public["code"] == code and public["institution"] == "城东公证处"
    assert public["documents"] >= 1 and "title" not in public
    html = httpx.get(f"{world.url}/v1/public/cases/{code}", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html") and code in html.text
    refused = {"Accept": "text/html;q=0, application/json"}  # q-values weighed, not substrings
    as_json = httpx.get(f"{world.url}/v1/public/cases/{code}", headers=refused)
    assert as_json.headers["content-type"].startswith("application/json"), as_json.text


# --- Share codes -------------------------------------------------------------------------------


def test_share_code_count_limit_holds_under_concurrent_fetches(world: World) -> None:
    doc = world.extra["n1_case_doc"]
    made = httpx.post(
        f"{world.url}/v1/shares",
        headers=world.headers["notary"],
        json={"document_id": doc["id"], "recipient": "第二中级人民法院", "max_uses": 3},
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    court2 = world.admin_token("第二中级人民法院" + "x", "court", "court")  # another court
    assert httpx.get(f"{world.url}/v1/shares/{code}", headers=court2).status_code == 404
    token = world.server.cli(
        "tokens",
        "create",
        "--data-dir",
        str(world.server.data_dir),
        "--institution",
        "第二中级人民法院",
        "--role",
        "court",
        "--no-create-institution",
    ).stdout.splitlines()[-1]
    recipient = {"Authorization": f"Bearer {token}"}
    view = httpx.get(f"{world.url}/v1/shares/{code}", headers=recipient)
    assert view.status_code == 200 and view.json()["uses"] == 0  # looking is not fetching
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def fetch() -> None:
        barrier.wait()
        r = httpx.get(f"{world.url}/v1/shares/{code}/content", headers=recipient, timeout=30)
        if r.status_code == 200:
            assert hashlib.sha256(r.content).hexdigest() == doc["sha256"]
        statuses.append(r.status_code)

    threads = [threading.Thread(target=fetch) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 3 + [410] * 9, statuses
    gone = httpx.get(f"{world.url}/v1/shares/{code}/content", headers=recipient)
    assert gone.status_code == 410 and "used 3 times" in gone.json()["detail"]
    assert httpx.get(f"{world.url}/v1/shares/{code}", headers=recipient).status_code == 410


def test_share_codes_expire_and_are_revoked(world: World) -> None:
    doc, lawyer = world.extra["n1_case_doc"], world.headers["lawyer"]
    expiring = world.share(world.headers["notary"], "金杜律师事务所", document_id=doc["id"])
    code = expiring.json()["code"]
    assert httpx.get(f"{world.url}/v1/shares/{code}/content", headers=lawyer).status_code == 200
    db_execute(
        world.server,
        "UPDATE share_codes SET expires_at = created_at WHERE id = :id",
        id=expiring.json()["id"],
    )
    r = httpx.get(f"{world.url}/v1/shares/{code}/content", headers=lawyer)
    assert r.status_code == 410 and "expired" in r.json()["detail"]

    revoked = world.share(world.headers["notary"], "金杜律师事务所", document_id=doc["id"])
    code = revoked.json()["code"]
    assert httpx.delete(f"{world.url}/v1/shares/{code}", headers=lawyer).status_code == 404
    assert (
        httpx.delete(f"{world.url}/v1/shares/{code}", headers=world.headers["notary"]).status_code
        == 204
    )
    r = httpx.get(f"{world.url}/v1/shares/{code}/content", headers=lawyer)
    assert r.status_code == 410 and "revoked" in r.json()["detail"]
    # A mistyped code is refused by its check symbol, before any lookup.
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    r = httpx.get(f"{world.url}/v1/shares/{typo}/content", headers=lawyer)
    assert r.status_code == 400 and "check symbol" in r.json()["detail"]


def test_a_document_share_gives_only_its_document(world: World) -> None:
    doc, lawyer = world.extra["n1_case_doc"], world.headers["lawyer"]
    made = world.share(world.headers["notary"], "金杜律师事务所", document_id=doc["id"])
    code = made.json()["code"]
    for other in (world.extra["other_doc"]["id"], "not-even-an-id"):
        r = httpx.get(f"{world.url}/v1/shares/{code}/documents/{other}/content", headers=lawyer)
        assert r.status_code == 404, other
    r = httpx.get(f"{world.url}/v1/shares/{code}/documents/{doc['id']}/content", headers=lawyer)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == doc["sha256"]
    # The refusals used nothing up.
    uses = httpx.get(f"{world.url}/v1/shares/{code}", headers=lawyer).json()
    assert uses["uses"] == 1, uses


def test_a_share_code_dies_with_the_token_or_institution_that_made_it(world: World) -> None:
    admin, url, lawyer = world.headers["admin"], world.url, world.headers["lawyer"]
    sharer = world.admin_token("将撤销公证处", "notary_office", "notary")
    doc = world.deposit(sharer, "notary", b"shared, then the sharer goes").json()
    first = world.share(sharer, "金杜律师事务所", document_id=doc["id"]).json()["code"]
    assert httpx.get(f"{url}/v1/shares/{first}/content", headers=lawyer).status_code == 200
    token_id = next(
        t["id"]
        for t in httpx.get(f"{url}/v1/admin/tokens", headers=admin).json()
        if t["institution"] == "将撤销公证处"
    )
    assert httpx.delete(f"{url}/v1/admin/tokens/{token_id}", headers=admin).status_code == 204
    r = httpx.get(f"{url}/v1/shares/{first}/content", headers=lawyer)
    assert r.status_code == 410 and "revoked" in r.json()["detail"], r.text

    r = httpx.post(
        f"{url}/v1/admin/tokens",
        headers=admin,
        json={"institution": "将撤销公证处", "role": "notary"},
    )
    again = {"Authorization": f"Bearer {r.json()['token']}"}
    second = world.share(again, "金杜律师事务所", document_id=doc["id"]).json()["code"]
    assert httpx.get(f"{url}/v1/shares/{second}/content", headers=lawyer).status_code == 200
    institution = next(
        i
        for i in httpx.get(f"{url}/v1/admin/institutions", headers=admin).json()
        if i["name"] == "将撤销公证处"
    )
    r = httpx.post(f"{url}/v1/admin/institutions/{institution['id']}/disable", headers=admin)
    assert r.status_code == 204
    r = httpx.get(f"{url}/v1/shares/{second}/content", headers=lawyer)
    assert r.status_code == 410 and "disabled" in r.json()["detail"], r.text


def test_a_shared_case(world: World) -> None:
    code = world.extra["own_case"]["forensic"]
    made = world.share(world.headers["forensic"], "第一中级人民法院", case_code=code)
    assert made.status_code == 201, made.text
    share, court = made.json()["code"], world.headers["court"]
    # The court is no participant: without the share code it sees nothing of the case.
    assert httpx.get(f"{world.url}/v1/cases/{code}", headers=court).status_code == 404
    view = httpx.get(f"{world.url}/v1/shares/{share}", headers=court).json()
    assert view["case_code"] == code and view["documents"]
    inside = view["documents"][0]
    r = httpx.get(f"{world.url}/v1/shares/{share}/documents/{inside['id']}/content", headers=court)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == inside["sha256"]
    outside = world.extra["other_doc"]["id"]
    r = httpx.get(f"{world.url}/v1/shares/{share}/documents/{outside}/content", headers=court)
    assert r.status_code == 404


# --- Institutions, tokens, bad input -------------------------------------------------------------


def test_admin_api_and_token_lifecycle(world: World) -> None:
    admin, url = world.headers["admin"], world.url
    headers = world.admin_token("临时公证处", "notary_office", "notary")
    assert (
        httpx.post(
            f"{url}/v1/cases", headers=headers, json={"type": "notary", "title": "t"}
        ).status_code
        == 201
    )
    # Role and institution type must agree; unknown institutions are not created by the API.
    wrong = httpx.post(
        f"{url}/v1/admin/tokens", headers=admin, json={"institution": "临时公证处", "role": "court"}
    )
    assert wrong.status_code == 400 and "notary_office" in wrong.json()["detail"]
    absent = httpx.post(
        f"{url}/v1/admin/tokens", headers=admin, json={"institution": "无此机构", "role": "court"}
    )
    assert absent.status_code == 404
    dup = httpx.post(
        f"{url}/v1/admin/institutions", headers=admin, json={"name": "临时公证处", "type": "court"}
    )
    assert dup.status_code == 409
    tokens = httpx.get(f"{url}/v1/admin/tokens", headers=admin).json()
    mine = [t for t in tokens if t["institution"] == "临时公证处"]
    assert len(mine) == 1 and "token" not in mine[0]

    # Expired: refused.
    db_execute(
        world.server,
        "UPDATE api_tokens SET expires_at = created_at WHERE id = :id",
        id=mine[0]["id"],
    )
    r = httpx.get(f"{url}/v1/admin/institutions", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "token expired"
    assert r.headers["www-authenticate"] == "Bearer"
    # Revoked: refused.
    second = world.admin_token("临时律所", "law_firm", "lawyer")
    token_id = next(
        t["id"]
        for t in httpx.get(f"{url}/v1/admin/tokens", headers=admin).json()
        if t["institution"] == "临时律所"
    )
    assert httpx.delete(f"{url}/v1/admin/tokens/{token_id}", headers=admin).status_code == 204
    assert httpx.delete(f"{url}/v1/admin/tokens/{token_id}", headers=admin).status_code == 404
    assert httpx.get(f"{url}/v1/cases/{MISSING_CASE}", headers=second).status_code == 401
    # A disabled institution's tokens: refused.
    third = world.admin_token("将停用公证处", "notary_office", "notary")
    institutions = httpx.get(f"{url}/v1/admin/institutions", headers=admin).json()
    target = next(i for i in institutions if i["name"] == "将停用公证处")
    r = httpx.post(f"{url}/v1/admin/institutions/{target['id']}/disable", headers=admin)
    assert r.status_code == 204
    r = httpx.post(f"{url}/v1/cases", headers=third, json={"type": "notary", "title": "t"})
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
    # Forged tokens.
    for forged in ("zl_" + "A" * 43, "zl_forged", "x" * 200):
        r = httpx.get(f"{url}/v1/admin/tokens", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401


def test_cli_institutions_and_tokens(world: World) -> None:
    srv, data = world.server, str(world.server.data_dir)
    made = srv.cli(
        "institutions",
        "create",
        "--data-dir",
        data,
        "--name",
        "北城法律援助中心",
        "--type",
        "legal_aid_centre",
        "--bureau",  # there are two bureaus by now: no default
        "市司法局",
    )
    assert made.returncode == 0 and made.stdout.strip()
    assert "managed by the admins of 市司法局" in made.stderr
    again = srv.cli(
        "institutions",
        "create",
        "--data-dir",
        data,
        "--name",
        "北城法律援助中心",
        "--type",
        "court",
        check=False,
    )
    assert again.returncode == 2 and "already" in again.stderr
    listed = srv.cli("institutions", "list", "--data-dir", data).stdout
    rows = {r["name"]: r for r in map(json.loads, listed.splitlines())}
    assert rows["北城法律援助中心"]["type"] == "legal_aid_centre"
    bureau = rows["市司法局"]["id"]
    assert rows["北城法律援助中心"]["bureau_id"] == rows["单局律所"]["bureau_id"] == bureau
    assert rows["无主律师事务所"]["bureau_id"] is None and rows["市司法局"]["bureau_id"] is None
    token = srv.cli(
        "tokens",
        "create",
        "--data-dir",
        data,
        "--institution",
        "北城法律援助中心",
        "--role",
        "legal_aid",
        "--no-create-institution",
    )
    headers = {"Authorization": f"Bearer {token.stdout.splitlines()[-1]}"}
    assert (
        httpx.post(
            f"{world.url}/v1/cases", headers=headers, json={"type": "legal_aid", "title": "援助"}
        ).status_code
        == 201
    )
    mismatch = srv.cli(
        "tokens",
        "create",
        "--data-dir",
        data,
        "--institution",
        "北城法律援助中心",
        "--role",
        "lawyer",
        check=False,
    )
    assert mismatch.returncode == 2 and "law_firm" in mismatch.stderr
    missing = srv.cli(
        "tokens",
        "create",
        "--data-dir",
        data,
        "--institution",
        "无此处",
        "--role",
        "court",
        "--no-create-institution",
        check=False,
    )
    assert missing.returncode == 2 and "no institution" in missing.stderr
    created = srv.cli(
        "tokens", "create", "--data-dir", data, "--institution", "新法院", "--role", "court"
    )
    assert "created institution 新法院 (court)" in created.stderr
    assert (
        srv.cli("institutions", "disable", "--data-dir", data, "北城法律援助中心").returncode == 0
    )
    assert (
        httpx.post(
            f"{world.url}/v1/cases", headers=headers, json={"type": "legal_aid", "title": "援助"}
        ).status_code
        == 401
    )
    twice = srv.cli("institutions", "disable", "--data-dir", data, "北城法律援助中心", check=False)
    assert twice.returncode == 2


def test_bad_input_is_refused_and_stores_nothing(world: World) -> None:
    url, notary = world.url, world.headers["notary"]
    size = httpx.get(f"{url}/v1/log/head").json()["tree_size"]
    code = world.extra["own_case"]["notary"]
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    swapped = code[:8] + code[9] + code[8] + code[10:]
    for bad in (typo, "GZ-2026-0001", swapped if swapped != code else typo):
        r = world.deposit(notary, "notary", b"into a mistyped case", bad)
        assert r.status_code == 400 and "not a case code" in r.json()["detail"], r.text
        assert httpx.get(f"{url}/v1/cases/{bad}", headers=notary).status_code == 400
        assert httpx.get(f"{url}/v1/public/cases/{bad}").status_code == 400
    checks = [
        (
            httpx.post(
                f"{url}/v1/cases",
                headers={**notary, "Content-Type": "application/json"},
                content=b"{" * 5000,
            ),
            400,
        ),
        (
            httpx.post(
                f"{url}/v1/cases",
                headers={**notary, "Content-Type": "application/json"},
                content=b'{"type":"notary","title":' + b"[" * 50 + b"]" * 50 + b"}",
            ),
            400,
        ),
        (
            httpx.post(
                f"{url}/v1/cases",
                headers={**notary, "Content-Type": "application/json"},
                content=b'{"type":"notary","title":"' + b"x" * 20000 + b'"}',
            ),
            413,
        ),
        (
            httpx.post(
                f"{url}/v1/cases", headers=notary, json={"type": "notary", "title": "x" * 501}
            ),
            422,
        ),
        (
            httpx.post(
                f"{url}/v1/cases", headers=notary, json={"type": "notary", "title": "t", "x": 1}
            ),
            422,
        ),
        (
            httpx.post(f"{url}/v1/cases", headers=notary, json={"type": "spaceship", "title": "t"}),
            422,
        ),
        (httpx.post(f"{url}/v1/cases", headers=notary, json={"type": "court", "title": "t"}), 422),
        (
            httpx.post(f"{url}/v1/cases", headers=notary, json={"type": "forensic", "title": "t"}),
            403,
        ),
        (httpx.post(f"{url}/v1/cases", headers=notary, data={"type": "notary"}), 415),
        (
            httpx.post(
                f"{url}/v1/cases",
                headers={**notary, "Content-Type": "application/json"},
                content=b"{not json",
            ),
            400,
        ),
        (httpx.post(f"{url}/v1/shares", headers=notary, json={"recipient": "金杜律师事务所"}), 400),
        (
            httpx.post(
                f"{url}/v1/shares",
                headers=notary,
                json={
                    "document_id": world.extra["n1_case_doc"]["id"],
                    "recipient": "金杜律师事务所",
                    "max_uses": 0,
                },
            ),
            422,
        ),
        (
            httpx.post(
                f"{url}/v1/shares",
                headers=notary,
                json={"document_id": world.extra["n1_case_doc"]["id"], "recipient": "无此机构"},
            ),
            400,
        ),
        (
            httpx.post(
                f"{url}/v1/cases/{code}/participants",
                headers=notary,
                json={"institution": "华东司法鉴定中心"},  # not a law firm or court
            ),
            400,
        ),
        (
            httpx.post(
                f"{url}/v1/cases/{code}/participants",
                headers=notary,
                json={"institution": "金杜律师事务所"},  # already there
            ),
            409,
        ),
    ]
    statuses = [(r.status_code, r.text[:120]) for r, _ in checks]
    assert [s for s, _ in statuses] == [want for _, want in checks], statuses
    for r, _ in checks:
        assert r.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{url}/v1/log/head").json()["tree_size"] == size


def test_an_altered_original_is_never_served_complete(tmp_path: Path) -> None:
    """Tampering with a stored original: a one-chunk download is refused (409), a longer one is
    cut off before its last chunk; both are logged as tampering with the document id and
    recorded in its chain of custody."""
    data_dir = tmp_path / "data"
    with running_server(data_dir) as srv:
        headers = {"Authorization": f"Bearer {srv.token('公证处', 'notary')}"}
        small = b"small original"
        large = bytes(range(256)) * (4096 * 3)  # 3 MiB: three chunks
        docs = []
        for content in (small, large):
            r = httpx.post(
                f"{srv.url}/v1/documents",
                headers=headers,
                files={"file": ("x.bin", content)},
                data={"kind": "notary", "title": "t"},
            )
            assert r.status_code == 201, r.text
            docs.append(r.json())
        for doc, content in zip(docs, (small, large), strict=True):
            blob = next((data_dir / "blobs").rglob(doc["sha256"]))
            blob.chmod(0o644)
            blob.write_bytes(content[:-1] + b"\x00")  # same length, last byte changed
        r = httpx.get(f"{srv.url}/v1/documents/{docs[0]['id']}/content", headers=headers)
        assert r.status_code == 409 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
        received = io.BytesIO()
        url = f"{srv.url}/v1/documents/{docs[1]['id']}/content"
        with (
            pytest.raises(httpx.HTTPError),  # the connection is cut short
            httpx.stream("GET", url, headers=headers) as stream,
        ):
            assert stream.status_code == 200
            for chunk in stream.iter_raw():
                received.write(chunk)
        assert len(received.getvalue()) < len(large)
        log = (tmp_path / "data-server.log").read_text()
        for doc in docs:
            assert f"tampering: document {doc['id']}" in log
            # ... and is on the document's chain of custody, after the fetch that found it.
            custody = httpx.get(
                f"{srv.url}/v1/documents/{doc['id']}/custody", headers=headers
            ).json()
            fields = [e["fields"] for e in custody["events"]]
            assert [f["action"] for f in fields] == ["deposit", "fetch_content", "tamper_detected"]
            # The server found it on someone's download; whose address is the system's to know.
            assert (fields[-1]["actor_role"], fields[-1]["v"]) == ("system", 3)
            assert custody["events"][-1]["actor_detail"] is None


# --- Bureaus: an admin administers its own bureau only ----------------------------------------


def test_an_admin_sees_and_acts_on_its_own_bureau_only(world: World) -> None:
    """An admin lists, disables, issues and revokes only in its own bureau; another bureau's
    institution or token is answered exactly as a missing one (finding 5)."""
    url, admin, admin_b = world.url, world.headers["admin"], world.headers["admin_b"]
    notary_b = world.admin_token("邻市公证处", "notary_office", "notary", admin_key="admin_b")
    bureau = world.institution_id(admin, "市司法局")
    bureau_b = world.institution_id(admin_b, "邻市司法局")

    listed = httpx.get(f"{url}/v1/admin/institutions", headers=admin).json()
    names = {i["name"] for i in listed}
    assert {"市司法局", "城东公证处", "金杜律师事务所", "君合律师事务所"} <= names
    assert not names & {"邻市司法局", "邻市律师事务所", "邻市公证处", "无主律师事务所"}
    assert all(bureau in (i["id"], i["bureau_id"]) for i in listed)
    listed_b = httpx.get(f"{url}/v1/admin/institutions", headers=admin_b).json()
    assert {"邻市司法局", "邻市律师事务所", "邻市公证处"} <= {i["name"] for i in listed_b}
    assert all(bureau_b in (i["id"], i["bureau_id"]) for i in listed_b)
    tokens = httpx.get(f"{url}/v1/admin/tokens", headers=admin).json()
    assert {t["institution"] for t in tokens} <= names
    tokens_b = httpx.get(f"{url}/v1/admin/tokens", headers=admin_b).json()
    assert "城东公证处" not in {t["institution"] for t in tokens_b}

    # The review's attack: mint a notary token for another bureau's notary, disable it,
    # revoke its token. Each is the very 404 of something that is not there.
    mint = httpx.post(
        f"{url}/v1/admin/tokens",
        headers=admin,
        json={"institution": "邻市公证处", "role": "notary"},
    )
    absent = httpx.post(
        f"{url}/v1/admin/tokens",
        headers=admin,
        json={"institution": "无此公证处", "role": "notary"},
    )
    assert mint.status_code == absent.status_code == 404
    assert mint.json()["detail"].replace("邻市公证处", "无此公证处") == absent.json()["detail"]
    target = world.institution_id(admin_b, "邻市公证处")
    token_b = httpx.get(f"{url}/v1/institutions/me/tokens", headers=notary_b).json()[0]["id"]
    for method, path, nothing in (
        (
            "POST",
            f"/v1/admin/institutions/{target}/disable",
            f"/v1/admin/institutions/{uuid.uuid4()}/disable",
        ),
        ("DELETE", f"/v1/admin/tokens/{token_b}", f"/v1/admin/tokens/{uuid.uuid4()}"),
        (
            "POST",
            f"/v1/admin/institutions/{bureau_b}/disable",
            f"/v1/admin/institutions/{uuid.uuid4()}/disable",
        ),
    ):
        hidden = httpx.request(method, f"{url}{path}", headers=admin)
        missing = httpx.request(method, f"{url}{nothing}", headers=admin)
        assert hidden.status_code == missing.status_code == 404, (path, hidden.text)
        assert hidden.json() == missing.json()
    # Nothing happened to the neighbour: its notary still works.
    assert httpx.get(f"{url}/v1/institutions/me/tokens", headers=notary_b).status_code == 200

    # What an admin creates is its bureau's; a bureau is the operator's to create.
    made = httpx.post(
        f"{url}/v1/admin/institutions", headers=admin, json={"name": "新设律所", "type": "law_firm"}
    )
    assert made.status_code == 201 and made.json()["bureau_id"] == bureau, made.text
    another = httpx.post(
        f"{url}/v1/admin/institutions",
        headers=admin,
        json={"name": "自封司法局", "type": "justice_bureau"},
    )
    assert another.status_code == 403, another.text


def test_tokens_an_admin_issues_are_on_the_institutions_record(world: World) -> None:
    """Every token issued or revoked for an institution is visible to it, with the admin who
    did it as the actor; other institutions see nothing of it (finding 5)."""
    url, admin, notary = world.url, world.headers["admin"], world.headers["notary"]
    issued = httpx.post(
        f"{url}/v1/admin/tokens",
        headers=admin,
        json={"institution": "城东公证处", "role": "notary"},
    )
    assert issued.status_code == 201, issued.text
    token_id = issued.json()["id"]
    own = httpx.get(f"{url}/v1/institutions/me/tokens", headers=notary).json()
    assert token_id in {t["id"] for t in own}
    assert {t["institution"] for t in own} == {"城东公证处"} and "token" not in own[0]

    admins = {t["id"] for t in httpx.get(f"{url}/v1/institutions/me/tokens", headers=admin).json()}
    record = f"{url}/v1/institutions/me/tokens/{token_id}/custody"
    fields = [e["fields"] for e in httpx.get(record, headers=notary).json()["events"]]
    assert [f["action"] for f in fields] == ["token_create"]
    assert (fields[0]["actor_role"], fields[0]["actor_institution"]) == ("admin", "市司法局")
    # The admin is named by institution and role; its token and address are its bureau's.
    assert "actor_token" not in fields[0] and fields[0]["v"] == 3
    assert admins
    assert fields[0]["object_type"] == "token" and fields[0]["object_id"] == token_id

    assert httpx.delete(f"{url}/v1/admin/tokens/{token_id}", headers=admin).status_code == 204
    fields = [e["fields"] for e in httpx.get(record, headers=notary).json()["events"]]
    assert [(f["action"], f["actor_role"]) for f in fields] == [
        ("token_create", "admin"),
        ("token_revoke", "admin"),
    ]
    # Anyone else: the 404 of a token that is not there.
    for other in (world.headers["lawyer"], world.headers["notary2"], admin):
        hidden = httpx.get(record, headers=other)
        missing = httpx.get(
            f"{url}/v1/institutions/me/tokens/{uuid.uuid4()}/custody", headers=other
        )
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json() == missing.json()
    # The institution's own chain: created by the admin.
    events = httpx.get(f"{url}/v1/institutions/me/custody", headers=notary).json()["events"]
    first = events[0]["fields"]
    assert (first["action"], first["actor_role"], first["object_type"]) == (
        "institution_create",
        "admin",
        "institution",
    )


# --- Removing a case's participant ------------------------------------------------------------


def test_a_removed_participant_loses_the_case_and_its_share_codes_at_once(world: World) -> None:
    """The owner takes a law firm and a court off a case (finding 8g): from the answer on
    they see nothing of it, their share codes for it are revoked, and the case's chain of
    custody says so."""
    url, notary = world.url, world.headers["notary"]
    firm = world.admin_token("移除测试律所", "law_firm", "lawyer")
    court = world.admin_token("移除测试法院", "court", "court")
    code = world.new_case(notary, "notary", "将移除参与方")
    inside = world.deposit(notary, "notary", b"in the case, then out of reach", code).json()
    loose = world.deposit(notary, "notary", b"not in the case").json()
    world.participate(notary, code, "移除测试律所")
    world.participate(notary, code, "移除测试法院")
    shares = {
        "case": world.share(notary, "移除测试律所", case_code=code).json(),
        "inside": world.share(notary, "移除测试律所", document_id=inside["id"]).json(),
        "loose": world.share(notary, "移除测试律所", document_id=loose["id"]).json(),
        "court": world.share(notary, "移除测试法院", case_code=code).json(),
    }
    reads = (
        f"/v1/cases/{code}",
        f"/v1/documents/{inside['id']}",
        f"/v1/documents/{inside['id']}/content",
    )
    for path in reads:
        assert httpx.get(f"{url}{path}", headers=firm).status_code == 200, path

    gone = httpx.delete(f"{url}/v1/cases/{code}/participants/移除测试律所", headers=notary)
    assert gone.status_code == 200, gone.text
    assert (gone.json()["institution"], gone.json()["type"]) == ("移除测试律所", "law_firm")
    assert set(gone.json()["revoked_shares"]) == {shares["case"]["id"], shares["inside"]["id"]}
    missing_case = httpx.get(f"{url}/v1/cases/{MISSING_CASE}", headers=firm)
    for path in reads:
        r = httpx.get(f"{url}{path}", headers=firm)
        assert r.status_code == 404, path
    assert httpx.get(f"{url}{reads[0]}", headers=firm).json() == missing_case.json()
    for key in ("case", "inside"):
        r = httpx.get(f"{url}/v1/shares/{shares[key]['code']}", headers=firm)
        assert r.status_code == 410 and "revoked" in r.json()["detail"], key
    # A code for a document outside the case is another grant: it stays.
    assert (
        httpx.get(f"{url}/v1/shares/{shares['loose']['code']}/content", headers=firm).status_code
        == 200
    )
    # The court is still a participant, and its code still works; then it goes too, by id.
    assert httpx.get(f"{url}/v1/cases/{code}", headers=court).status_code == 200
    assert httpx.get(f"{url}/v1/shares/{shares['court']['code']}", headers=court).status_code == 200
    court_id = world.institution_id(world.headers["admin"], "移除测试法院")
    r = httpx.delete(
        f"{url}/v1/cases/{code.replace('-', '').lower()}/participants/{court_id}", headers=notary
    )
    assert r.status_code == 200 and r.json()["revoked_shares"] == [shares["court"]["id"]], r.text
    assert httpx.get(f"{url}/v1/cases/{code}", headers=court).status_code == 404

    # Refusals: no longer (or never) a participant, the owner itself, a participant asking.
    for name in ("移除测试律所", "君合律师事务所", "无此机构"):
        r = httpx.delete(f"{url}/v1/cases/{code}/participants/{name}", headers=notary)
        assert r.status_code == 404 and r.json()["detail"] == "no such participant of this case"
    owner = httpx.delete(f"{url}/v1/cases/{code}/participants/城东公证处", headers=notary)
    assert owner.status_code == 409, owner.text
    shared = world.extra["own_case"]["notary"]
    r = httpx.delete(
        f"{url}/v1/cases/{shared}/participants/金杜律师事务所", headers=world.headers["lawyer"]
    )
    assert r.status_code == 403

    # The history: the case's chain of custody, and the shared document's.
    events = httpx.get(f"{url}/v1/cases/{code}/custody", headers=notary).json()["events"]
    fields = [e["fields"] for e in events]
    assert [f["action"] for f in fields] == [
        "case_create",
        "case_participant_add",
        "case_participant_add",
        "share_create",
        "share_create",
        "case_participant_remove",
        "share_revoke",
        "case_participant_remove",
        "share_revoke",
    ]
    removed = fields[5]
    # A note (version 2) by a token (version 3: its token and address committed to).
    assert removed["v"] == 3 and removed["actor_role"] == "notary" and removed["object_id"] == code
    assert "移除测试律所" in removed["note"] and shares["inside"]["id"] in removed["note"]
    assert "移除测试法院" in fields[7]["note"]
    doc_events = httpx.get(f"{url}/v1/documents/{inside['id']}/custody", headers=notary).json()
    assert [e["fields"]["action"] for e in doc_events["events"]][-1] == "share_revoke"

    # Adding it again is an ordinary add.
    world.participate(notary, code, "移除测试律所")
    assert httpx.get(f"{url}/v1/cases/{code}", headers=firm).status_code == 200
