"""Response schemas (the public shape of records)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from evidence.access.enforcement import DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME
from evidence.formats.custody_export import MAX_EXPORT_EVENTS


class AnchorPublic(BaseModel):
    tree_size: int
    root_hash: str
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_time: datetime | None = None


class DocumentPublic(BaseModel):
    id: str
    sha256: str
    sm3: str
    size: int
    kind: str
    title: str
    case_code: str | None
    institution: str
    filename: str | None
    deposited_at: datetime
    leaf_index: int
    status: Literal["pending", "anchored"]
    anchor: AnchorPublic | None = None
    anchored_fields: list[str] = Field(
        description="fields read from the document's log entry: proven once it is anchored"
    )
    unanchored_fields: list[str] = Field(
        description="the depositor's metadata outside the entry (title, file name): not proven"
    )
    acknowledgement: str | None = Field(
        default=None,
        description=(
            "in the 201 of a deposit only: the log's signed promise of this leaf (a C2SP "
            "signed note, zhenglian/ack/v1, by the key of GET /v1/log/key); keep it with the "
            "receipt — `zhenglian verify --ack` compares them"
        ),
    )


class PendingReceipt(BaseModel):
    id: str
    status: Literal["pending"] = "pending"
    detail: str = "the document is in the log but its tree head is not anchored yet"


class SignerPublic(BaseModel):
    """Who signed a deposit and when, as its version 2 log entry commits to it."""

    institution: str
    credit_code: str = Field(description="统一社会信用代码 of the signer's certificate")
    certificate_sha256: str
    signed_at: datetime
    signed_at_proof: Literal["time-stamp", "claimed"]


class SignaturePublic(BaseModel):
    """A deposit's signature kept with its original (docs/signatures.md §4)."""

    document_id: str
    signed: bool
    form: Literal["cms-detached", "pades-embedded"] | None = None
    signature: str | None = Field(
        default=None, description="the detached CMS signature, base64 DER; null when embedded"
    )
    signature_media_type: str | None = None
    certificate: str | None = Field(default=None, description="the signer's certificate, PEM")
    signer: SignerPublic | None = None


class TreeHeadPublic(BaseModel):
    tree_size: int
    root_hash: str
    anchored: AnchorPublic | None = None


class ConsistencyPublic(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    hashes: list[str]


class RetiredContractPublic(BaseModel):
    log: str
    """``documents`` or ``custody``."""
    contract: str
    retired_at: str
    reason: str


class ChainPublic(BaseModel):
    chain_id: int
    validators: list[str]
    contract: str | None
    rpc_url: str | None = None
    sealed: bool
    custody_contract: str | None = None
    """The LogAnchor of the custody log (``docs/custody.md``)."""
    certificate_registry: str | None = None
    """The CertificateRegistry holding the e-certificates' status
    (``docs/certificate-registry.md``)."""
    retired_contracts: list[RetiredContractPublic] = []
    """LogAnchor contracts retired by an operator after a restore (``zhenglian log
    resume-anchoring``): receipts issued before verify against them."""


class CheckPublic(BaseModel):
    name: str
    ok: bool
    detail: str


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(min_length=64, max_length=64, pattern="^[0-9a-fA-F]{64}$")


class VerificationPublic(BaseModel):
    result: Literal["intact", "altered", "receipt-invalid", "untrusted", "unknown", "pending"]
    sha256: str | None = None
    document_id: str | None = None
    institution: str | None = None
    kind: str | None = None
    case_code: str | None = None
    deposited_at: datetime | None = None
    anchor: AnchorPublic | None = None
    seal: str | None = None
    """The trusted validator(s) whose seal(s) the anchoring block carries, or "unsealed"."""
    seal_kind: Literal["clique", "qbft"] | None = None
    receipt_version: int | None = None
    proven_time: datetime | None = None
    """The document existed no later than this: the earliest witness cosignature or time
    stamp over its checkpoint (version 2 receipts); ``deposited_at`` is the service's claim."""
    witnesses: list[str] = []
    """The pinned witnesses that cosigned the checkpoint."""
    checks: list[CheckPublic] = []
    matches: int = 0


# --- Access: institutions, tokens, cases, share codes ---------------------------------------

#: Every JSON request body below refuses unknown fields and is immutable once parsed.
_STRICT = ConfigDict(extra="forbid", frozen=True)

#: Longest institution name (as in log entries).
NAME_MAX = 200
#: Longest case title.
TITLE_MAX = 500
#: Longest document id (a UUID).
ID_MAX = 36
#: Longest case code as typed (canonical codes are 16 characters).
CASE_CODE_MAX = 64

InstitutionType = Literal[
    "notary_office",
    "forensic_institution",
    "legal_aid_centre",
    "court",
    "law_firm",
    "justice_bureau",
]
TokenRole = Literal[
    "admin", "notary", "forensic", "legal_aid", "court", "lawyer", "bureau_registrar"
]
CaseTypeName = Literal["notary", "forensic", "legal_aid", "arbitration", "litigation"]


class InstitutionCreate(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=NAME_MAX)
    type: InstitutionType


class InstitutionPublic(BaseModel):
    id: str
    name: str
    type: str
    created_at: datetime
    disabled_at: datetime | None
    bureau_id: str | None = Field(
        description="the justice bureau whose admins manage it; null for a bureau, and for an "
        "institution only the operator manages"
    )


class TokenCreate(BaseModel):
    model_config = _STRICT
    institution: str = Field(min_length=1, max_length=NAME_MAX)
    role: TokenRole
    expires_in_days: int = Field(
        default=DEFAULT_TOKEN_LIFETIME.days,
        ge=1,
        le=MAX_TOKEN_LIFETIME.days,
        description="days until the token expires (every token does)",
    )


class TokenPublic(BaseModel):
    id: str
    institution: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenPublic):
    token: str = Field(description="the bearer token: shown this once, stored only hashed")


class CaseCreate(BaseModel):
    model_config = _STRICT
    type: CaseTypeName
    title: str = Field(min_length=1, max_length=TITLE_MAX)


class ParticipantCreate(BaseModel):
    model_config = _STRICT
    institution: str = Field(min_length=1, max_length=NAME_MAX)


class ParticipantPublic(BaseModel):
    institution: str
    type: str
    added_at: datetime


class ParticipantRemoved(ParticipantPublic):
    removed_at: datetime
    revoked_shares: list[str] = Field(
        description="ids of the share codes for the case or its documents that named the "
        "removed institution and were revoked with it"
    )


class DocumentSummary(BaseModel):
    id: str
    sha256: str
    size: int
    kind: str
    title: str
    institution: str
    filename: str | None
    deposited_at: datetime
    leaf_index: int


class CasePublic(BaseModel):
    code: str
    type: str
    title: str
    institution: str
    created_at: datetime
    relation: Literal["own", "participant"]
    participants: list[ParticipantPublic]
    documents: list[DocumentSummary]
    verify_url: str


class PublicCaseView(BaseModel):
    """What a case's QR code shows anyone: nothing confidential."""

    code: str
    type: str
    institution: str
    created_at: datetime
    documents: int
    anchored: int
    detail: str = (
        "the case exists; verify a document of it by uploading it (or its SHA-256) to /v1/verify"
    )


class ShareCreate(BaseModel):
    model_config = _STRICT
    document_id: str | None = Field(default=None, min_length=1, max_length=ID_MAX)
    case_code: str | None = Field(default=None, min_length=1, max_length=CASE_CODE_MAX)
    recipient: str = Field(min_length=1, max_length=NAME_MAX)
    expires_in: int = Field(
        default=7 * 86400, ge=60, le=90 * 86400, description="seconds until the code expires"
    )
    max_uses: int = Field(default=1, ge=1, le=1000, description="originals it may fetch")


class SharePublic(BaseModel):
    id: str
    document_id: str | None
    case_code: str | None
    recipient: str
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    revoked: bool


class ShareIssued(SharePublic):
    code: str = Field(description="the share code (证据提取码): shown this once, stored hashed")


class ShareView(SharePublic):
    documents: list[DocumentSummary]


ExportAfter = Annotated[
    int | None,
    Query(
        ge=0,
        le=2**63 - 2,
        description="page: the events after this custody leaf (the `next` of the previous page)",
    ),
]
"""The page cursor of a custody export."""

ExportLimit = Annotated[
    int,
    Query(ge=1, le=MAX_EXPORT_EVENTS, description="page: at most this many events"),
]
"""Events per page of a custody export."""


# --- Registered e-certificates (docs/e-certificates.md §8) --------------------------------

MAX_CERTIFICATE_JSON_BYTES = 8 * 1024
"""Largest ``ID.json`` registered (``evidence.formats.e_certificate.MAX_E_CERTIFICATE_BYTES``)."""
MAX_CERTIFICATE_SIGNATURE_BYTES = 512
"""Largest signature taken: ``ID.sig`` and a status statement's (the registry's limit)."""
MAX_SIGNER_CERTIFICATE_PEM_CHARS = 8 * 1024
"""Longest signer certificate (PEM) taken."""
MAX_CERTIFICATE_PDF_BYTES = 2 * 1024 * 1024
"""Largest issuer's PDF taken (``evidence.store.database.MAX_CERTIFICATE_PDF_BYTES``)."""


def _base64_chars(limit: int) -> int:
    return 4 * ((limit + 2) // 3)


MAX_CERTIFICATE_BODY_BYTES = (
    _base64_chars(MAX_CERTIFICATE_JSON_BYTES)
    + 2 * _base64_chars(MAX_CERTIFICATE_SIGNATURE_BYTES)
    + MAX_SIGNER_CERTIFICATE_PEM_CHARS
    + _base64_chars(MAX_CERTIFICATE_PDF_BYTES)
    + 1024
)
"""Largest ``POST /v1/certificates`` body: every field at its limit, and room for the keys."""

MAX_CHANGE_BODY_BYTES = 2 * _base64_chars(MAX_CERTIFICATE_SIGNATURE_BYTES) + (
    MAX_SIGNER_CERTIFICATE_PEM_CHARS + 1024
)
"""Largest revoke or supersede body."""

_B64 = r"^[A-Za-z0-9+/]*={0,2}$"


class CertificateRegister(BaseModel):
    """``POST /v1/certificates``: what ``zhenglian certificate register`` sends."""

    model_config = _STRICT
    certificate: str = Field(
        min_length=4,
        max_length=_base64_chars(MAX_CERTIFICATE_JSON_BYTES),
        pattern=_B64,
        description="base64 of ID.json: the canonical encoding, exactly the signed bytes",
    )
    signature: str = Field(
        min_length=4,
        max_length=_base64_chars(MAX_CERTIFICATE_SIGNATURE_BYTES),
        pattern=_B64,
        description="base64 of ID.sig: the issuer's DER signature over ID.json (ECDSA P-256 with "
        "SHA-256, or SM2 with SM3 and the default signer ID for an SM2 issuer)",
    )
    signer_certificate: str = Field(
        min_length=1,
        max_length=MAX_SIGNER_CERTIFICATE_PEM_CHARS,
        description="the issuer's institution certificate (PEM) whose SHA-256 ID.json names",
    )
    status_signature: str = Field(
        min_length=4,
        max_length=_base64_chars(MAX_CERTIFICATE_SIGNATURE_BYTES),
        pattern=_B64,
        description="base64 of the issuer's signature over the issue status statement "
        "(docs/certificate-registry.md §3) for this server's chain and registry",
    )
    pdf: str | None = Field(
        default=None,
        min_length=4,
        max_length=_base64_chars(MAX_CERTIFICATE_PDF_BYTES),
        pattern=_B64,
        description="base64 of ID.pdf, the public PDF (optional; served as it is)",
    )


class CertificateRevoke(BaseModel):
    """``POST /v1/certificates/{id}/revoke``: the issuer's signed revoke statement's fields."""

    model_config = _STRICT
    reason: str = Field(
        min_length=1,
        max_length=32,
        description="RFC 5280 reason name (keyCompromise, affiliationChanged, "
        "cessationOfOperation, privilegeWithdrawn, cACompromise, unspecified) or its code",
    )
    effective_time: int = Field(
        ge=1, le=2**63 - 1, description="Unix seconds from which it no longer stands; not future"
    )
    signature: str = Field(
        min_length=4,
        max_length=_base64_chars(MAX_CERTIFICATE_SIGNATURE_BYTES),
        pattern=_B64,
        description="base64 of the issuer's signature over the revoke status statement",
    )
    signer_certificate: str = Field(min_length=1, max_length=MAX_SIGNER_CERTIFICATE_PEM_CHARS)


class CertificateSupersede(BaseModel):
    """``POST /v1/certificates/{id}/supersede``: the successor and the issuer's signature."""

    model_config = _STRICT
    successor: str = Field(min_length=1, max_length=64)
    signature: str = Field(
        min_length=4,
        max_length=_base64_chars(MAX_CERTIFICATE_SIGNATURE_BYTES),
        pattern=_B64,
        description="base64 of the issuer's signature over the supersede status statement",
    )
    signer_certificate: str = Field(min_length=1, max_length=MAX_SIGNER_CERTIFICATE_PEM_CHARS)
