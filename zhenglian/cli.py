"""The ``zhenglian`` command line.

Errors end a command with one readable line on stderr: exit 1 when the work failed, 2 when
the input was bad. Each subcommand lives in ``zhenglian/commands/``.
"""

from __future__ import annotations

import logging

import click

from zhenglian.commands.chain import chain
from zhenglian.commands.ledger import ledger


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """Zhenglian (证链): blockchain-anchored evidence store."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


main.add_command(chain)
main.add_command(ledger)


if __name__ == "__main__":
    main()
