"""``zhenglian trust export``: the trust bundle a verifier of this server's receipts pins."""

from __future__ import annotations

from pathlib import Path

import click

from zhenglian.common import data_dir_option, fail


@click.group()
def trust() -> None:
    """The trust bundle (docs/trust.md): chain, contracts, keys, witnesses, authorities."""


@trust.command("export")
@data_dir_option
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the bundle (JSON); '-' for standard output.",
)
def export(data_dir: Path, out: Path) -> None:
    """Write the trust bundle serve last published for the data directory (the same as
    ``GET /v1/trust``), checked. Give it to verifiers; they should still pin the witnesses'
    keys as the witnesses themselves publish them (``zhenglian verify --witness``).
    ``pki_roots`` holds the institutions' root certificate as DATA_DIR/pki has it now."""
    from dataclasses import replace

    from certs.errors import CertsError
    from certs.store.publication import PublishedPki
    from evidence.errors import EvidenceError
    from evidence.formats.trust_bundle import TrustBundle
    from zhenglian.composition import export_trust_bundle

    try:
        data = export_trust_bundle(data_dir)
        roots = PublishedPki(data_dir).root_pems()  # the ECDSA root, and the SM2 root if any
        if roots:
            bundle = TrustBundle.from_json_bytes(data)
            data = replace(
                bundle, pki_roots=tuple(root.decode("ascii") for root in roots)
            ).to_json_bytes()
    except (EvidenceError, CertsError) as exc:
        fail(str(exc))
    if str(out) == "-":
        click.echo(data.decode("utf-8"), nl=False)
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"trust bundle written to {out}", err=True)
