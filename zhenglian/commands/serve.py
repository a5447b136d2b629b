"""``zhenglian serve``: the API, the chain (embedded unless configured) and the anchoring worker."""

from __future__ import annotations

import signal
from pathlib import Path

import click
import uvicorn

from evidence.errors import EvidenceError
from ledger.errors import LedgerError
from zhenglian.common import data_dir_option, fail


@click.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the API.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--rpc-port",
    default=8545,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="JSON-RPC port of the embedded chain (127.0.0.1), for third-party cross-checks.",
)
@click.option(
    "--block-time",
    default=1.0,
    show_default=True,
    type=float,
    help="Least seconds between blocks of the embedded chain.",
)
def serve(data_dir: Path, host: str, port: int, rpc_port: int, block_time: float) -> None:
    """Run Zhenglian: deposits, receipts, verification, anchoring (zero configuration)."""
    from api.app import create_app
    from api.settings import Settings
    from zhenglian.runtime import start_runtime

    try:
        settings = Settings(data_dir=data_dir)
    except ValueError as exc:
        fail(f"bad configuration: {exc}".splitlines()[0], 2)
    try:
        runtime = start_runtime(settings, rpc_port=rpc_port, block_time=block_time)
    except (LedgerError, EvidenceError) as exc:
        fail(str(exc))
    app = create_app(runtime.services)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    info = runtime.services.chain_info
    click.echo(
        f"Zhenglian API on http://{host}:{port}  chain {info['chain_id']} "
        f"(JSON-RPC {info['rpc_url']}, LogAnchor {info['contract']})"
    )
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        runtime.close()
