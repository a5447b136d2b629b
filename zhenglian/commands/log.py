"""``zhenglian log key``: the log's verifier key (the key that signs acknowledgements)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from zhenglian.common import EXIT_BAD_INPUT, data_dir_option, fail

#: Longest reason given to resume-anchoring (it becomes part of a custody event's note).
MAX_REASON_CHARS = 500


@click.group()
def log() -> None:
    """The log's own key, and resuming its anchoring after a restore."""


@log.command("key")
@data_dir_option
def log_key(data_dir: Path) -> None:
    """Print the log's verifier key (C2SP signed-note form) as the last line, making the key
    first if the data directory has none, so that it can be pinned before the first start."""
    from evidence.errors import EvidenceError
    from ledger.errors import LedgerError
    from zhenglian.composition import log_verifier_key

    try:
        vkey = log_verifier_key(data_dir)
    except (EvidenceError, LedgerError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the data directory {data_dir}: {exc.strerror or exc}")
    click.echo(vkey)


@log.command("resume-anchoring")
@data_dir_option
@click.option(
    "--reason",
    required=True,
    help="Why (recorded in the custody log): e.g. which backup was restored, and when.",
)
@click.option(
    "--log",
    "logs",
    type=click.Choice(["documents", "custody", "both"]),
    default="both",
    show_default=True,
    help="Which log's anchoring to resume.",
)
@click.option("--yes", is_flag=True, help="Do it (without it, only say what would be done).")
def resume_anchoring(data_dir: Path, reason: str, logs: str, yes: bool) -> None:
    """Resume anchoring in new LogAnchor contracts after a restore from backup (serve stopped).

    When serve refuses to start because the log is behind heads it anchored (the database was
    restored from an older backup) or the chain lost heads the log recorded (the chain was
    reset), and the restore was on purpose, this resumes service on the record: the log's
    anchor records move to retired_anchors, a custody event anchoring_resumed (operator, with
    REASON and the retired contract) is appended, and the recorded contract is retired, so the
    next `zhenglian serve` deploys a new LogAnchor and anchors the whole log in it. Receipts
    issued before keep verifying against the retired contract (give its address to `verify
    --contract`); `GET /v1/chain` lists the retired contracts and `GET /v1/log/custody` the
    event. Exit status: 0 done (or, without --yes, the plan printed), 1 failed, 2 bad input.
    """
    from evidence.errors import EvidenceError
    from ledger.errors import LedgerError
    from zhenglian.composition import resume_anchoring as resume
    from zhenglian.composition import serve_is_running

    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        fail(f"--reason must have 1..{MAX_REASON_CHARS} characters", EXIT_BAD_INPUT)
    if not (data_dir / "zhenglian.sqlite").exists() and not os.environ.get(
        "ZHENGLIAN_DATABASE_URL"
    ):
        fail(f"{data_dir} holds no Zhenglian database", EXIT_BAD_INPUT)
    chosen = ("documents", "custody") if logs == "both" else (logs,)
    if not yes:
        click.echo(
            f"would retire the LogAnchor contract and anchor records of the {' and '.join(chosen)} "
            f"log(s) in {data_dir} and record why; run again with --yes to do it"
        )
        return
    try:
        if serve_is_running(data_dir):
            fail(f"zhenglian serve is running on {data_dir}: stop it first")
        done = resume(data_dir, chosen, reason)
    except (EvidenceError, LedgerError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the data directory {data_dir}: {exc.strerror or exc}")
    for each in done:
        contracts = ", ".join("0x" + c.hex() for c in each.retired_contracts) or "none recorded"
        click.echo(
            f"{each.log} log: retired contract {contracts} and {each.retired_anchors} anchor "
            f"records; {each.log_size} entries will be anchored in a new contract at the next "
            f"start; recorded as custody event {each.event_leaf_index}"
        )
