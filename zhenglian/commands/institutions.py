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
@click.option(
    "--bureau",
    default=None,
    help="The justice bureau whose admins manage it (by name). Default: the only bureau, if "
    "there is exactly one; else none (only this CLI manages it). Not for a bureau.",
)
def create(data_dir: Path, name: str, kind: str, bureau: str | None) -> None:
    """Register an institution; prints its id."""
    from evidence.access.enforcement import add_institution, bureau_to_join
    from zhenglian.composition import in_operator_transaction

    def work(session: Session) -> tuple[InstitutionRecord, InstitutionRecord | None]:
        joins = bureau_to_join(session, type=kind, bureau=bureau)
        made = add_institution(
            session, name=name, type=kind, bureau_id=None if joins is None else joins.id
        )
        record_as_operator(session, "institution_create", "institution", made.id)
        return made, joins

    try:
        made, joins = in_operator_transaction(data_dir, work)
    except (InputError, DuplicateRecord) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except EvidenceError as exc:
        fail(str(exc))
    click.echo(f"institution {made.name} ({made.type}){bureau_note(made, joins)}", err=True)
    click.echo(made.id)


def bureau_note(made: InstitutionRecord, joins: InstitutionRecord | None) -> str:
    """How a new institution is managed, for the operator's terminal."""
    if joins is not None:
        return f", managed by the admins of {joins.name}"
    if made.type == "justice_bureau":
        return ""
    return ", managed by no bureau's admins (no single bureau: pass --bureau NAME to link it)"


@institutions.command("list")
@data_dir_option
def list_institutions(data_dir: Path) -> None:
    """List institutions as JSON lines."""
    from evidence.access.enforcement import list_institutions as repo_list

    echo_records(
        data_dir, repo_list, ("id", "name", "type", "created_at", "disabled_at", "bureau_id")
    )


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
