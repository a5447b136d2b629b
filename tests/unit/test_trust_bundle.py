"""The trust bundle: strict parsing (every refusal names its field), the schema agrees with
the parser, and what is written reads back the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.formats.cosignature import WitnessKey
from evidence.formats.signed_note import VerifierKey
from evidence.formats.trust_bundle import (
    MAX_TRUST_BUNDLE_BYTES,
    TrustBundle,
    TrustBundleError,
    Validator,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(
    (REPO / "evidence" / "formats" / "schema" / "trust-bundle-v1.schema.json").read_text()
)
ROOT_PEM = (REPO / "tests" / "assets" / "time_stamps" / "root.pem").read_text()


def _public(seed: int) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32).public_key().public_bytes_raw()


def _bundle(**changes: Any) -> TrustBundle:
    fields: dict[str, Any] = {
        "chain_id": 23116,
        "genesis_hash": b"\x01" * 32,
        "documents_contract": b"\x02" * 20,
        "custody_contract": b"\x03" * 20,
        "anchoring_account": b"\x04" * 20,
        "sealed": True,
        "validators": (Validator(b"\x05" * 20, 0),),
        "log_key": VerifierKey.for_key("zhenglian.test/log", _public(6)),
        "witnesses": (
            WitnessKey.for_key("court.test/w1", _public(7)),
            WitnessKey.for_key("notaries.test/w2", _public(8)),
        ),
        "witness_quorum": 2,
        "time_stamp_roots": (ROOT_PEM,),
    }
    fields.update(changes)
    return TrustBundle(**fields)


VALID: dict[str, Any] = _bundle().to_json()
NOT_A_CERTIFICATE = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


def _bytes(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_a_bundle_reads_back_as_written_and_the_schema_accepts_it() -> None:
    bundle = _bundle()
    assert TrustBundle.from_json_bytes(bundle.to_json_bytes()) == bundle
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(VALID, SCHEMA)
    assert bundle.time_stamp_roots_der()[0].startswith(b"\x30")


def _with(path: str, value: object) -> dict[str, Any]:
    obj = json.loads(json.dumps(VALID))
    *parents, last = path.split(".")
    node = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return obj


_DELETE = object()

REFUSED = {
    "unknown field": (_with("extra", 1), "$", True),
    "missing field": (_with("witness_quorum", _DELETE), "$", True),
    "another type": (_with("type", "zhenglian-receipt"), "type", True),
    "another version": (_with("version", 2), "version", True),
    "quorum above the witnesses": (_with("witness_quorum", 3), "witness_quorum", False),
    "a witness twice": (
        _with("witnesses", [VALID["witnesses"][0], VALID["witnesses"][0]]),
        "witnesses",
        False,
    ),
    "a log key as a witness": (_with("witnesses", [VALID["log_key"]]), "witnesses[0]", False),
    "a witness key as the log key": (_with("log_key", VALID["witnesses"][0]), "log_key", False),
    "a checksummed address": (
        _with("anchoring_account", "0x" + "AB" * 20),
        "anchoring_account",
        True,
    ),
    "sealed without validators": (_with("validators", []), "validators", False),
    "a validator twice": (
        _with("validators", VALID["validators"] * 2),
        "validators",
        False,
    ),
    "a root that is not a certificate": (
        _with(
            "time_stamp_roots", ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
        ),
        "time_stamp_roots[0]",
        False,
    ),
    "a chain id of zero": (_with("chain_id", 0), "chain_id", True),
    "sealed as a string": (_with("sealed", "true"), "sealed", True),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_bad_bundle_is_refused_naming_its_field(name: str) -> None:
    obj, path, schema_refuses = REFUSED[name]
    with pytest.raises(TrustBundleError) as refused:
        TrustBundle.from_json_bytes(_bytes(obj))
    assert refused.value.path == path, refused.value
    if schema_refuses:  # what the schema can express, it refuses too
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(obj, SCHEMA)


def test_duplicate_keys_size_and_nesting_are_refused() -> None:
    text = _bytes(VALID).decode()
    duplicated = text.replace('"chain_id": 23116', '"chain_id": 23116, "chain_id": 1')
    with pytest.raises(TrustBundleError, match="duplicate"):
        TrustBundle.from_json_bytes(duplicated.encode())
    with pytest.raises(TrustBundleError, match="larger"):
        TrustBundle.from_json_bytes(b" " * (MAX_TRUST_BUNDLE_BYTES + 1))
    with pytest.raises(TrustBundleError, match="deeper"):
        TrustBundle.from_json_bytes(b"[" * 10 + b"]" * 10)


def test_a_court_replaces_the_witnesses_and_the_quorum() -> None:
    own = (WitnessKey.for_key("my-court.test/w", _public(9)),)
    replaced = _bundle().with_witnesses(own, 1)
    assert (replaced.witnesses, replaced.witness_quorum) == (own, 1)
    with pytest.raises(TrustBundleError, match="witness_quorum"):
        _bundle().with_witnesses(own, 2)


# --- The CertificateRegistry (optional within version 1) ------------------------------------


def test_the_certificate_registry_is_optional_and_read_back() -> None:
    assert "certificates" not in VALID["contracts"]  # bundles without it are unchanged
    with_registry = _bundle(certificate_registry=b"\x09" * 20)
    obj = with_registry.to_json()
    assert obj["contracts"] == {
        "documents": "0x" + "02" * 20,
        "custody": "0x" + "03" * 20,
        "certificates": "0x" + "09" * 20,
    }
    jsonschema.validate(obj, SCHEMA)
    assert TrustBundle.from_json_bytes(with_registry.to_json_bytes()) == with_registry
    assert TrustBundle.from_json_bytes(_bytes(VALID)).certificate_registry is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, "must be 0x"), ("0x" + "09" * 19, "exactly 20 bytes"), (7, "must be 0x")],
    ids=["null", "short", "number"],
)
def test_a_bad_certificate_registry_is_refused(value: object, reason: str) -> None:
    obj = json.loads(json.dumps(VALID))
    obj["contracts"]["certificates"] = value
    with pytest.raises(TrustBundleError, match=reason) as excinfo:
        TrustBundle.from_json_bytes(_bytes(obj))
    assert excinfo.value.path == "contracts.certificates"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, SCHEMA)
