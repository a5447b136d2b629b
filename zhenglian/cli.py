"""The ``zhenglian`` command line.

Errors end the command with one readable line on stderr: exit 1 when the work failed,
2 when the input was bad.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from eth_utils.address import is_hex_address, to_canonical_address, to_checksum_address

from ledger.errors import LedgerError

DATA_DIR_ENV = "ZHENGLIAN_DATA_DIR"
DEFAULT_DATA_DIR = "data"


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"zhenglian: error: {message}", err=True)
    sys.exit(code)


def _data_dir_option(fn: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR),
        show_default=f"${DATA_DIR_ENV} or ./{DEFAULT_DATA_DIR}",
        help="Directory holding the chain, keys and records.",
    )(fn)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """Zhenglian (证链): blockchain-anchored evidence store."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.group()
def chain() -> None:
    """The embedded proof-of-authority chain."""


def _deployments_path(data_dir: Path) -> Path:
    return data_dir / "deployments.json"


@chain.command("serve")
@_data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind JSON-RPC to.")
@click.option("--port", default=8545, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--block-time",
    default=1.0,
    show_default=True,
    type=float,
    help="Least seconds between blocks (blocks are made only when transactions wait).",
)
@click.option(
    "--chain-id",
    default=None,
    type=click.IntRange(1, 2**53 - 1),
    help="Chain id of a NEW chain (ignored once the chain exists).",
)
def chain_serve(
    data_dir: Path, host: str, port: int, block_time: float, chain_id: int | None
) -> None:
    """Run the embedded chain alone and serve Ethereum JSON-RPC."""
    from ledger.client import JsonDeploymentStore, LedgerClient
    from ledger.node.config import DEFAULT_CHAIN_ID
    from ledger.node.server import ANCHORER_KEY, VALIDATOR_KEY, EmbeddedNode, load_node_key

    try:
        node = EmbeddedNode(
            data_dir,
            block_time=block_time,
            chain_id=chain_id or DEFAULT_CHAIN_ID,
            progress=_verify_progress(),
        )
    except LedgerError as exc:
        _fail(str(exc))
    try:
        running = node.start(host, port)
        anchorer = load_node_key(data_dir, ANCHORER_KEY)
        validator = load_node_key(data_dir, VALIDATOR_KEY)
        client = LedgerClient(running.url, anchorer.to_bytes())
        deployment = client.ensure_deployed(
            JsonDeploymentStore(_deployments_path(data_dir)),
            admin=validator.public_key.to_checksum_address(),
            anchorer=anchorer.public_key.to_checksum_address(),
        )
    except LedgerError as exc:
        node.close()
        _fail(str(exc))
    click.echo(
        f"chain {node.chain.chain_id} head #{node.chain.head().block_number} "
        f"LogAnchor {to_checksum_address(deployment.address)}"
    )
    click.echo(f"JSON-RPC on {running.url}  (Ctrl-C to stop)", err=False)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    node.wait()


def _verify_progress() -> Any:
    def progress(number: int, head: int) -> None:
        if head >= 1000 and (number % 1000 == 0 or number == head):
            click.echo(f"\rverifying stored blocks {number}/{head}", nl=number == head, err=True)

    return progress


@chain.command("info")
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def chain_info(data_dir: Path, as_json: bool) -> None:
    """Chain id, validators, allowlist, contracts and head block of a data dir."""
    from ledger.client import JsonDeploymentStore
    from ledger.node.chain import EmbeddedChain
    from ledger.node.config import load_config
    from ledger.node.db import SqliteAtomicDB
    from ledger.node.server import chain_db_path

    try:
        config = load_config(data_dir)
        db = SqliteAtomicDB(chain_db_path(data_dir), read_only=True)
        try:
            head = EmbeddedChain(db, config, None).head()
        finally:
            db.close()
        deployment = None
        if config.genesis_hash is not None:
            deployment = JsonDeploymentStore(_deployments_path(data_dir)).load(
                config.chain_id, config.genesis_hash
            )
    except LedgerError as exc:
        _fail(str(exc))
    info = {
        "chainId": config.chain_id,
        "genesisHash": "0x" + (config.genesis_hash or b"").hex(),
        "validators": [to_checksum_address(v) for v in config.validators],
        "allowlist": [to_checksum_address(a) for a in config.allowlist],
        "contracts": {"LogAnchor": to_checksum_address(deployment.address) if deployment else None},
        "head": {
            "number": head.block_number,
            "hash": "0x" + bytes(head.hash).hex(),
            "timestamp": head.timestamp,
        },
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"chain id     {config.chain_id}")
    click.echo(f"genesis      {info['genesisHash']}")
    click.echo(f"validators   {', '.join(to_checksum_address(v) for v in config.validators)}")
    click.echo(f"allowlist    {', '.join(to_checksum_address(a) for a in config.allowlist)}")
    anchor = to_checksum_address(deployment.address) if deployment else "(not deployed yet)"
    click.echo(f"LogAnchor    {anchor}")
    click.echo(f"head         #{head.block_number} 0x{bytes(head.hash).hex()}")


@chain.command("allow")
@_data_dir_option
@click.argument("address")
@click.option("--remove", is_flag=True, help="Take the account off the allowlist.")
def chain_allow(data_dir: Path, address: str, remove: bool) -> None:
    """Add (or remove) a transaction sender on the allowlist; a running node picks it up."""
    from ledger.node.config import load_config, save_config

    if not is_hex_address(address):
        _fail(f"not an Ethereum address: {address!r}", 2)
    addr = bytes(to_canonical_address(address))
    try:
        config = load_config(data_dir)
        current = list(config.allowlist)
        if remove:
            if addr not in current:
                _fail(f"{to_checksum_address(addr)} is not on the allowlist", 2)
            current.remove(addr)
        elif addr not in current:
            current.append(addr)
        save_config(data_dir, config.with_allowlist(tuple(current)))
    except LedgerError as exc:
        _fail(str(exc))
    click.echo(f"{'removed' if remove else 'allowed'} {to_checksum_address(addr)}")


@main.group()
def ledger() -> None:
    """Anchoring through any Ethereum JSON-RPC node (Besu QBFT in production)."""


def _external_client(rpc: str, keystore: Path) -> Any:
    from ledger.client import LedgerClient
    from ledger.node.keystore import PASSPHRASE_ENV, load_key

    passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        _fail(f"set {PASSPHRASE_ENV} to the passphrase of {keystore}", 2)
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
        _fail(f"--admin is not an Ethereum address: {admin!r}", 2)
    try:
        client = _external_client(rpc, keystore)
        dep = client.ensure_deployed(JsonDeploymentStore(deployments), admin=admin)
    except LedgerError as exc:
        _fail(str(exc))
    click.echo(json.dumps(dep.to_json(), indent=2))


@ledger.command("head")
@_rpc_option
@click.option("--contract", required=True, help="LogAnchor address.")
def ledger_head(rpc: str, contract: str) -> None:
    """Print the latest anchored tree head (JSON), or null when none is anchored yet."""
    from eth_account import Account

    from ledger.client import LedgerClient

    if not is_hex_address(contract):
        _fail(f"--contract is not an Ethereum address: {contract!r}", 2)
    try:
        client = LedgerClient(rpc, Account.create().key)  # read-only: any key will do
        client.attach(contract)
        head = client.latest_head()
        count = client.head_count()
    except LedgerError as exc:
        _fail(str(exc))
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


if __name__ == "__main__":
    main()
