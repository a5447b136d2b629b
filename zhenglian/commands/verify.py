"""``zhenglian verify``: check a document against its receipt, offline or cross-checked online;
or (``--custody``) a document's custody export, offline.

Exit status (the same for every verifying command, docs/reliability.md):
0 intact; 1 a check failed (one line per failed check); 2 bad input or usage; 3 could not
check (the node is unreachable or lacks the block).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from eth_utils.address import is_hex_address, to_canonical_address

from evidence.digest import digest_file
from evidence.errors import InputError
from evidence.formats.receipt_format import MAX_RECEIPT_BYTES, Receipt
from evidence.verify.receipt_verifier import VerificationFailed, verify_receipt
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
@click.option("--contract", default=None, help="The LogAnchor address you trust (recommended).")
@click.option("--rpc", default=None, help="Also cross-check against this JSON-RPC node.")
@click.option(
    "--ack",
    "ack_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The log's acknowledgement of the deposit (from its 201): the receipt must prove "
    "the leaf it promised. Needs --log-key.",
)
@click.option("--log-key", default=None, help="The log's verifier key (NAME+KEYID+KEY).")
@click.option(
    "--also",
    "also_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Another receipt of the same log: the two must not give one leaf two entries.",
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
    as_json: bool,
) -> None:
    """Is FILE the document the receipt was issued for, deposited and anchored as it says?

    With --custody EXPORT (and no FILE; once per page): is the document's chain of custody
    complete and anchored as the export says? (--contract: the custody log's LogAnchor.)

    Exit status: 0 intact; 1 a check failed; 2 bad input or usage; 3 could not check (the
    node is unreachable or lacks the block)."""
    if custody_paths:
        if file is not None or receipt_path is not None or rpc is not None:
            fail("--custody takes no FILE, --receipt or --rpc", EXIT_BAD_INPUT)
        _verify_custody(custody_paths, validators, contract, as_json)
        return
    if file is None or receipt_path is None:
        fail("give FILE and --receipt RECEIPT (or --custody EXPORT)", EXIT_BAD_INPUT)
    if validators is None and rpc is None:
        fail("give --validators (offline) or --rpc (online)", EXIT_BAD_INPUT)
    if (ack_path is None) != (log_key is None):
        fail("--ack and --log-key go together", EXIT_BAD_INPUT)
    try:
        data = receipt_path.read_bytes()[: MAX_RECEIPT_BYTES + 1]
        receipt = Receipt.from_json_bytes(data)
        digest = digest_file(file)
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    except InputError as exc:
        fail(f"bad receipt: {exc}", EXIT_BAD_INPUT)
    pinned = None
    if contract is not None:
        if not is_hex_address(contract):
            fail(f"--contract is not an address: {contract!r}", EXIT_BAD_INPUT)
        pinned = bytes(to_canonical_address(contract))
    if validators is not None:
        trust = ChainTrust.sealed(receipt.anchor.chain_id, _addresses(validators), contract=pinned)
    else:
        trust = ChainTrust.unsafe_unsealed(receipt.anchor.chain_id, contract=pinned)
    failed: list[str] = []
    result_checks: list[dict[str, Any]] = []
    try:
        result = verify_receipt(receipt, digest.sha256, trust, sm3=digest.sm3, size=digest.size)
        result_checks = [c.__dict__ for c in result.checks]
    except VerificationFailed as exc:
        result_checks = [c.__dict__ for c in exc.checks]
        failed = [f"{c.name}: {c.detail}" for c in exc.checks if not c.ok]
    for name, ok, detail in _promise_checks(receipt, ack_path, log_key, also_paths):
        result_checks.append({"name": name, "ok": ok, "detail": detail})
        if not ok:
            failed.append(f"{name}: {detail}")
    if rpc is not None and not failed:
        try:
            for name, ok, detail in _online_checks(rpc, receipt):
                result_checks.append({"name": name, "ok": ok, "detail": detail})
                if not ok:
                    failed.append(f"{name}: {detail}")
        except LedgerError as exc:
            fail(f"could not check against {rpc}: {exc}", EXIT_CANNOT_CHECK)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "result": "intact" if not failed else "failed",
                    "document_id": receipt.document_id,
                    "deposited_at": receipt.entry.deposited_at.isoformat(),
                    "institution": receipt.entry.institution,
                    "checks": result_checks,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for c in result_checks:
            click.echo(f"{'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}")
    if failed:
        for line in failed:
            click.echo(f"zhenglian: verification failed: {line}", err=True)
        raise SystemExit(EXIT_FAILED)
    if validators is None:
        click.echo("note: no --validators given: the block seal was NOT checked", err=True)
