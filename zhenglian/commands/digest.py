"""``zhenglian digest``: SHA-256 and SM3 of a file in one pass."""

from __future__ import annotations

import json
from pathlib import Path

import click

from evidence.digest import digest_file
from zhenglian.common import EXIT_BAD_INPUT, fail


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def digest(file: Path, as_json: bool) -> None:
    """Print the SHA-256 and SM3 digests and the size of FILE."""
    try:
        d = digest_file(file)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT)
    if as_json:
        click.echo(json.dumps({**d.to_json(), "file": str(file)}))
    else:
        click.echo(f"{d.sha256.hex()}  {d.sm3.hex()}  {d.size}  {file}")
