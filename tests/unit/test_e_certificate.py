"""E-certificates (电子证照): the canonical encoding byte-exact against independently generated
vectors (and refused corrupted ones, the error naming the field), the catalogue, the
self-checking identifier (published MOD 37,36 vectors; any single changed character
refused), issuing input, and the masked public view."""

from __future__ import annotations

import json
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from certs.formats.credit_code import (
    ALPHABET as CC_ALPHABET,
)
from certs.formats.credit_code import (
    credit_code_check_character,
    organization_code_check_character,
)
from certs.formats.institution_profile import InstitutionType
from evidence.formats.e_certificate import (
    E_CERTIFICATE_PREFIX,
    MAX_NUMBER_CHARS,
    ECertificate,
    ECertificateError,
    IssueFields,
    IssuerMayNotIssue,
    NonCanonicalECertificateError,
    fields_of,
)
from evidence.formats.e_certificate_catalogue import CATALOGUE, certificate_type_by_code
from evidence.formats.e_certificate_identifier import (
    CHECK_ALPHABET,
    IDENTIFIER_LENGTH,
    SERIAL_ALPHABET,
    CertificateIdentifier,
    IdentifierCheckMismatch,
    IdentifierError,
    derived_serial,
    mod37_36_check_character,
    parse_identifier,
)
from evidence.formats.e_certificate_views import full_view, public_view
from evidence.formats.holder_identity import (
    check_id_number,
    id_type,
    mask_address,
    mask_id_number,
    resident_id_check_character,
)

VECTORS = Path(__file__).resolve().parents[1] / "assets" / "e_certificates"
CASES: dict[str, dict[str, Any]] = json.loads((VECTORS / "cases.json").read_text("utf-8"))
IDENTIFIERS: dict[str, Any] = json.loads((VECTORS / "identifiers.json").read_text("utf-8"))
VALID = sorted(name for name, case in CASES.items() if case["valid"])
REFUSED = sorted(name for name, case in CASES.items() if not case["valid"])
ZERO = bytes(32)


def _bytes(name: str) -> bytes:
    return (VECTORS / f"{name}.ecert").read_bytes()


# --- Vectors ---------------------------------------------------------------------------------


def test_vectors_are_what_the_generator_makes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--out", str(tmp_path)], check=True
    )
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {
        p.name: p.read_bytes() for p in VECTORS.iterdir() if p.suffix in {".ecert", ".json"}
    }
    assert sorted(generated) == sorted(committed)
    for name, content in generated.items():
        assert content == committed[name], name


@pytest.mark.parametrize("name", VALID)
def test_valid_vectors_decode_and_encode_byte_exact(name: str) -> None:
    data = _bytes(name)
    cert = ECertificate.decode(data)
    assert cert.encode() == data
    assert cert.id == CASES[name]["id"]
    assert data.startswith(E_CERTIFICATE_PREFIX)
    assert json.loads(data[len(E_CERTIFICATE_PREFIX) :]) == cert.to_json()
    assert ECertificate.from_json(cert.to_json()) == cert


@pytest.mark.parametrize("name", REFUSED)
def test_corrupted_vectors_are_refused_naming_the_field(name: str) -> None:
    case = CASES[name]
    with pytest.raises(ECertificateError) as caught:
        ECertificate.decode(_bytes(name))
    if case["field"] is not None:
        assert str(caught.value).startswith(f"{case['field']}: "), str(caught.value)
    if name.startswith("non-canonical"):
        assert isinstance(caught.value, NonCanonicalECertificateError)
    if name in {"type-not-issuable", "practising-certificate-by-law-firm"}:
        assert isinstance(caught.value, IssuerMayNotIssue)
    if name == "duplicate-key":
        assert "duplicate key 'number'" in str(caught.value)
    if name == "wrong-identifier-check":
        assert f"expected {CASES['notarial-certificate']['id'][-1]!r}" in str(caught.value)


def test_the_example_of_the_documentation_is_a_vector() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "e-certificates.md").read_text("utf-8")
    body = _bytes("notarial-certificate")[len(E_CERTIFICATE_PREFIX) :].decode("utf-8")
    assert body in doc
    assert CASES["notarial-certificate"]["id"] in doc


# --- Catalogue ---------------------------------------------------------------------------


def test_catalogue_keys_and_codes_are_unique_and_complete() -> None:
    assert len({t.key for t in CATALOGUE}) == len({t.code for t in CATALOGUE}) == len(CATALOGUE)
    assert {t.zh for t in CATALOGUE} >= {"公证书", "司法鉴定意见书", "法律援助决定书", "律师执业证"}
    for kind in CATALOGUE:
        assert kind.en and kind.issuers <= set(InstitutionType)
        assert [f.key for f in kind.fields] == sorted(f.key for f in kind.fields)
        assert certificate_type_by_code(kind.code) is kind
        for spec in kind.fields:
            assert spec.zh and spec.en
            assert (spec.kind == "choice") == bool(spec.choices)
    practising = next(t for t in CATALOGUE if t.key == "lawyer_practising_certificate")
    assert practising.issuers == {InstitutionType.JUSTICE_BUREAU}


# --- Identifier ----------------------------------------------------------------------------


@pytest.mark.parametrize("item", IDENTIFIERS["mod37_36"], ids=lambda i: i["payload"])
def test_mod37_36_matches_published_vectors(item: dict[str, str]) -> None:
    assert mod37_36_check_character(item["payload"]) == item["check"]


@pytest.mark.parametrize("text", IDENTIFIERS["valid"])
def test_identifiers_parse_and_write_back(text: str) -> None:
    identifier = parse_identifier(text)
    assert identifier.text == text and len(text) == IDENTIFIER_LENGTH
    certificate_type_by_code(identifier.type_code)


@pytest.mark.parametrize("item", IDENTIFIERS["corrupted"], ids=lambda i: i["why"])
def test_corrupted_identifiers_are_refused(item: dict[str, Any]) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_identifier(item["text"])
    if item["expected"] is not None:
        assert isinstance(caught.value, IdentifierCheckMismatch)
        assert caught.value.expected == item["expected"]
        assert f"expected {item['expected']!r}" in str(caught.value)


def test_identifier_credit_code_keeps_its_own_alphabet() -> None:
    # L is a letter of the credit code alphabet, never read as 1.
    code = "3251080" + "2"  # division
    org = "MBL53042"
    text = code + org + organization_code_check_character(org)
    text += credit_code_check_character(text)
    identifier = CertificateIdentifier("GZ", text, "L000000001")
    assert parse_identifier(identifier.text).credit_code == text
    with pytest.raises(IdentifierError):
        parse_identifier(identifier.text.replace("MBL", "MB1"))


credit_codes = st.builds(
    lambda first, org: (lambda body: body + credit_code_check_character(body))(
        first + org + organization_code_check_character(org)
    ),
    st.sampled_from(["32510802", "34510800", "11510800", "12440300", "31110105"]),
    st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8),
).filter(lambda code: code[16] in CC_ALPHABET)
identifiers = st.builds(
    CertificateIdentifier,
    st.sampled_from([t.code for t in CATALOGUE]),
    credit_codes,
    st.text(alphabet=SERIAL_ALPHABET, min_size=10, max_size=10),
)


@given(identifiers, st.data())
def test_any_single_changed_character_is_refused(
    identifier: CertificateIdentifier, data: st.DataObject
) -> None:
    text = identifier.text
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(
        st.sampled_from(string.ascii_letters + string.digits + "-_ *lo")
        | st.characters(codec="utf-8")
    )
    assume(replacement != text[position])
    changed = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(IdentifierError):
        parse_identifier(changed)


@given(identifiers, st.data())
def test_a_character_inserted_or_deleted_is_refused(
    identifier: CertificateIdentifier, data: st.DataObject
) -> None:
    text = identifier.text
    position = data.draw(st.integers(0, len(text)))
    inserted = text[:position] + data.draw(st.sampled_from(CHECK_ALPHABET)) + text[position:]
    deleted = text[: min(position, len(text) - 1)] + text[min(position, len(text) - 1) + 1 :]
    for changed in (inserted, deleted):
        with pytest.raises(IdentifierError):
            parse_identifier(changed)


def test_adjacent_swaps_are_almost_all_detected() -> None:
    """MOD 37,36 is a hybrid system: single substitutions always, adjacent swaps nearly
    always (docs/e-certificates.md §3 gives the measured rate)."""
    missed = total = 0
    for x in CHECK_ALPHABET:
        for y in CHECK_ALPHABET:
            if x != y:
                for pad in ("", "GZ", "GZ3251"):
                    total += 1
                    a, b = pad + x + y + "07", pad + y + x + "07"
                    missed += mod37_36_check_character(a) == mod37_36_check_character(b)
    assert missed / total < 0.005


def test_derived_serial_is_stable_and_in_the_alphabet() -> None:
    serial = derived_serial("GZ", "32510802MB1530425A", "(2026)川广利证字第1024号")
    assert serial == CASES["notarial-certificate"]["id"].split("-")[2]
    assert derived_serial("GZ", "32510802MB1530425A", "(2026)川广利证字第1025号") != serial
    assert set(serial) <= set(SERIAL_ALPHABET)


# --- Issuing input and round trip ------------------------------------------------------------


def _fields(name: str = "notarial-certificate") -> dict[str, Any]:
    return dict(fields_of(ECertificate.decode(_bytes(name))))


def test_issue_fields_derive_the_serial_when_left_out() -> None:
    fields = _fields()
    del fields["serial"]
    issued = IssueFields.from_json(fields).certificate(
        issuer_type=InstitutionType.NOTARY_OFFICE,
        certificate_sha256=ECertificate.decode(
            _bytes("notarial-certificate")
        ).issuer.certificate_sha256,
    )
    assert issued.encode() == _bytes("notarial-certificate")


def test_issue_fields_refuse_naming_the_field() -> None:
    for change, field in (
        ({"serial": "2026-00001"}, "serial"),
        ({"serial": "20260000IO"}, "serial"),
        ({"colour": "red"}, "colour"),
        ({"number": "x" * (MAX_NUMBER_CHARS + 1)}, "number"),
        ({"issued": "2026-02-30"}, "issued"),
        ({"valid_until": "02/03/2026"}, "valid_until"),
        ({"type": "diploma"}, "type"),
    ):
        with pytest.raises(ECertificateError) as caught:
            IssueFields.from_json(_fields() | change)
        assert str(caught.value).startswith(f"{field}: "), str(caught.value)
    fields = _fields()
    fields["issuer"] = fields["issuer"] | {"credit_code": fields["issuer"]["credit_code"].lower()}
    with pytest.raises(ECertificateError, match=r"^issuer\.credit_code: "):
        IssueFields.from_json(fields)
    with pytest.raises(ECertificateError, match="duplicate key 'type'"):
        IssueFields.from_json_bytes(b'{"type":"a","type":"b"}')
    fields = _fields()
    with pytest.raises(IssuerMayNotIssue, match=r"^issuer\.type: a court may not issue"):
        IssueFields.from_json(fields).certificate(
            issuer_type=InstitutionType.COURT, certificate_sha256=ZERO
        )


names = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Zs", "Co", "Cn")
    ),
    min_size=1,
    max_size=20,
)


@st.composite
def certificates(draw: st.DrawFn) -> ECertificate:
    name = draw(st.sampled_from(VALID))
    fields = _fields(name)
    fields["number"] = draw(names)
    fields["holder"] = fields["holder"] | {"name": draw(names)}
    if draw(st.booleans()):
        del fields["serial"]
    kind = next(t for t in CATALOGUE if t.key == fields["type"])
    for spec in kind.fields:
        if spec.kind == "text" and spec.pattern is None:
            fields["details"][spec.key] = draw(names)
        elif spec.kind == "choice":
            fields["details"][spec.key] = draw(st.sampled_from([c.key for c in spec.choices]))
        elif spec.kind == "names":
            fields["details"][spec.key] = draw(
                st.lists(names, min_size=spec.min_items, max_size=spec.max_items, unique=True)
            )
    base = ECertificate.decode(_bytes(name))
    return IssueFields.from_json(fields).certificate(
        issuer_type=base.issuer.type, certificate_sha256=draw(st.binary(min_size=32, max_size=32))
    )


@settings(max_examples=200)
@given(certificates())
def test_encode_decode_round_trip(cert: ECertificate) -> None:
    data = cert.encode()
    assert ECertificate.decode(data) == cert
    assert ECertificate.decode(data).encode() == data
    assert json.loads(json.dumps(full_view(cert))) == full_view(cert)


# --- Masking -----------------------------------------------------------------------------


def test_resident_id_check_character_matches_gb_11643_examples() -> None:
    for number in IDENTIFIERS["resident_id_examples"]:
        assert resident_id_check_character(number[:17]) == number[17]
        assert check_id_number(id_type("resident_id"), number) == number
    with pytest.raises(ValueError, match="expected 'X'"):
        check_id_number(id_type("resident_id"), "110105194912310021")
    with pytest.raises(ValueError, match="upper case"):
        check_id_number(id_type("resident_id"), "11010519491231002x")


@pytest.mark.parametrize(
    ("kind", "number", "masked"),
    [
        ("resident_id", "11010519491231002X", "110105********002X"),
        ("passport", "E12345678", "E******78"),
        ("hk_macao_permit", "H1234567", "H*****67"),
        ("other", "A12345", "******"),
        ("credit_code", "32510802MB1530425A", "32510802MB1530425A"),
    ],
)
def test_id_numbers_are_masked(kind: str, number: str, masked: str) -> None:
    assert mask_id_number(id_type(kind), number) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("四川省广元市利州区滨河北路88号3栋2单元501室", "四川省广元市****"),
        ("北京市朝阳区建国路1号", "北京市****"),
        ("新疆维吾尔自治区乌鲁木齐市天山区解放南路1号", "新疆维吾尔自治区乌鲁木齐市****"),
        ("四川省凉山彝族自治州西昌市胜利路2号", "四川省凉山彝族自治州****"),
        ("内蒙古自治区锡林郭勒盟锡林浩特市", "内蒙古自治区锡林郭勒盟****"),
        ("香港特别行政区中西区皇后大道中1号", "香港特别行政区****"),
        ("四川省苍溪县陵江镇", "四川省****"),
        ("苍溪县城市场路3号", "****"),
        ("Flat 3, 10 Downing Street, London", "****"),
        ("广元市", "广元市"),
    ],
)
def test_addresses_keep_province_and_city(address: str, masked: str) -> None:
    assert mask_address(address) == masked


@pytest.mark.parametrize("name", VALID)
def test_public_view_hides_the_holders_personal_data(name: str) -> None:
    cert = ECertificate.decode(_bytes(name))
    public, full = public_view(cert), full_view(cert)
    text = json.dumps(public, ensure_ascii=False)
    assert cert.holder.id_number not in text
    if cert.holder.address is not None:
        assert cert.holder.address not in text
        assert full["holder"]["address"] == cert.holder.address
    assert public["holder"]["masked"] is True and full["holder"]["masked"] is False
    assert full["holder"]["id_number"] == cert.holder.id_number
    assert public["view"] == "public" and full["view"] == "full"
    assert {k: v for k, v in public.items() if k not in {"holder", "view"}} == {
        k: v for k, v in full.items() if k not in {"holder", "view"}
    }
    assert [row["key"] for row in public["details"]] == [f.key for f in cert.type.fields]
    json.dumps(full)


# --- JSON Schema --------------------------------------------------------------------------

SCHEMA: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[2] / "evidence/formats/schema/e-certificate-v1.schema.json"
    ).read_text("utf-8")
)
#: The corrupted vectors whose fault the schema can express (the others need the parser:
#: check characters, canonical form, dates, the identifier's issuer).
SCHEMA_REFUSES = {
    "missing-detail",
    "one-appraiser",
    "over-long-holder-name",
    "over-long-number",
    "practising-certificate-by-law-firm",
    "type-not-issuable",
    "unknown-choice",
    "unknown-field",
    "unknown-top-field",
    "unknown-type",
}


def test_the_schema_accepts_the_valid_vectors_and_refuses_what_it_can_express() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for name in sorted(CASES):
        obj = json.loads(_bytes(name)[len(E_CERTIFICATE_PREFIX) :])
        if name in SCHEMA_REFUSES:
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(obj, SCHEMA)
        elif not name.startswith("wrong-prefix"):
            jsonschema.validate(obj, SCHEMA)


def test_the_schema_agrees_with_the_catalogue() -> None:
    assert SCHEMA["properties"]["type"]["enum"] == [t.key for t in CATALOGUE]
    assert SCHEMA["required"] == list(ECertificate.decode(_bytes(VALID[0])).to_json())
    rules = {rule["if"]["properties"]["type"]["const"]: rule["then"] for rule in SCHEMA["allOf"]}
    for kind in CATALOGUE:
        then = rules[kind.key]
        assert then["properties"]["id"]["pattern"] == f"^{kind.code}-"
        assert set(then["properties"]["issuer"]["properties"]["type"]["enum"]) == {
            t.value for t in kind.issuers
        }
        details = then["properties"]["details"]
        assert details["required"] == [f.key for f in kind.fields]
        for spec in kind.fields:
            field = details["properties"][spec.key]
            field = field["anyOf"][0] if spec.optional else field
            if spec.kind == "choice":
                assert field["enum"] == [c.key for c in spec.choices]
            elif spec.kind == "names":
                assert (field["minItems"], field["maxItems"]) == (spec.min_items, spec.max_items)
                assert field["items"]["maxLength"] == spec.max_chars
            elif spec.pattern is None:
                assert field["maxLength"] == spec.max_chars


def test_the_largest_certificate_of_each_type_fits_the_limit() -> None:
    from evidence.formats.e_certificate import (
        MAX_ADDRESS_CHARS,
        MAX_E_CERTIFICATE_BYTES,
        MAX_HOLDER_NAME_CHARS,
    )

    wide = "\U00020000"  # four bytes in UTF-8
    for name in VALID:
        fields = _fields(name)
        fields["number"] = wide * MAX_NUMBER_CHARS
        fields["holder"] = fields["holder"] | {
            "name": wide * MAX_HOLDER_NAME_CHARS,
            "address": wide * MAX_ADDRESS_CHARS,
            "id_type": "other",
            "id_number": "9" * 32,
        }
        kind = next(t for t in CATALOGUE if t.key == fields["type"])
        for spec in kind.fields:
            if spec.kind == "text" and spec.pattern is None:
                fields["details"][spec.key] = wide * spec.max_chars
            elif spec.kind == "names":
                fields["details"][spec.key] = [
                    wide * (spec.max_chars - 1) + chr(0x4E00 + i) for i in range(spec.max_items)
                ]
        base = ECertificate.decode(_bytes(name))
        issuer = base.issuer
        fields["issuer"] = fields["issuer"] | {"name": wide * 64}
        cert = IssueFields.from_json(fields).certificate(
            issuer_type=issuer.type, certificate_sha256=issuer.certificate_sha256
        )
        data = cert.encode()
        assert len(data) <= MAX_E_CERTIFICATE_BYTES, (name, len(data))
        assert ECertificate.decode(data) == cert
