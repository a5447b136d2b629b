"""``zhenglian ledger``: anchoring through any Ethereum JSON-RPC node."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from eth_utils.address import is_hex_address

from ledger.errors import LedgerError
from zhenglian.common import EXIT_BAD_INPUT, fail


@click.group()
def ledger() -> None:
    """Anchoring through any Ethereum JSON-RPC node (Besu QBFT in production)."""


def _external_client(rpc: str, keystore: Path) -> Any:
    from ledger.client import LedgerClient
    from ledger.node.keystore import PASSPHRASE_ENV, load_key

    passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        fail(f"set {PASSPHRASE_ENV} to the passphrase of {keystore}", EXIT_BAD_INPUT)
    return LedgerClient(rpc, load_key(keystore, passphrase).to_bytes())


_rpc_option = click.option("--rpc", required=True, help="JSON-RPC URL of the node.")
_keystore_option = click.option(
    "--keystore",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Keystore v3 file of the anchoring account (passphrase in $ZHENGLIAN_KEY_PASSPHRASE).",
)


@ledger.command("deploy")
@_rpc_option
@_keystore_option
@click.option(
    "--deployments",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file recording the deployment per chain (created if missing).",
)
@click.option("--admin", default=None, help="Admin of the roles (default: the keystore account).")
def ledger_deploy(rpc: str, keystore: Path, deployments: Path, admin: str | None) -> None:
    """Deploy LogAnchor on the node's chain once; later calls print the recorded address."""
    from ledger.client import JsonDeploymentStore

    if admin is not None and not is_hex_address(admin):
        fail(f"--admin is not an Ethereum address: {admin!r}", EXIT_BAD_INPUT)
    try:
        client = _external_client(rpc, keystore)
        dep = client.ensure_deployed(JsonDeploymentStore(deployments), admin=admin)
    except LedgerError as exc:
        fail(str(exc))
    click.echo(json.dumps(dep.to_json(), indent=2))


@ledger.command("head")
@_rpc_option
@click.option("--contract", required=True, help="LogAnchor address.")
def ledger_head(rpc: str, contract: str) -> None:
    """Print the latest anchored tree head (JSON), or null when none is anchored yet."""
    from eth_account import Account

    from ledger.client import LedgerClient

    if not is_hex_address(contract):
        fail(f"--contract is not an Ethereum address: {contract!r}", EXIT_BAD_INPUT)
    try:
        client = LedgerClient(rpc, Account.create().key)  # read-only: any key will do
        client.attach(contract)
        head = client.latest_head()
        count = client.head_count()
    except LedgerError as exc:
        fail(str(exc))
    if head is None:
        click.echo("null")
        return
    click.echo(
        json.dumps(
            {
                "index": head.index,
                "treeSize": head.tree_size,
                "rootHash": "0x" + head.root_hash.hex(),
                "timestamp": head.timestamp,
                "blockNumber": head.block_number,
                "headCount": count,
            },
            indent=2,
        )
    )
