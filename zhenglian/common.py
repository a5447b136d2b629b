"""What every ``zhenglian`` command shares: error exits and common options."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

DATA_DIR_ENV = "ZHENGLIAN_DATA_DIR"
DEFAULT_DATA_DIR = "data"

#: Exit codes: the work failed / the input was bad.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """End the command with one readable line on stderr."""
    click.echo(f"zhenglian: error: {message}", err=True)
    sys.exit(code)


def data_dir_option(fn: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR),
        show_default=f"${DATA_DIR_ENV} or ./{DEFAULT_DATA_DIR}",
        help="Directory holding the chain, keys and records.",
    )(fn)


def open_database_of(data_dir: Path) -> Any:
    """The metadata database of a data directory (migrated), as ``zhenglian serve`` opens it."""
    from api.settings import Settings
    from zhenglian.runtime import open_metadata

    return open_metadata(Settings(data_dir=data_dir))
