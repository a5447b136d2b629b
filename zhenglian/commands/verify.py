"""``zhenglian verify``: check a document against its receipt, offline or cross-checked online.

Exit 0: intact. Exit 1: verification failed (one line per failed check). Exit 2: bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from eth_utils.address import is_hex_address, to_canonical_address

from evidence.digest import digest_file
from evidence.errors import InputError
from evidence.receipt import MAX_RECEIPT_BYTES, Receipt
from evidence.verify import VerificationFailed, verify_receipt
from ledger.anchor_proof import ChainTrust
from ledger.errors import LedgerError
from zhenglian.common import EXIT_BAD_INPUT, EXIT_FAILED, fail


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
    block = client.w3.eth.get_block(proof.block_number)
    same = bytes(block["hash"]) == proof.block_hash
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


def _anchor_index(receipt: Receipt) -> int:
    from ledger.anchor_proof import ChainTrust as _T
    from ledger.anchor_proof import verify_anchor_proof

    return verify_anchor_proof(
        receipt.anchor, _T.unsafe_unsealed(receipt.anchor.chain_id)
    ).anchor_index


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--receipt",
    "receipt_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The receipt (JSON).",
)
@click.option(
    "--validators",
    default=None,
    help="Trusted validator addresses, comma-separated (offline: no network at all).",
)
@click.option("--contract", default=None, help="The LogAnchor address you trust (recommended).")
@click.option("--rpc", default=None, help="Also cross-check against this JSON-RPC node.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(
    file: Path,
    receipt_path: Path,
    validators: str | None,
    contract: str | None,
    rpc: str | None,
    as_json: bool,
) -> None:
    """Is FILE the document the receipt was issued for, deposited and anchored as it says?"""
    if validators is None and rpc is None:
        fail("give --validators (offline) or --rpc (online)", EXIT_BAD_INPUT)
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
    if rpc is not None and not failed:
        try:
            for name, ok, detail in _online_checks(rpc, receipt):
                result_checks.append({"name": name, "ok": ok, "detail": detail})
                if not ok:
                    failed.append(f"{name}: {detail}")
        except LedgerError as exc:
            fail(f"online cross-check failed: {exc}")
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
