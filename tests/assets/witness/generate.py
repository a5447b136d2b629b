"""Generate the witness test vectors in this folder (deterministic: fixed seeds, fixed times).

    python tests/assets/witness/generate.py [--out DIR]

Writes ``keys.json`` (the seeds, public keys and verifier keys of a log, two witnesses and two
strangers) and one ``<case>.json`` per case::

    {"description": ..., "check": "checkpoint" | "cosignatures" | "witness_key" | "log_key",
     "note": <signed note> | "vkey": <verifier key>, "log_key": ..., "witness_keys": [...],
     "want": <values> | null, "error": <class name> | null, "match": <part of the message>}

``check`` names what the production code is asked: ``checkpoint`` ``Checkpoint.parse_signed``
with the log key; ``cosignatures`` ``verify_cosignatures`` with the witness keys;
``witness_key`` ``WitnessKey.from_text``; ``log_key`` ``VerifierKey.from_text``.

Independent of the project on purpose (C2SP signed-note, tlog-checkpoint, tlog-cosignature
implemented here with ``hashlib``, ``base64`` and ``cryptography``'s Ed25519 alone), so the
vectors do not inherit the parsers' bugs. Ed25519 signatures are deterministic, so the output
is byte-for-byte stable; ``tests/unit/test_witness_formats.py`` checks that it is unchanged.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"

ORIGIN = "zhenglian.local/log-5eed0001"
SIZE = 20_852_163
ROOT = hashlib.sha256(b"zhenglian witness vectors: root").digest()
W1 = "witness.example.org/w1"
W2 = "notary-witness.example.cn/w2"
W3 = "stranger.example.net/w3"
T1 = 1_717_200_000
T2 = 1_717_200_017


def seed(label: str) -> bytes:
    """A fixed 32-byte seed (test data only, never a real key)."""
    return hashlib.sha256(f"zhenglian witness vectors: {label}".encode()).digest()


SEEDS = {
    "log": seed("log key"),
    "w1": seed("witness 1"),
    "w2": seed("witness 2"),
    "w3": seed("witness 3, trusted by nobody"),
    "impostor": seed("another key named like the log"),
}
NAMES = {"log": ORIGIN, "w1": W1, "w2": W2, "w3": W3, "impostor": ORIGIN}


def private(who: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(SEEDS[who])


def public(who: str) -> bytes:
    return private(who).public_key().public_bytes_raw()


def key_id(name: str, kind: int, key: bytes) -> bytes:
    """signed-note: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + key).digest()[:4]


def vkey(name: str, kind: int, key: bytes, identifier: bytes | None = None) -> str:
    """signed-note: <name>+<hex key ID>+base64(type || public key)."""
    identifier = key_id(name, kind, key) if identifier is None else identifier
    return f"{name}+{identifier.hex()}+{base64.b64encode(bytes([kind]) + key).decode()}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def checkpoint_text(
    origin: str = ORIGIN, size: str = str(SIZE), root: str = b64(ROOT), *extensions: str
) -> str:
    """tlog-checkpoint: origin, size, root and extension lines, each ending in a newline."""
    return "".join(f"{line}\n" for line in (origin, size, root, *extensions))


def line(name: str, payload: bytes) -> str:
    return f"{DASH} {name} {b64(payload)}\n"


def log_signature(text: str, who: str = "log") -> bytes:
    """signed-note Ed25519: key ID || Ed25519(text)."""
    return key_id(NAMES[who], ED25519, public(who)) + private(who).sign(text.encode())


def cosigned_message(text: str, timestamp: int) -> bytes:
    """tlog-cosignature (Ed25519): "cosignature/v1", "time <t>", then the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosignature(text: str, who: str, timestamp: int) -> bytes:
    """key ID (type 0x04) || u64 timestamp || Ed25519(message)."""
    signature = private(who).sign(cosigned_message(text, timestamp))
    return (
        key_id(NAMES[who], COSIGNATURE_V1, public(who)) + timestamp.to_bytes(8, "big") + signature
    )


def note(text: str, *lines: str) -> str:
    return text + "\n" + "".join(lines)


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def non_canonical(encoded: str) -> str:
    """The same bytes in base64 with a padding bit set: decoders accept it, it is not canonical."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert encoded.endswith("=") and not encoded.endswith("==")
    last = encoded[-2]
    return encoded[:-2] + alphabet[alphabet.index(last) ^ 1] + "="


def witness_vkey(who: str) -> str:
    return vkey(NAMES[who], COSIGNATURE_V1, public(who))


LOG_VKEY = vkey(ORIGIN, ED25519, public("log"))
WITNESS_VKEYS = [witness_vkey("w1"), witness_vkey("w2")]
WANT_CHECKPOINT = {"origin": ORIGIN, "size": SIZE, "root": b64(ROOT), "extensions": []}


def checkpoint_case(
    description: str, signed: str, want: Any, error: str | None, match: str | None
) -> dict[str, Any]:
    return {
        "description": description,
        "check": "checkpoint",
        "log_key": LOG_VKEY,
        "note": signed,
        "want": want,
        "error": error,
        "match": match,
    }


def cosignatures_case(
    description: str, signed: str, want: Any, error: str | None, match: str | None
) -> dict[str, Any]:
    return {
        "description": description,
        "check": "cosignatures",
        "log_key": LOG_VKEY,
        "witness_keys": WITNESS_VKEYS,
        "note": signed,
        "want": want,
        "error": error,
        "match": match,
    }


def key_case(
    description: str, check: str, text: str, want: Any, error: str | None, match: str | None
) -> dict[str, Any]:
    return {
        "description": description,
        "check": check,
        "vkey": text,
        "want": want,
        "error": error,
        "match": match,
    }


def cases() -> dict[str, dict[str, Any]]:
    text = checkpoint_text()
    log_line = line(ORIGIN, log_signature(text))
    w1_payload = cosignature(text, "w1", T1)
    w2_payload = cosignature(text, "w2", T2)
    w1_line, w2_line = line(W1, w1_payload), line(W2, w2_payload)
    both = [{"name": W1, "time": T1}, {"name": W2, "time": T2}]
    out: dict[str, dict[str, Any]] = {}

    out["valid-checkpoint"] = checkpoint_case(
        "a checkpoint signed by the log's key", note(text, log_line), WANT_CHECKPOINT, None, None
    )
    extended = checkpoint_text(ORIGIN, str(SIZE), b64(ROOT), "zhenglian/anchored 2024-06-01")
    out["valid-checkpoint-extension"] = checkpoint_case(
        "a checkpoint with an extension line, signed with it",
        note(extended, line(ORIGIN, log_signature(extended))),
        {**WANT_CHECKPOINT, "extensions": ["zhenglian/anchored 2024-06-01"]},
        None,
        None,
    )
    valid = cosignatures_case(
        "the log's checkpoint cosigned by two witnesses at fixed times",
        note(text, log_line, w1_line, w2_line),
        both,
        None,
        None,
    )
    valid["messages"] = {
        W1: cosigned_message(text, T1).decode(),
        W2: cosigned_message(text, T2).decode(),
    }
    out["valid-cosigned"] = valid
    out["valid-cosigned-unknown-witness"] = cosignatures_case(
        "a third cosignature by a witness nobody trusts is ignored",
        note(text, log_line, w1_line, line(W3, cosignature(text, "w3", T1)), w2_line),
        both,
        None,
        None,
    )

    signature = log_signature(text)
    out["checkpoint-signature-flipped"] = checkpoint_case(
        "a byte of the log's Ed25519 signature flipped",
        note(text, line(ORIGIN, flip(signature, 4 + 10))),
        None,
        "CheckpointError",
        "does not verify",
    )
    out["checkpoint-key-id-wrong"] = checkpoint_case(
        "the log's signature line with a wrong key ID: a key nobody trusts, so no trusted "
        "signature",
        note(text, line(ORIGIN, flip(signature, 0))),
        None,
        "CheckpointError",
        "no signature of a trusted key",
    )
    out["checkpoint-signed-by-another-key"] = checkpoint_case(
        "signed by another key under the log's name",
        note(text, line(ORIGIN, log_signature(text, "impostor"))),
        None,
        "CheckpointError",
        "no signature of a trusted key",
    )
    odd_root = checkpoint_text(ORIGIN, str(SIZE), non_canonical(b64(ROOT)))
    out["checkpoint-root-non-canonical"] = checkpoint_case(
        "the root in non-canonical base64 (a padding bit set), signed as such",
        note(odd_root, line(ORIGIN, log_signature(odd_root))),
        None,
        "CheckpointError",
        "canonical base64",
    )
    zero_size = checkpoint_text(ORIGIN, f"0{SIZE}", b64(ROOT))
    out["checkpoint-size-leading-zero"] = checkpoint_case(
        "the size with a leading zero, signed as such",
        note(zero_size, line(ORIGIN, log_signature(zero_size))),
        None,
        "CheckpointError",
        "leading zeroes",
    )
    out["checkpoint-extension-added-after-signing"] = checkpoint_case(
        "an extension line added to the text after the log signed it",
        note(text + "zhenglian/added later\n", log_line, w1_line, w2_line),
        None,
        "CheckpointError",
        "does not verify",
    )

    out["cosignature-signature-flipped"] = cosignatures_case(
        "a byte of witness 1's Ed25519 signature flipped",
        note(text, log_line, line(W1, flip(w1_payload, 4 + 8 + 20)), w2_line),
        None,
        "CosignatureError",
        "does not verify",
    )
    out["cosignature-timestamp-altered"] = cosignatures_case(
        "witness 1's timestamp moved one second later",
        note(text, log_line, line(W1, flip(w1_payload, 4 + 7)), w2_line),
        None,
        "CosignatureError",
        "does not verify",
    )
    out["cosignature-key-id-wrong"] = cosignatures_case(
        "witness 1's line with a wrong key ID: an unknown key, ignored, so only witness 2 cosigned",
        note(text, log_line, line(W1, flip(w1_payload, 3)), w2_line),
        [{"name": W2, "time": T2}],
        None,
        None,
    )
    out["cosignature-truncated"] = cosignatures_case(
        "witness 1's signature one byte short",
        note(text, log_line, line(W1, w1_payload[:-1]), w2_line),
        None,
        "CosignatureError",
        "not 72 bytes",
    )
    out["cosignature-extension-added-after-cosigning"] = cosignatures_case(
        "an extension line added after the witnesses cosigned",
        note(text + "zhenglian/added later\n", log_line, w1_line, w2_line),
        None,
        "CosignatureError",
        "does not verify",
    )

    for who in ("w1", "w2"):
        out[f"witness-key-valid-{who}"] = key_case(
            f"the verifier key of witness {who[1]} (type 0x04)",
            "witness_key",
            witness_vkey(who),
            {"name": NAMES[who], "key_id": key_id(NAMES[who], COSIGNATURE_V1, public(who)).hex()},
            None,
            None,
        )
    out["witness-key-type-0x01"] = key_case(
        "an Ed25519 signed-note key (type 0x01, its own key ID) given as a witness key",
        "witness_key",
        vkey(W1, ED25519, public("w1")),
        None,
        "CosignatureError",
        "type 0x04",
    )
    out["witness-key-id-wrong"] = key_case(
        "a witness key whose key ID is not the key's",
        "witness_key",
        vkey(W1, COSIGNATURE_V1, public("w1"), flip(key_id(W1, COSIGNATURE_V1, public("w1")), 0)),
        None,
        "CosignatureError",
        "key ID",
    )
    comma = "witness.example.org/w1,w2"
    out["witness-key-name-comma"] = key_case(
        "a witness key whose name has ',' (its key ID computed over that name)",
        "witness_key",
        vkey(comma, COSIGNATURE_V1, public("w1")),
        None,
        "CosignatureError",
        "','",
    )
    out["log-key-valid"] = key_case(
        "the log's verifier key (type 0x01)",
        "log_key",
        LOG_VKEY,
        {"name": ORIGIN, "key_id": key_id(ORIGIN, ED25519, public("log")).hex()},
        None,
        None,
    )
    out["log-key-type-0x04"] = key_case(
        "a witness key (type 0x04) given as a log key",
        "log_key",
        witness_vkey("w1"),
        None,
        "NoteError",
        "type 0x01",
    )
    return out


def keys() -> dict[str, Any]:
    return {
        who: {
            "name": NAMES[who],
            "seed": SEEDS[who].hex(),
            "public_key": public(who).hex(),
            "vkey": vkey(NAMES[who], ED25519, public(who))
            if who in ("log", "impostor")
            else witness_vkey(who),
        }
        for who in SEEDS
    }


def dump(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True).encode() + b"\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "keys.json").write_bytes(dump(keys()))
    for name, case in cases().items():
        (args.out / f"{name}.json").write_bytes(dump(case))


if __name__ == "__main__":
    main()
