"""``zhenglian fetch``: download a document's original, or (``--bundle``) its evidence bundle
(docs/bundle.md), to a file.

The download goes to a temporary file beside the output (mode 0600) that is renamed into
place only once complete — and, for a bundle, once its archive and manifest were read back
(:class:`~evidence.formats.evidence_bundle.EvidenceBundle`): a cut-off download (the server
stops a transfer whose stored original no longer hashes to its digest) leaves nothing.

Exit status: 0 written; 1 the server failed, the receipt is not ready (after ``--wait``) or
the stored original was found altered (409); 2 bad input (usage, no access, not found).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from zhenglian.common import EXIT_BAD_INPUT, fail

if TYPE_CHECKING:
    import httpx

HTTP_TIMEOUT: Final = 120.0
"""Seconds the server may take to send the next bytes."""
WAIT_TIMEOUT: Final = 300.0
"""Seconds ``--wait`` waits for a receipt before giving up."""
WAIT_STEP: Final = 1.0
"""Seconds between two asks while ``--wait`` waits."""
DOWNLOAD_CHUNK: Final = 1024 * 1024
"""Bytes written at a time."""


def _problem(r: httpx.Response) -> str:
    try:
        body = r.json()
        reason = f" [{body['reason']}]" if body.get("reason") else ""
        return f"{r.status_code} {body.get('title', '')}{reason}: {body.get('detail', '')}".strip()
    except ValueError:
        return f"{r.status_code} {r.text[:200]}"


def _check_bundle(path: Path) -> None:
    from evidence.formats.evidence_bundle import BundleError, EvidenceBundle

    try:
        with path.open("rb") as fh:
            EvidenceBundle.from_zip(fh).close()
    except BundleError as exc:
        fail(f"the server sent a bundle that does not read back: {exc}")


@click.command()
@click.argument("document_id")
@click.option("--server", required=True, help="Base URL of the Zhenglian API.")
@click.option(
    "--token",
    default=lambda: os.environ.get("ZHENGLIAN_TOKEN"),
    help="Bearer token (default: $ZHENGLIAN_TOKEN).",
)
@click.option(
    "--bundle",
    is_flag=True,
    help="The evidence bundle (one zip: original, signature, signer's chain, receipt, custody "
    "export, trust bundle, manifest) instead of the original alone.",
)
@click.option(
    "--share",
    "share_code",
    default=None,
    help="Fetch through this share code (证据提取码; one use of it) instead of the case.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it here (replaced only once the download is complete).",
)
@click.option(
    "--wait",
    is_flag=True,
    help=f"(--bundle) While the receipt is not ready, ask again (up to {WAIT_TIMEOUT:.0f} s).",
)
def fetch(
    document_id: str,
    server: str,
    token: str | None,
    bundle: bool,
    output: Path,
    wait: bool,
    share_code: str | None = None,
) -> None:
    """Download document DOCUMENT_ID's original, or with --bundle its evidence bundle, to
    OUTPUT (as a participant of its case, or with --share CODE); check a bundle with
    `zhenglian verify --bundle OUTPUT --trust BUNDLE`.

    Exit status: 0 written; 1 the server failed or the receipt is not ready; 2 bad input."""
    import httpx  # here: the server's processes, which load every command, never need it

    if not token:
        fail("a token is required (--token or $ZHENGLIAN_TOKEN)", EXIT_BAD_INPUT)
    if "/" in document_id or not document_id.strip():
        fail(f"not a document id: {document_id!r}", EXIT_BAD_INPUT)
    if share_code is not None and ("/" in share_code or not share_code.strip()):
        fail(f"not a share code: {share_code!r}", EXIT_BAD_INPUT)
    base = server.rstrip("/")
    what = "bundle" if bundle else "content"
    url = (
        f"{base}/v1/documents/{document_id}/{what}"
        if share_code is None
        else f"{base}/v1/shares/{share_code.strip()}/documents/{document_id}/{what}"
    )
    headers = {"Authorization": f"Bearer {token}"}
    directory = output.parent if str(output.parent) else Path(".")
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        try:
            fd, name = tempfile.mkstemp(dir=directory, prefix=f".{output.name}.", suffix=".part")
        except OSError as exc:
            fail(f"cannot write in {directory}: {exc.strerror}", EXIT_BAD_INPUT)
        part = Path(name)
        try:
            with (
                os.fdopen(fd, "wb") as out,
                httpx.stream("GET", url, headers=headers, timeout=HTTP_TIMEOUT) as r,
            ):
                if r.status_code == 200:
                    for chunk in r.iter_bytes(DOWNLOAD_CHUNK):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                else:
                    r.read()
            if r.status_code == 200:
                if bundle:
                    _check_bundle(part)
                os.replace(part, output)
                break
        except httpx.HTTPError as exc:
            fail(f"download from {base} failed: {exc}")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_BAD_INPUT)
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        pending = r.status_code == 409 and r.headers.get("retry-after") is not None
        if pending and wait and time.monotonic() < deadline:
            time.sleep(WAIT_STEP)
            continue
        # 409: a pending receipt, or the stored original found altered: not the caller's input.
        code = EXIT_BAD_INPUT if 400 <= r.status_code < 500 and r.status_code != 409 else 1
        fail(f"fetch refused: {_problem(r)}", code)
    click.echo(f"{'bundle' if bundle else 'original'} written to {output}", err=True)
