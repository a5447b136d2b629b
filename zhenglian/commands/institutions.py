"""``zhenglian institutions``: notary offices, forensic institutions, courts, law firms..."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from evidence.access.policy import INSTITUTION_TYPES
from evidence.errors import DuplicateRecord, EvidenceError, InputError
from zhenglian.common import (
    EXIT_BAD_INPUT,
    data_dir_option,
    echo_records,
    fail,
    record_as_operator,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from evidence.access.enforcement import InstitutionRecord


@click.group()
def institutions() -> None:
    """Create, list and disable institutions."""


@institutions.command("create")
@data_dir_option
@click.option("--name", required=True, help="The institution's name (unique).")
@click.option("--type", "kind", required=True, type=click.Choice(INSTITUTION_TYPES))
def create(data_dir: Path, name: str, kind: str) -> None:
    """Register an institution; prints its id."""
    from evidence.access.enforcement import add_institution
    from zhenglian.composition import in_operator_transaction

    def work(session: Session) -> InstitutionRecord:
        made = add_institution(session, name=name, type=kind)
        record_as_operator(session, "institution_create", "institution", made.id)
        return made

    try:
        made = in_operator_transaction(data_dir, work)
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
    from evidence.access.enforcement import list_institutions as repo_list

    echo_records(data_dir, repo_list, ("id", "name", "type", "created_at", "disabled_at"))


@institutions.command("disable")
@data_dir_option
@click.argument("name")
def disable(data_dir: Path, name: str) -> None:
    """Disable an institution by name: all its tokens stop working at once."""
    from evidence.access.enforcement import disable_institution, get_institution
    from zhenglian.composition import in_operator_transaction

    def work(session: Session) -> bool:
        found = get_institution(session, name=name)
        if found is None or not disable_institution(session, found.id, datetime.now(UTC)):
            return False
        record_as_operator(session, "institution_disable", "institution", found.id)
        return True

    try:
        done = in_operator_transaction(data_dir, work)
    except EvidenceError as exc:
        fail(str(exc))
    if not done:
        fail(f"no enabled institution {name!r}", EXIT_BAD_INPUT)
    click.echo(f"disabled {name}")
