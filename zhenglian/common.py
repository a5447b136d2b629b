"""What every ``zhenglian`` command shares: error exits and common options."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


CUSTODY_DEPLOYMENTS = "custody-deployments.json"
"""File (in the data directory) recording the custody log's LogAnchor deployment."""

CERTIFICATE_REGISTRY_DEPLOYMENTS = "certificate-registry-deployments.json"
"""File (in the data directory) recording the CertificateRegistry deployment."""

DATA_DIR_ENV = "ZHENGLIAN_DATA_DIR"
DEFAULT_DATA_DIR = "data"

#: Exit codes: the work failed (for a verifying command: a check failed) / the input was bad /
#: (verifying commands) the check could not be made: node unreachable, data missing.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANNOT_CHECK = 3


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


def record_as_operator(session: Session, action: str, object_type: str, object_id: str) -> None:
    """Append the custody event of an administrative change made with this CLI (actor
    ``operator``) in the change's own transaction, so both commit or neither does."""
    from evidence.formats.custody_event import Actor, CustodyObject
    from evidence.services.custody_recording import append_events, new_draft

    draft = new_draft(action, Actor.operator(), CustodyObject(object_type, object_id))
    append_events(session, [draft])


def echo_records(
    data_dir: Path, list_records: Callable[[Session], Sequence[Any]], fields: Sequence[str]
) -> None:
    """Print the records ``list_records`` reads from a data directory's database as JSON lines
    of ``fields`` (times in ISO 8601, absent ones as null)."""
    from evidence.errors import EvidenceError
    from zhenglian.composition import read_from

    try:
        records = read_from(data_dir, list_records)
    except EvidenceError as exc:
        fail(str(exc))
    for record in records:
        values = {name: getattr(record, name) for name in fields}
        line = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
        click.echo(json.dumps(line, ensure_ascii=False))
