"""``zhenglian serve``: the API, the chain (embedded unless configured) and the anchoring worker."""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import signal
import sys
from pathlib import Path

import click
import uvicorn

from evidence.errors import ChainDivergence, EvidenceError
from ledger.errors import LedgerError
from zhenglian.common import data_dir_option, fail

RESUME_HINT = (
    "if the data directory was restored from a backup on purpose, resume anchoring in a new "
    "contract with `zhenglian log resume-anchoring` (docs/reliability.md#restore)"
)

#: Exit code when a signal stopped serve before it was serving.
EXIT_STOPPED = 130

#: glibc malloc arenas of the API process. By default every thread that allocates may get an
#: arena of its own (up to 8 per core) and memory freed in one is not reused by the others:
#: under 32 concurrent deposits that is ~4 MiB of resident memory for nothing (measured with
#: ``bench/api_load.py``). 2 is the usual setting for threaded Python servers.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (no-op elsewhere); call before any thread starts."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):  # no glibc mallopt: nothing to cap
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def _listening_url(host: str, port: int) -> str:
    """The base URL of the address serve listens on (an IPv6 host in brackets)."""
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}"


def configuration_error(exc: ValueError) -> str:
    """One line naming each wrong setting (pydantic's own text spans several)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    parts = []
    for error in errors():
        where = "_".join(str(part) for part in error.get("loc", ())).upper()
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"ZHENGLIAN_{where}: {message}" if where else message)
    return "; ".join(parts)


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
    """Run Zhenglian: deposits, receipts, verification, anchoring (zero configuration).

    Unless ZHENGLIAN_CHAIN_RPC_URL names an external node, the embedded chain runs as a
    supervised child process (``zhenglian chain serve``) that is started and answering before
    the API, stopped after it, and never outlives it. If the chain dies, serve exits with 1.
    """
    from api.app import create_app
    from api.connection_guard import ConnectionLimits, descriptor_budget, guarded_protocol
    from api.settings import Settings
    from zhenglian.composition import start_runtime

    _limit_malloc_arenas()
    server: uvicorn.Server | None = None

    def stop(*_: object) -> None:
        if server is None:
            raise KeyboardInterrupt  # still starting: unwind, stopping what was started
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        settings = Settings(data_dir=data_dir)
        if "ZHENGLIAN_PUBLIC_URL" not in os.environ:  # QR codes point where serve listens
            settings = Settings(data_dir=data_dir, public_url=_listening_url(host, port))
    except ValueError as exc:
        fail(f"bad configuration: {configuration_error(exc)}", 2)
    try:
        runtime = start_runtime(settings, rpc_port=rpc_port, block_time=block_time)
    except ChainDivergence as exc:
        fail(f"{exc}; {RESUME_HINT}")
    except (LedgerError, EvidenceError) as exc:
        fail(str(exc))
    except OSError as exc:  # the data directory: read-only, not a directory, disk full
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"cannot use the data directory{where}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        fail("stopped while starting", EXIT_STOPPED)
    chain_exit: list[int] = []
    try:
        app = create_app(runtime.services)
        limits = ConnectionLimits(
            header_timeout=settings.header_timeout,
            body_window=settings.body_window,
            min_body_bytes=settings.min_body_bytes,
            max_connections=descriptor_budget(settings.max_connections),
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=guarded_protocol(limits),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            timeout_keep_alive=max(1, round(settings.keep_alive_timeout)),
            # The client address comes from the TCP peer; X-Forwarded-For is believed only
            # from ZHENGLIAN_TRUSTED_PROXIES (api.deps.client_of), never by uvicorn itself,
            # which would otherwise trust any local client's header.
            proxy_headers=False,
            server_header=False,
        )
        server = uvicorn.Server(config)
        if runtime.chain is not None:

            def chain_died(code: int) -> None:
                chain_exit.append(code)
                assert server is not None
                server.should_exit = True

            runtime.chain.on_exit = chain_died
            if runtime.chain.exited():
                chain_died(runtime.chain.returncode())
        info = runtime.services.chain_info
        click.echo(
            f"Zhenglian API on http://{host}:{port}  chain {info['chain_id']} "
            f"(JSON-RPC {info['rpc_url']}, LogAnchor {info['contract']})"
        )
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
    if chain_exit:
        fail(f"the embedded chain exited unexpectedly (code {chain_exit[0]}); stopped the API")
