"""The admissibility report's content: what a court reads about one receipt, in Chinese and
English, and which legal points each check answers.

Pure: it takes what :func:`evidence.verify.receipt_verifier.verify_receipt` returned (or
raised), the receipt, the trust bundle and the document's digests, and returns a frozen
:class:`AdmissibilityReport` of sections and rows. It verifies nothing itself and reads
nothing: no disk, clock or network (the generation time is an argument). Rendering (Markdown,
PDF) is ``zhenglian/report_rendering.py``; the command is ``zhenglian report``
(docs/report.md).

The wording is modest on purpose. Each check says what it proves *and what it does not*: the
chain proves that a tree head existed by the block time, on the word of the validators that
sealed it; witnesses show that the operator did not show the log two histories; a time stamp
bounds the time of existence; none proves that the content is true or who wrote it. A change
to what a check is said to prove changes what the report tells a court: change it with
``docs/report.md`` and ``tests/unit/test_admissibility.py``.

The legal points are the gist of the provisions, not their text:
《人民法院在线诉讼规则》(法释〔2021〕12号) Art. 16-19 and 《最高人民法院关于互联网法院审理案件
若干问题的规定》(法释〔2018〕16号) Art. 11. The report says what its checks contribute to
each point and what is left to the court; it is not legal advice.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509

from evidence.formats.receipt_format import Receipt
from evidence.formats.trust_bundle import TrustBundle
from evidence.verify.receipt_verifier import (
    CHECK_ANCHOR_PROOF,
    CHECK_CHECKPOINT,
    CHECK_CLAIMED_TIME,
    CHECK_DOCUMENT_DIGEST,
    CHECK_INCLUSION_PROOF,
    CHECK_LEAF_HASH,
    CHECK_LEAF_INDEX,
    CHECK_TIME_STAMP,
    CHECK_TREE_HEAD,
    CHECK_WITNESSES,
    CLAIMED_TIME_TOLERANCE,
    VERDICT_ALTERED,
    VERDICT_INTACT,
    VERDICT_RECEIPT_INVALID,
    VERDICT_UNTRUSTED,
    Check,
    HasDigests,
    VerificationFailed,
    VerificationResult,
)
from evidence.verify.verification_report import (
    SECTION_REVOCATION,
    SECTION_SIGNATURE,
    SECTION_SIGNER,
    SECTION_VALIDITY,
    VERDICT_REVOKED,
    VERDICT_SIGNATURE_INVALID,
    CheckStatus,
    ReportCheck,
    VerificationReport,
    combine_verdicts,
)

__all__ = [
    "BEIJING",
    "CHECK_ORDER",
    "PROVISIONS",
    "REPORT_TITLE",
    "AdmissibilityReport",
    "Bilingual",
    "CheckRow",
    "Fact",
    "Provenance",
    "Provision",
    "ProvisionRow",
    "Section",
    "Status",
    "build_report",
    "format_time",
]

BEIJING: Final = timedelta(hours=8)
"""China Standard Time (UTC+8), shown beside every UTC time."""


# --- The model ------------------------------------------------------------------------


@dataclass(frozen=True)
class Bilingual:
    """One statement, in Chinese and in English (the Chinese is what the court reads first)."""

    zh: str
    en: str


class Status(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_PERFORMED = "not performed"

    @property
    def text(self) -> Bilingual:
        return _STATUS_TEXT[self]


_STATUS_TEXT: Final = {
    Status.PASSED: Bilingual("通过", "passed"),
    Status.FAILED: Bilingual("未通过", "FAILED"),
    Status.NOT_PERFORMED: Bilingual("未进行", "not performed"),
}


@dataclass(frozen=True)
class Fact:
    """One labelled value. ``literal`` values (hashes, keys, addresses) are shown verbatim, in
    a fixed-width font where there is one."""

    label: Bilingual
    value: str
    literal: bool = False


@dataclass(frozen=True)
class Section:
    title: Bilingual
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class CheckRow:
    """One check of the verifier, told to a court.

    ``name`` is the verifier's check name (``receipt_verifier.CHECK_*``); ``detail`` its own
    line (English), or empty when the check was not performed; ``note`` a caution on a
    passed check, or why a check was not performed; ``provisions`` the keys of the
    :data:`PROVISIONS` it answers.
    """

    name: str
    title: Bilingual
    status: Status
    proves: Bilingual
    does_not_prove: Bilingual
    evidence: tuple[Fact, ...]
    provisions: tuple[str, ...]
    detail: str = ""
    note: Bilingual | None = None


@dataclass(frozen=True)
class Provision:
    """A legal point and the checks that answer it (the mapping is this table)."""

    key: str
    citation: Bilingual
    short: Bilingual
    point: Bilingual
    checks: tuple[str, ...]
    shows: Bilingual
    """What the checks show for this point when they pass."""
    remains: Bilingual
    """What is left to the court whatever the checks say."""


@dataclass(frozen=True)
class ProvisionRow:
    """A provision as this report answers it: ``answer`` depends on its checks' statuses."""

    provision: Provision
    checks: tuple[Bilingual, ...]
    answer: Bilingual


@dataclass(frozen=True)
class Provenance:
    """What identifies the report: when it was made, by which tool, from which files (the
    SHA-256 of the receipt and trust files as read), and the name the file was given under
    (a label: names are not proven)."""

    generated_at: datetime
    tool_version: str
    receipt_file_sha256: bytes
    trust_file_sha256: bytes
    document_name: str | None = None


@dataclass(frozen=True)
class AdmissibilityReport:
    """The report: the verdict first, then the deposit, every check, the legal mapping, the
    trust it rests on and what it does not prove. Renderers show every part, in this
    order."""

    title: Bilingual
    verdict: str
    """``intact``, ``altered``, ``receipt-invalid`` or ``untrusted`` (the verifier's word)."""
    headline: Bilingual
    explanation: Bilingual
    notices: tuple[Bilingual, ...]
    summary: Section
    checks: tuple[CheckRow, ...]
    provisions: tuple[ProvisionRow, ...]
    trust: Section
    limits: tuple[Bilingual, ...]
    provenance: Provenance
    receipt_version: int
    document_compared: bool

    @property
    def intact(self) -> bool:
        return self.verdict == VERDICT_INTACT

    @property
    def failed(self) -> tuple[CheckRow, ...]:
        return tuple(row for row in self.checks if row.status is Status.FAILED)


REPORT_TITLE: Final = Bilingual("电子证据核验报告", "Electronic evidence verification report")


# --- What each check proves -------------------------------------------------------------


@dataclass(frozen=True)
class _CheckText:
    title: Bilingual
    proves: Bilingual
    does_not_prove: Bilingual


_CHECK_TEXT: Final[dict[str, _CheckText]] = {
    CHECK_DOCUMENT_DIGEST: _CheckText(
        Bilingual("文件摘要核对", "Document digest"),
        Bilingual(
            "所提交文件的 SHA-256 与 SM3 摘要及文件大小与存证时登记的一致：该文件与存证时的"
            "文件逐字节相同。",
            "The file's SHA-256 and SM3 digests and its size equal those registered at "
            "deposit: it is, byte for byte, the deposited document.",
        ),
        Bilingual(
            "不证明文件内容真实，也不证明文件由谁制作或签署。",
            "It does not prove that the content is true, nor who made or signed the file.",
        ),
    ),
    CHECK_LEAF_HASH: _CheckText(
        Bilingual("存证记录", "Deposit record"),
        Bilingual(
            "回执中的存证记录（摘要、大小、存证机构、类别、案号、存证时间）按公开规范编码，"
            "其哈希即日志中的一个叶子。",
            "The deposit record in the receipt (digests, size, institution, kind, case code, "
            "deposit time) is encoded as the published specification says, and its hash is a "
            "leaf of the log.",
        ),
        Bilingual(
            "记录中的存证机构与存证时间由服务方写入（机构取自存证人的凭证）：本项不证明其准确。",
            "The institution and the time in the record are written by the service (the "
            "institution from the depositor's credentials): this check does not prove them "
            "accurate.",
        ),
    ),
    CHECK_LEAF_INDEX: _CheckText(
        Bilingual("日志位置", "Position in the log"),
        Bilingual(
            "该记录位于回执所述的日志位置，包含证明正是针对该位置与该日志规模。",
            "The record is at the position the receipt states, and the inclusion proof is for "
            "that position in a log of that size.",
        ),
        Bilingual(
            "位置本身不说明存证先后以外的任何事项。",
            "The position says nothing beyond the order of deposits.",
        ),
    ),
    CHECK_INCLUSION_PROOF: _CheckText(
        Bilingual("包含证明（默克尔树）", "Inclusion proof (Merkle tree)"),
        Bilingual(
            "由存证记录和包含证明计算出的默克尔树根等于回执所述的树头：该记录包含在该树头"
            "所代表的日志中（RFC 6962 / RFC 9162）。",
            "The Merkle root computed from the record and the inclusion proof equals the "
            "receipt's tree head: the record is in the log that head stands for "
            "(RFC 6962 / RFC 9162).",
        ),
        Bilingual(
            "树头本身是否可信，由其后的上链、签名、见证与时间戳核验决定。",
            "Whether the tree head itself can be relied on is what the anchor, checkpoint, "
            "witness and time-stamp checks show.",
        ),
    ),
    CHECK_ANCHOR_PROOF: _CheckText(
        Bilingual("区块链锚定", "Blockchain anchor"),
        Bilingual(
            "锚定交易由所固定的锚定账户发出，经所固定的合约记录于所固定的链上，所在区块由"
            "所固定的验证节点签名（封块）：该树头不晚于区块时间已存在。",
            "The anchoring transaction, sent by the pinned anchoring account, was recorded by "
            "the pinned contract on the pinned chain, in a block sealed by the pinned "
            "validators: the tree head existed no later than the block time.",
        ),
        Bilingual(
            "离线核验不证明该区块已被网络接受为主链（可用 zhenglian verify --rpc 在线核对）；"
            "区块时间是封块验证节点的陈述；交易哈希仅为查找用的标识。",
            "Offline, it does not prove that the network accepted the block as its chain "
            "(check online with zhenglian verify --rpc); the block time is the sealing "
            "validators' statement.",
        ),
    ),
    CHECK_TREE_HEAD: _CheckText(
        Bilingual("链上树头一致", "Anchored tree head"),
        Bilingual(
            "链上锚定事件记录的树头（规模与根哈希）正是回执中的树头。",
            "The tree head the chain's anchoring event records (size and root hash) is the "
            "receipt's.",
        ),
        Bilingual(
            "与区块链锚定相同：以封块验证节点为准。",
            "As for the anchor: on the word of the sealing validators.",
        ),
    ),
    CHECK_CHECKPOINT: _CheckText(
        Bilingual("日志签名检查点", "Log-signed checkpoint"),
        Bilingual(
            "该树头由所固定的日志密钥签名（检查点），与回执所述的树头一致。",
            "The tree head is signed by the pinned log key (a checkpoint) and is the receipt's.",
        ),
        Bilingual(
            "日志密钥属于运营方：仅凭此项不能排除运营方向不同的人展示不同的日志历史。",
            "The log key is the operator's: alone, it does not rule out the operator showing "
            "different people different histories of the log.",
        ),
    ),
    CHECK_WITNESSES: _CheckText(
        Bilingual("独立见证", "Independent witnesses"),
        Bilingual(
            "所固定的独立见证方已联署该检查点。见证方只联署与其此前所见一致的日志历史，"
            "因此运营方不能向不同的人展示两套历史而不被发现。",
            "The pinned independent witnesses cosigned the checkpoint. A witness cosigns only "
            "a history consistent with everything it cosigned before, so the operator cannot "
            "show two histories of the log without being caught.",
        ),
        Bilingual(
            "见证方看不到文件，不为内容担保；联署时间是见证方自己的陈述。",
            "Witnesses never see the documents and do not vouch for content; the time of a "
            "cosignature is the witness's own statement.",
        ),
    ),
    CHECK_TIME_STAMP: _CheckText(
        Bilingual("可信时间戳（RFC 3161）", "Trusted time stamp (RFC 3161)"),
        Bilingual(
            "所固定的时间戳机构对该检查点签发了时间戳：检查点——从而该存证记录——不晚于"
            "时间戳所示时间已存在。",
            "A pinned time-stamp authority stamped the checkpoint: the checkpoint, and so the "
            "deposit record, existed no later than the stamp's time.",
        ),
        Bilingual(
            "时间戳只给出存在时间的上限，不说明文件何时生成；其准确性依赖对该机构时钟的信任。",
            "A time stamp bounds the time of existence (the latest time), not when the file "
            "was made; it rests on trusting the authority's clock.",
        ),
    ),
    CHECK_CLAIMED_TIME: _CheckText(
        Bilingual("声明时间与证明时间", "Claimed time and proven time"),
        Bilingual(
            "比较服务方声明的存证时间与独立证明的时间上限（见证联署与时间戳中最早者）；"
            "声明时间早于该上限超过一小时的，提示可能倒签。",
            "Compares the deposit time the service claims with the independently proven "
            "bound (the earliest of the cosignatures and the time stamp); a claim more than "
            "one hour before the bound is flagged as possibly back-dated.",
        ),
        Bilingual(
            "只能证明“不晚于”：服务方声明的存证时间本身未被证明。",
            "Only 'no later than' is proven: the time the service claims is not.",
        ),
    ),
}

CHECK_ORDER: Final = (
    CHECK_DOCUMENT_DIGEST,
    CHECK_LEAF_HASH,
    CHECK_LEAF_INDEX,
    CHECK_INCLUSION_PROOF,
    CHECK_ANCHOR_PROOF,
    CHECK_TREE_HEAD,
    CHECK_CHECKPOINT,
    CHECK_WITNESSES,
    CHECK_TIME_STAMP,
    CHECK_CLAIMED_TIME,
)
"""The order of the report's checks (the verifier's)."""

_INDEPENDENT: Final = (CHECK_CHECKPOINT, CHECK_WITNESSES, CHECK_TIME_STAMP, CHECK_CLAIMED_TIME)

_SIGNATURE_SECTIONS: Final = (
    SECTION_SIGNATURE,
    SECTION_SIGNER,
    SECTION_REVOCATION,
    SECTION_VALIDITY,
)
"""The verification report's sections a signed document adds to this report, in order."""

_SIGNATURE_TEXT: Final[dict[str, _CheckText]] = {
    "signature": _CheckText(
        Bilingual("电子签名", "Electronic signature"),
        Bilingual(
            "核验存证记录所承诺的电子签名。",
            "Checks the electronic signature the deposit record commits to.",
        ),
        Bilingual("未进行时，不证明签名人。", "When not performed, nothing about the signer."),
    ),
    "signature-committed": _CheckText(
        Bilingual("签名与存证记录一致", "Signature committed by the record"),
        Bilingual(
            "所提交的签名正是存证记录（第 2 版）所承诺的签名（其 SHA-256 或签名形式）。",
            "The signature given is the one the (version 2) deposit record commits to (its "
            "SHA-256, or its form).",
        ),
        Bilingual("不单独证明签名有效。", "It does not by itself prove the signature valid."),
    ),
    "signature-valid": _CheckText(
        Bilingual("签名有效", "Signature valid over the file"),
        Bilingual(
            "签名（CMS / PAdES）在所提交的文件上验证通过：文件自签名后未被改动，签名由签名证书"
            "的私钥作出。",
            "The signature (CMS / PAdES) verifies over the file: the file is unchanged since "
            "it was signed, and the signature was made with the signer certificate's key.",
        ),
        Bilingual(
            "不证明签名证书可信，可信性见证书链与撤销核验。",
            "It does not prove the certificate trustworthy: see the chain and revocation checks.",
        ),
    ),
    "signer-certificate-committed": _CheckText(
        Bilingual("签名证书与存证记录一致", "Signer certificate committed by the record"),
        Bilingual(
            "签名所用证书正是存证记录所承诺的证书（SHA-256）。",
            "The signature's certificate is the one the deposit record commits to (SHA-256).",
        ),
        Bilingual("不证明证书可信。", "It does not prove the certificate trustworthy."),
    ),
    "signer-chain": _CheckText(
        Bilingual("签名证书链", "Signer chain to the trusted root"),
        Bilingual(
            "签名证书由所固定的机构证书根签发，符合机构证书规范（含文档签名用途），签名时有效。",
            "The signer's certificate is issued by the pinned institutions' root, fits the "
            "institution profile (with documentSigning) and was valid at the signing time.",
        ),
        Bilingual(
            "根证书是否可信取决于信任文件；撤销情况见撤销核验。",
            "Whether the root can be relied on rests on the trust file; revocation is the "
            "revocation checks'.",
        ),
    ),
    "signer-validity": _CheckText(
        Bilingual("签名证书有效期", "Signer certificate validity"),
        Bilingual(
            "签名时间在签名证书的有效期内。",
            "The signing time lies within the signer certificate's validity.",
        ),
        Bilingual(
            "签名时间为时间戳证明或签名人声明，见技术细节。",
            "The signing time is proven by a time stamp or claimed by the signer: see the detail.",
        ),
    ),
    "crl": _CheckText(
        Bilingual("证书撤销列表", "Certificate revocation list"),
        Bilingual(
            "所用撤销列表由所固定的根签发且在有效期内（未过 nextUpdate）。",
            "The CRL used is signed by the pinned root and current (not past its nextUpdate).",
        ),
        Bilingual(
            "过期的撤销列表仍可证明已列出的撤销，但不能排除其后的撤销。",
            "A stale CRL still proves the revocations it lists, but rules out none after it.",
        ),
    ),
    "revocation-at-signing": _CheckText(
        Bilingual("签名时撤销状态", "Revocation at signing time"),
        Bilingual(
            "签名证书在签名时未被撤销（撤销列表中没有生效时间早于或等于签名时间的撤销）。",
            "The signer's certificate was not revoked at the signing time (no revocation "
            "effective at or before it on the CRL).",
        ),
        Bilingual(
            "依据所用撤销列表；存证时服务方已按当时的撤销列表核验。",
            "On the CRL used; the service checked it against the CRL of the deposit day too.",
        ),
    ),
    "revocation-now": _CheckText(
        Bilingual("当前撤销状态", "Revocation now"),
        Bilingual(
            "签名证书当前是否被撤销；签名后才撤销的，签名仍然成立，仅作提示。",
            "Whether the signer's certificate is revoked now; a revocation after signing "
            "leaves the signature standing and is a notice.",
        ),
        Bilingual("依据所用撤销列表的签发时间。", "As of the issue time of the CRL used."),
    ),
}


# --- The legal mapping ------------------------------------------------------------------

_OLR = "《人民法院在线诉讼规则》"
_OLR_EN = "Online Litigation Rules of the People's Courts (2021)"

PROVISIONS: Final = (
    Provision(
        "OLR-16",
        Bilingual(f"{_OLR}第十六条", f"{_OLR_EN}, Art. 16"),
        Bilingual("在线诉讼规则第16条", "OLR Art. 16"),
        Bilingual(
            "通过区块链技术存储并经技术核验一致的电子数据，可以认定其上链后未经篡改，"
            "有相反证据足以推翻的除外。",
            "Electronic data stored with blockchain technology and found consistent on "
            "technical verification may be held unaltered since it went on chain, unless "
            "contrary evidence suffices to overturn that.",
        ),
        (
            CHECK_DOCUMENT_DIGEST,
            CHECK_LEAF_HASH,
            CHECK_LEAF_INDEX,
            CHECK_INCLUSION_PROOF,
            CHECK_ANCHOR_PROOF,
            CHECK_TREE_HEAD,
        ),
        Bilingual(
            "技术核验一致：文件摘要与存证记录一致，该记录包含在上链锚定的日志树头中。",
            "Technical verification is consistent: the file's digests are the record's, and "
            "the record is in a log tree head anchored on chain.",
        ),
        Bilingual(
            "相反证据仍可推翻该推定，例如该区块不在网络的主链上（可在线核对）。",
            "Contrary evidence can still overturn the presumption, for instance a block that "
            "is not on the network's chain (checked online).",
        ),
    ),
    Provision(
        "OLR-17",
        Bilingual(f"{_OLR}第十七条", f"{_OLR_EN}, Art. 17"),
        Bilingual("在线诉讼规则第17条", "OLR Art. 17"),
        Bilingual(
            "对上链后数据的真实性有异议的，审查存证平台是否合规、与当事人有无利害关系及是否"
            "不当干预，信息系统与存证技术是否符合国家或行业标准。",
            "When authenticity after chain-up is disputed: whether the platform complies with "
            "the rules, has an interest in the case or interfered, and whether its systems "
            "and technology meet national or industry standards.",
        ),
        (CHECK_ANCHOR_PROOF, CHECK_CHECKPOINT, CHECK_WITNESSES, CHECK_TIME_STAMP),
        Bilingual(
            "可信性不只依赖运营方：链的验证节点、合约、锚定账户、日志密钥、独立见证方和时间戳"
            "机构均由核验方事先固定；见证方联署表明运营方没有向不同的人展示两套日志历史。",
            "Trust does not rest on the operator alone: the chain's validators, the "
            "contract, the anchoring account, the log key, the independent witnesses and the "
            "time-stamp authorities are all pinned by the verifier beforehand; the "
            "witnesses' cosignatures show the operator did not show two histories of the log.",
        ),
        Bilingual(
            "存证平台的资质、信息系统是否符合国家或行业标准、运营方与当事人的关系，本报告"
            "不作判断。",
            "The platform's qualification, whether its systems meet national or industry "
            "standards, and the operator's relation to the parties are not assessed here.",
        ),
    ),
    Provision(
        "OLR-18",
        Bilingual(f"{_OLR}第十八条", f"{_OLR_EN}, Art. 18"),
        Bilingual("在线诉讼规则第18条", "OLR Art. 18"),
        Bilingual(
            "对上链存储前数据的真实性有异议的，结合数据来源、生成机制、存储过程、公证、"
            "第三方见证、关联印证数据等综合判断。",
            "When the data's authenticity before it went on chain is disputed: its source, "
            "how it was made and stored, notarisation, third-party witnessing and "
            "corroborating data are weighed together.",
        ),
        (CHECK_LEAF_HASH, CHECK_TIME_STAMP, CHECK_CLAIMED_TIME),
        Bilingual(
            "报告列出存证机构（取自存证人凭证）、类别、案号和独立证明的最晚存在时间，并核对"
            "服务方声明的存证时间是否倒签。",
            "The report gives the depositing institution (from the depositor's credentials), "
            "the kind, the case code and the independently proven latest time of existence, "
            "and checks the service's claimed deposit time for back-dating.",
        ),
        Bilingual(
            "文件在存证前内容是否真实、由谁制作，本报告不能证明（签名文件的签名核验只说明"
            "哪个机构的密钥签署了该文件）。",
            "Whether the content was true before deposit, and who made it, is not proven "
            "here (for a signed document, the signature rows show only which institution's "
            "key signed it).",
        ),
    ),
    Provision(
        "OLR-19",
        Bilingual(f"{_OLR}第十九条", f"{_OLR_EN}, Art. 19"),
        Bilingual("在线诉讼规则第19条", "OLR Art. 19"),
        Bilingual(
            "可以申请有专门知识的人就技术问题提出意见；法院可以委托鉴定，或者调取其他证据"
            "进行核对。",
            "A party may ask an expert for an opinion on the technical questions; the court "
            "may order an appraisal or obtain other evidence to compare.",
        ),
        (CHECK_WITNESSES, CHECK_TIME_STAMP),
        Bilingual(
            "每项核验均可由专家依公开规范独立复现，只需文件、回执和信任文件；见证联署与时间戳"
            "是运营方以外的补强证据。",
            "Every check can be re-run by an expert from the published specification with "
            "nothing but the file, the receipt and the trust file; the cosignatures and the "
            "time stamp are corroboration from outside the operator.",
        ),
        Bilingual(
            "鉴定意见由鉴定机构作出，本报告不替代鉴定。",
            "An appraisal is for an appraisal institution; this report does not replace one.",
        ),
    ),
    Provision(
        "ICR-11",
        Bilingual(
            "《最高人民法院关于互联网法院审理案件若干问题的规定》第十一条",
            "SPC Provisions on the Trial of Cases by Internet Courts (2018), Art. 11",
        ),
        Bilingual("互联网法院规定第11条", "Internet Courts Provisions Art. 11"),
        Bilingual(
            "通过电子签名、可信时间戳、哈希值校验、区块链等证据收集、固定和防篡改的技术手段，"
            "能够证明其真实性的电子数据，应当确认。",
            "Electronic data whose authenticity electronic signatures, trusted time stamps, "
            "hash verification, blockchain or similar means of collecting, fixing and "
            "tamper-proofing evidence can prove shall be confirmed.",
        ),
        (CHECK_DOCUMENT_DIGEST, CHECK_INCLUSION_PROOF, CHECK_ANCHOR_PROOF, CHECK_TIME_STAMP),
        Bilingual(
            "所用手段：哈希值校验（SHA-256、SM3）、区块链（锚定证明）、可信时间戳（RFC 3161）。"
            "日志与见证方的签名是对日志状态的签名，不是文件作者的电子签名。",
            "Means used: hash verification (SHA-256, SM3), blockchain (the anchor proof), a "
            "trusted time stamp (RFC 3161). The log's and the witnesses' signatures are over "
            "the log's state, not the author's electronic signature on the document.",
        ),
        Bilingual(
            "文件作者的电子签名：已签名文件见签名各项核验（zhenglian report --signature/--crl）；"
            "未签名文件无从核验。",
            "The author's electronic signature: for a signed document, the signature rows "
            "(zhenglian report --signature, --crl); an unsigned one has none to check.",
        ),
    ),
)
"""The legal points and the checks that answer each."""

_PROVISIONS_OF: Final = {
    **{name: tuple(p.key for p in PROVISIONS if name in p.checks) for name in CHECK_ORDER},
    **{
        name: ("OLR-18", "ICR-11")
        if name in ("signature-valid", "signer-chain", "revocation-at-signing")
        else ("ICR-11",)
        for name in _SIGNATURE_TEXT
    },
}
"""The provisions each check answers: the receipt's by :data:`PROVISIONS`, a signed
document's signature rows (only present for one) ICR Art. 11 (electronic signatures) and, for
who signed, OLR Art. 18 (the data's source)."""


# --- Verdicts, notices and limits -----------------------------------------------------------

_VERDICT_TEXT: Final = {
    VERDICT_INTACT: (
        Bilingual("完好", "intact"),
        Bilingual(
            "所提交的文件即存证时的文件，回执中的各项证明在所固定的信任下均成立。",
            "The file is the deposited document, and every proof in the receipt holds under "
            "the pinned trust.",
        ),
    ),
    VERDICT_ALTERED: (
        Bilingual("已被篡改或替换", "altered"),
        Bilingual(
            "回执有效，但所提交的文件不是存证时的文件：存证后被修改（篡改）或被替换为其他文件。",
            "The receipt is valid, but the file is not the deposited document: it was "
            "changed or replaced after deposit.",
        ),
    ),
    VERDICT_RECEIPT_INVALID: (
        Bilingual("回执无效", "receipt invalid"),
        Bilingual(
            "回执中的证明未能成立，回执不能证明任何存证，因此对文件不作任何结论。下列数值为"
            "回执所述，未经证明。",
            "A proof in the receipt fails: the receipt proves no deposit, so nothing follows "
            "about the file. The values below are what the receipt states, unproven.",
        ),
    ),
    VERDICT_UNTRUSTED: (
        Bilingual("不可信", "untrusted"),
        Bilingual(
            "回执中的证明或许成立，但并非由所固定的信任作出（验证节点、合约、链、锚定账户、"
            "日志密钥、见证方或时间戳机构不符，或链未封块）：对核验方而言不能证明任何事项。",
            "The proofs may hold, but not by what was pinned (another validator, contract, "
            "chain, anchoring account, log key, too few witnesses, an authority not pinned, "
            "or an unsealed chain): to this verifier they prove nothing.",
        ),
    ),
}

_VERDICT_TEXT[VERDICT_SIGNATURE_INVALID] = (
    Bilingual("签名无效", "signature invalid"),
    Bilingual(
        "回执有效，文件即存证文件，但其电子签名不是存证记录所承诺的签名、在文件上验证不通过，"
        "或签名证书在签名时不能链到所固定的根。",
        "The receipt holds and the file is the deposited document, but its electronic "
        "signature is not the one the record commits to, does not verify over the file, or "
        "its certificate does not chain to the pinned root at the signing time.",
    ),
)
_VERDICT_TEXT[VERDICT_REVOKED] = (
    Bilingual("签名证书已撤销", "revoked"),
    Bilingual(
        "回执有效，文件即存证文件，签名在文件上验证通过，但签名证书在签名时或之前已被撤销。",
        "The receipt holds, the file is the deposited document and its signature verifies, "
        "but the signer's certificate was revoked effective at or before the signing time.",
    ),
)

_RECEIPT_ONLY = (
    Bilingual("回执有效（未比对文件）", "receipt valid (no file compared)"),
    Bilingual(
        "回执中的各项证明在所固定的信任下均成立；未提供文件，因此未核对任何文件。",
        "Every proof in the receipt holds under the pinned trust; no file was given, so no "
        "file was compared.",
    ),
)

_V1_NOTICE: Final = Bilingual(
    "第 1 版回执：没有任何独立见证方或独立时间戳为其担保，可信性仅依赖运营方与链的验证节点。",
    "A version 1 receipt: no independent witness and no independent time stamp vouched for "
    "it; it rests on the operator and the chain's validators alone.",
)

_LIMITS: Final = (
    Bilingual(
        "文件内容是否真实、由谁制作或签署：本报告只说明文件自存证以来是否未被改动。作者身份"
        "须由电子签名和机构证书（签名文件见签名各项核验）或其他证据证明。",
        "That the content is true, or who made or signed it: the report only says whether "
        "the file is unchanged since deposit. Authorship needs electronic signatures and "
        "institutions' certificates (for a signed document, the signature rows, checked "
        "against the institutions' PKI) or other evidence.",
    ),
    Bilingual(
        "上链存储前数据的真实性（《人民法院在线诉讼规则》第十八条）。",
        "The data's authenticity before it was deposited (Online Litigation Rules, Art. 18).",
    ),
    Bilingual(
        "服务方声明的存证时间：只证明文件不晚于所示时间已存在。",
        "The deposit time the service claims: only that the file existed no later than the "
        "times shown is proven.",
    ),
    Bilingual(
        "区块在网络主链上：离线核验只证明区块由所固定的验证节点签名（可用 zhenglian verify "
        "--rpc 在线核对）。",
        "That the block is on the network's chain: offline, only that the pinned validators "
        "sealed it (check online with zhenglian verify --rpc).",
    ),
    Bilingual(
        "文件名称、文档编号、回执生成时间：服务方的标签，不受任何哈希保护。",
        "The file's name, the document id and the receipt's issue time: the service's "
        "labels, covered by no hash.",
    ),
    Bilingual(
        "信任文件有误时，以上一切均不成立：信任文件应从司法行政机关及见证方本身取得，而不是"
        "从提交回执的一方取得。",
        "Anything at all, if the trust file is wrong: it must come from the justice bureau "
        "and from the witnesses themselves, not from whoever hands over the receipt.",
    ),
)

_KIND: Final = {
    "notary": "公证 / notary",
    "forensic": "司法鉴定 / forensic",
    "legal_aid": "法律援助 / legal aid",
    "other": "其他 / other",
}


# --- Building the report ----------------------------------------------------------------


def build_report(
    *,
    receipt: Receipt,
    bundle: TrustBundle,
    outcome: VerificationResult | VerificationFailed,
    document: HasDigests | None,
    provenance: Provenance,
    receipt_alone: VerificationResult | None = None,
    verification: VerificationReport | None = None,
) -> AdmissibilityReport:
    """The report on ``receipt`` given what the verifier concluded (``outcome``) under the
    trust of ``bundle``.

    ``document`` is the file's digests, or None when no file was given (the receipt was then
    verified against its own entry's digests, and the document digest check is reported as
    not performed). ``receipt_alone`` is the receipt verified on its own when only the
    document digest failed (``altered``): the verified facts (seal, cosignatures, time stamp)
    are shown from it, as :class:`VerificationFailed` does not carry them.

    ``verification`` is the verification report of the same file (``zhenglian verify``'s,
    :mod:`evidence.verify.verification_report`) when the document is signed: its signature,
    signer chain, revocation and validity checks become rows after the receipt's, its notices
    notices here, and its failures count in the verdict (``signature-invalid``, ``revoked``).
    """
    facts = outcome if isinstance(outcome, VerificationResult) else receipt_alone
    by_name = {c.name: c for c in outcome.checks}
    rows = tuple(
        _row(name, by_name.get(name), receipt, bundle, facts, document)
        for name in (*CHECK_ORDER, *(c.name for c in outcome.checks if c.name not in CHECK_ORDER))
    )
    added: tuple[ReportCheck, ...] = ()
    if verification is not None:
        added = tuple(c for c in verification.checks if c.section in _SIGNATURE_SECTIONS)
        rows += tuple(_signature_row(c) for c in added)
    verdict = combine_verdicts([outcome.verdict, *(c.fails_as for c in added if c.failed)])
    headline, explanation = _VERDICT_TEXT.get(
        verdict, (Bilingual(verdict, verdict), Bilingual("", ""))
    )
    if verdict == VERDICT_INTACT and document is None:
        headline, explanation = _RECEIPT_ONLY
    return AdmissibilityReport(
        title=REPORT_TITLE,
        verdict=verdict,
        headline=headline,
        explanation=explanation,
        notices=_notices(receipt, bundle, document)
        + tuple(
            Bilingual(f"签名核验提示：{n}", n)
            for n in (verification.notices if verification is not None else ())
            if not n.startswith("a version 1 receipt")
        ),
        summary=_summary(receipt, facts, provenance),
        checks=rows,
        provisions=tuple(_provision_row(p, rows) for p in PROVISIONS),
        trust=_trust(bundle, provenance),
        limits=_LIMITS,
        provenance=provenance,
        receipt_version=receipt.version,
        document_compared=document is not None,
    )


_REPORT_STATUS: Final = {
    CheckStatus.PASSED: Status.PASSED,
    CheckStatus.FAILED: Status.FAILED,
    CheckStatus.NOT_PERFORMED: Status.NOT_PERFORMED,
}


def _signature_row(check: ReportCheck) -> CheckRow:
    """A check of the verification report's signature sections, told to a court."""
    text = _SIGNATURE_TEXT.get(
        check.name,
        _CheckText(
            Bilingual(check.name, check.name),
            Bilingual("见技术细节。", "See the technical detail."),
            Bilingual("见技术细节。", "See the technical detail."),
        ),
    )
    status = _REPORT_STATUS[check.status]
    skipped = status is Status.NOT_PERFORMED
    return CheckRow(
        name=check.name,
        title=text.title,
        status=status,
        proves=text.proves,
        does_not_prove=text.does_not_prove,
        evidence=tuple(
            Fact(Bilingual(key, key), value, len(value) >= 40 and " " not in value)
            for key, value in check.evidence
        ),
        provisions=_PROVISIONS_OF.get(check.name, ()),
        detail="" if skipped else check.detail,
        note=Bilingual(f"未进行：{check.detail}", check.detail) if skipped else None,
    )


def _notices(
    receipt: Receipt, bundle: TrustBundle, document: HasDigests | None
) -> tuple[Bilingual, ...]:
    out = []
    if document is None:
        out.append(
            Bilingual(
                "未提供文件：本报告仅核验回执，不说明任何文件是否为存证文件。",
                "No file was given: this report covers the receipt only and says nothing "
                "about whether any file is the deposited document.",
            )
        )
    if receipt.version == 1:
        out.append(_V1_NOTICE)
    else:
        if bundle.witness_quorum == 0:
            out.append(
                Bilingual(
                    "所用信任不要求独立见证（法定人数为 0）：树头仅依赖运营方与链。",
                    "The trust used requires no independent witness (quorum 0): the tree "
                    "head rests on the operator and the chain.",
                )
            )
        if not bundle.time_stamp_roots:
            out.append(
                Bilingual(
                    "所用信任未固定任何时间戳机构：未核验时间戳。",
                    "The trust used pins no time-stamp authority: no time stamp was checked.",
                )
            )
    if not bundle.sealed:
        out.append(
            Bilingual(
                "所用信任接受未封块的区块（仅供开发测试，不安全）：任何人都可伪造。",
                "The trust used accepts unsealed blocks (development only, unsafe): anyone "
                "can forge those.",
            )
        )
    return tuple(out)


def _row(
    name: str,
    check: Check | None,
    receipt: Receipt,
    bundle: TrustBundle,
    facts: VerificationResult | None,
    document: HasDigests | None,
) -> CheckRow:
    text = _CHECK_TEXT.get(name) or _CheckText(
        Bilingual(name, name), Bilingual("", ""), Bilingual("", "")
    )
    evidence = _evidence(name, receipt, bundle, facts, document)
    status = Status.NOT_PERFORMED
    note = _not_performed(name, receipt, bundle, check, compared=document is not None)
    detail = ""
    if check is not None and note is None:
        status = Status.PASSED if check.ok else Status.FAILED
        detail = check.detail
        note = _caution(name, receipt, bundle, facts)
        unsealed = facts is not None and not facts.seal.is_sealed
        if name == CHECK_ANCHOR_PROOF and check.ok and unsealed:
            status = Status.FAILED
    return CheckRow(
        name=name,
        title=text.title,
        status=status,
        proves=text.proves,
        does_not_prove=text.does_not_prove,
        evidence=evidence,
        provisions=_PROVISIONS_OF.get(name, ()),
        detail=detail,
        note=note,
    )


def _not_performed(
    name: str, receipt: Receipt, bundle: TrustBundle, check: Check | None, *, compared: bool
) -> Bilingual | None:
    """Why the check named was not performed (None: it was). ``compared``: a file was given
    (without one, the receipt was verified against its own entry's digests)."""
    if name == CHECK_DOCUMENT_DIGEST and not compared:
        return Bilingual(
            "未提供文件：本报告仅核验回执。",
            "No file was given: this report covers the receipt only.",
        )
    if name == CHECK_TIME_STAMP and receipt.version == 2 and not bundle.time_stamp_roots:
        return Bilingual(
            "所用信任未固定时间戳机构，未核验时间戳。",
            "The trust pins no time-stamp authority: no time stamp was checked.",
        )
    if check is not None:
        return None
    if name in _INDEPENDENT and receipt.version == 1:
        if name == CHECK_CLAIMED_TIME:
            return Bilingual(
                "第 1 版回执没有独立的时间上限；唯一的上限是封块验证节点给出的区块时间。",
                "A version 1 receipt has no independent bound on time; the only one is the "
                "block time, the sealing validators' statement.",
            )
        return Bilingual(
            "第 1 版回执不含检查点：没有任何独立见证方或独立时间戳为其担保。",
            "A version 1 receipt has no checkpoint: no independent witness and no "
            "independent time stamp vouched for it.",
        )
    if name == CHECK_TREE_HEAD:
        return Bilingual(
            "区块链锚定未通过，无从比对。", "The anchor proof failed: there was nothing to compare."
        )
    if name == CHECK_CLAIMED_TIME:
        return Bilingual(
            "没有通过核验的见证联署或时间戳，因而没有独立的时间上限。",
            "No cosignature or time stamp verified, so there is no independent bound on time.",
        )
    return Bilingual("前一项核验未通过。", "An earlier check failed.")


def _caution(
    name: str, receipt: Receipt, bundle: TrustBundle, facts: VerificationResult | None
) -> Bilingual | None:
    """A caution on a check that passed."""
    if name == CHECK_ANCHOR_PROOF and facts is not None and not facts.seal.is_sealed:
        return Bilingual(
            "所用信任接受未封块的区块：没有验证节点为该区块担保（不安全）。",
            "The trust accepts unsealed blocks: no validator vouches for this block (unsafe).",
        )
    if name == CHECK_WITNESSES and bundle.witness_quorum == 0:
        return Bilingual(
            "所用信任不要求独立见证（法定人数为 0）：树头仅依赖运营方与链。",
            "The trust requires no independent witness (quorum 0): the tree head rests on "
            "the operator and the chain.",
        )
    if name == CHECK_CLAIMED_TIME and facts is not None and facts.proven_time is not None:
        gap = facts.proven_time - receipt.entry.deposited_at
        if gap > CLAIMED_TIME_TOLERANCE:
            return Bilingual(
                f"可能倒签：服务方声明的存证时间比独立证明的时间上限早 {_duration(gap)}"
                f"（超过 {_duration(CLAIMED_TIME_TOLERANCE)}）。",
                f"Possibly back-dated: the claimed deposit time is {_duration(gap)} before "
                f"the independently proven bound (more than "
                f"{_duration(CLAIMED_TIME_TOLERANCE)}).",
            )
        if gap < timedelta(0):
            return Bilingual(
                f"服务方声明的存证时间晚于独立证明的时间上限 {_duration(-gap)}（服务方时钟"
                "偏快）：以证明的上限为准。",
                f"The claimed deposit time is {_duration(-gap)} after the proven bound (the "
                "service's clock was ahead): rely on the proven bound.",
            )
    return None


def _evidence(
    name: str,
    receipt: Receipt,
    bundle: TrustBundle,
    facts: VerificationResult | None,
    document: HasDigests | None,
) -> tuple[Fact, ...]:
    entry = receipt.entry
    anchor = receipt.anchor
    out: list[Fact] = []
    if name == CHECK_DOCUMENT_DIGEST:
        if document is not None:
            out += [
                Fact(Bilingual("文件 SHA-256", "File SHA-256"), document.sha256.hex(), True),
                Fact(Bilingual("文件 SM3", "File SM3"), document.sm3.hex(), True),
                Fact(Bilingual("文件大小（字节）", "File size (bytes)"), str(document.size)),
            ]
        out += [
            Fact(Bilingual("存证 SHA-256", "Deposited SHA-256"), entry.sha256.hex(), True),
            Fact(Bilingual("存证 SM3", "Deposited SM3"), entry.sm3.hex(), True),
            Fact(Bilingual("存证大小（字节）", "Deposited size (bytes)"), str(entry.size)),
        ]
    elif name == CHECK_LEAF_HASH:
        out += [
            Fact(Bilingual("存证机构", "Institution"), entry.institution),
            Fact(Bilingual("类别", "Kind"), _KIND.get(entry.kind, entry.kind)),
            Fact(Bilingual("案号（一案一码）", "Case code"), entry.case_code or "无 / none"),
            Fact(
                Bilingual("服务方声明的存证时间", "Deposit time claimed by the service"),
                format_time(entry.deposited_at),
            ),
            Fact(Bilingual("叶子哈希", "Leaf hash"), receipt.leaf_hash.hex(), True),
        ]
    elif name == CHECK_LEAF_INDEX:
        out += [
            Fact(Bilingual("日志位置（从 0 起）", "Leaf index (from 0)"), str(receipt.leaf_index)),
            Fact(Bilingual("日志规模（条）", "Log size (entries)"), str(receipt.tree_size)),
        ]
    elif name == CHECK_INCLUSION_PROOF:
        out += [
            Fact(Bilingual("树头根哈希", "Tree head root hash"), receipt.root_hash.hex(), True),
            Fact(
                Bilingual("证明节点数", "Proof nodes"),
                str(len(receipt.inclusion.hashes)),
            ),
        ]
    elif name == CHECK_ANCHOR_PROOF:
        out += [
            Fact(Bilingual("链 ID", "Chain id"), str(anchor.chain_id)),
            Fact(Bilingual("存证合约", "Contract"), _0x(anchor.contract), True),
            Fact(Bilingual("区块高度", "Block number"), str(anchor.block_number)),
            Fact(Bilingual("区块哈希", "Block hash"), _0x(anchor.block_hash), True),
            Fact(Bilingual("区块时间", "Block time"), format_time(receipt.block_time)),
            Fact(Bilingual("交易哈希", "Transaction hash"), _0x(anchor.tx_hash), True),
        ]
        if facts is not None:
            account = facts.anchor.anchoring_account
            if account is not None:
                out.append(Fact(Bilingual("锚定账户", "Anchoring account"), _0x(account), True))
            out.append(Fact(Bilingual("锚定事件序号", "Anchor event"), str(facts.anchor_index)))
            seal = facts.seal
            if seal.is_sealed:
                kind = "Clique" if seal.kind == "clique" else "QBFT"
                out.append(
                    Fact(
                        Bilingual(f"封块验证节点（{kind}）", f"Sealed by ({kind})"),
                        "\n".join(_0x(s) for s in seal.signers),
                        True,
                    )
                )
            else:
                out.append(Fact(Bilingual("封块", "Seal"), "未封块 / unsealed"))
    elif name == CHECK_TREE_HEAD:
        out += [
            Fact(Bilingual("树头规模", "Tree size"), str(receipt.tree_size)),
            Fact(Bilingual("树头根哈希", "Root hash"), receipt.root_hash.hex(), True),
        ]
    elif name == CHECK_CHECKPOINT and receipt.tlog_proof is not None:
        checkpoint = receipt.checkpoint
        out += [
            Fact(Bilingual("日志名称", "Log (origin)"), checkpoint.origin if checkpoint else ""),
            Fact(Bilingual("日志密钥", "Log key"), bundle.log_key.to_text(), True),
        ]
    elif name == CHECK_WITNESSES and receipt.tlog_proof is not None:
        out.append(
            Fact(
                Bilingual("法定人数", "Quorum"),
                f"{bundle.witness_quorum} / {len(bundle.witnesses)}",
            )
        )
        for cosignature in facts.cosignatures if facts is not None else ():
            out.append(
                Fact(
                    Bilingual(
                        f"见证方 {cosignature.witness.name} 联署时间",
                        f"Cosigned by {cosignature.witness.name} at",
                    ),
                    format_time(datetime.fromtimestamp(cosignature.time, UTC)),
                )
            )
    elif name == CHECK_TIME_STAMP and receipt.tlog_proof is not None:
        stamp = facts.time_stamp if facts is not None else None
        if stamp is not None:
            out += [
                Fact(Bilingual("时间戳机构", "Time-stamp authority"), stamp.authority),
                Fact(Bilingual("时间戳时间", "Time-stamp time"), format_time(stamp.time)),
                Fact(Bilingual("序列号", "Serial number"), str(stamp.serial)),
                Fact(Bilingual("策略", "Policy"), stamp.policy, True),
                Fact(Bilingual("摘要算法", "Imprint hash"), stamp.hash_algorithm.upper()),
            ]
        elif receipt.time_stamp is not None:
            out.append(
                Fact(
                    Bilingual("回执所附时间戳（未核验）", "Time stamp in the receipt (unverified)"),
                    f"{len(receipt.time_stamp)} bytes",
                )
            )
    elif name == CHECK_CLAIMED_TIME and receipt.tlog_proof is not None:
        claimed = entry.deposited_at
        out.append(Fact(Bilingual("服务方声明", "Claimed by the service"), format_time(claimed)))
        proven = facts.proven_time if facts is not None else None
        if proven is not None:
            gap = proven - claimed
            out += [
                Fact(Bilingual("证明不晚于", "Proven no later than"), format_time(proven)),
                Fact(Bilingual("相差", "Difference"), _duration(gap)),
                Fact(
                    Bilingual("可能倒签", "Possibly back-dated"),
                    "是 / yes" if gap > CLAIMED_TIME_TOLERANCE else "否 / no",
                ),
            ]
    return tuple(out)


def _summary(receipt: Receipt, facts: VerificationResult | None, provenance: Provenance) -> Section:
    entry = receipt.entry
    proven = facts.proven_time if facts is not None else None
    rows = [
        Fact(Bilingual("回执版本", "Receipt version"), str(receipt.version)),
        Fact(
            Bilingual("文档编号（服务方标签）", "Document id (the service's label)"),
            receipt.document_id,
            True,
        ),
        Fact(
            Bilingual("所核对文件（名称不受证明）", "File checked (its name is not proven)"),
            provenance.document_name or "未提供（仅核验回执）/ none (receipt only)",
        ),
        Fact(Bilingual("存证机构", "Depositing institution"), entry.institution),
        Fact(Bilingual("类别", "Kind"), _KIND.get(entry.kind, entry.kind)),
        Fact(Bilingual("案号（一案一码）", "Case code"), entry.case_code or "无 / none"),
        Fact(
            Bilingual("服务方声明的存证时间", "Deposit time claimed by the service"),
            format_time(entry.deposited_at),
        ),
        Fact(
            Bilingual("区块时间（验证节点陈述的上限）", "Block time (the validators' bound)"),
            format_time(receipt.block_time),
        ),
        Fact(
            Bilingual("独立证明不晚于（见证与时间戳）", "Independently proven no later than"),
            format_time(proven) if proven is not None else "无 / none",
        ),
    ]
    return Section(Bilingual("存证概要", "Deposit summary"), tuple(rows))


def _trust(bundle: TrustBundle, provenance: Provenance) -> Section:
    rows = [
        Fact(
            Bilingual("信任文件 SHA-256", "Trust file SHA-256"),
            provenance.trust_file_sha256.hex(),
            True,
        ),
        Fact(Bilingual("链 ID", "Chain id"), str(bundle.chain_id)),
        Fact(Bilingual("创世区块哈希", "Genesis block hash"), _0x(bundle.genesis_hash), True),
        Fact(Bilingual("存证合约", "Documents contract"), _0x(bundle.documents_contract), True),
        Fact(Bilingual("锚定账户", "Anchoring account"), _0x(bundle.anchoring_account), True),
        Fact(
            Bilingual("要求封块", "Seals required"),
            "是 / yes" if bundle.sealed else "否（不安全）/ no (unsafe)",
        ),
        Fact(
            Bilingual("验证节点", "Validators"),
            "\n".join(f"{_0x(v.address)} (from block {v.from_block})" for v in bundle.validators)
            or "无 / none",
            True,
        ),
        Fact(Bilingual("日志密钥", "Log key"), bundle.log_key.to_text(), True),
        Fact(
            Bilingual("见证方", "Witnesses"),
            "\n".join(f"{w.name} ({w.key_id.hex()})" for w in bundle.witnesses) or "无 / none",
        ),
        Fact(Bilingual("见证法定人数", "Witness quorum"), str(bundle.witness_quorum)),
        Fact(
            Bilingual("时间戳机构根证书", "Time-stamp authorities' roots"),
            "\n".join(_subject(pem) for pem in bundle.time_stamp_roots) or "无 / none",
        ),
    ]
    return Section(Bilingual("核验所依据的信任", "The trust the checks rest on"), tuple(rows))


def _provision_row(provision: Provision, rows: Sequence[CheckRow]) -> ProvisionRow:
    mine = [row for row in rows if provision.key in row.provisions]
    failed = [row for row in mine if row.status is Status.FAILED]
    skipped = [row for row in mine if row.status is Status.NOT_PERFORMED]
    if failed:
        answer = Bilingual(
            "本报告不支持该点：" + "、".join(r.title.zh for r in failed) + "未通过。",
            "Not supported by this report: " + ", ".join(r.title.en for r in failed) + " failed.",
        )
    elif skipped:
        answer = Bilingual(
            provision.shows.zh + "（未进行：" + "、".join(r.title.zh for r in skipped) + "）",
            provision.shows.en
            + " (Not performed: "
            + ", ".join(r.title.en for r in skipped)
            + ".)",
        )
    else:
        answer = provision.shows
    return ProvisionRow(provision, tuple(r.title for r in mine), answer)


# --- Values -------------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC, and the same instant in Beijing time: ``2024-06-01T00:00:30Z
    (北京时间 2024-06-01 08:00:30)``."""
    utc = value.astimezone(UTC)
    beijing = (utc + BEIJING).replace(tzinfo=None)
    return f"{utc:%Y-%m-%dT%H:%M:%SZ} (北京时间 {beijing:%Y-%m-%d %H:%M:%S})"


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if abs(seconds) < 60:
        return f"{seconds} s"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{seconds} s ({sign}{hours}:{rest // 60:02d}:{rest % 60:02d})"


def _0x(value: bytes) -> str:
    return "0x" + value.hex()


def _subject(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).subject.rfc4514_string()
