"""``zhenglian verify``: check a document against its receipt, offline or cross-checked online;
or (``--custody``) a document's custody export, offline.

The verdict (docs/trust.md) is one word: ``intact`` (every required check passed),
``altered`` (the document does not match the receipt), ``receipt-invalid`` (the receipt is
malformed or a proof fails), ``untrusted`` (the proofs hold, but not by what is pinned:
another validator, contract, chain, anchoring account or log key, too few witnesses, an
authority not pinned, or an unsealed chain).

Exit status (the same for every verifying command, docs/reliability.md):
0 intact; 1 a check failed (altered, receipt-invalid, untrusted; one line per failed check);
2 bad input or usage; 3 could not check (the node is unreachable or lacks the block).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from eth_utils.address import is_hex_address, to_canonical_address

from evidence.digest import DocumentDigest, digest_file
from evidence.errors import InputError
from evidence.formats.receipt_format import MAX_RECEIPT_BYTES, Receipt
from evidence.verify.document_signature import SignatureCheck
from evidence.verify.receipt_verifier import (
    VERDICT_INTACT,
    VERDICT_RECEIPT_INVALID,
    IndependenceTrust,
    VerificationFailed,
    verify_receipt,
)
from ledger.anchor_proof import ChainTrust
from ledger.errors import LedgerError
from zhenglian.common import EXIT_BAD_INPUT, EXIT_CANNOT_CHECK, EXIT_FAILED, fail


def _addresses(raw: str) -> list[bytes]:
    out = []
    for item in raw.split(","):
        item = item.strip()
        if not is_hex_address(item):
            fail(f"not an Ethereum address: {item!r}", EXIT_BAD_INPUT)
        out.append(bytes(to_canonical_address(item)))
    return out


def _online_checks(rpc: str, receipt: Receipt) -> list[tuple[str, bool, str]]:
    """Cross-check with a node: the block is on its chain and the contract holds the head."""
    from eth_account import Account

    from ledger.client import LedgerClient

    client = LedgerClient(rpc, Account.create().key)
    proof = receipt.anchor
    checks = []
    block_hash = client.block_hash(proof.block_number)
    if block_hash is None:
        fail(
            f"could not check: the node at {rpc} has no block {proof.block_number} "
            "(another chain, or not synchronised yet)",
            EXIT_CANNOT_CHECK,
        )
    same = block_hash == proof.block_hash
    checks.append(
        (
            "block on chain",
            same,
            f"block {proof.block_number} of the node {'is' if same else 'is NOT'} the proven block",
        )
    )
    client.attach(proof.contract)
    head = client.head_at(_anchor_index(receipt))
    ok = (head.tree_size, head.root_hash) == (receipt.tree_size, receipt.root_hash)
    checks.append(("contract head", ok, f"LogAnchor head {head.index} is size {head.tree_size}"))
    return checks


def _promise_checks(
    receipt: Receipt, ack_path: Path | None, log_key: str | None, also: tuple[Path, ...]
) -> list[tuple[str, bool, str]]:
    """The receipt against the log's acknowledgement and against other receipts."""
    from evidence.formats.acknowledgement import Acknowledgement
    from evidence.formats.signed_note import VerifierKey
    from evidence.verify.fork_checks import (
        ForkDetected,
        check_against_acknowledgement,
        check_same_history,
    )

    checks = []
    if ack_path is not None and log_key is not None:
        try:
            key = VerifierKey.from_text(log_key)
            ack = Acknowledgement.verify(ack_path.read_bytes(), key)
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad acknowledgement: {exc}", EXIT_BAD_INPUT)
        try:
            checks.append(("acknowledged leaf", True, check_against_acknowledgement(receipt, ack)))
        except ForkDetected as exc:
            checks.append(("acknowledged leaf", False, str(exc)))
    for path in also:
        try:
            other = Receipt.from_json_bytes(path.read_bytes()[: MAX_RECEIPT_BYTES + 1])
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad receipt {path}: {exc}", EXIT_BAD_INPUT)
        try:
            checks.append(
                (f"same history as {path.name}", True, check_same_history(receipt, other))
            )
        except ForkDetected as exc:
            checks.append((f"same history as {path.name}", False, str(exc)))
    return checks


@dataclass(frozen=True)
class PinnedTrust:
    """What a verifier pinned: the chain trust and, for version 2 receipts, the rest."""

    chain: ChainTrust
    independence: IndependenceTrust | None


def pinned_trust(
    receipt: Receipt,
    trust_path: Path | None,
    validators: str | None,
    contract: str | None,
    log_key: str | None,
    witness_keys: tuple[str, ...],
    quorum: int | None,
) -> PinnedTrust:
    """What the verifier pins, from a bundle or from flags; refused (exit 2) when something a
    verdict depends on is not pinned, with what to pin."""
    from evidence.formats.cosignature import WitnessKey
    from evidence.formats.signed_note import NoteError, VerifierKey
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle

    witnesses: tuple[WitnessKey, ...] | None = None
    if witness_keys:
        try:
            witnesses = tuple(WitnessKey.from_text(k) for k in witness_keys)
        except NoteError as exc:
            fail(f"--witness: {exc}", EXIT_BAD_INPUT)
    v2 = receipt.version == 2
    if trust_path is not None:
        if validators is not None or contract is not None or log_key is not None:
            fail("--trust pins validators, contract and log key: give none of those", 2)
        try:
            with trust_path.open("rb") as fh:
                bundle = TrustBundle.from_json_bytes(fh.read(MAX_TRUST_BUNDLE_BYTES + 1))
            if witnesses is not None or quorum is not None:
                bundle = bundle.with_witnesses(
                    witnesses if witnesses is not None else bundle.witnesses,
                    quorum if quorum is not None else bundle.witness_quorum,
                )
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad trust bundle {trust_path}: {exc}", EXIT_BAD_INPUT)
        # A validator counts from its block on: a seal older than that is not its to make.
        block = receipt.anchor.block_number
        addresses = [v.address for v in bundle.validators if v.from_block <= block]
        kwargs: dict[str, Any] = {
            "contract": bundle.documents_contract,
            "anchoring_account": bundle.anchoring_account,
            "require_transaction": v2,
        }
        if bundle.sealed and not addresses:
            fail(f"the bundle names no validator counting at block {block}", EXIT_BAD_INPUT)
        chain = (
            ChainTrust.sealed(bundle.chain_id, addresses, **kwargs)
            if bundle.sealed
            else ChainTrust.unsafe_unsealed(bundle.chain_id, **kwargs)
        )
        return PinnedTrust(
            chain,
            IndependenceTrust(
                bundle.log_key,
                bundle.witnesses,
                bundle.witness_quorum,
                bundle.time_stamp_roots_der(),
            ),
        )
    missing = []
    if validators is None:
        missing.append("--validators (the chain's validators)")
    if contract is None:
        missing.append("--contract (the LogAnchor you trust; --rpc alone lets a stranger's do)")
    if v2 and log_key is None:
        missing.append("--log-key (the log's key, for the checkpoint)")
    if v2 and quorum is None:
        missing.append("--quorum (how many --witness must have cosigned; 0 for none)")
    if missing:
        fail("pin what you trust: give --trust BUNDLE, or " + ", ".join(missing), 2)
    assert validators is not None and contract is not None
    if not is_hex_address(contract):
        fail(f"--contract is not an address: {contract!r}", EXIT_BAD_INPUT)
    chain = ChainTrust.sealed(
        receipt.anchor.chain_id,
        _addresses(validators),
        contract=bytes(to_canonical_address(contract)),
        require_transaction=v2,
    )
    independence = None
    if v2:
        assert log_key is not None and quorum is not None
        try:
            key = VerifierKey.from_text(log_key)
            independence = IndependenceTrust(key, witnesses or (), quorum)
        except NoteError as exc:
            fail(f"--log-key: {exc}", EXIT_BAD_INPUT)
        except ValueError as exc:
            fail(f"--quorum: {exc}", EXIT_BAD_INPUT)
    return PinnedTrust(chain, independence)


def _anchor_index(receipt: Receipt) -> int:
    from ledger.anchor_proof import ChainTrust as _T
    from ledger.anchor_proof import verify_anchor_proof

    return verify_anchor_proof(
        receipt.anchor, _T.unsafe_unsealed(receipt.anchor.chain_id)
    ).anchor_index


#: Most page files one ``verify --custody`` joins (5,000 events each).
MAX_CUSTODY_PAGES = 2000


def _verify_custody(
    paths: tuple[Path, ...], validators: str | None, contract: str | None, as_json: bool
) -> None:
    """Check a custody export (all its pages) offline: proofs, anchor, hash links, complete;
    one line per check."""
    from evidence.formats.custody_export import MAX_EXPORT_BYTES, CustodyExport
    from evidence.verify.custody_verifier import CustodyVerificationFailed, verify_custody_export

    if validators is None:
        fail("give --validators: custody exports are verified offline", EXIT_BAD_INPUT)
    if len(paths) > MAX_CUSTODY_PAGES:
        fail(f"at most {MAX_CUSTODY_PAGES} pages (--custody) at once", EXIT_BAD_INPUT)
    pages = []
    for path in paths:
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_EXPORT_BYTES + 1)
            pages.append(CustodyExport.from_json_bytes(data))
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad custody export {path}: {exc}", EXIT_BAD_INPUT)
    try:
        export = CustodyExport.combine(pages)
    except InputError as exc:
        fail(f"bad custody export: {exc}", EXIT_BAD_INPUT)
    pinned = None
    if contract is not None:
        if not is_hex_address(contract):
            fail(f"--contract is not an address: {contract!r}", EXIT_BAD_INPUT)
        pinned = bytes(to_canonical_address(contract))
    chain_id = export.anchor.chain_id if export.anchor is not None else 1
    trust = ChainTrust.sealed(chain_id, _addresses(validators), contract=pinned)
    failed: list[str] = []
    try:
        result = verify_custody_export(export, trust)
        checks = result.checks
        summary = (
            f"{result.anchored} events anchored in custody head {result.tree_size}, "
            f"{result.pending} pending (not yet proven); "
            + (
                f"complete up to custody leaf {result.complete_through}"
                if result.complete_through is not None
                else "completeness not proven"
                + (" (a version 1 export)" if export.version == 1 else " (nothing anchored yet)")
            )
        )
    except CustodyVerificationFailed as exc:
        checks = exc.checks
        failed = [f"{c.name}: {c.detail}" for c in exc.failed]
        summary = f"{len(failed)} of {len(checks)} checks failed"
    if as_json:
        click.echo(
            json.dumps(
                {
                    "result": "failed" if failed else "intact",
                    "object": {"type": export.subject.type, "id": export.subject.id},
                    "summary": summary,
                    "checks": [c.__dict__ for c in checks],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for c in checks:
            click.echo(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
        click.echo(summary)
    if failed:
        for line in failed:
            click.echo(f"zhenglian: verification failed: {line}", err=True)
        raise SystemExit(EXIT_FAILED)


VERDICT_SIGNATURE_INVALID = "signature-invalid"
"""The document's signature does not hold (exit 1, as the other failed verdicts)."""


def _signer_json(receipt: Receipt) -> dict[str, Any] | None:
    signed = receipt.entry.signature
    if signed is None:
        return None
    return {
        "institution": signed.signer_name,
        "credit_code": signed.signer_credit_code,
        "certificate_sha256": signed.signer_certificate.hex(),
        "signature": signed.form,
        "signature_sha256": signed.signature_sha256.hex() if signed.signature_sha256 else None,
        "signed_at": signed.signed_at.isoformat(),
        "signed_at_is": "proven by a time stamp" if signed.time_proven else "claimed by the signer",
    }


def _signer_line(receipt: Receipt) -> str | None:
    signed = receipt.entry.signature
    if signed is None:
        return None
    how = "proven by a time stamp" if signed.time_proven else "claimed by the signer"
    form = "a detached signature" if signed.form == "cms-detached" else "a signature in the PDF"
    return (
        f"signer: {signed.signer_name} (统一社会信用代码 {signed.signer_credit_code}), "
        f"certificate SHA-256 {signed.signer_certificate.hex()}, {form}, signed at "
        f"{signed.signed_at.isoformat()} ({how}; checked by the service at deposit)"
    )


def _signature_checks(
    receipt: Receipt,
    file: Path,
    digest: DocumentDigest,
    signature_path: Path | None,
    trust_path: Path | None,
) -> list[SignatureCheck]:
    """The offline checks of the signature of a version 2 entry: the detached one given with
    --signature, or the one inside a signed PDF (exit 2 on bad input)."""
    signed = receipt.entry.signature
    if signed is None:
        if signature_path is not None:
            fail(
                "--signature: the receipt's entry records no signature (version 1)", EXIT_BAD_INPUT
            )
        return []
    embedded = signed.form == "pades-embedded"
    if signature_path is None and not embedded:
        return []
    if trust_path is None:
        if signature_path is not None:
            fail("--signature needs --trust (the bundle's pki_roots)", EXIT_BAD_INPUT)
        return []
    from cryptography import x509

    from certs.verify.cms_signature import MAX_SIGNATURE_BYTES
    from certs.verify.pades_signature import MAX_SIGNED_PDF_BYTES
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle
    from evidence.verify.document_signature import (
        check_committed_pdf_signature,
        check_committed_signature,
    )

    try:
        with trust_path.open("rb") as fh:
            bundle = TrustBundle.from_json_bytes(fh.read(MAX_TRUST_BUNDLE_BYTES + 1))
        roots = [x509.load_pem_x509_certificate(pem.encode()) for pem in bundle.pki_roots]
        if embedded and signature_path is None:
            if digest.size > MAX_SIGNED_PDF_BYTES:
                fail(f"{file} is over {MAX_SIGNED_PDF_BYTES} bytes: its signature is not checked")
            return check_committed_pdf_signature(signed, file.read_bytes(), roots)
        assert signature_path is not None
        with signature_path.open("rb") as fh:
            signature = fh.read(MAX_SIGNATURE_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    except InputError as exc:
        fail(f"bad trust bundle: {exc}", EXIT_BAD_INPUT)
    return check_committed_signature(
        signed, signature, {"sha256": digest.sha256, "sm3": digest.sm3}, roots
    )


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--receipt",
    "receipt_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The receipt (JSON) of FILE.",
)
@click.option(
    "--custody",
    "custody_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instead: a custody export (GET /v1/documents/ID/custody), checked offline; "
    "repeat it for every page of a paged export.",
)
@click.option(
    "--validators",
    default=None,
    help="Trusted validator addresses, comma-separated (offline: no network at all).",
)
@click.option(
    "--contract", default=None, help="The LogAnchor address you trust (required without --trust)."
)
@click.option("--rpc", default=None, help="Also cross-check against this JSON-RPC node.")
@click.option(
    "--ack",
    "ack_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The log's acknowledgement of the deposit (from its 201): the receipt must prove "
    "the leaf it promised. Needs --log-key or --trust.",
)
@click.option(
    "--log-key",
    default=None,
    help="The log's verifier key (NAME+KEYID+KEY): checkpoints of version 2 receipts, and --ack.",
)
@click.option(
    "--also",
    "also_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Another receipt of the same log: the two must not give one leaf two entries.",
)
@click.option(
    "--trust",
    "trust_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A trust bundle (GET /v1/trust, zhenglian trust export): chain, contract, anchoring "
    "account, validators, log key, witnesses and quorum, time-stamp roots, all pinned at once.",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness's verifier key, as the witness publishes it; repeat for each. Replaces "
    "the bundle's witnesses.",
)
@click.option(
    "--quorum",
    type=click.IntRange(0, 32),
    default=None,
    help="How many of the pinned witnesses must have cosigned (default: the bundle's).",
)
@click.option(
    "--signature",
    "signature_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE's detached signature (.p7s): checked offline against the entry's commitment "
    "and the bundle's pki_roots (needs --trust).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(
    file: Path | None,
    receipt_path: Path | None,
    custody_paths: tuple[Path, ...],
    validators: str | None,
    contract: str | None,
    rpc: str | None,
    ack_path: Path | None,
    log_key: str | None,
    also_paths: tuple[Path, ...],
    trust_path: Path | None,
    witness_keys: tuple[str, ...],
    quorum: int | None,
    as_json: bool,
    signature_path: Path | None = None,
) -> None:
    """Is FILE the document the receipt was issued for, deposited and anchored as it says?

    With --custody EXPORT (and no FILE; once per page): is the document's chain of custody
    complete and anchored as the export says? (--contract: the custody log's LogAnchor.)

    Pin what you trust: --trust BUNDLE (everything at once), or --validators and --contract
    (and, for a version 2 receipt, --log-key, --witness and --quorum). --rpc alone is not
    enough: a stranger can anchor anything in a contract of their own.

    Verdict: intact, altered, receipt-invalid or untrusted. Exit status: 0 intact; 1 a check
    failed (altered, receipt-invalid, untrusted); 2 bad input or usage; 3 could not check
    (the node is unreachable or lacks the block)."""
    if custody_paths:
        if file is not None or receipt_path is not None or rpc is not None:
            fail("--custody takes no FILE, --receipt or --rpc", EXIT_BAD_INPUT)
        _verify_custody(custody_paths, validators, contract, as_json)
        return
    if file is None or receipt_path is None:
        fail("give FILE and --receipt RECEIPT (or --custody EXPORT)", EXIT_BAD_INPUT)
    if ack_path is not None and log_key is None and trust_path is None:
        fail("--ack needs the log's key: --log-key or --trust", EXIT_BAD_INPUT)
    try:
        data = receipt_path.read_bytes()[: MAX_RECEIPT_BYTES + 1]
        receipt = Receipt.from_json_bytes(data)
        digest = digest_file(file)
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    except InputError as exc:
        fail(f"bad receipt: {exc}", EXIT_BAD_INPUT)
    pinned = pinned_trust(receipt, trust_path, validators, contract, log_key, witness_keys, quorum)
    trust, independence = pinned.chain, pinned.independence
    if log_key is None and pinned.independence is not None and ack_path is not None:
        log_key = pinned.independence.log_key.to_text()
    failed: list[str] = []
    result_checks: list[dict[str, Any]] = []
    verdict = VERDICT_INTACT
    proven_time = None
    back_dated = False
    try:
        result = verify_receipt(
            receipt,
            digest.sha256,
            trust,
            sm3=digest.sm3,
            size=digest.size,
            independence=independence,
        )
        result_checks = [c.__dict__ for c in result.checks]
        verdict = result.verdict
        proven_time = result.proven_time
        back_dated = result.back_dated
        if verdict != VERDICT_INTACT:
            failed.append("seal: the pinned trust accepts unsealed blocks (no validator vouches)")
    except VerificationFailed as exc:
        result_checks = [c.__dict__ for c in exc.checks]
        failed = [f"{c.name}: {c.detail}" for c in exc.checks if not c.ok]
        verdict = exc.verdict
    for name, ok, detail in _promise_checks(receipt, ack_path, log_key, also_paths):
        result_checks.append({"name": name, "ok": ok, "detail": detail, "trust": False})
        if not ok:
            failed.append(f"{name}: {detail}")
            if verdict == VERDICT_INTACT:
                verdict = VERDICT_RECEIPT_INVALID
    signature_checks = _signature_checks(receipt, file, digest, signature_path, trust_path)
    for check in signature_checks:
        result_checks.append(
            {"name": check.name, "ok": check.ok, "detail": check.detail, "trust": True}
        )
        if not check.ok:
            failed.append(f"{check.name}: {check.detail}")
            if verdict == VERDICT_INTACT:
                verdict = VERDICT_SIGNATURE_INVALID
    if rpc is not None and not failed:
        try:
            for name, ok, detail in _online_checks(rpc, receipt):
                result_checks.append({"name": name, "ok": ok, "detail": detail, "trust": False})
                if not ok:
                    failed.append(f"{name}: {detail}")
                    verdict = VERDICT_RECEIPT_INVALID
        except LedgerError as exc:
            fail(f"could not check against {rpc}: {exc}", EXIT_CANNOT_CHECK)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "result": verdict,
                    "document_id": receipt.document_id,
                    "receipt_version": receipt.version,
                    "deposited_at": receipt.entry.deposited_at.isoformat(),
                    "deposited_at_is": "claimed by the service",
                    "proven_time": proven_time.isoformat() if proven_time else None,
                    "back_dated": back_dated,
                    "institution": receipt.entry.institution,
                    "signer": _signer_json(receipt),
                    "checks": result_checks,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for c in result_checks:
            click.echo(f"{'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}")
        if receipt.version == 1:
            click.echo(
                "note: a version 1 receipt: no witness cosigned its head and no independent "
                "authority stamped its time"
            )
        signer = _signer_line(receipt)
        if signer is not None:
            click.echo(signer)
        click.echo(f"verdict: {verdict}")
    if failed:
        for line in failed:
            click.echo(f"zhenglian: {verdict}: {line}", err=True)
        raise SystemExit(EXIT_FAILED)
