"""``zhenglian tokens``: API bearer tokens (stored hashed; works while the server runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from evidence.errors import EvidenceError
from zhenglian.commands.institutions import bureau_note
from zhenglian.common import (
    EXIT_BAD_INPUT,
    data_dir_option,
    echo_records,
    fail,
    record_as_operator,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from evidence.access.enforcement import InstitutionRecord, TokenRecord


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


@tokens.command("create")
@data_dir_option
@click.option("--institution", required=True, help="Institution the token acts for (by name).")
@click.option("--role", required=True, help="admin, notary, forensic, legal_aid, court or lawyer.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    default=365,
    show_default=True,
    help="Days until the token expires (every token does).",
)
@click.option(
    "--no-create-institution",
    is_flag=True,
    help="Fail if the institution does not exist (default: create it, of the role's type).",
)
@click.option(
    "--bureau",
    default=None,
    help="For an institution this creates: the justice bureau whose admins manage it (by "
    "name). Default: the only bureau, if there is exactly one.",
)
def create(
    data_dir: Path,
    institution: str,
    role: str,
    expires_days: int,
    no_create_institution: bool,
    bureau: str | None,
) -> None:
    """Create a token; it is printed once, as the last line, and stored only as its hash.

    A missing institution is created with the type the role belongs to (notary ->
    notary_office, forensic -> forensic_institution, legal_aid -> legal_aid_centre, court ->
    court, lawyer -> law_firm, admin -> justice_bureau); an existing one must be of that type.
    A created institution belongs to the bureau named by --bureau, else to the only bureau if
    there is exactly one (docs/access.md).
    """
    from api.auth import ROLES
    from evidence.access.enforcement import bureau_to_join, get_institution, issue_token
    from evidence.access.policy import INSTITUTION_TYPE_OF_ROLE, Role

    if role not in ROLES:
        fail(f"unknown role {role!r}; roles: {', '.join(ROLES)}", EXIT_BAD_INPUT)
    from zhenglian.composition import in_operator_transaction

    def work(
        session: Session,
    ) -> tuple[tuple[str, TokenRecord, InstitutionRecord | None], InstitutionRecord | None]:
        joins = None
        if not no_create_institution and get_institution(session, name=institution) is None:
            kind = INSTITUTION_TYPE_OF_ROLE[Role(role)]
            joins = bureau_to_join(session, type=kind, bureau=bureau)
        made = issue_token(
            session,
            institution=institution,
            role=role,
            expires_in=timedelta(days=expires_days),
            create_institution=not no_create_institution,
            bureau_id=None if joins is None else joins.id,
        )
        if made[2] is not None:
            record_as_operator(session, "institution_create", "institution", made[2].id)
        record_as_operator(session, "token_create", "token", made[1].id)
        return made, joins

    try:
        (token, record, created), joins = in_operator_transaction(data_dir, work)
    except EvidenceError as exc:
        fail(str(exc), EXIT_BAD_INPUT if _bad_input(exc) else 1)
    click.echo(
        f"token {record.id} for {record.institution} ({role})"
        + (f", expires {record.expires_at:%Y-%m-%d}" if record.expires_at else ""),
        err=True,
    )
    if created is not None:
        note = bureau_note(created, joins)
        click.echo(f"created institution {created.name} ({created.type}){note}", err=True)
    elif bureau is not None:
        click.echo(f"--bureau ignored: {record.institution} exists already", err=True)
    click.echo(token)


def _bad_input(exc: EvidenceError) -> bool:
    from evidence.errors import InputError, NotFound

    return isinstance(exc, InputError | NotFound)


@tokens.command("list")
@data_dir_option
def list_tokens(data_dir: Path) -> None:
    """List tokens as JSON lines (never the tokens themselves)."""
    from evidence.access.enforcement import list_tokens as repo_list

    echo_records(
        data_dir,
        repo_list,
        ("id", "institution", "role", "created_at", "expires_at", "revoked_at"),
    )


@tokens.command("revoke")
@data_dir_option
@click.argument("token_id")
def revoke(data_dir: Path, token_id: str) -> None:
    """Revoke a token by its id; it stops working at once."""
    from evidence.access.enforcement import revoke_token
    from zhenglian.composition import in_operator_transaction

    def work(session: Session) -> bool:
        done = revoke_token(session, token_id, datetime.now(UTC))
        if done:
            record_as_operator(session, "token_revoke", "token", token_id)
        return done

    try:
        done = in_operator_transaction(data_dir, work)
    except EvidenceError as exc:
        fail(str(exc))
    if not done:
        fail(f"no active token {token_id}", EXIT_BAD_INPUT)
    click.echo(f"revoked {token_id}")
