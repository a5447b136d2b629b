"""``zhenglian chain``: the embedded proof-of-authority chain."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click
from eth_utils.address import is_hex_address, to_canonical_address, to_checksum_address

from ledger.errors import LedgerError
from zhenglian.common import EXIT_BAD_INPUT, data_dir_option, fail

#: Exit code of a chain stopped by a signal before it was serving.
EXIT_STOPPED = 130


@click.group()
def chain() -> None:
    """The embedded proof-of-authority chain."""


def _deployments_path(data_dir: Path) -> Path:
    return data_dir / "deployments.json"


@chain.command("serve")
@data_dir_option
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
@click.option(
    "--ready-fd",
    default=None,
    type=click.IntRange(0),
    hidden=True,
    help="Supervised by `zhenglian serve`: handoff pipe; stop when stdin reaches EOF.",
)
def chain_serve(
    data_dir: Path,
    host: str,
    port: int,
    block_time: float,
    chain_id: int | None,
    ready_fd: int | None,
) -> None:
    """Run the embedded chain alone and serve Ethereum JSON-RPC."""
    from ledger.client import JsonDeploymentStore, LedgerClient
    from ledger.node.config import DEFAULT_CHAIN_ID
    from ledger.node.server import ANCHORER_KEY, VALIDATOR_KEY, EmbeddedNode, load_node_key
    from zhenglian.chain_process import CHAIN_LOCK_WAIT, ChainHandoff, watch_parent, write_handoff

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        if not stopping:  # once: a second signal must not interrupt the clean close
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    supervised = ready_fd is not None
    if supervised:
        watch_parent()
    try:
        node = EmbeddedNode(
            data_dir,
            block_time=block_time,
            chain_id=chain_id or DEFAULT_CHAIN_ID,
            progress=_verify_progress(),
            lock_wait=CHAIN_LOCK_WAIT if supervised else 0.0,
        )
    except LedgerError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(EXIT_STOPPED)
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
        click.echo(
            f"chain {node.chain.chain_id} head #{node.chain.head().block_number} "
            f"LogAnchor {to_checksum_address(deployment.address)}"
        )
        click.echo(f"JSON-RPC on {running.url}  (Ctrl-C to stop)", err=False)
        if ready_fd is not None:
            write_handoff(
                ready_fd,
                ChainHandoff(
                    url=running.url,
                    chain_id=node.chain.chain_id,
                    validators=tuple(node.chain.validators),
                    contract=deployment.address,
                    anchorer_key=anchorer.to_bytes(),
                ),
            )
    except (LedgerError, OSError) as exc:
        node.close()
        fail(str(exc))
    except KeyboardInterrupt:
        node.close()
        sys.exit(EXIT_STOPPED)
    node.wait()


def _verify_progress() -> Any:
    def progress(number: int, head: int) -> None:
        if head >= 1000 and (number % 1000 == 0 or number == head):
            click.echo(f"\rverifying stored blocks {number}/{head}", nl=number == head, err=True)

    return progress


@chain.command("info")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def chain_info(data_dir: Path, as_json: bool) -> None:
    """Chain id, validators, allowlist, contracts and head block of a data dir.

    Contracts: the documents' LogAnchor (deployed by the chain), the custody log's one and
    the e-certificates' CertificateRegistry (both deployed by `zhenglian serve`), null while
    not deployed yet.
    """
    from ledger.certificate_registry import CERTIFICATE_REGISTRY
    from ledger.client import JsonDeploymentStore
    from ledger.node.chain import EmbeddedChain
    from ledger.node.config import load_config
    from ledger.node.db import SqliteAtomicDB
    from ledger.node.server import chain_db_path
    from zhenglian.common import CERTIFICATE_REGISTRY_DEPLOYMENTS, CUSTODY_DEPLOYMENTS

    try:
        config = load_config(data_dir)
        db = SqliteAtomicDB(chain_db_path(data_dir), read_only=True)
        try:
            head = EmbeddedChain(db, config, None).head()
        finally:
            db.close()
        deployment = custody_deployment = registry_deployment = None
        if config.genesis_hash is not None:
            deployment = JsonDeploymentStore(_deployments_path(data_dir)).load(
                config.chain_id, config.genesis_hash
            )
            custody_deployment = JsonDeploymentStore(data_dir / CUSTODY_DEPLOYMENTS).load(
                config.chain_id, config.genesis_hash
            )
            registry_deployment = JsonDeploymentStore(
                data_dir / CERTIFICATE_REGISTRY_DEPLOYMENTS, contract=CERTIFICATE_REGISTRY
            ).load(config.chain_id, config.genesis_hash)
    except LedgerError as exc:
        fail(str(exc))
    anchor = to_checksum_address(deployment.address) if deployment else None
    custody_anchor = to_checksum_address(custody_deployment.address) if custody_deployment else None
    registry = to_checksum_address(registry_deployment.address) if registry_deployment else None
    info = {
        "chainId": config.chain_id,
        "genesisHash": "0x" + (config.genesis_hash or b"").hex(),
        "validators": [to_checksum_address(v) for v in config.validators],
        "allowlist": [to_checksum_address(a) for a in config.allowlist],
        # "LogAnchor" is the documents' log (the key predates the custody log's).
        "contracts": {
            "LogAnchor": anchor,
            "CustodyLogAnchor": custody_anchor,
            "CertificateRegistry": registry,
        },
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
    click.echo(f"LogAnchor    {anchor or '(not deployed yet)'}")
    click.echo(f"custody log  {custody_anchor or '(not deployed yet)'}")
    click.echo(f"certificates {registry or '(not deployed yet)'}")
    click.echo(f"head         #{head.block_number} 0x{bytes(head.hash).hex()}")


@chain.command("allow")
@data_dir_option
@click.argument("address")
@click.option("--remove", is_flag=True, help="Take the account off the allowlist.")
def chain_allow(data_dir: Path, address: str, remove: bool) -> None:
    """Add (or remove) a transaction sender on the allowlist; a running node picks it up."""
    from ledger.node.config import load_config, save_config

    if not is_hex_address(address):
        fail(f"not an Ethereum address: {address!r}", EXIT_BAD_INPUT)
    addr = bytes(to_canonical_address(address))
    try:
        config = load_config(data_dir)
        current = list(config.allowlist)
        if remove:
            if addr not in current:
                fail(f"{to_checksum_address(addr)} is not on the allowlist", EXIT_BAD_INPUT)
            current.remove(addr)
        elif addr not in current:
            current.append(addr)
        save_config(data_dir, config.with_allowlist(tuple(current)))
    except LedgerError as exc:
        fail(str(exc))
    click.echo(f"{'removed' if remove else 'allowed'} {to_checksum_address(addr)}")
