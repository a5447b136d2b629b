"""Make the SM2 signature cases of this folder from the published vector, without the project.

Reads ``published-gbt32918.5-annex-a.json`` (GB/T 32918.5-2017 Annex A) and the public key of
OpenSSL's ``SM2_key1`` (``published-openssl-evppkey-sm2.json``), writes ``cases/<name>.json``:
the published signature itself (``want: true``) and corruptions of it that must not verify.
Run: ``.venv/bin/python tests/assets/sm2/generate.py [--out DIR]``; the tests regenerate into a
temporary folder and compare.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def der_integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return b"\x02" + bytes([len(body)]) + body


def der_signature(r: int, s: int) -> bytes:
    body = der_integer(r) + der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def openssl_key1_public() -> str:
    pem = json.loads((HERE / "published-openssl-evppkey-sm2.json").read_text())[
        "private_key_pkcs8_pem"
    ]
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    return der[-64:].hex()  # the ECPrivateKey's publicKey BIT STRING ends the structure


def cases() -> dict[str, dict[str, object]]:
    v = json.loads((HERE / "published-gbt32918.5-annex-a.json").read_text())
    r, s = int(v["r"], 16), int(v["s"], 16)
    message = bytes.fromhex(v["message"])
    flipped_message = bytes([message[0] ^ 0x01]) + message[1:]

    def case(description: str, want: bool, **changes: str) -> dict[str, object]:
        base: dict[str, object] = {
            "description": description,
            "public_key": v["public_key"],
            "signer_id": v["signer_id"],
            "message": v["message"],
            "signature": der_signature(r, s).hex(),
            "want": want,
        }
        base.update(changes)
        return base

    return {
        "published": case("the published signature (GB/T 32918.5-2017 Annex A)", True),
        "r-bit-flipped": case("bit 0 of r flipped", False, signature=der_signature(r ^ 1, s).hex()),
        "s-bit-flipped": case(
            "bit 255 of s flipped", False, signature=der_signature(r, s ^ (1 << 255)).hex()
        ),
        "message-bit-flipped": case(
            "bit 0 of the message's first byte flipped", False, message=flipped_message.hex()
        ),
        "wrong-id": case(
            "another signer ID (ALICE123@YAHOO.COM, the test-curve example's)",
            False,
            signer_id=b"ALICE123@YAHOO.COM".hex(),
        ),
        "empty-id": case("the empty signer ID (OpenSSL 3.0's CMS default)", False, signer_id=""),
        "wrong-key": case(
            "verified under another key (OpenSSL's SM2_key1)",
            False,
            public_key=openssl_key1_public(),
        ),
        "r-s-swapped": case("r and s swapped", False, signature=der_signature(s, r).hex()),
        "trailing-byte": case(
            "the DER signature with a byte appended",
            False,
            signature=(der_signature(r, s) + b"\x00").hex(),
        ),
        "r-zero": case("r = 0", False, signature=der_signature(0, s).hex()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=HERE / "cases")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, body in cases().items():
        (args.out / f"{name}.json").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
