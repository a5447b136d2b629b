"""The ``zhenglian`` command line.

Errors end a command with one readable line on stderr: exit 1 when the work failed, 2 when
the input was bad. Each subcommand lives in ``zhenglian/commands/``.
"""

from __future__ import annotations

import logging
import os

import click

from zhenglian.commands.audit import audit
from zhenglian.commands.certificate import certificate
from zhenglian.commands.chain import chain
from zhenglian.commands.deposit import deposit
from zhenglian.commands.digest import digest
from zhenglian.commands.fetch import fetch
from zhenglian.commands.institutions import institutions
from zhenglian.commands.ledger import ledger
from zhenglian.commands.log import log
from zhenglian.commands.pki import pki
from zhenglian.commands.report import report
from zhenglian.commands.serve import serve
from zhenglian.commands.sign import sign
from zhenglian.commands.tokens import tokens
from zhenglian.commands.trust import trust
from zhenglian.commands.verify import verify
from zhenglian.commands.witness import witness


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """Zhenglian (证链): blockchain-anchored evidence store."""
    # Whatever a command creates (database, blobs, keys, receipts) is the user's alone.
    os.umask(0o077)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for command in (
    serve,
    chain,
    ledger,
    log,
    institutions,
    tokens,
    digest,
    deposit,
    fetch,
    verify,
    report,
    audit,
    trust,
    witness,
    pki,
    sign,
    certificate,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
