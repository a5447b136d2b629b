"""``zhenglian log key``: the log's verifier key (the key that signs acknowledgements)."""

from __future__ import annotations

from pathlib import Path

import click

from zhenglian.common import data_dir_option, fail


@click.group()
def log() -> None:
    """The log's own key."""


@log.command("key")
@data_dir_option
def log_key(data_dir: Path) -> None:
    """Print the log's verifier key (C2SP signed-note form) as the last line, making the key
    first if the data directory has none, so that it can be pinned before the first start."""
    from evidence.errors import EvidenceError
    from ledger.errors import LedgerError
    from zhenglian.composition import log_verifier_key

    try:
        vkey = log_verifier_key(data_dir)
    except (EvidenceError, LedgerError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the data directory {data_dir}: {exc.strerror or exc}")
    click.echo(vkey)
