"""Evidence bundles end to end (docs/bundle.md) on a real ``zhenglian serve`` with a real
``openssl ts`` authority and the bureau's PKI: a detached-signed document, a signed PDF and an
unsigned one fetched by a lawyer of the case with ``zhenglian fetch --bundle`` and checked
offline with ``zhenglian verify --bundle``; altered originals and swapped signatures caught;
strangers refused as for the content; a pending receipt refused (PostgreSQL); signatures kept
in the originals' blob store — local and S3 (moto) with Object Lock — and re-hashed by the
audit there; signatures kept by an earlier release in DATA_DIR/signatures still read."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from evidence.formats.evidence_bundle import EvidenceBundle
from evidence.services.originals import signature_store
from evidence.store.blob_store import BlobNotFound, LayeredBlobStore, LocalBlobStore
from evidence.store.s3_blob_store import RetentionPolicy, S3BlobStore
from tests.integration.test_signed_documents import CODE, INSTITUTION, _pdf, ok, zl
from tests.support.moto import moto_s3  # noqa: F401 - fixture
from tests.support.postgres import postgres_url  # noqa: F401 - fixture
from tests.support.tsa import RunningAuthority, running_authority
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

RECEIPT_DEADLINE = 90.0


@dataclass
class World:
    work: Path
    data: Path
    server: ZhenglianServer
    authority: RunningAuthority
    notary: str
    lawyer: str
    stranger: str
    database: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    institution: Path | None = None
    case: str = ""

    @property
    def tsa_env(self) -> dict[str, str]:
        return {
            "ZHENGLIAN_TSA_URL": self.authority.url(),
            "ZHENGLIAN_TSA_ROOTS": str(self.authority.authority.directory / "root.pem"),
        }

    def sign(self, file: Path) -> None:
        assert self.institution is not None
        ok(
            zl(
                "sign",
                str(file),
                "--key",
                str(self.institution / "key.pem"),
                "--cert",
                str(self.institution / "cert.pem"),
                "--server",
                self.server.url,
                env=self.tsa_env,
            )
        )

    def deposit(self, file: Path, *extra: str) -> str:
        done = ok(
            zl(
                "deposit",
                str(file),
                "--server",
                self.server.url,
                "--token",
                self.notary,
                "--kind",
                "notary",
                "--case",
                self.case,
                "--wait",
                *extra,
            )
        )
        return str(json.loads(done.stdout[: done.stdout.index("\n}") + 2])["id"])

    def fetch(self, document_id: str, out: Path, token: str | None = None, *extra: str) -> Any:
        return zl(
            "fetch",
            document_id,
            "--bundle",
            "-o",
            str(out),
            "--server",
            self.server.url,
            "--token",
            token or self.lawyer,
            *extra,
        )

    def trust(self) -> Path:
        path = self.work / "pinned-trust.json"
        if not path.exists():
            path.write_text(httpx.get(f"{self.server.url}/v1/trust", timeout=30).text)
        return path


def _admin(server: ZhenglianServer, admin: str, name: str, type_: str, role: str) -> str:
    headers = {"Authorization": f"Bearer {admin}"}
    r = httpx.post(
        f"{server.url}/v1/admin/institutions",
        headers=headers,
        json={"name": name, "type": type_},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{server.url}/v1/admin/tokens",
        headers=headers,
        json={"institution": name, "role": role},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


@contextlib.contextmanager
def _world(work: Path, env: dict[str, str], database: dict[str, str]) -> Iterator[World]:
    """A PKI, an authority, a server; a notary's case with one law firm added and another
    law firm that is not."""
    data = work / "data"
    ok(zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局机构证书根"))
    with running_authority(work / "tsa") as authority:
        tsa = {"ZHENGLIAN_TSA_ROOTS": str(authority.authority.directory / "root.pem")}
        with running_server(data, {**tsa, **env, **database}) as server:
            admin = server.token("市司法局", "admin")
            notary = _admin(server, admin, INSTITUTION, "notary_office", "notary")
            lawyer = _admin(server, admin, "金杜律师事务所", "law_firm", "lawyer")
            stranger = _admin(server, admin, "君合律师事务所", "law_firm", "lawyer")
            world = World(work, data, server, authority, notary, lawyer, stranger, database, env)
            headers = {"Authorization": f"Bearer {notary}"}
            r = httpx.post(
                f"{server.url}/v1/cases",
                headers=headers,
                json={"type": "notary", "title": "继承公证"},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            world.case = str(r.json()["code"])
            r = httpx.post(
                f"{server.url}/v1/cases/{world.case}/participants",
                headers=headers,
                json={"institution": "金杜律师事务所"},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            world.institution = work / "notary"
            ok(
                zl(
                    "pki",
                    "issue",
                    "--data-dir",
                    str(data),
                    "--institution",
                    INSTITUTION,
                    "--credit-code",
                    CODE,
                    "--type",
                    "notary_office",
                    "--out",
                    str(world.institution),
                )
            )
            yield world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """SQLite, originals in local files."""
    with _world(tmp_path_factory.mktemp("bundle"), {}, {}) as w:
        yield w


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _verify(path: Path, *extra: str) -> Any:
    return zl("verify", "--bundle", str(path), *extra)


def _rewrite(source: Path, target: Path, change: dict[str, bytes]) -> None:
    """``source`` with the members named in ``change`` replaced (everything else as is)."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            out.writestr(info, change.get(info.filename, archive.read(info)))


def test_a_detached_signed_document_bundle_verifies_offline(world: World) -> None:
    document = world.work / "opinion.txt"
    document.write_bytes("司法鉴定意见书：检材与样本系同一人书写。\n".encode() * 40)
    world.sign(document)
    doc = world.deposit(document, "--signature", f"{document}.p7s")
    bundle = world.work / "opinion.bundle.zip"
    done = ok(world.fetch(doc, bundle))
    assert "bundle written" in done.stderr

    members = _members(bundle)
    names = list(members)
    assert names[:3] == ["manifest.json", "receipt.json", "trust.json"]
    assert names[-1] == "original/opinion.txt"
    for expected in (
        "signature/signature.p7s",
        "signature/signer.cer",
        "signature/root.cer",
        "signature/crl-now.crl",
        "signature/crl-at-signing.crl",
        "custody/page-0001.json",
    ):
        assert expected in members, names
    assert members["original/opinion.txt"] == document.read_bytes()
    assert members["signature/signature.p7s"] == Path(f"{document}.p7s").read_bytes()
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "zhenglian/evidence-bundle" and manifest["version"] == 1
    assert manifest["document_id"] == doc
    assert [m["name"] for m in manifest["members"]] == names[1:]
    for m in manifest["members"]:
        assert m["sha256"] == hashlib.sha256(members[m["name"]]).hexdigest(), m["name"]
        assert m["size"] == len(members[m["name"]])
    headers = {"Authorization": f"Bearer {world.lawyer}"}
    receipt = httpx.get(f"{world.server.url}/v1/documents/{doc}/receipt", headers=headers)
    assert json.loads(members["receipt.json"]) == receipt.json()
    assert json.loads(members["trust.json"]) == json.loads(world.trust().read_text())
    custody = json.loads(members["custody/page-0001.json"])
    assert any(e["fields"]["action"] == "fetch_content" for e in custody["events"]), custody
    with bundle.open("rb") as fh:
        assert EvidenceBundle.from_zip(fh).manifest.document_id == doc

    checked = _verify(bundle, "--trust", str(world.trust()))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "FAIL" not in checked.stdout
    assert "ok   bundle member original/opinion.txt" in checked.stdout
    assert checked.stdout.splitlines()[0] == "verdict: intact"
    # One report: the members, the document's checks and the custody export's, in sections.
    report = json.loads(_verify(bundle, "--trust", str(world.trust()), "--json").stdout)
    assert report["verdict"] == "intact" and report["subject"]["id"] == doc
    sections = {s["name"]: s["checks"] for s in report["sections"]}
    assert {"integrity", "signature", "revocation", "custody"} <= set(sections)
    assert sections["custody"] and all(c["status"] == "passed" for c in sections["custody"])
    assert any(c["name"] == "bundle member manifest.json" for c in sections["integrity"]) or any(
        c["name"].startswith("bundle member ") for c in sections["integrity"]
    )

    # A bundle cannot vouch for itself unless asked.
    refused = _verify(bundle)
    assert refused.returncode == 2 and "cannot vouch for itself" in refused.stderr
    own = _verify(bundle, "--trust-from-bundle")
    assert own.returncode == 0 and "trust taken from the bundle itself" in own.stdout

    # The original altered (the manifest left as it was): altered, exit 1.
    original = bytearray(members["original/opinion.txt"])
    original[10] ^= 0x01
    altered = world.work / "opinion.altered.zip"
    _rewrite(bundle, altered, {"original/opinion.txt": bytes(original)})
    done = _verify(altered, "--trust", str(world.trust()))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL bundle member original/opinion.txt" in done.stdout
    assert done.stdout.splitlines()[0] == "verdict: altered"

    # Another document's signature swapped in: signature-invalid, exit 1.
    other = world.work / "other.txt"
    other.write_bytes(b"another opinion\n")
    world.sign(other)
    swapped = world.work / "opinion.swapped.zip"
    _rewrite(bundle, swapped, {"signature/signature.p7s": Path(f"{other}.p7s").read_bytes()})
    done = _verify(swapped, "--trust", str(world.trust()))
    assert done.returncode == 1, done.stdout + done.stderr
    # The member unlike its manifest entry is the bundle altered (which comes first); the
    # signature's own checks fail too, as signature-invalid.
    assert done.stdout.splitlines()[0] == "verdict: altered"
    assert "FAIL bundle member signature/signature.p7s" in done.stdout
    report = json.loads(_verify(swapped, "--trust", str(world.trust()), "--json").stdout)
    failed = {
        c["name"]: c["fails_as"]
        for s in report["sections"]
        for c in s["checks"]
        if c["status"] == "failed"
    }
    assert failed["signature-committed"] == "signature-invalid", failed


def test_a_stranger_gets_the_bundle_as_the_content_404(world: World) -> None:
    document = world.work / "will.txt"
    document.write_bytes("遗嘱\n".encode() * 10)
    doc = world.deposit(document)
    for path in ("content", "bundle"):
        r = httpx.get(
            f"{world.server.url}/v1/documents/{doc}/{path}",
            headers={"Authorization": f"Bearer {world.stranger}"},
            timeout=30,
        )
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    anonymous = httpx.get(f"{world.server.url}/v1/documents/{doc}/bundle", timeout=30)
    assert anonymous.status_code == 401
    out = world.work / "stranger.zip"
    done = world.fetch(doc, out, world.stranger)
    assert done.returncode == 2 and "404" in done.stderr and not out.exists()
    assert len(done.stderr.strip().splitlines()) == 1

    # Given a share code by the depositor, the other firm fetches it as it fetches originals:
    # one use of the code, recorded as a share_fetch.
    r = httpx.post(
        f"{world.server.url}/v1/shares",
        headers={"Authorization": f"Bearer {world.notary}"},
        json={"document_id": doc, "recipient": "君合律师事务所", "max_uses": 1},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    done = world.fetch(doc, out, world.stranger, "--share", code)
    assert done.returncode == 0, done.stderr
    assert _members(out)["original/will.txt"] == document.read_bytes()
    checked = _verify(out, "--trust", str(world.trust()))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    again = world.fetch(doc, world.work / "again.zip", world.stranger, "--share", code)
    assert again.returncode == 2 and "410" in again.stderr  # the one use is spent


def test_a_signed_pdf_and_an_unsigned_document_bundle_verify(world: World) -> None:
    pdf = world.work / "notarial.pdf"
    pdf.write_bytes(_pdf("公证书 No. (2026)京某证字第42号"))
    world.sign(pdf)
    signed = world.work / "notarial.signed.pdf"
    doc = world.deposit(signed)
    bundle = world.work / "notarial.bundle.zip"
    ok(world.fetch(doc, bundle))
    members = _members(bundle)
    assert "signature/signature.p7s" not in members  # the signature is inside the PDF
    assert "signature/signer.cer" in members and "signature/root.cer" in members
    assert members["original/notarial.signed.pdf"] == signed.read_bytes()
    done = _verify(bundle, "--trust", str(world.trust()))
    assert done.returncode == 0, done.stdout + done.stderr

    plain = world.work / "letter.txt"
    plain.write_bytes(b"an unsigned letter\n")
    doc = world.deposit(plain)
    bundle = world.work / "letter.bundle.zip"
    ok(world.fetch(doc, bundle))
    assert not [n for n in _members(bundle) if n.startswith("signature/")]
    done = _verify(bundle, "--trust", str(world.trust()))
    assert done.returncode == 0, done.stdout + done.stderr

    # Without --bundle: the original alone, as /content serves it.
    copy = world.work / "letter.copy.txt"
    done = zl("fetch", doc, "-o", str(copy), "--server", world.server.url, "--token", world.lawyer)
    assert done.returncode == 0 and copy.read_bytes() == plain.read_bytes(), done.stderr


def test_signatures_are_kept_in_the_originals_store_and_audited_there(world: World) -> None:
    """Last on this server: it alters a kept signature."""
    document = world.work / "kept.txt"
    document.write_bytes(b"where is my signature kept?\n" * 5)
    world.sign(document)
    world.deposit(document, "--signature", f"{document}.p7s")
    signature = Path(f"{document}.p7s").read_bytes()
    digest = hashlib.sha256(signature).hexdigest()
    kept = world.data / "blobs" / "signatures" / "sha256" / digest[:2] / digest[2:4] / digest
    assert kept.read_bytes() == signature
    assert not (world.data / "signatures").exists()  # nothing in the old place

    def audit() -> list[dict[str, Any]]:
        done = zl("audit", "--data-dir", str(world.data), env=world.database)
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    assert not [f for f in audit() if str(f["kind"]).startswith(("signature-", "orphan"))]
    kept.chmod(0o640)
    kept.write_bytes(signature[:-1] + bytes([signature[-1] ^ 1]))
    found = [f for f in audit() if f["kind"] == "signature-altered"]
    assert len(found) == 1 and digest in str(found[0]), found


def test_signatures_kept_before_the_move_are_still_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    legacy = LocalBlobStore(data / "signatures")
    old = legacy.put([b"a signature kept by an earlier release"], max_size=1024).digest.sha256
    blobs = LocalBlobStore(data / "blobs")
    store = signature_store(blobs, data)
    assert isinstance(store, LayeredBlobStore)
    assert b"".join(store.open(old)) == b"a signature kept by an earlier release"
    new = store.put([b"a new signature"], max_size=1024).digest.sha256
    assert (data / "blobs" / "signatures" / "sha256" / new.hex()[:2]).is_dir()
    assert not legacy.exists(new)  # nothing new is written to the old place
    assert set(store.digests()) == {old, new}
    assert list(blobs.digests()) == []  # never mistaken for originals (the orphan check)
    with pytest.raises(BlobNotFound):
        store.open(hashlib.sha256(b"never kept").digest())
    # Without the old directory, the namespace alone.
    assert not isinstance(signature_store(blobs, tmp_path / "fresh"), LayeredBlobStore)


@pytest.mark.parametrize("name", ["sha256", "tmp", "blobs", "../up", "Signatures", "", "a/b"])
def test_a_namespace_cannot_take_an_originals_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="cannot name a blob store namespace"):
        LocalBlobStore(tmp_path / "blobs").namespace(name)


S3_ENV = {
    "ZHENGLIAN_S3_SECURE": "false",
    "ZHENGLIAN_S3_BUCKET": "zl-bundle-originals",
    "ZHENGLIAN_S3_ACCESS_KEY": "testing",
    "ZHENGLIAN_S3_SECRET_KEY": "testing-secret",
    "ZHENGLIAN_S3_RETENTION_DAYS": "1",
}


def test_signatures_on_s3_round_trip_under_object_lock_and_are_audited(
    tmp_path_factory: pytest.TempPathFactory,
    moto_s3: str,  # noqa: F811
) -> None:
    env = {**S3_ENV, "ZHENGLIAN_S3_ENDPOINT": moto_s3}
    with _world(tmp_path_factory.mktemp("bundle-s3"), env, {}) as w:
        document = w.work / "s3-opinion.txt"
        document.write_bytes("保存在对象存储中的意见书\n".encode() * 30)
        w.sign(document)
        doc = w.deposit(document, "--signature", f"{document}.p7s")
        signature = Path(f"{document}.p7s").read_bytes()
        digest = hashlib.sha256(signature).digest()
        store = S3BlobStore(
            moto_s3,
            "testing",
            "testing-secret",
            S3_ENV["ZHENGLIAN_S3_BUCKET"],
            secure=False,
            retention=RetentionPolicy(days=1),
        )
        kept = store.namespace("signatures")
        assert b"".join(kept.open(digest)) == signature
        assert kept.lock_status(digest)["x-amz-object-lock-mode"] == "COMPLIANCE"
        assert digest not in set(store.digests())  # apart from the originals
        assert not (w.data / "signatures").exists() and not (w.data / "blobs").exists()

        bundle = w.work / "s3.bundle.zip"
        ok(w.fetch(doc, bundle))
        assert _members(bundle)["signature/signature.p7s"] == signature
        done = _verify(bundle, "--trust", str(w.trust()))
        assert done.returncode == 0, done.stdout + done.stderr

        audit_env = {**env, **w.database}
        done = zl("audit", "--data-dir", str(w.data), env=audit_env)
        assert done.returncode == 0, done.stdout + done.stderr
        # A new version of the object (Object Lock keeps the old one, reads get the new).
        kept._client.put_object(
            S3_ENV["ZHENGLIAN_S3_BUCKET"],
            "signatures/" + digest.hex(),
            io.BytesIO(signature[:-1] + b"\0"),
            length=len(signature),
        )
        done = zl("audit", "--data-dir", str(w.data), env=audit_env)
        found = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        assert done.returncode == 1, done.stderr
        assert [f["kind"] for f in found] == ["signature-altered"], found


def test_a_pending_receipt_is_refused_then_fetched_on_postgresql(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,  # noqa: F811
) -> None:
    database = {"ZHENGLIAN_DATABASE_URL": postgres_url}
    slow = {"ZHENGLIAN_ANCHOR_INTERVAL": "20"}
    with _world(tmp_path_factory.mktemp("bundle-pg"), slow, database) as w:
        headers = {"Authorization": f"Bearer {w.notary}"}
        r = httpx.post(
            f"{w.server.url}/v1/documents",
            headers=headers,
            data={"kind": "notary", "title": "待锚定", "case_code": w.case},
            files={"file": ("pending.txt", b"not anchored yet\n")},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        doc = r.json()["id"]
        r = httpx.get(f"{w.server.url}/v1/documents/{doc}/bundle", headers=headers, timeout=30)
        assert r.status_code == 409, r.text
        assert r.json()["reason"] == "receipt-pending" and r.headers["retry-after"]
        bundle = w.work / "pending.bundle.zip"
        done = w.fetch(doc, bundle)
        assert done.returncode == 1 and "receipt-pending" in done.stderr and not bundle.exists()
        deadline = time.monotonic() + RECEIPT_DEADLINE
        done = w.fetch(doc, bundle, None, "--wait")
        assert done.returncode == 0 and time.monotonic() < deadline, done.stderr
        checked = _verify(bundle, "--trust", str(w.trust()))
        assert checked.returncode == 0, checked.stdout + checked.stderr
