"""``zhenglian deposit``: upload a document, optionally wait for its receipt."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from zhenglian.common import EXIT_BAD_INPUT, fail

if TYPE_CHECKING:
    import httpx

#: Bytes per upload chunk.
UPLOAD_CHUNK = 1024 * 1024
#: Files above this size show a progress bar (when stderr is a terminal).
PROGRESS_FROM = 64 * 1024 * 1024
#: Seconds --wait waits for the receipt.
WAIT_TIMEOUT = 120.0
#: HTTP timeout for one request (uploads: per chunk).
HTTP_TIMEOUT = 60.0
#: Largest signature file sent (the server's limit, certs.verify.cms_signature).
MAX_SIGNATURE_FILE_BYTES = 64 * 1024


class _ProgressReader:
    """A binary file whose reads advance a progress bar on stderr (large files, terminals only)."""

    def __init__(self, fh: BinaryIO, size: int, name: str) -> None:
        self._fh = fh
        self._bar = None
        if size >= PROGRESS_FROM and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=size, unit="B", unit_scale=True, desc=name)

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        if self._bar is not None:
            self._bar.update(len(data))
        return data

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _problem(r: httpx.Response) -> str:
    try:
        body = r.json()
        reason = f" [{body['reason']}]" if body.get("reason") else ""
        return f"{r.status_code} {body.get('title', '')}{reason}: {body.get('detail', '')}".strip()
    except ValueError:
        return f"{r.status_code} {r.text[:200]}"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--server", required=True, help="Base URL of the Zhenglian API.")
@click.option(
    "--token",
    default=lambda: os.environ.get("ZHENGLIAN_TOKEN"),
    help="Bearer token (default: $ZHENGLIAN_TOKEN).",
)
@click.option(
    "--kind", required=True, type=click.Choice(["notary", "forensic", "legal_aid", "other"])
)
@click.option("--title", default=None, help="Title (default: the file name).")
@click.option("--case", "case_code", default=None, help="Case code (一案一码).")
@click.option(
    "--signature",
    "signature_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="FILE's detached signature (zhenglian sign: FILE.p7s), checked by the server. A "
    "signed PDF carries its signature inside: give it alone.",
)
@click.option("--wait", is_flag=True, help="Wait until the document is anchored.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the receipt here (implies --wait).",
)
@click.option(
    "--ack",
    "ack_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the log's signed acknowledgement here (keep it with the receipt).",
)
def deposit(
    file: Path,
    server: str,
    token: str | None,
    kind: str,
    title: str | None,
    case_code: str | None,
    wait: bool,
    output: Path | None,
    ack_out: Path | None,
    signature_path: Path | None = None,
) -> None:
    """Deposit FILE (with its detached signature, if any); print the document record (JSON).

    A signature that does not hold is refused (exit 2) with the check that failed."""
    import httpx  # here: the server's processes, which load every command, never need it

    if not token:
        fail("a token is required (--token or $ZHENGLIAN_TOKEN)", EXIT_BAD_INPUT)
    try:
        size = file.stat().st_size
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT)
    headers = {"Authorization": f"Bearer {token}"}
    base = server.rstrip("/")
    data = {"kind": kind, "title": title or file.name}
    if case_code:
        data["case_code"] = case_code
    signature = None
    if signature_path is not None:
        try:
            with signature_path.open("rb") as sig:
                signature = sig.read(MAX_SIGNATURE_FILE_BYTES + 1)
        except OSError as exc:
            fail(f"cannot read {signature_path}: {exc.strerror}", EXIT_BAD_INPUT)
        if len(signature) > MAX_SIGNATURE_FILE_BYTES:
            fail(f"{signature_path} is over {MAX_SIGNATURE_FILE_BYTES} bytes", EXIT_BAD_INPUT)
    try:
        with file.open("rb") as fh:
            reader = _ProgressReader(fh, size, file.name)
            try:
                r = httpx.post(
                    f"{base}/v1/documents",
                    headers=headers,
                    data=data,
                    # The signature part goes first: the server reads the file part last.
                    files={
                        **(
                            {}
                            if signature is None
                            else {
                                "signature": (
                                    signature_path.name if signature_path else "signature.p7s",
                                    signature,
                                    "application/pkcs7-signature",
                                )
                            }
                        ),
                        "file": (file.name, reader),  # type: ignore[dict-item]
                    },
                    timeout=HTTP_TIMEOUT,
                )
            finally:
                reader.close()
    except httpx.HTTPError as exc:
        fail(f"cannot reach {base}: {exc}")
    if r.status_code != 201:
        fail(f"deposit refused: {_problem(r)}", EXIT_BAD_INPUT if r.status_code < 500 else 1)
    record = r.json()
    click.echo(json.dumps(record, ensure_ascii=False, indent=2))
    if ack_out is not None:
        if not record.get("acknowledgement"):
            fail("the server sent no acknowledgement")
        ack_out.write_text(record["acknowledgement"], encoding="utf-8")
        click.echo(f"acknowledgement written to {ack_out}", err=True)
    if not (wait or output):
        return
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        try:
            rr = httpx.get(
                f"{base}/v1/documents/{record['id']}/receipt", headers=headers, timeout=HTTP_TIMEOUT
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach {base}: {exc}")
        if rr.status_code == 200:
            break
        if rr.status_code != 202:
            fail(f"receipt refused: {_problem(rr)}")
        if time.monotonic() > deadline:
            fail(
                f"not anchored within {WAIT_TIMEOUT:.0f}s "
                "(the deposit is safe; fetch the receipt later)"
            )
        time.sleep(0.5)
    if output:
        output.write_text(
            json.dumps(rr.json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        click.echo(f"receipt written to {output}", err=True)
    else:
        click.echo(json.dumps(rr.json(), ensure_ascii=False, indent=2))
