"""``zhenglian pki``: the justice bureau's certificate authority for institutions
(docs/pki.md).

``init`` makes the root, ``issue`` certifies an institution's key (made here with ``--out``, or
kept on the institution's token with ``--csr``), ``revoke`` revokes and issues a new CRL,
``crl`` re-issues the CRL before its nextUpdate, ``list`` prints the index, ``publish`` copies
an offline authority's public files into the server's data directory.

Passphrases come from the environment only (``ZHENGLIAN_CA_PASSPHRASE`` for the root key,
``ZHENGLIAN_SIGNING_PASSPHRASE`` for a key made by ``issue --out``), never from the command
line, and are never printed. Exit status: 0 done, 1 failed (files, lock, wrong passphrase), 2
bad input; errors are one line.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from zhenglian.common import EXIT_BAD_INPUT, data_dir_option, fail

if TYPE_CHECKING:
    from certs.sm2.engine import SM2Engine
    from certs.store.authority import IssuedRecord

CA_PASSPHRASE_ENV: Final = "ZHENGLIAN_CA_PASSPHRASE"
SIGNING_PASSPHRASE_ENV: Final = "ZHENGLIAN_SIGNING_PASSPHRASE"
PUBLIC_URL_ENV: Final = "ZHENGLIAN_PUBLIC_URL"
MAX_PASSPHRASE_BYTES: Final = 1024
"""Longest passphrase taken from the environment."""
MAX_OPTION_CHARS: Final = 200
"""Longest free-text option (name, time, serial) taken before it is checked in detail."""

#: Institution types the GB 32100 registration authority and category say unambiguously
#: (authority 3 司法行政: 1 律师执业机构, 2 公证处, 4 司法鉴定机构).
TYPE_OF_CATEGORY: Final = {
    "31": "law_firm",
    "32": "notary_office",
    "34": "forensic_institution",
}


def _passphrase(variable: str) -> bytes:
    value = os.environ.get(variable)
    if not value:
        fail(f"set {variable} in the environment (it is never taken on the command line)", 2)
    data = value.encode()
    if len(data) > MAX_PASSPHRASE_BYTES:
        fail(f"{variable} is longer than {MAX_PASSPHRASE_BYTES} bytes", EXIT_BAD_INPUT)
    return data


def _short(value: str, option: str) -> str:
    if len(value) > MAX_OPTION_CHARS:
        fail(f"{option} is longer than {MAX_OPTION_CHARS} characters", EXIT_BAD_INPUT)
    return value


@click.group()
def pki() -> None:
    """The institutions' PKI: root, certificates, revocation, CRLs (docs/pki.md)."""


@pki.command("init")
@data_dir_option
@click.option("--name", required=True, help="The root's name, e.g. 某市司法局机构证书根.")
@click.option(
    "--public-url",
    default=lambda: os.environ.get(PUBLIC_URL_ENV),
    help="The server's public base URL: certificates point to URL/v1/pki/crl for their "
    f"CRL. Default ${PUBLIC_URL_ENV}; none: no CRL distribution point.",
)
@click.option(
    "--algorithm",
    type=click.Choice(["ecdsa", "sm2"]),
    default="ecdsa",
    show_default=True,
    help="ecdsa: the authority's ECDSA P-256 root (first). sm2: its SM2 root beside it "
    "(GM/T 0015, SM2-with-SM3), which certifies SM2 institution keys.",
)
def init(data_dir: Path, name: str, public_url: str | None, algorithm: str) -> None:
    """Make a root key (encrypted with $ZHENGLIAN_CA_PASSPHRASE), its root certificate and
    its first CRL in DATA_DIR/pki: the ECDSA P-256 root, or with --algorithm sm2 the SM2 root
    beside it. A root is never replaced."""
    from certs.errors import CertsError, CertsInputError
    from certs.store.authority import ROOT_FILES, CertificateAuthority

    passphrase = _passphrase(CA_PASSPHRASE_ENV)
    if algorithm == "sm2":
        from certs.formats.root_signer import SM2
        from certs.sm2.gmssl_engine import GmsslEngine

        # --public-url is the authority's, set with its ECDSA root: not read here.
        try:
            authority = CertificateAuthority.init_sm2(
                data_dir,
                _short(name, "--name"),
                passphrase=passphrase,
                engine=GmsslEngine(quiet=True),
            )
        except CertsInputError as exc:
            fail(str(exc), EXIT_BAD_INPUT)
        except CertsError as exc:
            fail(str(exc))
        sm2_root = authority.root_of(SM2)
        click.echo(
            f"{data_dir} has a new SM2 root: {sm2_root.subject.rfc4514_string()}, serial "
            f"{sm2_root.serial_number:x}, valid until "
            f"{sm2_root.not_valid_after_utc.date().isoformat()}",
            err=True,
        )
        click.echo(str(authority.directory / ROOT_FILES[SM2].certificate))
        return
    try:
        authority = CertificateAuthority.init(
            data_dir,
            _short(name, "--name"),
            passphrase=passphrase,
            public_url=_short(public_url, "--public-url") if public_url else None,
        )
    except CertsInputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except CertsError as exc:
        fail(str(exc))
    root = authority.root
    click.echo(
        f"{data_dir} has a new root: {root.subject.rfc4514_string()}, serial "
        f"{root.serial_number:x}, valid until {root.not_valid_after_utc.date().isoformat()}"
        + (f"; CRLs at {authority.crl_url}" if authority.crl_url else "; no CRL URL"),
        err=True,
    )
    click.echo(str(authority.directory / "ca.pem"))


@pki.command("issue")
@data_dir_option
@click.option("--institution", required=True, help="The institution's registered name.")
@click.option("--credit-code", required=True, help="Its 统一社会信用代码 (18 characters).")
@click.option(
    "--type",
    "kind",
    default=None,
    help="notary_office, forensic_institution, legal_aid_centre, court, law_firm or "
    "justice_bureau. Default: told by the credit code where unambiguous (31 law firm, 32 "
    "notary office, 34 forensic institution).",
)
@click.option(
    "--algorithm",
    type=click.Choice(["ecdsa", "sm2"]),
    default="ecdsa",
    show_default=True,
    help="The institution key's algorithm: ECDSA P-256 (certified by the ECDSA root) or SM2 "
    "(GB/T 32918, certified by the SM2 root: `pki init --algorithm sm2`).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Make the key here: DIR/key.pem (PKCS #8, encrypted with "
    "$ZHENGLIAN_SIGNING_PASSPHRASE) and DIR/cert.pem. Neither may exist yet.",
)
@click.option(
    "--csr",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Certify the key of this PKCS #10 request (PEM or DER; the institution keeps the "
    "key; with --algorithm sm2 signed SM2-with-SM3, default ID). Only its key is used: the "
    "subject comes from these options.",
)
@click.option(
    "--cert-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --csr: where to write the certificate (default: beside the request, NAME.cert.pem).",
)
def issue(
    data_dir: Path,
    institution: str,
    credit_code: str,
    kind: str | None,
    algorithm: str,
    out: Path | None,
    csr: Path | None,
    cert_out: Path | None,
) -> None:
    """Certify an institution's key; print its index record as a JSON line."""
    from certs.errors import CertsError, CertsInputError
    from certs.formats.credit_code import parse_credit_code
    from certs.formats.institution_profile import (
        InstitutionSubject,
        check_name,
        institution_type,
    )
    from certs.formats.root_signer import ECDSA_P256, SM2
    from certs.formats.signing_request import (
        MAX_CSR_BYTES,
        public_key_of_request,
        public_key_of_sm2_request,
    )
    from certs.store.authority import CertificateAuthority, IssuedCertificate

    engine = None
    if algorithm == "sm2":
        from certs.sm2.gmssl_engine import GmsslEngine

        engine = GmsslEngine(quiet=True)
    if (out is None) == (csr is None):
        fail("give exactly one of --out DIR (make the key) and --csr FILE", EXIT_BAD_INPUT)
    if cert_out is not None and csr is None:
        fail("--cert-out goes with --csr (with --out the certificate is DIR/cert.pem)", 2)
    try:
        code = parse_credit_code(_short(credit_code, "--credit-code"))
        if kind is None:
            kind = TYPE_OF_CATEGORY.get(code.text[:2])
            if kind is None:
                fail(
                    f"give --type: the credit code's authority and category "
                    f"({code.text[:2]}) do not tell the institution's type",
                    EXIT_BAD_INPUT,
                )
        subject = InstitutionSubject(
            check_name(_short(institution, "--institution")), code, institution_type(kind)
        )
    except CertsInputError as exc:
        fail(f"{exc}", EXIT_BAD_INPUT)

    key_pem = None
    if out is not None:
        for name in ("key.pem", "cert.pem"):
            if (out / name).exists():
                fail(f"{out / name} exists: an institution's key is never overwritten", 2)
        signing_passphrase = _passphrase(SIGNING_PASSPHRASE_ENV)
        public_der, key_pem = _new_key(signing_passphrase, engine)
    else:
        assert csr is not None
        try:
            with csr.open("rb") as fh:
                request = fh.read(MAX_CSR_BYTES + 1)
            public_der = (
                public_key_of_request(request)
                if engine is None
                else public_key_of_sm2_request(request, engine=engine)
            )
        except OSError as exc:
            fail(f"cannot read {csr}: {exc.strerror or exc}")
        except CertsInputError as exc:
            fail(f"{csr}: {exc}", EXIT_BAD_INPUT)
        cert_out = cert_out or csr.with_name(f"{csr.stem}.cert.pem")
        if cert_out.exists():
            fail(f"{cert_out} exists: give another --cert-out", EXIT_BAD_INPUT)

    passphrase = _passphrase(CA_PASSPHRASE_ENV)
    try:
        authority = CertificateAuthority.open(data_dir, passphrase=passphrase, engine=engine)
        issued: IssuedCertificate = authority.issue(
            subject, public_der, algorithm=SM2 if engine is not None else ECDSA_P256
        )
    except CertsInputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except CertsError as exc:
        fail(str(exc))
    try:
        if out is not None:
            assert key_pem is not None
            out.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_new(out / "key.pem", key_pem)
            _write_new(out / "cert.pem", issued.certificate_pem)
            where = f"{out}/key.pem and {out}/cert.pem"
        else:
            assert cert_out is not None
            _write_new(cert_out, issued.certificate_pem)
            where = str(cert_out)
    except OSError as exc:
        fail(
            f"certificate {issued.record.serial} was issued but cannot be written: "
            f"{exc.strerror or exc} (it is also in {authority.directory}/issued/)"
        )
    click.echo(f"issued {issued.record.serial} to {subject.name}: {where}", err=True)
    click.echo(_line(issued.record))


def _new_key(passphrase: bytes, engine: SM2Engine | None) -> tuple[bytes, bytes]:
    """A new key — ECDSA P-256, or SM2 with ``engine`` — : its public key (DER
    SubjectPublicKeyInfo) and the key, PKCS #8 encrypted (PEM; an SM2 key with PBES2,
    PBKDF2-HMAC-SHA256 600,000 iterations and AES-256-CBC, as certs.sm2.keys writes it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from certs.store.authority import MIN_PASSPHRASE_CHARS

    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        fail(
            f"{SIGNING_PASSPHRASE_ENV} must have at least {MIN_PASSPHRASE_CHARS} characters",
            EXIT_BAD_INPUT,
        )
    if engine is not None:
        from certs.sm2 import keys as sm2_keys

        sm2_key = sm2_keys.generate_private_key(engine)
        return (
            sm2_keys.public_key_info_der(sm2_key.public_key),
            sm2_keys.private_key_to_pem(sm2_key, passphrase),
        )
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    return public, private


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file, mode 0600, durably; an existing one is an error."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


@pki.command("revoke")
@data_dir_option
@click.argument("serial")
@click.option(
    "--reason",
    required=True,
    help="RFC 5280: unspecified, keyCompromise, cACompromise, affiliationChanged, "
    "superseded, cessationOfOperation, privilegeWithdrawn (no certificateHold).",
)
@click.option(
    "--effective",
    default=None,
    help="ISO 8601 time with its zone from which the certificate is invalid (default now; "
    "earlier: e.g. when the key was compromised — the CRL's invalidityDate).",
)
def revoke(data_dir: Path, serial: str, reason: str, effective: str | None) -> None:
    """Revoke the certificate SERIAL (hex, as `pki list` prints it) and issue a new CRL;
    print its record as a JSON line."""
    from certs.errors import CertsError, CertsInputError
    from certs.formats.revocation_list import RevocationReason
    from certs.store.authority import CertificateAuthority

    when = None
    try:
        parsed_reason = RevocationReason.parse(_short(reason, "--reason"))
        if effective is not None:
            try:
                when = datetime.fromisoformat(_short(effective, "--effective"))
            except ValueError:
                fail(f"--effective: not an ISO 8601 time: {effective!r}", EXIT_BAD_INPUT)
            if when.tzinfo is None:
                fail("--effective: give the time's zone (e.g. 2026-05-01T09:00:00+08:00)", 2)
        passphrase = _passphrase(CA_PASSPHRASE_ENV)
        authority = CertificateAuthority.open(data_dir, passphrase=passphrase)
        record = authority.revoke(_short(serial, "SERIAL"), parsed_reason, effective=when)
    except CertsInputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except CertsError as exc:
        fail(str(exc))
    click.echo(f"revoked {record.serial} ({record.revocation_reason}); new CRL issued", err=True)
    click.echo(_line(record))


@pki.command("crl")
@data_dir_option
def crl(data_dir: Path) -> None:
    """Issue a new CRL (the next CRLNumber, valid 7 days): run it at least weekly (cron),
    and `pki publish` it if the root is kept offline."""
    from certs.errors import CertsError
    from certs.formats.revocation_list import crl_number
    from certs.store.authority import CertificateAuthority

    passphrase = _passphrase(CA_PASSPHRASE_ENV)
    try:
        authority = CertificateAuthority.open(data_dir, passphrase=passphrase)
        issued = authority.renew_crl()
        numbers = authority.crl_numbers()
    except CertsError as exc:
        fail(str(exc))
    next_update = issued.next_update_utc
    click.echo(
        f"CRL {crl_number(issued)} issued; next update due "
        f"{next_update.isoformat() if next_update else '?'}"
    )
    if "sm2" in numbers:
        click.echo(f"SM2 CRL {numbers['sm2']} issued; next update due the same")


@pki.command("list")
@data_dir_option
def list_(data_dir: Path) -> None:
    """Print every certificate issued as JSON lines: serial (lowercase hex), institution,
    credit_code, type, algorithm, status (valid, expired, revoked), validity, revocation."""
    from certs.errors import CertsError
    from certs.store.authority import list_certificates

    try:
        records = list_certificates(data_dir)
    except CertsError as exc:
        fail(str(exc))
    for record in records:
        click.echo(_line(record))


def _line(record: IssuedRecord) -> str:
    """The record as a JSON line, its status as of now (valid, expired or revoked)."""
    return json.dumps(
        {**record.to_json(), "status": record.status_at(datetime.now(UTC))}, ensure_ascii=False
    )


@pki.command("publish")
@data_dir_option
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The offline authority's data directory (where `pki init` ran), e.g. a USB stick.",
)
def publish(data_dir: Path, source: Path) -> None:
    """Copy an offline authority's root certificate, index, issued certificates and CRLs
    into the server's data directory (never the root key); the server serves them at once.
    Refuses another root, or a CRL older than the one published."""
    from certs.errors import CertsError, CertsInputError
    from certs.store.publication import publish as publish_files

    try:
        report = publish_files(source, data_dir)
    except CertsInputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except CertsError as exc:
        fail(str(exc))
    before = (
        f" (was {report.previous_crl_number})" if report.previous_crl_number is not None else ""
    )
    click.echo(
        f"published {report.root_subject}: CRL {report.crl_number}{before}, "
        f"{report.certificates} certificates, into {data_dir}"
    )
