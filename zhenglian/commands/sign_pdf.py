"""The PDF half of ``zhenglian sign``: where a PAdES signature's validation data comes from.

For PAdES-B-LTA the signer needs the PKI root and a current CRL to embed (DSS). They come
from ``--server`` (``GET /v1/pki/ca``, ``GET /v1/pki/crl``: what the server itself will check
the deposit against) or from ``--ca``/``--crl`` files (an institution offline from the
server). The time-stamp authority's roots come from ``$ZHENGLIAN_TSA_ROOTS`` (PEM), as for
the server. Without a root and a CRL the PDF is signed PAdES-B-T only, and the command says
so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zhenglian.common import EXIT_BAD_INPUT, fail

if TYPE_CHECKING:
    from pyhanko.sign.timestamps.api import TimeStamper

    from certs.signing.document_signer import SigningIdentity

TSA_ROOTS_ENV = "ZHENGLIAN_TSA_ROOTS"
HTTP_TIMEOUT = 30.0
MAX_CRL_BYTES = 8 * 1024 * 1024
MAX_ROOT_BYTES = 32 * 1024


def _fetch(server: str, path: str, limit: int) -> bytes:
    import httpx

    url = f"{server.rstrip('/')}{path}"
    try:
        r = httpx.get(url, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}")
    if r.status_code != 200:
        fail(f"{url} answered {r.status_code}: the server has no PKI to sign against")
    if len(r.content) > limit:
        fail(f"{url} sent more than {limit} bytes")
    return r.content


def sign_pdf_file(
    file: Path,
    identity: SigningIdentity,
    stamper: TimeStamper | None,
    *,
    server: str | None,
    crl_path: Path | None,
    ca_path: Path | None,
) -> bytes:
    from certs.errors import ProfileError
    from certs.formats.institution_profile import load_certificate
    from certs.formats.revocation_list import load_crl
    from certs.signing.document_signer import sign_pdf
    from evidence.errors import InputError
    from evidence.services.time_stamping import load_time_stamp_roots

    root_data = crl = None
    if server is not None:
        root_data = _fetch(server, "/v1/pki/ca", MAX_ROOT_BYTES)
        crl = _fetch(server, "/v1/pki/crl", MAX_CRL_BYTES)
    if ca_path is not None:
        root_data = ca_path.read_bytes()[: MAX_ROOT_BYTES + 1]
    if crl_path is not None:
        crl = crl_path.read_bytes()[: MAX_CRL_BYTES + 1]
    try:
        root = load_certificate(root_data) if root_data is not None else None
        if crl is not None:
            load_crl(crl)
    except ProfileError as exc:
        fail(f"the PKI root or CRL cannot be read: {exc}", EXIT_BAD_INPUT)
    roots_file = os.environ.get(TSA_ROOTS_ENV)
    try:
        tsa_roots = load_time_stamp_roots(roots_file) if roots_file else ()
    except InputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    if stamper is not None and (root is None or crl is None):
        click.echo(
            "zhenglian: note: no --server (or --ca and --crl): PAdES-B-T only, without the "
            "long-term validation data (DSS, document time stamp)",
            err=True,
        )
    with file.open("rb") as fh:
        return sign_pdf(
            fh, identity, time_stamper=stamper, root=root, crl=crl, time_stamp_roots=tsa_roots
        )
