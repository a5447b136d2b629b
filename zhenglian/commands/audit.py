"""``zhenglian audit``: sweep a data directory for anything stored that is not what was proven.

Exit status: 0 no finding; 1 findings (JSON lines on stdout); 2 the audit could not run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from zhenglian.common import data_dir_option, fail

#: Exit status of an audit that found something.
EXIT_FINDINGS = 1
#: Exit status of an audit that could not run (database, blob store or node unreachable).
EXIT_CANNOT_RUN = 2

RPC_URL_ENV = "ZHENGLIAN_CHAIN_RPC_URL"


@click.command()
@data_dir_option
@click.option(
    "--rpc",
    "rpc_url",
    default=lambda: os.environ.get(RPC_URL_ENV),
    show_default=f"${RPC_URL_ENV}",
    help="JSON-RPC URL of the chain: check the recorded anchors against it.",
)
@click.option(
    "--originals/--no-originals",
    default=True,
    show_default=True,
    help="Re-hash every stored original (reads them all).",
)
def audit(data_dir: Path, rpc_url: str | None, originals: bool) -> None:
    """Check every stored fact of DATA_DIR against what proves it.

    Re-hashes stored originals, checks document rows against their log entries, entries
    against the log's leaves, the log against its anchored heads, the custody log's events and
    links, and (with --rpc) the anchored heads against the chain; reports orphans. Findings are
    printed as JSON lines on stdout and stored, so the server's /healthz shows them; a summary
    goes to stderr. Safe to run beside a running serve. Exit status: 0 no finding, 1 findings,
    2 the audit could not run.
    """
    from evidence.errors import EvidenceError
    from ledger.errors import LedgerError
    from zhenglian.composition import audit_data_dir

    if not (data_dir / "zhenglian.sqlite").exists() and not os.environ.get(
        "ZHENGLIAN_DATABASE_URL"
    ):
        fail(f"{data_dir} holds no Zhenglian database", EXIT_CANNOT_RUN)
    try:
        report, new = audit_data_dir(data_dir, rpc_url=rpc_url, originals=originals)
    except (EvidenceError, LedgerError, OSError) as exc:
        fail(f"audit could not run: {exc}", EXIT_CANNOT_RUN)
    for finding in report.findings:
        click.echo(json.dumps(finding.to_json(), ensure_ascii=False, sort_keys=True))
    click.echo(f"audit: {report.summary()} ({len(new)} new)", err=True)
    if report.findings:
        raise SystemExit(EXIT_FINDINGS)
