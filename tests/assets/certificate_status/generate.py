"""Generate the certificate status statement vectors in this folder (deterministic).

    python tests/assets/certificate_status/generate.py [--out DIR]

Writes one ``<case>.json`` per case::

    {"description": ..., "statement_hex": <the bytes, hex>, "statement": <the text, if UTF-8>,
     "want": {<field>: <value>} | null, "error": <class name> | null,
     "line": <1-based line the error names> | null}

``want`` holds every field of a valid statement as ``parse_status_statement`` must read it
(hex strings for bytes, integers, the action's name). Independent of the project on purpose:
the encoding of docs/certificate-registry.md §3 is written out here with plain string
formatting, so the vectors do not inherit the production encoder's bugs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

HEADER = "zhenglian/certificate-status/v1\n"
CHAIN_ID = 23116
REGISTRY = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
IDENTIFIER = "GZS-11110000000029209E-2026000001-7"  # the layout is the identifier's business
KEY = hashlib.sha256(IDENTIFIER.encode("utf-8")).digest()
SUCCESSOR = hashlib.sha256(b"GZS-11110000000029209E-2026000002-5").digest()
ISSUER = "11110000000029209E"  # a valid 统一社会信用代码 (both check characters)
CERTIFICATE_HASH = hashlib.sha256(b"canonical certificate bytes").digest()
EFFECTIVE = 1_780_000_000
MAX_UINT64 = 2**64 - 1


def lines(*fields: tuple[str, str], header: str = HEADER, end: str = "\n") -> bytes:
    return (header + "".join(f"{name} {value}{end}" for name, value in fields)).encode("utf-8")


def common(chain_id: int = CHAIN_ID, key: bytes = KEY) -> list[tuple[str, str]]:
    return [
        ("chain-id", str(chain_id)),
        ("registry", "0x" + REGISTRY.hex()),
        ("certificate", "0x" + key.hex()),
    ]


def issue_fields(issuer: str = ISSUER) -> list[tuple[str, str]]:
    return [
        ("action", "issue"),
        ("issuer", issuer),
        ("certificate-hash", "0x" + CERTIFICATE_HASH.hex()),
    ]


def revoke_fields(reason: str = "1", effective: str = str(EFFECTIVE)) -> list[tuple[str, str]]:
    return [("action", "revoke"), ("reason", reason), ("effective-time", effective)]


def supersede_fields(successor: bytes = SUCCESSOR) -> list[tuple[str, str]]:
    return [("action", "supersede"), ("successor", "0x" + successor.hex())]


def want(action: str, chain_id: int = CHAIN_ID, **extra: Any) -> dict[str, Any]:
    return {
        "chain_id": chain_id,
        "registry": REGISTRY.hex(),
        "certificate": KEY.hex(),
        "action": action,
        "issuer": None,
        "certificate_hash": None,
        "reason": None,
        "effective_time": None,
        "successor": None,
        **extra,
    }


ISSUE_WANT = {"issuer": ISSUER, "certificate_hash": CERTIFICATE_HASH.hex()}


def cases() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def valid(name: str, description: str, data: bytes, wanted: dict[str, Any]) -> None:
        out[name] = {"description": description, "data": data, "want": wanted}

    def bad(name: str, description: str, data: bytes, line: int | None = None) -> None:
        out[name] = {
            "description": description,
            "data": data,
            "error": "StatusStatementError",
            "line": line,
        }

    valid("issue", "an issue", lines(*common(), *issue_fields()), want("issue", **ISSUE_WANT))
    for code in (0, 1, 2, 3, 5, 9):
        valid(
            f"revoke-reason-{code}",
            f"a revocation for reason {code}",
            lines(*common(), *revoke_fields(str(code))),
            want("revoke", reason=code, effective_time=EFFECTIVE),
        )
    valid(
        "supersede",
        "a supersession",
        lines(*common(), *supersede_fields()),
        want("supersede", successor=SUCCESSOR.hex()),
    )
    valid(
        "largest-values",
        "chain id and effective time 2^64-1",
        lines(*common(MAX_UINT64), *revoke_fields("9", str(MAX_UINT64))),
        want("revoke", MAX_UINT64, reason=9, effective_time=MAX_UINT64),
    )

    issue = lines(*common(), *issue_fields())
    bad("empty", "no bytes", b"", 1)
    bad("header-v2", "another version", issue.replace(b"/v1\n", b"/v2\n", 1), 1)
    bad("header-other-domain", "another domain", issue.replace(b"certificate-status", b"status"), 1)
    bad("no-final-newline", "the last line has no newline", issue[:-1])
    bad("crlf", "lines ended by CRLF", lines(*common(), *issue_fields(), end="\r\n"), 2)
    bad("extra-blank-line", "an empty line at the end", issue + b"\n", 8)
    bad("extra-field", "a field no action has", issue + b"note hello\n", 8)
    bad(
        "issue-with-revoke-fields",
        "an issue followed by a revocation's fields",
        lines(*common(), *issue_fields(), ("reason", "1"), ("effective-time", "5")),
        8,
    )
    bad(
        "fields-swapped",
        "certificate-hash before issuer",
        lines(*common(), ("action", "issue"), *reversed(issue_fields()[1:])),
        6,
    )
    bad(
        "missing-field",
        "an issue without certificate-hash",
        lines(*common(), *issue_fields()[:2]),
        7,
    )
    bad(
        "registry-before-chain-id",
        "the common lines in another order",
        lines(common()[1], common()[0], common()[2], *issue_fields()),
        2,
    )
    bad("unknown-action", "action revise", lines(*common(), ("action", "revise")), 5)
    bad("action-upper-case", "action ISSUE", issue.replace(b"action issue", b"action ISSUE"), 5)
    bad("chain-id-zero", "chain id 0", lines(*common(0), *issue_fields()), 2)
    bad("chain-id-too-large", "chain id 2^64", lines(*common(2**64), *issue_fields()), 2)
    bad(
        "chain-id-leading-zero",
        "chain id written with a leading zero",
        issue.replace(b"chain-id 23116", b"chain-id 023116"),
        2,
    )
    bad("chain-id-hex", "chain id in hex", issue.replace(b"chain-id 23116", b"chain-id 0x5a4c"), 2)
    bad(
        "registry-checksummed",
        "the registry address in EIP-55 mixed case",
        issue.replace(REGISTRY.hex().encode(), b"5FbDB2315678afecb367f032d93F642f64180aa3"),
        3,
    )
    bad(
        "registry-no-0x",
        "the registry address without 0x",
        issue.replace(b"registry 0x", b"registry "),
        3,
    )
    bad(
        "certificate-upper-hex",
        "the certificate key in upper-case hex",
        issue.replace(KEY.hex().encode(), KEY.hex().upper().encode()),
        4,
    )
    bad(
        "certificate-short",
        "a 31-byte certificate key",
        issue.replace(KEY.hex().encode(), KEY.hex()[:62].encode()),
        4,
    )
    bad("certificate-zero", "the zero key", lines(*common(key=bytes(32)), *issue_fields()))
    bad(
        "issuer-lower-case",
        "the issuer code in lower case",
        lines(*common(), *issue_fields(ISSUER.lower())),
        6,
    )
    bad(
        "issuer-wrong-check-character",
        "the issuer code with a wrong check character",
        lines(*common(), *issue_fields(ISSUER[:-1] + "F")),
    )
    bad(
        "certificate-hash-zero",
        "the zero certificate hash",
        issue.replace(CERTIFICATE_HASH.hex().encode(), b"0" * 64),
    )
    for code in ("4", "6", "7", "8", "10", "255"):
        bad(
            f"revoke-reason-{code}-refused",
            f"reason {code} is not offered",
            lines(*common(), *revoke_fields(code)),
            6,
        )
    bad("reason-leading-zero", "reason 01", lines(*common(), *revoke_fields("01")), 6)
    bad("reason-name", "reason by name", lines(*common(), *revoke_fields("keyCompromise")), 6)
    bad("effective-time-zero", "effective time 0", lines(*common(), *revoke_fields("1", "0")), 7)
    bad(
        "effective-time-negative",
        "effective time -1",
        lines(*common(), *revoke_fields("1", "-1")),
        7,
    )
    bad("successor-self", "superseded by itself", lines(*common(), *supersede_fields(KEY)))
    bad(
        "successor-zero",
        "superseded by the zero key",
        lines(*common(), *supersede_fields(bytes(32))),
    )
    bad(
        "double-space",
        "two spaces after a name",
        issue.replace(b"action issue", b"action  issue"),
        5,
    )
    bad(
        "trailing-space",
        "a space at the end of a line",
        issue.replace(b"action issue\n", b"action issue \n"),
        5,
    )
    bad("tab", "a tab instead of a space", issue.replace(b"action issue", b"action\tissue"), 5)
    bad(
        "non-ascii",
        "a full-width digit in the chain id",
        issue.replace(b"23116", "2311６".encode()),
    )
    bad("too-long", "longer than 512 bytes", issue + b"x" * (513 - len(issue)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    out_dir: Path = parser.parse_args().out
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, case in sorted(cases().items()):
        data: bytes = case.pop("data")
        try:
            text: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        document = {
            "description": case["description"],
            "statement_hex": data.hex(),
            "statement": text,
            "want": case.get("want"),
            "error": case.get("error"),
            "line": case.get("line"),
        }
        (out_dir / f"{name}.json").write_text(
            json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
