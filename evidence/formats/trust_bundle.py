"""The trust bundle: one JSON document naming everything a verifier trusts.

**Verification-critical.** A court pins a bundle and checks receipts against it offline
(``zhenglian verify FILE --receipt R --trust BUNDLE``): which chain (its id and genesis block),
which LogAnchor contracts, which anchoring account, which validators (each from the block it
counts from), which CertificateRegistry holds the e-certificates' status (optional: absent in
bundles from before it existed), which log key signs checkpoints, which witnesses must cosign
them and how many, which time-stamp authorities' roots vouch for time, and (reserved for the
PKI of institutions) which certificate roots. ``GET /v1/trust`` serves the operator's bundle
and ``zhenglian trust export`` writes it; the operator's bundle is a convenience —
docs/trust.md tells a court to pin witness keys obtained from the witnesses themselves. The
layout is in docs/trust.md and ``evidence/formats/schema/trust-bundle-v1.schema.json``.

Parsing is strict: exact fields (an unknown one is refused, so a verifier never ignores a
constraint it does not understand), no duplicate keys, every value checked, and the bundle
must be usable (a quorum no larger than its witnesses). Pure: the standard library,
``cryptography`` (to read the roots' certificates) and the project's formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Final

from cryptography import x509

from evidence.errors import InputError
from evidence.formats.canonical_json import JsonFields, StrictJsonErrors, json_type, strict_loads
from evidence.formats.cosignature import WitnessKey
from evidence.formats.signed_note import NoteError, VerifierKey

__all__ = [
    "MAX_PEM_CHARS",
    "MAX_ROOTS",
    "MAX_TRUSTED_WITNESSES",
    "MAX_TRUST_BUNDLE_BYTES",
    "MAX_VALIDATORS",
    "TRUST_BUNDLE_TYPE",
    "TRUST_BUNDLE_VERSION",
    "TrustBundle",
    "TrustBundleError",
    "Validator",
]

TRUST_BUNDLE_TYPE: Final = "zhenglian-trust"
TRUST_BUNDLE_VERSION: Final = 1
MAX_TRUST_BUNDLE_BYTES: Final = 256 * 1024
"""Largest bundle read, checked before parsing."""
MAX_VALIDATORS: Final = 64
MAX_TRUSTED_WITNESSES: Final = 32
MAX_ROOTS: Final = 16
"""Most time-stamp (or PKI) roots in a bundle."""
MAX_PEM_CHARS: Final = 16 * 1024
"""Longest PEM certificate in a bundle."""

_KEYS: Final = (
    "type",
    "version",
    "chain_id",
    "genesis_hash",
    "contracts",
    "anchoring_account",
    "sealed",
    "validators",
    "log_key",
    "witnesses",
    "witness_quorum",
    "time_stamp_roots",
    "pki_roots",
)
_CONTRACT_KEYS: Final = ("documents", "custody")
_CERTIFICATES_KEY: Final = "certificates"
"""The CertificateRegistry's address under ``contracts``: optional within version 1 (absent
means no registry is pinned), written only when there is one, so bundles without it stay
byte for byte what they were."""
_VALIDATOR_KEYS: Final = ("address", "from_block")


class TrustBundleError(InputError):
    """A trust bundle is malformed or unusable; ``path`` names the field."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"trust bundle field {path}: {reason}")


def _syntax(message: str) -> Exception:
    return TrustBundleError("$", message)


_FIELDS: Final = JsonFields(TrustBundleError)
_ERRORS: Final = StrictJsonErrors(syntax=_syntax)


@dataclass(frozen=True)
class Validator:
    address: bytes
    from_block: int
    """The first block whose seal this validator may make."""


@dataclass(frozen=True)
class TrustBundle:
    chain_id: int
    genesis_hash: bytes
    documents_contract: bytes
    custody_contract: bytes | None
    anchoring_account: bytes
    sealed: bool
    validators: tuple[Validator, ...]
    log_key: VerifierKey
    witnesses: tuple[WitnessKey, ...]
    witness_quorum: int
    time_stamp_roots: tuple[str, ...]
    """PEM certificates of the time-stamp authorities' roots."""
    pki_roots: tuple[str, ...] = ()
    """PEM certificates of the institutions' PKI roots (the certificate work fills them)."""
    certificate_registry: bytes | None = None
    """The CertificateRegistry contract (e-certificates' status), or None if none is pinned."""

    def __post_init__(self) -> None:
        if not 0 <= self.witness_quorum <= len(self.witnesses):
            raise TrustBundleError(
                "witness_quorum",
                f"{self.witness_quorum} is more than the {len(self.witnesses)} witnesses listed",
            )
        if self.sealed and not self.validators:
            raise TrustBundleError("validators", "a sealed chain needs at least one validator")
        keys = [w.to_text() for w in self.witnesses]
        if len(set(keys)) != len(keys):
            raise TrustBundleError("witnesses", "a witness is listed twice")

    def with_witnesses(self, witnesses: tuple[WitnessKey, ...], quorum: int) -> TrustBundle:
        """The bundle with a court's own witness keys and quorum instead of the operator's."""
        return replace(self, witnesses=witnesses, witness_quorum=quorum)

    def time_stamp_roots_der(self) -> tuple[bytes, ...]:
        from cryptography.hazmat.primitives.serialization import Encoding

        return tuple(
            x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
            for pem in self.time_stamp_roots
        )

    def to_json(self) -> dict[str, object]:
        return {
            "type": TRUST_BUNDLE_TYPE,
            "version": TRUST_BUNDLE_VERSION,
            "chain_id": self.chain_id,
            "genesis_hash": _0x(self.genesis_hash),
            "contracts": {
                "documents": _0x(self.documents_contract),
                "custody": _0x(self.custody_contract) if self.custody_contract else None,
                **(
                    {_CERTIFICATES_KEY: _0x(self.certificate_registry)}
                    if self.certificate_registry is not None
                    else {}
                ),
            },
            "anchoring_account": _0x(self.anchoring_account),
            "sealed": self.sealed,
            "validators": [
                {"address": _0x(v.address), "from_block": v.from_block} for v in self.validators
            ],
            "log_key": self.log_key.to_text(),
            "witnesses": [w.to_text() for w in self.witnesses],
            "witness_quorum": self.witness_quorum,
            "time_stamp_roots": list(self.time_stamp_roots),
            "pki_roots": list(self.pki_roots),
        }

    def to_json_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n").encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> TrustBundle:
        """:raises TrustBundleError: naming the field that is wrong."""
        obj = strict_loads(
            data,
            what="trust bundle",
            max_bytes=MAX_TRUST_BUNDLE_BYTES,
            max_depth=4,
            errors=_ERRORS,
        )
        fields = _FIELDS.exact_object(obj, "$", _KEYS)
        if fields["type"] != TRUST_BUNDLE_TYPE:
            raise TrustBundleError("type", f"must be {TRUST_BUNDLE_TYPE!r}")
        if type(fields["version"]) is not int or fields["version"] != TRUST_BUNDLE_VERSION:
            raise TrustBundleError("version", f"only version {TRUST_BUNDLE_VERSION} is read")
        raw_contracts = fields["contracts"]
        optional = (
            (_CERTIFICATES_KEY,)
            if isinstance(raw_contracts, dict) and _CERTIFICATES_KEY in raw_contracts
            else ()
        )
        contracts = _FIELDS.exact_object(raw_contracts, "contracts", _CONTRACT_KEYS + optional)
        custody = contracts["custody"]
        sealed = fields["sealed"]
        if not isinstance(sealed, bool):
            raise TrustBundleError("sealed", f"must be true or false, not {json_type(sealed)}")
        return cls(
            chain_id=_FIELDS.uint(fields["chain_id"], "chain_id", 2**64 - 1, 1),
            genesis_hash=_FIELDS.prefixed_hex(fields["genesis_hash"], "genesis_hash", 32),
            documents_contract=_FIELDS.prefixed_hex(
                contracts["documents"], "contracts.documents", 20
            ),
            custody_contract=(
                None if custody is None else _FIELDS.prefixed_hex(custody, "contracts.custody", 20)
            ),
            anchoring_account=_FIELDS.prefixed_hex(
                fields["anchoring_account"], "anchoring_account", 20
            ),
            sealed=sealed,
            validators=_validators(fields["validators"]),
            log_key=_log_key(fields["log_key"]),
            witnesses=_witnesses(fields["witnesses"]),
            witness_quorum=_FIELDS.uint(
                fields["witness_quorum"], "witness_quorum", MAX_TRUSTED_WITNESSES
            ),
            time_stamp_roots=_roots(fields["time_stamp_roots"], "time_stamp_roots"),
            pki_roots=_roots(fields["pki_roots"], "pki_roots"),
            certificate_registry=(
                _FIELDS.prefixed_hex(
                    contracts[_CERTIFICATES_KEY], f"contracts.{_CERTIFICATES_KEY}", 20
                )
                if optional
                else None
            ),
        )


def _0x(value: bytes) -> str:
    return "0x" + value.hex()


def _list(value: object, path: str, limit: int) -> list[object]:
    if not isinstance(value, list):
        raise TrustBundleError(path, f"must be an array, not {json_type(value)}")
    if len(value) > limit:
        raise TrustBundleError(path, f"has {len(value)} items, at most {limit}")
    return value


def _validators(value: object) -> tuple[Validator, ...]:
    out = []
    for i, item in enumerate(_list(value, "validators", MAX_VALIDATORS)):
        path = f"validators[{i}]"
        fields = _FIELDS.exact_object(item, path, _VALIDATOR_KEYS)
        out.append(
            Validator(
                _FIELDS.prefixed_hex(fields["address"], f"{path}.address", 20),
                _FIELDS.uint(fields["from_block"], f"{path}.from_block", 2**63 - 1),
            )
        )
    if len({v.address for v in out}) != len(out):
        raise TrustBundleError("validators", "a validator is listed twice")
    return tuple(out)


def _log_key(value: object) -> VerifierKey:
    if not isinstance(value, str):
        raise TrustBundleError("log_key", f"must be a string, not {json_type(value)}")
    try:
        return VerifierKey.from_text(value)
    except NoteError as exc:
        raise TrustBundleError("log_key", str(exc)) from None


def _witnesses(value: object) -> tuple[WitnessKey, ...]:
    out = []
    for i, item in enumerate(_list(value, "witnesses", MAX_TRUSTED_WITNESSES)):
        if not isinstance(item, str):
            raise TrustBundleError(f"witnesses[{i}]", f"must be a string, not {json_type(item)}")
        try:
            out.append(WitnessKey.from_text(item))
        except NoteError as exc:
            raise TrustBundleError(f"witnesses[{i}]", str(exc)) from None
    return tuple(out)


def _roots(value: object, path: str) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(_list(value, path, MAX_ROOTS)):
        if not isinstance(item, str) or len(item) > MAX_PEM_CHARS:
            raise TrustBundleError(f"{path}[{i}]", "must be one PEM certificate")
        try:
            x509.load_pem_x509_certificate(item.encode())
        except ValueError:
            raise TrustBundleError(f"{path}[{i}]", "is not a PEM X.509 certificate") from None
        out.append(item)
    return tuple(out)
