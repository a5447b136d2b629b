"""The admissibility report's model (evidence/verify/admissibility.py) on real receipts: a
version 2 receipt built here offline with the project's formats (a log, an anchor proof with
its transaction from the anchor-proof vector generator, a log-signed checkpoint, two
witnesses' cosignatures, an RFC 3161 token from the test authority) and the committed
version 1 vectors. The wording of each check in Chinese and English, the verdicts, the legal
mapping, and the two renderings (same rows; a deterministic PDF with its font embedded)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.digest import DocumentDigest, digest_stream
from evidence.formats.checkpoint import Checkpoint
from evidence.formats.cosignature import WitnessKey, cosign
from evidence.formats.log_entry import new_entry
from evidence.formats.receipt_format import Receipt
from evidence.formats.signed_note import Note, VerifierKey
from evidence.formats.tlog_proof import TlogProof
from evidence.formats.trust_bundle import TrustBundle, Validator
from evidence.verify.admissibility import (
    CHECK_ORDER,
    PROVISIONS,
    AdmissibilityReport,
    Provenance,
    Status,
    build_report,
    format_time,
)
from evidence.verify.receipt_verifier import (
    CHECK_ANCHOR_PROOF,
    CHECK_CHECKPOINT,
    CHECK_CLAIMED_TIME,
    CHECK_DOCUMENT_DIGEST,
    CHECK_TIME_STAMP,
    CHECK_WITNESSES,
    DocumentAltered,
    IndependenceTrust,
    ReceiptInvalid,
    VerificationFailed,
    VerificationResult,
    verify_receipt,
)
from ledger.anchor_proof import AnchorProof, ChainTrust
from ledger.merkle import MerkleLog
from tests.support.tsa import LocalTimeStampAuthority

REPO = Path(__file__).resolve().parents[2]
RECEIPT_VECTORS = REPO / "tests" / "assets" / "receipts"
GENERATED_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
DEPOSITED_AT = datetime(2024, 5, 31, 23, 59, 50, tzinfo=UTC)
LOG_NAME = "log.test.example/zhenglian"
WITNESS_NAMES = ("court.test.example/w1", "notaries.test.example/w2")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module while being built
    spec.loader.exec_module(module)
    return module


anchors = _load(REPO / "tests/assets/anchor_proofs/generate.py", "zhenglian_anchor_vectors_r")


def _key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


LOG_KEY = _key("admissibility test: log")
WITNESS_KEYS = tuple(_key(f"admissibility test: {name}") for name in WITNESS_NAMES)


@dataclass(frozen=True)
class Vector:
    receipt: Receipt
    bundle: TrustBundle
    document: DocumentDigest
    other: DocumentDigest

    @property
    def chain(self) -> ChainTrust:
        return ChainTrust.sealed(
            self.bundle.chain_id,
            [v.address for v in self.bundle.validators],
            contract=self.bundle.documents_contract,
            anchoring_account=self.bundle.anchoring_account,
            require_transaction=self.receipt.version == 2,
        )

    @property
    def independence(self) -> IndependenceTrust:
        b = self.bundle
        return IndependenceTrust(b.log_key, b.witnesses, b.witness_quorum, b.time_stamp_roots_der())


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> LocalTimeStampAuthority:
    return LocalTimeStampAuthority.create(
        tmp_path_factory.mktemp("tsa"), name="Admissibility test TSA"
    )


def _v2(
    authority: LocalTimeStampAuthority,
    *,
    deposited_at: datetime = DEPOSITED_AT,
    cosigned_after: timedelta = timedelta(seconds=15),
) -> Vector:
    """A version 2 receipt for leaf 3 of a 6-entry log, cosigned by both witnesses and
    time-stamped, with its trust bundle."""
    contents = [f"公证书 {i}: 本人自愿将房产留给女儿。".encode() for i in range(6)]
    entries = [
        new_entry(
            digest_stream([c]).sha256,
            digest_stream([c]).sm3,
            len(c),
            "notary",
            "广元市城东公证处",
            "GY-2024-0003",
            deposited_at,
        )
        for c in contents
    ]
    log = MerkleLog()
    log.append_many([e.leaf_hash() for e in entries])
    size, root, index = len(entries), log.root(), 3
    block = anchors.Block(
        anchor_log_data=size.to_bytes(32, "big") + root, anchor_tx=anchors.AnchorTx()
    )
    _trust, proof = anchors.build(block)
    checkpoint = Checkpoint(LOG_NAME, size, root)
    signed = checkpoint.sign(LOG_KEY)
    cosigned_at = int((deposited_at + cosigned_after).timestamp())
    lines = tuple(
        cosign(checkpoint.text(), name, key, cosigned_at + i)
        for i, (name, key) in enumerate(zip(WITNESS_NAMES, WITNESS_KEYS, strict=True))
    )
    note = Note(signed.text, signed.signatures + lines)
    token = authority.token(authority.reply(authority.query(signed.to_bytes())))
    inclusion = log.inclusion_proof(index, size)
    built = Receipt(
        document_id="6a1f0c3e-2b7d-4c8e-9f10-a2b3c4d5e6f7",
        entry=entries[index],
        entry_bytes=entries[index].encode(),
        leaf_index=index,
        tree_size=size,
        root_hash=root,
        inclusion=inclusion,
        anchor=AnchorProof.from_json(proof),
        issued_at=datetime(2024, 6, 1, 0, 1, tzinfo=UTC),
        tlog_proof=TlogProof(index, inclusion.hashes, note),
        time_stamp=token,
    )
    receipt = Receipt.from_json_bytes(built.to_json_bytes())
    bundle = TrustBundle(
        chain_id=anchors.CHAIN_ID,
        genesis_hash=hashlib.sha256(b"genesis").digest(),
        documents_contract=anchors.CONTRACT,
        custody_contract=None,
        anchoring_account=bytes(anchors.ANCHORING_KEY.public_key.to_canonical_address()),
        sealed=True,
        validators=(Validator(bytes(anchors.VALIDATOR_KEY.public_key.to_canonical_address()), 0),),
        log_key=VerifierKey.for_key(LOG_NAME, LOG_KEY.public_key().public_bytes_raw()),
        witnesses=tuple(
            WitnessKey.for_key(name, key.public_key().public_bytes_raw())
            for name, key in zip(WITNESS_NAMES, WITNESS_KEYS, strict=True)
        ),
        witness_quorum=2,
        time_stamp_roots=(authority.root_pem.decode(),),
    )
    return Vector(
        receipt, bundle, digest_stream([contents[index]]), digest_stream([b"another deed"])
    )


@pytest.fixture(scope="module")
def v2(authority: LocalTimeStampAuthority) -> Vector:
    return _v2(authority)


@pytest.fixture(scope="module")
def v1() -> Vector:
    cases = json.loads((RECEIPT_VECTORS / "cases.json").read_text())
    trust = cases["trust"]
    docs = {name: digest_stream([d["text"].encode()]) for name, d in cases["documents"].items()}
    receipt = Receipt.from_json_bytes((RECEIPT_VECTORS / "valid.json").read_bytes())
    bundle = TrustBundle(
        chain_id=trust["chainId"],
        genesis_hash=bytes(32),
        documents_contract=bytes.fromhex(trust["contract"][2:]),
        custody_contract=None,
        anchoring_account=bytes(20),
        sealed=True,
        validators=tuple(Validator(bytes.fromhex(v[2:]), 0) for v in trust["validators"]),
        log_key=VerifierKey.for_key(LOG_NAME, LOG_KEY.public_key().public_bytes_raw()),
        witnesses=(),
        witness_quorum=0,
        time_stamp_roots=(),
    )
    return Vector(receipt, bundle, docs["deposited"], docs["altered"])


def _provenance(document_name: str | None = "deed.pdf") -> Provenance:
    return Provenance(
        generated_at=GENERATED_AT,
        tool_version="0.1.0",
        receipt_file_sha256=hashlib.sha256(b"receipt file").digest(),
        trust_file_sha256=hashlib.sha256(b"trust file").digest(),
        document_name=document_name,
    )


def _report(
    vector: Vector,
    document: DocumentDigest | None,
    *,
    bundle: TrustBundle | None = None,
    receipt: Receipt | None = None,
) -> AdmissibilityReport:
    """Verify as ``zhenglian report`` does, then build the report."""
    bundle = bundle or vector.bundle
    receipt = receipt or vector.receipt
    vector = replace(vector, bundle=bundle, receipt=receipt)
    own = DocumentDigest(receipt.entry.sha256, receipt.entry.sm3, receipt.entry.size)
    outcome: VerificationResult | VerificationFailed
    alone = None
    try:
        outcome = verify_receipt(
            receipt, document or own, vector.chain, independence=vector.independence
        )
    except VerificationFailed as exc:
        outcome = exc
        if isinstance(exc, DocumentAltered):
            alone = verify_receipt(receipt, own, vector.chain, independence=vector.independence)
    return build_report(
        receipt=receipt,
        bundle=bundle,
        outcome=outcome,
        document=document,
        provenance=_provenance(None if document is None else "deed.pdf"),
        receipt_alone=alone,
    )


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _row(report: AdmissibilityReport, name: str) -> Any:
    return next(row for row in report.checks if row.name == name)


def _values(report: AdmissibilityReport, name: str) -> dict[str, str]:
    return {fact.label.en: fact.value for fact in _row(report, name).evidence}


# --- An intact version 2 receipt ---------------------------------------------------------------


def test_an_intact_v2_receipt_reports_every_check_with_its_evidence(v2: Vector) -> None:
    report = _report(v2, v2.document)
    assert report.verdict == "intact" and report.intact
    assert (report.headline.zh, report.headline.en) == ("完好", "intact")
    assert (report.title.zh, report.title.en) == (
        "电子证据核验报告",
        "Electronic evidence verification report",
    )
    assert [row.name for row in report.checks] == list(CHECK_ORDER)
    assert all(row.status is Status.PASSED for row in report.checks), [
        (row.name, row.status, row.note) for row in report.checks
    ]
    assert report.failed == () and report.notices == () and report.receipt_version == 2

    digest = _values(report, CHECK_DOCUMENT_DIGEST)
    assert digest["File SHA-256"] == digest["Deposited SHA-256"] == v2.document.sha256.hex()
    assert digest["File SM3"] == digest["Deposited SM3"] == v2.document.sm3.hex()
    assert digest["File size (bytes)"] == str(v2.document.size)
    record = _values(report, "leaf hash")
    assert record["Institution"] == "广元市城东公证处"
    assert record["Kind"] == "公证 / notary" and record["Case code"] == "GY-2024-0003"
    assert _values(report, "leaf index") == {"Leaf index (from 0)": "3", "Log size (entries)": "6"}
    anchor = _values(report, CHECK_ANCHOR_PROOF)
    assert anchor["Block number"] == str(anchors.BLOCK_NUMBER)
    assert anchor["Chain id"] == str(anchors.CHAIN_ID)
    assert anchor["Contract"] == "0x" + anchors.CONTRACT.hex()
    assert anchor["Anchoring account"] == "0x" + v2.bundle.anchoring_account.hex()
    assert anchor["Sealed by (Clique)"] == "0x" + v2.bundle.validators[0].address.hex()
    assert anchor["Block time"].startswith("2024-06-01T00:00:00Z (北京时间 2024-06-01 08:00:00)")
    witnesses = _values(report, CHECK_WITNESSES)
    assert witnesses["Quorum"] == "2 / 2"
    cosigned = datetime(2024, 6, 1, 0, 0, 5, tzinfo=UTC)
    assert witnesses[f"Cosigned by {WITNESS_NAMES[0]} at"] == format_time(cosigned)
    assert witnesses[f"Cosigned by {WITNESS_NAMES[1]} at"] == format_time(
        cosigned + timedelta(seconds=1)
    )
    stamp = _values(report, CHECK_TIME_STAMP)
    assert "Admissibility test TSA" in stamp["Time-stamp authority"]
    assert stamp["Serial number"].isdigit() and stamp["Policy"] == "2.999.3161.1"
    claimed = _values(report, CHECK_CLAIMED_TIME)
    assert claimed["Claimed by the service"] == format_time(DEPOSITED_AT)
    assert claimed["Proven no later than"] == format_time(cosigned)
    assert claimed["Difference"] == "15 s" and claimed["Possibly back-dated"] == "否 / no"
    summary = {fact.label.en: fact.value for fact in report.summary.facts}
    assert summary["Independently proven no later than"] == format_time(cosigned)
    trust = {fact.label.en: fact.value for fact in report.trust.facts}
    assert trust["Witnesses"].splitlines()[0].startswith(WITNESS_NAMES[0])
    assert "Admissibility test TSA" in trust["Time-stamp authorities' roots"]


def test_each_check_says_in_chinese_and_english_what_it_proves_and_what_not(
    v2: Vector,
) -> None:
    report = _report(v2, v2.document)
    for row in report.checks:
        for text in (row.title, row.proves, row.does_not_prove):
            assert CJK.search(text.zh) and not CJK.search(text.en), (row.name, text)
        assert row.provisions, row.name
    texts = {row.name: row for row in report.checks}
    assert texts[CHECK_DOCUMENT_DIGEST].title.zh == "文件摘要核对"
    assert "who made or signed" in texts[CHECK_DOCUMENT_DIGEST].does_not_prove.en
    assert "existed no later than the block time" in texts[CHECK_ANCHOR_PROOF].proves.en
    assert "不晚于区块时间" in texts[CHECK_ANCHOR_PROOF].proves.zh
    assert "two histories" in texts[CHECK_WITNESSES].proves.en
    assert "两套历史" in texts[CHECK_WITNESSES].proves.zh
    assert "do not vouch for content" in texts[CHECK_WITNESSES].does_not_prove.en
    assert "bounds the time of existence" in texts[CHECK_TIME_STAMP].does_not_prove.en
    assert "不说明文件何时生成" in texts[CHECK_TIME_STAMP].does_not_prove.zh
    assert "operator's" in texts[CHECK_CHECKPOINT].does_not_prove.en
    limits = " ".join(limit.en for limit in report.limits)
    assert "who made or signed it" in limits and "PKI" in limits
    assert any("由谁制作" in limit.zh for limit in report.limits)


def test_the_legal_mapping_covers_every_check_and_every_provision(v2: Vector) -> None:
    report = _report(v2, v2.document)
    assert [p.key for p in PROVISIONS] == ["OLR-16", "OLR-17", "OLR-18", "OLR-19", "ICR-11"]
    citations = [row.provision.citation.zh for row in report.provisions]
    assert citations[0] == "《人民法院在线诉讼规则》第十六条"
    assert citations[4] == "《最高人民法院关于互联网法院审理案件若干问题的规定》第十一条"
    assert "推定" not in citations[0]
    points = {row.provision.key: row.provision.point.zh for row in report.provisions}
    assert "上链后未经篡改" in points["OLR-16"]
    assert "利害关系" in points["OLR-17"] and "标准" in points["OLR-17"]
    assert "上链存储前" in points["OLR-18"]
    assert "鉴定" in points["OLR-19"]
    assert all(m in points["ICR-11"] for m in ("电子签名", "可信时间戳", "哈希值校验", "区块链"))
    for row in report.provisions:  # all passed: each answers with what its checks show
        assert row.answer == row.provision.shows
        assert row.checks and row.provision.remains.zh and row.provision.remains.en
    mapped = {name for p in PROVISIONS for name in p.checks}
    assert mapped == set(CHECK_ORDER)
    assert _row(report, CHECK_WITNESSES).provisions == ("OLR-17", "OLR-19")


# --- Verdicts ----------------------------------------------------------------------------------


def test_an_altered_file_is_reported_altered_with_what_failed(v2: Vector) -> None:
    report = _report(v2, v2.other)
    assert report.verdict == "altered" and not report.intact
    assert "篡改" in report.headline.zh + report.explanation.zh
    assert [row.name for row in report.failed] == [CHECK_DOCUMENT_DIGEST]
    assert "SHA-256" in report.failed[0].detail
    digest = _values(report, CHECK_DOCUMENT_DIGEST)
    assert digest["File SHA-256"] == v2.other.sha256.hex() != digest["Deposited SHA-256"]
    # The receipt itself holds: its witnesses and time stamp are still shown.
    assert _row(report, CHECK_WITNESSES).status is Status.PASSED
    assert f"Cosigned by {WITNESS_NAMES[0]} at" in _values(report, CHECK_WITNESSES)
    answers = {row.provision.key: row.answer for row in report.provisions}
    assert (
        answers["OLR-16"].zh.startswith("本报告不支持该点")
        and "文件摘要核对" in answers["OLR-16"].zh
    )
    assert answers["OLR-17"] == PROVISIONS[1].shows


def test_verdicts_map_to_chinese_and_english_headlines(v2: Vector, v1: Vector) -> None:
    # Not by what is pinned: a witness the receipt does not carry, quorum 1 of it.
    stranger = WitnessKey.for_key(
        "stranger.example/w", _key("stranger").public_key().public_bytes_raw()
    )
    untrusted = _report(v2, v2.document, bundle=v2.bundle.with_witnesses((stranger,), 1))
    assert untrusted.verdict == "untrusted"
    assert (untrusted.headline.zh, untrusted.headline.en) == ("不可信", "untrusted")
    assert [row.name for row in untrusted.failed] == [CHECK_WITNESSES]
    # A broken proof: the receipt proves nothing.
    data = json.loads((RECEIPT_VECTORS / "modified-inclusion-proof-0-bit-@3.json").read_text())
    broken = Receipt.from_json(data)
    with pytest.raises(ReceiptInvalid):
        verify_receipt(broken, v1.document, v1.chain)
    invalid = _report(v1, v1.document, receipt=broken)
    assert invalid.verdict == "receipt-invalid"
    assert (invalid.headline.zh, invalid.headline.en) == ("回执无效", "receipt invalid")
    assert "unproven" in invalid.explanation.en
    assert [row.name for row in invalid.failed] == ["inclusion proof"]
    # No file: the receipt alone.
    alone = _report(v2, None)
    assert alone.verdict == "intact" and not alone.document_compared
    assert alone.headline.zh == "回执有效（未比对文件）"
    row = _row(alone, CHECK_DOCUMENT_DIGEST)
    assert row.status is Status.NOT_PERFORMED and row.note.en.startswith("No file was given")
    assert "File SHA-256" not in _values(alone, CHECK_DOCUMENT_DIGEST)
    assert alone.notices[0].zh.startswith("未提供文件")


def test_a_v1_receipt_says_no_independent_witness_vouched(v1: Vector) -> None:
    report = _report(v1, v1.document)
    assert report.verdict == "intact" and report.receipt_version == 1
    assert any("no independent witness" in n.en for n in report.notices)
    assert any("没有任何独立见证方" in n.zh for n in report.notices)
    for name in (CHECK_CHECKPOINT, CHECK_WITNESSES, CHECK_TIME_STAMP, CHECK_CLAIMED_TIME):
        row = _row(report, name)
        assert row.status is Status.NOT_PERFORMED and row.note is not None, name
    assert "no independent witness" in _row(report, CHECK_WITNESSES).note.en
    assert "block time" in _row(report, CHECK_CLAIMED_TIME).note.en
    answers = {row.provision.key: row.answer.en for row in report.provisions}
    assert "Not performed: Log-signed checkpoint, Independent witnesses" in answers["OLR-17"]
    summary = {fact.label.en: fact.value for fact in report.summary.facts}
    assert summary["Independently proven no later than"] == "无 / none"


def test_a_claim_long_before_the_proven_time_is_flagged_as_back_dated(
    authority: LocalTimeStampAuthority,
) -> None:
    vector = _v2(authority, cosigned_after=timedelta(hours=3))
    report = _report(vector, vector.document)
    assert report.verdict == "intact"  # a flag, not a failure
    row = _row(report, CHECK_CLAIMED_TIME)
    assert row.status is Status.PASSED and row.note is not None
    assert row.note.zh.startswith("可能倒签") and "back-dated" in row.note.en
    assert _values(report, CHECK_CLAIMED_TIME)["Possibly back-dated"] == "是 / yes"
    assert _values(report, CHECK_CLAIMED_TIME)["Difference"] == "10800 s (3:00:00)"


def test_what_the_trust_does_not_require_is_said(v2: Vector) -> None:
    lax = replace(v2.bundle, witness_quorum=0, time_stamp_roots=())
    report = _report(v2, v2.document, bundle=lax)
    assert report.verdict == "intact"
    assert _row(report, CHECK_TIME_STAMP).status is Status.NOT_PERFORMED
    assert _row(report, CHECK_WITNESSES).note is not None
    assert {n.en.split(":")[0] for n in report.notices} == {
        "The trust used requires no independent witness (quorum 0)",
        "The trust used pins no time-stamp authority",
    }


# --- Renderings --------------------------------------------------------------------------------


def test_markdown_and_pdf_show_the_same_rows(v2: Vector) -> None:
    import pypdf

    from zhenglian.report_rendering import render_markdown, render_pdf

    report = _report(v2, v2.other)
    markdown = render_markdown(report)
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF") and render_pdf(report) == pdf  # deterministic
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    flat, flat_markdown = _flat(text), _flat(markdown)
    for row in report.checks:
        for form in (flat_markdown, flat):
            assert _flat(f"{row.title.zh} / {row.title.en}") in form, row.name
            assert _flat(f"{row.status.text.zh} / {row.status.text.en}") in form, row.name
    for section in (report.summary, report.trust):
        for fact in section.facts:
            for form in (flat_markdown, flat):
                assert _flat(fact.label.zh) in form and _flat(fact.label.en) in form, fact.label
    for fact in _row(report, CHECK_DOCUMENT_DIGEST).evidence:
        assert fact.value in markdown and fact.value in flat
    for form in (markdown, flat):
        assert "已被篡改" in form and "altered" in form
        assert hashlib.sha256(b"receipt file").hexdigest() in form
    assert "2025-03-01T08:30:00Z" in markdown and "2025-03-01T08:30:00Z" in flat
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None
    assert str(reader.metadata["/CreationDate"]).startswith("D:20250301083000")


def test_a_missing_font_is_one_line_naming_the_package(tmp_path: Path) -> None:
    from zhenglian.report_rendering import CJK_FONT_PACKAGE, FontMissing, check_font

    with pytest.raises(FontMissing) as caught:
        check_font(tmp_path / "wqy-zenhei.ttc")
    message = str(caught.value)
    assert "\n" not in message and f"apt-get install {CJK_FONT_PACKAGE}" in message
    assert CJK_FONT_PACKAGE == "fonts-wqy-zenhei"
