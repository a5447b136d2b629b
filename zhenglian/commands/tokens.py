"""``zhenglian tokens``: API bearer tokens (stored hashed; works while the server runs)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from evidence.errors import EvidenceError
from zhenglian.common import EXIT_BAD_INPUT, data_dir_option, fail

#: Longest institution name (characters).
MAX_INSTITUTION_CHARS = 200


def _database(data_dir: Path):  # type: ignore[no-untyped-def]
    from api.settings import Settings
    from zhenglian.runtime import open_metadata

    return open_metadata(Settings(data_dir=data_dir))


def _record(database, action: str, token_id: str) -> None:  # type: ignore[no-untyped-def]
    """The custody event of an administrative action taken with this CLI (actor: operator)."""
    from evidence.custody import record_event
    from evidence.custody_entry import Actor, CustodyObject

    record_event(database, action, Actor.operator(), CustodyObject("token", token_id))


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


@tokens.command("create")
@data_dir_option
@click.option("--institution", required=True, help="Institution the token acts for.")
@click.option("--role", required=True, help="admin, notary, forensic, legal_aid, court or lawyer.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days until the token expires (default: never).",
)
def create(data_dir: Path, institution: str, role: str, expires_days: int | None) -> None:
    """Create a token; it is printed once, as the last line, and stored only as its hash."""
    from api.auth import ROLES, new_token, token_hash
    from evidence.repository import add_token

    institution = institution.strip()
    if role not in ROLES:
        fail(f"unknown role {role!r}; roles: {', '.join(ROLES)}", EXIT_BAD_INPUT)
    if not institution or len(institution) > MAX_INSTITUTION_CHARS or not institution.isprintable():
        fail(f"institution must be 1..{MAX_INSTITUTION_CHARS} printable characters", EXIT_BAD_INPUT)
    token = new_token()
    token_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    expires = now + timedelta(days=expires_days) if expires_days else None
    try:
        database = _database(data_dir)
        with database.session() as session:
            add_token(
                session,
                id=token_id,
                token_hash=token_hash(token),
                institution=institution,
                role=role,
                created_at=now,
                expires_at=expires,
            )
            session.commit()
        _record(database, "token_create", token_id)
    except EvidenceError as exc:
        fail(str(exc))
    click.echo(
        f"token {token_id} for {institution} ({role})"
        + (f", expires {expires:%Y-%m-%d}" if expires else ""),
        err=True,
    )
    click.echo(token)


@tokens.command("list")
@data_dir_option
def list_tokens(data_dir: Path) -> None:
    """List tokens (never the tokens themselves)."""
    from evidence.repository import list_tokens as repo_list

    try:
        database = _database(data_dir)
        with database.session() as session:
            records = repo_list(session)
    except EvidenceError as exc:
        fail(str(exc))
    for r in records:
        click.echo(
            json.dumps(
                {
                    "id": r.id,
                    "institution": r.institution,
                    "role": r.role,
                    "created_at": r.created_at.isoformat(),
                    "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                    "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                },
                ensure_ascii=False,
            )
        )


@tokens.command("revoke")
@data_dir_option
@click.argument("token_id")
def revoke(data_dir: Path, token_id: str) -> None:
    """Revoke a token by its id; it stops working at once."""
    from evidence.repository import revoke_token

    try:
        database = _database(data_dir)
        with database.session() as session:
            done = revoke_token(session, token_id, datetime.now(UTC))
            session.commit()
        if done:
            _record(database, "token_revoke", token_id)
    except EvidenceError as exc:
        fail(str(exc))
    if not done:
        fail(f"no active token {token_id}", EXIT_BAD_INPUT)
    click.echo(f"revoked {token_id}")
