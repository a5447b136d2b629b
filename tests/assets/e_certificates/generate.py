"""Generate the e-certificate test vectors in this folder (deterministic).

    python tests/assets/e_certificates/generate.py [--out DIR]

Writes ``cases.json`` (the manifest), one ``<case>.ecert`` file per certificate case (the
exact bytes: prefix and canonical JSON, no trailing newline) and ``identifiers.json``.

Independent of ``evidence`` and ``certs``: the GB 32100 and GB 11714 check characters, ISO/IEC
7064 MOD 37,36 and MOD 11-2, the derived serial and the canonical JSON are written here from
``docs/e-certificates.md`` and ``docs/pki.md`` with ``json`` and ``hashlib`` alone.
``tests/unit/test_e_certificate.py`` checks that regenerating gives the committed bytes and
that each case is accepted or refused (naming the field) as the manifest says.

Every credit code, ID number and person here is made up (the check characters are computed);
the 居民身份证 numbers are the two examples of GB 11643-1999.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PREFIX = b"zhenglian/e-certificate/v1\n"
SERIAL_PREFIX = b"zhenglian/e-certificate-serial/v1\n"
CC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FINGERPRINT = hashlib.sha256(b"an institution certificate (made up)").hexdigest()

# --- Check characters, written from the specifications -----------------------------------------


def gb11714(first8: str) -> str:
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(ALNUM.index(c) * w for c, w in zip(first8, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def gb32100(first17: str) -> str:
    total = sum(CC_ALPHABET.index(c) * (3**i % 31) for i, c in enumerate(first17))
    return CC_ALPHABET[(31 - total % 31) % 31]


def credit_code(first8: str, organisation8: str) -> str:
    body = first8 + organisation8 + gb11714(organisation8)
    return body + gb32100(body)


def mod37_36(payload: str) -> str:
    product = 36
    for c in payload:
        total = (product + ALNUM.index(c)) % 36
        if total == 0:
            total = 36
        product = total * 2 % 37
    return ALNUM[(37 - product) % 36]


def mod11_2(first17: str) -> str:
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def serial_of(type_code: str, code: str, number: str) -> str:
    value = int.from_bytes(
        hashlib.sha256(SERIAL_PREFIX + f"{type_code}\n{code}\n{number}".encode()).digest(), "big"
    )
    out = ""
    for _ in range(10):
        value, digit = divmod(value, 31)
        out = CC_ALPHABET[digit] + out
    return out


def identifier(type_code: str, code: str, serial: str) -> str:
    return f"{type_code}-{code}-{serial}-{mod37_36(type_code + code + serial)}"


def canonical(obj: Any) -> bytes:
    return (
        PREFIX + json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


# --- The certificates --------------------------------------------------------------------------

NOTARY_CODE = credit_code("32510802", "MB153042")
FORENSIC_CODE = credit_code("34510800", "MD071853")
LEGAL_AID_CODE = credit_code("12510800", "45098712")
BUREAU_CODE = credit_code("11510800", "00895023")
LAW_FIRM_CODE = credit_code("31510800", "MD123457")
RESIDENT_ID = "11010519491231002X"
RESIDENT_ID_2 = "44052418800101001" + mod11_2("44052418800101001")


def certificate(
    kind: str,
    code_letters: str,
    issuer_code: str,
    issuer_type: str,
    issuer_name: str,
    number: str,
    details: dict[str, Any],
    holder: dict[str, Any],
    *,
    serial: str | None = None,
    valid_until: str | None = None,
) -> dict[str, Any]:
    return {
        "details": details,
        "holder": holder,
        "id": identifier(
            code_letters, issuer_code, serial or serial_of(code_letters, issuer_code, number)
        ),
        "issued": "2026-03-02",
        "issuer": {
            "certificate_sha256": FINGERPRINT,
            "credit_code": issuer_code,
            "name": issuer_name,
            "type": issuer_type,
        },
        "number": number,
        "type": kind,
        "v": 1,
        "valid_from": "2026-03-02",
        "valid_until": valid_until,
    }


NOTARIAL = certificate(
    "notarial_certificate",
    "GZ",
    NOTARY_CODE,
    "notary_office",
    "广元市利州公证处",
    "(2026)川广利证字第1024号",
    {"matter": "学历公证", "notary": "李明", "purpose": "赴英国留学"},
    {
        "address": "四川省广元市利州区滨河北路88号3栋2单元501室",
        "id_number": RESIDENT_ID,
        "id_type": "resident_id",
        "name": "王小红",
    },
)
FORENSIC = certificate(
    "forensic_opinion",
    "JD",
    FORENSIC_CODE,
    "forensic_institution",
    "广元明鉴司法鉴定所",
    "广明鉴[2026]临鉴字第77号",
    {
        "appraisers": ["赵一", "钱二"],
        "category": "forensic_medicine",
        "client": "广元市利州区人民法院",
        "matter": "伤残等级鉴定",
    },
    {"address": None, "id_number": "E12345678", "id_type": "passport", "name": "Anna Müller"},
    serial="2026000077",
)
LEGAL_AID = certificate(
    "legal_aid_decision",
    "FY",
    LEGAL_AID_CODE,
    "legal_aid_centre",
    "广元市法律援助中心",
    "广法援决字[2026]第5号",
    {"aid_type": "labour_dispute", "assignee": None, "case": '劳动争议 "欠薪" \\ 仲裁'},
    {
        "address": "新疆维吾尔自治区乌鲁木齐市天山区解放南路1号",
        "id_number": RESIDENT_ID_2,
        "id_type": "resident_id",
        "name": "阿依古丽·买买提",
    },
    valid_until="2026-12-31",
)
PRACTISING = certificate(
    "lawyer_practising_certificate",
    "LS",
    BUREAU_CODE,
    "justice_bureau",
    "广元市司法局",
    "川律证2026-0031",
    {
        "law_firm": "四川广元明法律师事务所",
        "licence_number": "15108202610123456",
        "practice_type": "full_time",
    },
    {
        "address": "北京市朝阳区建国路1号",
        "id_number": "H1234567",
        "id_type": "hk_macao_permit",
        "name": "陈大文",
    },
    valid_until="2027-05-31",
)


def _with(base: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    change(obj)
    return obj


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            obj = obj[key]
        obj[last] = value

    return change


def _wrong_check(text: str, alphabet: str) -> str:
    return text[:-1] + next(c for c in alphabet if c != text[-1])


def cases() -> dict[str, dict[str, Any]]:
    """name -> {"bytes", "valid", "field" (the field the error names), "note"}."""
    out: dict[str, dict[str, Any]] = {}

    def valid(name: str, obj: dict[str, Any]) -> None:
        out[name] = {"bytes": canonical(obj), "valid": True, "field": None, "id": obj["id"]}

    def refused(name: str, data: bytes, field: str | None, note: str) -> None:
        out[name] = {"bytes": data, "valid": False, "field": field, "note": note}

    valid("notarial-certificate", NOTARIAL)
    valid("forensic-opinion", FORENSIC)
    valid("legal-aid-decision", LEGAL_AID)
    valid("lawyer-practising-certificate", PRACTISING)

    refused(
        "unknown-field",
        canonical(_with(NOTARIAL, _set("holder.phone", "13800000000"))),
        "holder.phone",
        "a key the format does not have, inside holder",
    )
    refused(
        "unknown-top-field",
        canonical(_with(NOTARIAL, _set("seal", "x"))),
        "seal",
        "a key the format does not have, at the top",
    )
    good = canonical(NOTARIAL)
    refused(
        "duplicate-key",
        good.replace(
            b'"number":', b'"number":"(2026)\xe5\xb7\x9d\xe7\xac\xac1\xe5\x8f\xb7","number":', 1
        ),
        None,
        "number given twice (a second parser could read the other one)",
    )
    refused(
        "non-canonical-whitespace",
        good.replace(b',"number":', b', "number":', 1),
        None,
        "a space after a comma",
    )
    body = json.loads(good[len(PREFIX) :])
    reordered = {"v": body.pop("v"), **body}
    refused(
        "non-canonical-order",
        PREFIX + json.dumps(reordered, separators=(",", ":"), ensure_ascii=False).encode(),
        None,
        "v first: keys not in ascending order",
    )
    refused(
        "non-canonical-escape",
        good.replace("学历公证".encode(), b"\\u5b66\\u5386\\u516c\\u8bc1", 1),
        None,
        "a Chinese text written with \\u escapes",
    )
    refused(
        "wrong-credit-code-check",
        canonical(
            _with(NOTARIAL, _set("issuer.credit_code", _wrong_check(NOTARY_CODE, CC_ALPHABET)))
        ),
        "issuer.credit_code",
        "the issuer's credit code with a wrong GB 32100 check character",
    )
    wrong_id = _wrong_check(NOTARIAL["id"], ALNUM)
    refused(
        "wrong-identifier-check",
        canonical(_with(NOTARIAL, _set("id", wrong_id))),
        "id",
        f"identifier check character {wrong_id[-1]}, expected {NOTARIAL['id'][-1]}",
    )
    refused(
        "identifier-of-another-issuer",
        canonical(_with(NOTARIAL, _set("id", identifier("GZ", FORENSIC_CODE, "2026000001")))),
        "id",
        "a well-formed identifier naming another credit code",
    )
    refused(
        "over-long-number",
        canonical(_with(NOTARIAL, _set("number", "第" * 65))),
        "number",
        "65 characters, the limit is 64",
    )
    refused(
        "over-long-holder-name",
        canonical(_with(NOTARIAL, _set("holder.name", "名" * 101))),
        "holder.name",
        "101 characters, the limit is 100",
    )
    refused(
        "type-not-issuable",
        canonical(_with(NOTARIAL, _set("issuer.type", "court"))),
        "issuer.type",
        "a court may not issue a notarial certificate",
    )
    refused(
        "practising-certificate-by-law-firm",
        canonical(
            _with(
                _with(PRACTISING, _set("issuer.type", "law_firm")),
                _set("issuer.credit_code", LAW_FIRM_CODE),
            )
            | {"id": identifier("LS", LAW_FIRM_CODE, "2026000031")}
        ),
        "issuer.type",
        "a law firm may not issue a lawyer's practising certificate",
    )
    refused(
        "unknown-type",
        canonical(_with(NOTARIAL, _set("type", "marriage_certificate"))),
        "type",
        "not in the catalogue",
    )
    refused(
        "wrong-resident-id-check",
        canonical(
            _with(NOTARIAL, _set("holder.id_number", _wrong_check(RESIDENT_ID, "0123456789X")))
        ),
        "holder.id_number",
        "居民身份证 number with a wrong MOD 11-2 check character",
    )
    refused(
        "one-appraiser",
        canonical(_with(FORENSIC, _set("details.appraisers", ["赵一"]))),
        "details.appraisers",
        "a forensic opinion names at least two appraisers",
    )
    refused(
        "unknown-choice",
        canonical(_with(FORENSIC, _set("details.category", "dna"))),
        "details.category",
        "not one of the appraisal categories",
    )
    refused(
        "missing-detail",
        canonical(_with(PRACTISING, lambda obj: obj["details"].pop("licence_number"))),
        "details.licence_number",
        "a required type-specific field left out",
    )
    refused(
        "valid-until-before-from",
        canonical(_with(LEGAL_AID, _set("valid_until", "2026-03-01"))),
        "valid_until",
        "the last valid day before the first",
    )
    refused(
        "float-version",
        good.replace(b'"v":1', b'"v":1.0', 1),
        None,
        "a floating-point number",
    )
    refused(
        "wrong-prefix",
        b"zhenglian/e-certificate/v2\n" + good[len(PREFIX) :],
        None,
        "version 2's prefix",
    )
    return out


def identifiers() -> dict[str, Any]:
    published = [
        {
            "payload": "A12425GABC1234002",
            "check": "M",
            "source": "GRid example (ISO/IEC 7064 MOD 37,36)",
        },
        {"payload": "RABD", "check": "A", "source": "go-iso7064 test cases"},
        {"payload": "X0H", "check": "X", "source": "go-iso7064 test cases"},
    ]
    for item in published:
        assert mod37_36(item["payload"]) == item["check"], item
    valid = [NOTARIAL["id"], FORENSIC["id"], LEGAL_AID["id"], PRACTISING["id"]]
    corrupted = [
        {
            "text": _wrong_check(NOTARIAL["id"], ALNUM),
            "expected": NOTARIAL["id"][-1],
            "why": "check",
        },
        {"text": NOTARIAL["id"].lower(), "expected": None, "why": "lower case"},
        {"text": NOTARIAL["id"].replace("-", "", 1), "expected": None, "why": "a hyphen missing"},
        {
            "text": NOTARIAL["id"][:-2] + "_" + NOTARIAL["id"][-1],
            "expected": None,
            "why": "a hyphen replaced",
        },
        {"text": NOTARIAL["id"] + "0", "expected": None, "why": "too long"},
    ]
    return {
        "about": "ISO/IEC 7064 MOD 37,36 check characters; identifiers of the vectors",
        "mod37_36": published,
        "resident_id_examples": ["11010519491231002X", RESIDENT_ID_2],
        "valid": valid,
        "corrupted": corrupted,
    }


def generate() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    manifest = {}
    for name, case in cases().items():
        files[f"{name}.ecert"] = case["bytes"]
        manifest[name] = {k: v for k, v in case.items() if k != "bytes"}
    files["cases.json"] = (
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    ).encode()
    files["identifiers.json"] = (
        json.dumps(identifiers(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    ).encode()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for name, content in generate().items():
        (out / name).write_bytes(content)


if __name__ == "__main__":
    main()
