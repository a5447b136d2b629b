"""``zhenglian sign``: an institution signs a document on its own side (docs/signatures.md).

A PDF gets an embedded PAdES signature (the signed PDF is the document); any other file a
detached CMS signature (CAdES), written beside it. An SM2 institution (its certificate
certifies an SM2 key) signs every file — PDFs included, which pyHanko cannot sign in SM2 — with
a detached GM/T 0010 signature (SM3, signer ID 1234567812345678) written beside it. All carry
an RFC 3161 signature time stamp from the authority (``--tsa-url``, default
``$ZHENGLIAN_TSA_URL``): a court needs a trusted signing time, so signing without one is
refused unless ``--no-time-stamp`` says so — the server then records the time as *claimed*.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from zhenglian.common import EXIT_BAD_INPUT, EXIT_FAILED, fail

PASSPHRASE_ENV = "ZHENGLIAN_SIGNING_PASSPHRASE"
"""The only place the key's passphrase is read from."""
TSA_URL_ENV = "ZHENGLIAN_TSA_URL"
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
"""Largest file signed (a detached signature reads it once; a PDF is read whole)."""
MAX_KEY_FILE_BYTES = 64 * 1024
MAX_CERTIFICATE_FILE_BYTES = 32 * 1024
MAX_CRL_FILE_BYTES = 8 * 1024 * 1024
PDF_MAGIC = b"%PDF-"


def _read(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        fail(f"cannot read the {what} {path}: {exc.strerror}", EXIT_BAD_INPUT)
    if len(data) > limit:
        fail(f"the {what} {path} is over {limit} bytes", EXIT_BAD_INPUT)
    return data


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(PDF_MAGIC)) == PDF_MAGIC
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", EXIT_BAD_INPUT)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The institution's key (PKCS#8 PEM, encrypted with ${PASSPHRASE_ENV}).",
)
@click.option(
    "--cert",
    "cert_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The institution's certificate (PEM, from zhenglian pki issue).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write (default: NAME.signed.pdf for a PDF, FILE.p7s otherwise; FILE.p7s "
    "for any file signed with an SM2 key).",
)
@click.option(
    "--tsa-url",
    default=lambda: os.environ.get(TSA_URL_ENV),
    help=f"RFC 3161 time-stamp authority (default: ${TSA_URL_ENV}).",
)
@click.option(
    "--no-time-stamp",
    is_flag=True,
    help="Sign without a trusted time (the signing time is then only claimed).",
)
@click.option(
    "--server",
    default=None,
    help="Zhenglian API whose /v1/pki/ca and /v1/pki/crl a PDF's validation data (DSS) "
    "takes (PAdES-B-LTA).",
)
@click.option(
    "--crl",
    "crl_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Instead of --server's: the CRL (DER) for a PDF's validation data.",
)
@click.option(
    "--ca",
    "ca_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Instead of --server's: the PKI root certificate (PEM) for a PDF's validation data.",
)
def sign(
    file: Path,
    key_path: Path,
    cert_path: Path,
    output: Path | None,
    tsa_url: str | None,
    no_time_stamp: bool,
    server: str | None,
    crl_path: Path | None,
    ca_path: Path | None,
) -> None:
    """Sign FILE with an institution key: PAdES inside a PDF, a detached .p7s otherwise."""
    from certs.errors import CertsError, CertsInputError
    from certs.signing.document_signer import (
        http_time_stamper,
        load_signing_identity,
        sign_detached,
    )

    if tsa_url and no_time_stamp:
        fail("--no-time-stamp and a time-stamp authority: choose one", EXIT_BAD_INPUT)
    if not tsa_url and not no_time_stamp:
        fail(
            f"no time-stamp authority (--tsa-url or ${TSA_URL_ENV}): a court needs a trusted "
            "signing time; give --no-time-stamp to sign with a claimed time only",
            EXIT_BAD_INPUT,
        )
    passphrase = os.environ.get(PASSPHRASE_ENV)
    key_pem = _read(key_path, MAX_KEY_FILE_BYTES, "key")
    cert_pem = _read(cert_path, MAX_CERTIFICATE_FILE_BYTES, "certificate")
    try:
        size = file.stat().st_size
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT)
    if size > MAX_DOCUMENT_BYTES:
        fail(f"{file} is over {MAX_DOCUMENT_BYTES} bytes", EXIT_BAD_INPUT)
    from certs.signing.sm2_signer import certificate_is_sm2

    sm2 = certificate_is_sm2(cert_pem)
    pdf = _is_pdf(file) and not sm2
    target = output or (file.with_name(f"{file.stem}.signed.pdf") if pdf else Path(f"{file}.p7s"))
    if target.resolve() == file.resolve():
        fail("the output would overwrite the document", EXIT_BAD_INPUT)
    if sm2:
        signed = _sign_sm2(file, key_pem, cert_pem, passphrase, tsa_url)
        _write(target, signed)
        how = "time-stamped" if tsa_url else "claimed time only (--no-time-stamp)"
        note = (
            " — an SM2 PDF is not signed inside (pyHanko signs no SM2): deposit it with "
            "--signature and keep the .p7s beside it"
            if _is_pdf(file)
            else ""
        )
        click.echo(
            f"detached SM2 signature (GM/T 0010, SM3, signer ID 1234567812345678; {how}): "
            f"{target}{note}",
            err=True,
        )
        return
    try:
        identity = load_signing_identity(
            key_pem, cert_pem, passphrase.encode() if passphrase is not None else None
        )
        stamper = http_time_stamper(tsa_url) if tsa_url else None
        if pdf:
            from zhenglian.commands.sign_pdf import sign_pdf_file

            signed = sign_pdf_file(
                file, identity, stamper, server=server, crl_path=crl_path, ca_path=ca_path
            )
        else:
            with file.open("rb") as fh:
                signed = sign_detached(fh, identity, time_stamper=stamper)
    except CertsInputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except CertsError as exc:
        fail(str(exc), EXIT_FAILED)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT)
    _write(target, signed)
    how = "time-stamped" if stamper is not None else "claimed time only (--no-time-stamp)"
    kind = "PAdES signature embedded" if pdf else "detached CMS signature"
    click.echo(f"{kind} ({how}): {target}", err=True)


def _write(target: Path, signed: bytes) -> None:
    try:
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(signed)
        os.replace(tmp, target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror}", EXIT_FAILED)


def _sign_sm2(
    file: Path, key_pem: bytes, cert_pem: bytes, passphrase: str | None, tsa_url: str | None
) -> bytes:
    """The detached SM2 signature of ``file`` (exit 2 on a bad key or certificate, 1 when the
    time-stamp authority fails)."""
    from certs.errors import CertsError, CertsInputError
    from certs.signing.document_signer import http_time_stamper
    from certs.signing.sm2_signer import load_sm2_signing_identity, sign_sm2_detached
    from certs.sm2.gmssl_engine import GmsslEngine

    engine = GmsslEngine(quiet=True)
    try:
        identity = load_sm2_signing_identity(
            key_pem,
            cert_pem,
            passphrase.encode() if passphrase is not None else None,
            engine=engine,
        )
        stamper = http_time_stamper(tsa_url) if tsa_url else None
        with file.open("rb") as fh:
            return sign_sm2_detached(fh, identity, engine=engine, time_stamper=stamper)
    except CertsInputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except CertsError as exc:
        fail(str(exc), EXIT_FAILED)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_BAD_INPUT)
