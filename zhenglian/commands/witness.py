"""``zhenglian witness``: run an independent witness of other institutions' logs
(C2SP tlog-witness; docs/witness.md).

A witness has a data directory of its own (``--data-dir W``, never a log's data directory):
its key, made once by ``init``, and its memory of the latest checkpoint it cosigned per log.
Exit status: 0 done, 1 failed, 2 bad input; errors are one line.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
from pathlib import Path
from typing import Any

import click

from zhenglian.common import EXIT_BAD_INPUT, fail

#: Exit code when a signal stopped the witness before it was serving.
EXIT_STOPPED = 130

#: Most connections the witness keeps open at once (lowered to what descriptors allow).
MAX_CONNECTIONS = 256

#: Seconds the witness lets requests in progress finish when told to stop.
GRACEFUL_SHUTDOWN_SECONDS = 5


def _witness_dir_option(fn: Any) -> Any:
    return click.option(
        "--data-dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The witness's own directory (its key and memory): not a log's data directory.",
    )(fn)


@click.group()
def witness() -> None:
    """Witness other logs: cosign their checkpoints when consistent (C2SP tlog-witness)."""


@witness.command("init")
@_witness_dir_option
@click.option(
    "--name",
    required=True,
    help="The witness's name, a schema-less URL such as witness.example.cn/w1.",
)
def init(data_dir: Path, name: str) -> None:
    """Make the witness's directory and key; print its verifier key as the last line.

    Run again with the same name, it prints the same key; with another name it refuses.
    """
    from evidence.errors import EvidenceError
    from evidence.formats.cosignature import check_witness_name
    from evidence.formats.signed_note import NoteError
    from evidence.services.witness import has_witness_key, init_witness
    from ledger.errors import LedgerError
    from ledger.node.keystore import resolve_passphrase

    try:
        check_witness_name(name)
    except NoteError as exc:
        fail(f"--name: {exc}", EXIT_BAD_INPUT)
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        passphrase = resolve_passphrase(data_dir, create=not has_witness_key(data_dir))
        key, made = init_witness(data_dir, name, passphrase)
    except (EvidenceError, LedgerError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the witness directory {data_dir}: {exc.strerror or exc}")
    said = "made" if made else "already has"
    click.echo(f"{data_dir} {said} the witness key of {name}; its verifier key, to publish:")
    click.echo(key.to_text())


@witness.command("key")
@_witness_dir_option
def key(data_dir: Path) -> None:
    """Print the witness's verifier key (NAME+KEYID+BASE64, signature type 0x04)."""
    from evidence.errors import EvidenceError
    from evidence.services.witness import has_witness_key, witness_key_of
    from ledger.errors import LedgerError
    from ledger.node.keystore import resolve_passphrase

    if not has_witness_key(data_dir):
        fail(f"{data_dir} has no witness key: make one with `zhenglian witness init`")
    try:
        click.echo(witness_key_of(data_dir, resolve_passphrase(data_dir, create=False)).to_text())
    except (EvidenceError, LedgerError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the witness directory {data_dir}: {exc.strerror or exc}")


@witness.command("serve")
@_witness_dir_option
@click.option(
    "--log",
    "logs",
    multiple=True,
    metavar="VKEY",
    help="A log to witness: its verifier key as `zhenglian log key` prints it (repeat for "
    "several logs, or several keys of one log).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7380, show_default=True, type=click.IntRange(0, 65535))
def serve(data_dir: Path, logs: tuple[str, ...], host: str, port: int) -> None:
    """Serve the witness: POST /add-checkpoint, GET /<origin hash>/checkpoint, GET /healthz.

    Stops cleanly on SIGTERM or Ctrl-C. Only one witness process may serve a directory.
    """
    import uvicorn

    from api.connection_guard import ConnectionLimits, descriptor_budget, guarded_protocol
    from api.witness_app import create_witness_app
    from evidence.errors import EvidenceError
    from evidence.formats.signed_note import NoteError, VerifierKey
    from evidence.services.witness import MAX_TRUSTED_LOGS, has_witness_key, open_witness
    from ledger.errors import LedgerError
    from ledger.node.keystore import resolve_passphrase

    if not logs:
        fail("give the log(s) to witness: --log VKEY (as `zhenglian log key` prints it)", 2)
    if len(logs) > MAX_TRUSTED_LOGS:
        fail(f"at most {MAX_TRUSTED_LOGS} --log keys", EXIT_BAD_INPUT)
    trusted = []
    for text in logs:
        try:
            trusted.append(VerifierKey.from_text(text))
        except NoteError as exc:
            fail(f"--log: {exc}", EXIT_BAD_INPUT)
    if not has_witness_key(data_dir):
        fail(f"{data_dir} has no witness key: make one with `zhenglian witness init`")

    server: uvicorn.Server | None = None

    def stop(*_: object) -> None:
        if server is None:
            raise KeyboardInterrupt  # still starting: unwind, releasing what was taken
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        opened = open_witness(data_dir, resolve_passphrase(data_dir, create=False), trusted)
    except (EvidenceError, LedgerError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the witness directory {data_dir}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        fail("stopped while starting", EXIT_STOPPED)
    try:
        try:
            listening = _listen(host, port)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        url = _url(host, listening.getsockname()[1])
        limits = ConnectionLimits(max_connections=descriptor_budget(MAX_CONNECTIONS))
        config = uvicorn.Config(
            create_witness_app(opened),
            http=guarded_protocol(limits),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            proxy_headers=False,
            server_header=False,
        )
        server = uvicorn.Server(config)
        click.echo(f"witness {opened.verifier.name}, key {opened.verifier.to_text()}")
        for each in trusted:
            click.echo(f"witnessing log {each.name} (key {each.key_id.hex()})")
        click.echo(f"witness listening on {url}")
        server.run(sockets=[listening])
    except KeyboardInterrupt:
        pass
    finally:
        opened.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (bound here, so that a refusal is one line)."""
    family = socket.AF_INET
    try:
        if ipaddress.ip_address(host).version == 6:
            family = socket.AF_INET6
    except ValueError:
        pass
    return socket.create_server((host, port), family=family)


def _url(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}"
