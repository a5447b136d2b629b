"""``zhenglian institutions``: notary offices, forensic institutions, courts, law firms..."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from evidence.errors import DuplicateRecord, EvidenceError, InputError
from evidence.policy import INSTITUTION_TYPES
from zhenglian.common import (
    EXIT_BAD_INPUT,
    data_dir_option,
    echo_records,
    fail,
    open_database_of,
)


@click.group()
def institutions() -> None:
    """Create, list and disable institutions."""


@institutions.command("create")
@data_dir_option
@click.option("--name", required=True, help="The institution's name (unique).")
@click.option("--type", "kind", required=True, type=click.Choice(INSTITUTION_TYPES))
def create(data_dir: Path, name: str, kind: str) -> None:
    """Register an institution; prints its id."""
    from evidence.access import add_institution

    try:
        database = open_database_of(data_dir)
        with database.session() as session:
            made = add_institution(session, name=name, type=kind)
            session.commit()
    except (InputError, DuplicateRecord) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except EvidenceError as exc:
        fail(str(exc))
    click.echo(f"institution {made.name} ({made.type})", err=True)
    click.echo(made.id)


@institutions.command("list")
@data_dir_option
def list_institutions(data_dir: Path) -> None:
    """List institutions as JSON lines."""
    from evidence.access import list_institutions as repo_list

    echo_records(data_dir, repo_list, ("id", "name", "type", "created_at", "disabled_at"))


@institutions.command("disable")
@data_dir_option
@click.argument("name")
def disable(data_dir: Path, name: str) -> None:
    """Disable an institution by name: all its tokens stop working at once."""
    from evidence.access import disable_institution, get_institution

    try:
        database = open_database_of(data_dir)
        with database.session() as session:
            found = get_institution(session, name=name)
            done = found is not None and disable_institution(session, found.id, datetime.now(UTC))
            session.commit()
    except EvidenceError as exc:
        fail(str(exc))
    if not done:
        fail(f"no enabled institution {name!r}", EXIT_BAD_INPUT)
    click.echo(f"disabled {name}")
