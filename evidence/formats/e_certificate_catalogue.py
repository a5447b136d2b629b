"""The catalogue of e-certificate types (电子证照目录): what each type is, who may issue it,
and its type-specific fields.

**Verification-critical and pure** (standard library and :mod:`certs.formats`). A type's key,
code, issuers and fields are part of the version 1 certificate encoding
(:mod:`evidence.formats.e_certificate`): a certificate registered under them must parse the
same way for as long as it is checked. Adding a type, or a new choice to a field, is
compatible (old certificates still parse); removing or narrowing anything, or changing a
limit, needs a new format version. ``docs/e-certificates.md`` §1 is this table in prose.

Each type-specific field is one of three kinds:

* ``text`` — one line of text (no control or invisible characters, no edge spaces),
  1..``max_chars`` code points; with ``pattern``, it must also match it whole;
* ``choice`` — one key of ``choices`` (each with its Chinese and English name);
* ``names`` — a list of ``min_items``..``max_items`` distinct ``text`` values (people's names).

A field with ``optional`` may be ``null``; it is always present in the encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from certs.formats.institution_profile import InstitutionType
from evidence.errors import InputError

__all__ = [
    "CATALOGUE",
    "MAX_PERSON_NAME_CHARS",
    "CertificateType",
    "Choice",
    "FieldKind",
    "TypeField",
    "UnknownCertificateType",
    "certificate_type",
    "certificate_type_by_code",
]

FieldKind = Literal["text", "choice", "names"]

MAX_PERSON_NAME_CHARS: Final = 50
"""Longest person's name (a notary, appraiser, lawyer): Chinese names and transliterated
foreign names with their middle dots fit."""


class UnknownCertificateType(InputError):
    """A certificate type key or code is not in the catalogue."""


@dataclass(frozen=True)
class Choice:
    """One allowed value of a ``choice`` field."""

    key: str
    zh: str
    en: str


@dataclass(frozen=True)
class TypeField:
    """One type-specific field."""

    key: str
    zh: str
    en: str
    kind: FieldKind
    max_chars: int = 0
    """For ``text`` and ``names`` (each name): the most code points."""
    choices: tuple[Choice, ...] = ()
    min_items: int = 0
    max_items: int = 0
    optional: bool = False
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    """What ``pattern`` requires, in words, for error messages."""

    def choice(self, key: str) -> Choice:
        """The choice named ``key`` (which must be one)."""
        return next(c for c in self.choices if c.key == key)


@dataclass(frozen=True)
class CertificateType:
    """A type of the catalogue."""

    key: str
    """The key written in the encoding (``"type"``)."""
    code: str
    """Two letters: the identifier's first part."""
    zh: str
    en: str
    issuers: frozenset[InstitutionType]
    """The institution types (``businessCategory`` of the issuer's certificate) that may
    issue it."""
    fields: tuple[TypeField, ...]
    """Its type-specific fields (``"details"``), in key order."""

    def field(self, key: str) -> TypeField:
        return next(f for f in self.fields if f.key == key)


def _text(key: str, zh: str, en: str, max_chars: int, *, optional: bool = False) -> TypeField:
    return TypeField(key, zh, en, "text", max_chars=max_chars, optional=optional)


_NOTARIAL = CertificateType(
    key="notarial_certificate",
    code="GZ",
    zh="公证书",
    en="Notarial certificate",
    issuers=frozenset({InstitutionType.NOTARY_OFFICE}),
    fields=(
        _text("matter", "公证事项", "Notarial matter", 100),
        _text("notary", "承办公证员", "Notary", MAX_PERSON_NAME_CHARS),
        _text("purpose", "用途", "Purpose", 100, optional=True),
    ),
)

_FORENSIC = CertificateType(
    key="forensic_opinion",
    code="JD",
    zh="司法鉴定意见书",
    en="Forensic appraisal opinion",
    issuers=frozenset({InstitutionType.FORENSIC_INSTITUTION}),
    fields=(
        TypeField(
            "appraisers",
            "司法鉴定人",
            "Forensic appraisers",
            "names",
            max_chars=MAX_PERSON_NAME_CHARS,
            min_items=2,
            max_items=10,
        ),
        TypeField(
            "category",
            "鉴定类别",
            "Appraisal category",
            "choice",
            choices=(
                Choice("forensic_medicine", "法医类", "Forensic medicine"),
                Choice("physical_evidence", "物证类", "Physical evidence"),
                Choice("audiovisual", "声像资料类", "Audio-visual material"),
                Choice("environmental_damage", "环境损害类", "Environmental damage"),
            ),
        ),
        _text("client", "委托人", "Commissioned by", 100),
        _text("matter", "鉴定事项", "Appraisal matter", 200),
    ),
)

_LEGAL_AID = CertificateType(
    key="legal_aid_decision",
    code="FY",
    zh="法律援助决定书",
    en="Legal-aid decision",
    issuers=frozenset({InstitutionType.LEGAL_AID_CENTRE, InstitutionType.JUSTICE_BUREAU}),
    fields=(
        TypeField(
            "aid_type",
            "援助形式",
            "Form of aid",
            "choice",
            choices=(
                Choice("consultation", "法律咨询", "Legal consultation"),
                Choice("document_drafting", "代拟法律文书", "Drafting legal documents"),
                Choice("criminal_defence", "刑事辩护与代理", "Criminal defence and agency"),
                Choice(
                    "litigation_agency",
                    "民事、行政、国家赔偿案件的诉讼代理及非诉讼代理",
                    "Agency in civil, administrative and state-compensation matters",
                ),
                Choice("duty_lawyer", "值班律师法律帮助", "Duty lawyer's assistance"),
                Choice(
                    "labour_dispute",
                    "劳动争议调解与仲裁代理",
                    "Agency in labour-dispute mediation and arbitration",
                ),
                Choice("other", "其他形式", "Other form"),
            ),
        ),
        _text("assignee", "承办机构或人员", "Assigned to", 100, optional=True),
        _text("case", "案件", "Case", 200),
    ),
)

_PRACTISING = CertificateType(
    key="lawyer_practising_certificate",
    code="LS",
    zh="律师执业证",
    en="Lawyer's practising certificate",
    issuers=frozenset({InstitutionType.JUSTICE_BUREAU}),
    fields=(
        _text("law_firm", "执业机构", "Law firm", 100),
        TypeField(
            "licence_number",
            "执业证号",
            "Licence number",
            "text",
            max_chars=17,
            pattern=re.compile(r"[0-9]{17}"),
            pattern_text="17 digits",
        ),
        TypeField(
            "practice_type",
            "执业类别",
            "Practice type",
            "choice",
            choices=(
                Choice("full_time", "专职律师", "Full-time lawyer"),
                Choice("part_time", "兼职律师", "Part-time lawyer"),
                Choice("public_service", "公职律师", "Public-service lawyer"),
                Choice("corporate", "公司律师", "Corporate lawyer"),
                Choice("legal_aid", "法律援助律师", "Legal-aid lawyer"),
            ),
        ),
    ),
)

CATALOGUE: Final[tuple[CertificateType, ...]] = (_NOTARIAL, _FORENSIC, _LEGAL_AID, _PRACTISING)
"""Every type, in documentation order. Keys and codes are unique (a unit test holds it)."""

_BY_KEY: Final = {t.key: t for t in CATALOGUE}
_BY_CODE: Final = {t.code: t for t in CATALOGUE}


def certificate_type(key: object) -> CertificateType:
    """The type whose key is ``key``.

    :raises UnknownCertificateType: not a key of the catalogue (the message lists them)."""
    found = _BY_KEY.get(key) if isinstance(key, str) else None
    if found is None:
        raise UnknownCertificateType(
            f"type: unknown certificate type {key!r:.40}: one of {', '.join(_BY_KEY)}"
        )
    return found


def certificate_type_by_code(code: str) -> CertificateType:
    """The type whose identifier code is ``code``.

    :raises UnknownCertificateType: no type has this code."""
    found = _BY_CODE.get(code)
    if found is None:
        raise UnknownCertificateType(
            f"unknown certificate type code {code!r:.10}: one of {', '.join(_BY_CODE)}"
        )
    return found
