"""Generate the version 2 log entry vectors in this folder (deterministic).

    python tests/assets/entries_v2/generate.py [--out DIR]

Writes ``cases.json``: per case, the entry bytes (hex), ``wantErr``, and for valid cases the
decoded fields and the RFC 6962 leaf hash ``SHA-256(0x00 || entry)``.

Independent of ``evidence`` on purpose: the encoding is built here with ``json`` and
``hashlib`` from the specification in ``docs/signatures.md`` §5 (prefix, sorted keys, no
whitespace, raw UTF-8), so the vectors do not inherit the production encoder's bugs.
``tests/unit/test_entry_v2_vectors.py`` decodes every case with
``evidence.formats.log_entry.LogEntry`` and checks that regenerating gives the committed bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PREFIX = b"zhenglian/entry/v2\n"
PREFIX_V1 = b"zhenglian/entry/v1\n"


def encode(fields: dict[str, Any], prefix: bytes = PREFIX) -> bytes:
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return prefix + text.encode("utf-8")


def leaf_hash(entry: bytes) -> str:
    return hashlib.sha256(b"\x00" + entry).hexdigest()


def h(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def base(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "case": "BJ-2026-0042",
        "institution": "北京市某公证处",
        "kind": "notary",
        "salt": h("salt"),
        "sha256": h("document sha256"),
        "signature": "cms-detached",
        "signature_sha256": h("the detached signature"),
        "signed_at": "2026-11-30T08:15:00Z",
        "signed_at_proof": "time-stamp",
        "signer_certificate": h("the signer certificate"),
        "signer_credit_code": "11110000000029209E",
        "signer_name": "北京市某公证处",
        "size": 4096,
        "sm3": h("document sm3"),
        "time": "2026-11-30T08:16:02Z",
        "v": 2,
    }
    fields.update(changes)
    return fields


def cases() -> dict[str, dict[str, Any]]:
    valid = {
        "detached-time-stamped": ("a detached CAdES-T signature, time proven", base()),
        "detached-claimed": (
            "a detached signature without a trusted time stamp",
            base(signed_at_proof="claimed", case=None),
        ),
        "pades-embedded": (
            "a PAdES signature inside the PDF: no separate signature digest",
            base(signature="pades-embedded", signature_sha256=None, kind="forensic"),
        ),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, (description, fields) in valid.items():
        entry = encode(fields)
        out[name] = {
            "description": description,
            "entry": entry.hex(),
            "fields": fields,
            "leafHash": leaf_hash(entry),
            "wantErr": False,
        }

    good = encode(base())
    invalid: dict[str, tuple[str, bytes]] = {
        "v1-prefix-with-signer": (
            "a version 2 object under the version 1 prefix",
            encode(base(v=1), PREFIX_V1),
        ),
        "v2-prefix-says-v1": ('the version 2 prefix with "v":1', encode(base(v=1))),
        "v2-without-signer": (
            "the version 2 prefix with only the version 1 keys",
            encode({k: v for k, v in base().items() if not k.startswith("sign")}),
        ),
        "embedded-with-signature-digest": (
            "pades-embedded but a signature_sha256",
            encode(base(signature="pades-embedded")),
        ),
        "detached-without-signature-digest": (
            "cms-detached and a null signature_sha256",
            encode(base(signature_sha256=None)),
        ),
        "unknown-signature-form": ("an unknown signature form", encode(base(signature="xades"))),
        "unknown-time-proof": (
            "signed_at_proof not one of the two",
            encode(base(signed_at_proof="ntp")),
        ),
        "credit-code-with-I": (
            "a credit code with a letter outside the GB 32100 alphabet",
            encode(base(signer_credit_code="11110000000029209I")),
        ),
        "credit-code-short": (
            "a 17-character credit code",
            encode(base(signer_credit_code="1111000000002920")),
        ),
        "uppercase-hex": (
            "the certificate digest in uppercase hex",
            encode(base(signer_certificate=h("the signer certificate").upper())),
        ),
        "whitespace": ("a space after a colon", good.replace(b'"v":2', b'"v": 2')),
        "key-order": (
            "signer_name before signer_credit_code",
            good.replace(
                b'"signer_credit_code":"11110000000029209E","signer_name":"\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82\xe6\x9f\x90\xe5\x85\xac\xe8\xaf\x81\xe5\xa4\x84"',
                b'"signer_name":"\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82\xe6\x9f\x90\xe5\x85\xac\xe8\xaf\x81\xe5\xa4\x84","signer_credit_code":"11110000000029209E"',
            ),
        ),
        "fractional-signing-time": (
            "a signing time with milliseconds",
            encode(base(signed_at="2026-11-30T08:15:00.123Z")),
        ),
        "unknown-key": ("an extra key", encode(base(signer_email="a@b.cn"))),
        "empty-signer-name": ("an empty signer name", encode(base(signer_name=""))),
    }
    for name, (description, entry) in invalid.items():
        assert entry != good, name
        out[name] = {"description": description, "entry": entry.hex(), "wantErr": True}
    return out


def render() -> bytes:
    return (json.dumps(cases(), ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cases.json").write_bytes(render())


if __name__ == "__main__":
    main()
