"""``zhenglian certificate``: the issuer's side of registered e-certificates (电子证照,
docs/e-certificates.md).

``issue FIELDS.json --key K --cert C --public-url URL -o DIR`` checks the fields, checks that
the signing certificate names the issuer of the fields and that its institution type may
issue this certificate type, assigns the identifier, and writes ``DIR/<identifier>.json``
(the canonical encoding), ``DIR/<identifier>.sig`` (the signature over it, DER) and
``DIR/<identifier>.pdf`` (the public view with a QR code to
``URL/v1/certificates/<identifier>``). ``show FILE.json [--public]`` prints a certificate's
full or public view as JSON. ``register``, ``revoke``, ``supersede`` and ``status`` talk to a
server.

The key is the one ``zhenglian pki issue --out`` wrote: ECDSA P-256 (signatures ECDSA with
SHA-256) or, for a certificate of the SM2 root (``--algorithm sm2``), SM2 (signatures SM2 with
SM3 and the default signer ID 1234567812345678, made with the GmSSL engine) — for the
certificate and for every status statement alike.

The key's passphrase comes from ``ZHENGLIAN_SIGNING_PASSPHRASE`` only, never from the command
line. Exit status: 0 done; 1 failed (unreadable files, a wrong passphrase, the PDF's font not
installed, a file that cannot be written); 2 bad input (a field, the public URL, a signing
certificate or key that does not fit, a certificate already issued into DIR). Errors are one
line, never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from zhenglian.commands.pki import PUBLIC_URL_ENV, SIGNING_PASSPHRASE_ENV, _passphrase
from zhenglian.commands.report import _tool_version
from zhenglian.common import EXIT_BAD_INPUT, EXIT_FAILED, fail

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from certs.sm2.engine import SM2Engine
    from certs.sm2.keys import SM2PrivateKey

MAX_KEY_BYTES: Final = 16 * 1024
"""Largest private key file read."""


def _read(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror}", EXIT_FAILED)
    if len(data) > limit:
        fail(f"{what} {path} is larger than {limit} bytes", EXIT_BAD_INPUT)
    return data


def _created_at(raw: str | None) -> datetime:
    if raw is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        fail(f"--created-at: not an ISO 8601 time: {raw!r:.60}", EXIT_BAD_INPUT)
    if value.tzinfo is None:
        fail("--created-at: give the offset (Z or +08:00)", EXIT_BAD_INPUT)
    return value.astimezone(UTC)


def _private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read(path, MAX_KEY_BYTES, "the key")
    passphrase = _passphrase(SIGNING_PASSPHRASE_ENV)
    try:
        key = load_pem_private_key(data, password=passphrase)
    except TypeError:
        fail(f"the key {path} is not encrypted: keep institution keys encrypted", EXIT_BAD_INPUT)
    except ValueError:
        fail(
            f"cannot read the key {path}: wrong {SIGNING_PASSPHRASE_ENV}, or not a PEM private key",
            EXIT_FAILED,
        )
    except UnsupportedAlgorithm as exc:  # e.g. an SM2 key inside the PKCS #8
        fail(f"the key {path} is not an ECDSA P-256 key: {exc}", EXIT_BAD_INPUT)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        fail(f"the key {path} is not an ECDSA P-256 key", EXIT_BAD_INPUT)
    return key


def _sm2_private_key(path: Path, engine: SM2Engine) -> SM2PrivateKey:
    """The SM2 key of ``path`` (encrypted PKCS #8, as ``pki issue --algorithm sm2 --out``
    writes it): a wrong passphrase exits 1, anything else unreadable 2."""
    from certs.sm2.errors import KeyDecryptionError, SM2Error
    from certs.sm2.keys import load_private_key

    data = _read(path, MAX_KEY_BYTES, "the key")
    if b"ENCRYPTED PRIVATE KEY" not in data:
        fail(
            f"the key {path} is not an encrypted PKCS #8 key: keep institution keys encrypted",
            EXIT_BAD_INPUT,
        )
    passphrase = _passphrase(SIGNING_PASSPHRASE_ENV)
    try:
        return load_private_key(data, passphrase, engine=engine)
    except KeyDecryptionError:
        if _is_other_key(data, passphrase):
            fail(
                f"the key {path} is not an SM2 key, and the certificate certifies one",
                EXIT_BAD_INPUT,
            )
        fail(f"cannot read the key {path}: wrong {SIGNING_PASSPHRASE_ENV}", EXIT_FAILED)
    except SM2Error as exc:
        fail(f"the key {path} is not an SM2 key: {exc}", EXIT_BAD_INPUT)


def _is_other_key(data: bytes, passphrase: bytes) -> bool:
    """Whether ``data`` decrypts with ``passphrase`` to a key ``cryptography`` reads (an
    ECDSA key, say): the passphrase was right, the key is not SM2."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


@dataclass(frozen=True)
class InstitutionKey:
    """The institution's private key and the certificate certifying it, checked to belong
    together; SM2 keys sign with ``engine``."""

    key: ec.EllipticCurvePrivateKey | SM2PrivateKey
    certificate: x509.Certificate
    engine: SM2Engine | None

    @property
    def algorithm(self) -> str:
        """``ecdsa-p256`` or ``sm2``."""
        return "ecdsa-p256" if self.engine is None else "sm2"

    def sign(self, message: bytes) -> bytes:
        """The DER signature of ``message``: ECDSA with SHA-256, or SM2 with SM3 and the
        default signer ID."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        from certs.sm2.errors import SM2Error
        from certs.sm2.keys import SM2PrivateKey
        from certs.sm2.signing import sign_message

        if isinstance(self.key, SM2PrivateKey):
            assert self.engine is not None
            try:
                return sign_message(self.key, message, engine=self.engine)
            except SM2Error as exc:
                fail(f"SM2 signing failed: {exc}", EXIT_FAILED)
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))


def _institution_key(key_path: Path, cert_path: Path, signer: x509.Certificate) -> InstitutionKey:
    """The key of ``key_path``, in the algorithm of the key ``signer`` certifies, checked to be
    that key (exit 2 otherwise)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from certs.errors import CertsInputError
    from certs.formats.institution_profile import certified_key_algorithm

    try:
        algorithm = certified_key_algorithm(signer)
    except CertsInputError as exc:
        fail(f"the certificate {cert_path}: {exc}", EXIT_BAD_INPUT)
    if algorithm == "sm2":
        from asn1crypto import x509 as asn1_x509

        from certs.sm2.errors import MalformedSM2Data
        from certs.sm2.gmssl_engine import GmsslEngine
        from certs.sm2.keys import public_key_from_info

        engine = GmsslEngine(quiet=True)
        sm2_key = _sm2_private_key(key_path, engine)
        try:
            certified = public_key_from_info(
                asn1_x509.Certificate.load(signer.public_bytes(Encoding.DER))["tbs_certificate"][
                    "subject_public_key_info"
                ]
            )
        except MalformedSM2Data as exc:
            fail(f"the certificate {cert_path}: {exc}", EXIT_BAD_INPUT)
        if sm2_key.public_key != certified:
            fail(
                f"the key {key_path} is not the key of the certificate {cert_path}",
                EXIT_BAD_INPUT,
            )
        return InstitutionKey(sm2_key, signer, engine)
    key = _private_key(key_path)
    spki = PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(Encoding.DER, spki) != signer.public_key().public_bytes(
        Encoding.DER, spki
    ):
        fail(f"the key {key_path} is not the key of the certificate {cert_path}", EXIT_BAD_INPUT)
    return InstitutionKey(key, signer, None)


def _link_or_move(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path``, which must not exist: a hard link (atomic, and
    refused if ``path`` appeared meanwhile), or where the file system has none (FAT media) a
    rename after checking ``path`` is still absent."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(path)) from None
        os.replace(temporary, path)


def _write_all_new(files: dict[Path, bytes]) -> None:
    """Write every file whole (temporary file, fsync, link, directory fsync), none of which may
    exist yet; on any failure none of them is left behind."""
    temporaries = {path: path.with_name(f".{path.name}.{os.getpid()}.tmp") for path in files}
    written: list[Path] = []
    try:
        for path, data in files.items():
            with temporaries[path].open("xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for path in files:
            _link_or_move(temporaries[path], path)
            written.append(path)
        directories = {path.parent for path in files}
        for directory in directories:
            descriptor = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
    except FileExistsError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        fail(f"{exc.filename} exists: this certificate was issued there already", 2)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        fail(f"cannot write {exc.filename or 'the files'}: {exc.strerror}", EXIT_FAILED)
    finally:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)


@click.group()
def certificate() -> None:
    """Registered e-certificates (电子证照): issue, show, register, revoke, supersede and
    status (docs/e-certificates.md)."""


@certificate.command("issue")
@click.argument("fields_path", metavar="FIELDS.json", type=click.Path(path_type=Path))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The institution's private key (PKCS #8 PEM, encrypted with "
    f"${SIGNING_PASSPHRASE_ENV}), as written by zhenglian pki issue --out.",
)
@click.option(
    "--cert",
    "cert_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The institution's certificate for that key (PEM or DER).",
)
@click.option(
    "--public-url",
    default=lambda: os.environ.get(PUBLIC_URL_ENV),
    help="The server's public base URL the QR code points to (URL/v1/certificates/ID); "
    f"never a loopback or unspecified address. Default ${PUBLIC_URL_ENV}.",
)
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write ID.json, ID.sig and ID.pdf into (made if missing).",
)
@click.option(
    "--created-at",
    default=None,
    metavar="TIME",
    help="The PDF's creation time, ISO 8601 with offset (default: now). The same "
    "certificate, URL and time give the same PDF bytes.",
)
def issue(
    fields_path: Path,
    key_path: Path,
    cert_path: Path,
    public_url: str | None,
    out: Path,
    created_at: str | None,
) -> None:
    """Issue the e-certificate described by FIELDS.json: identifier, canonical encoding,
    detached signature and PDF, written into the directory given by -o.

    FIELDS.json holds type, number, issued, valid_from, valid_until (optional), holder
    (name, id_type, id_number, address (optional)), issuer (name, credit_code), details
    (the type's fields) and optionally serial (10 characters; derived from the number when
    left out). Prints the identifier and the files as one JSON line.

    The key is ECDSA P-256 or SM2, as the certificate certifies (SM2: SM3 and the default
    signer ID 1234567812345678)."""
    from certs.errors import CertsInputError
    from certs.formats.institution_profile import (
        MAX_CERTIFICATE_BYTES,
        load_certificate,
        parse_institution_certificate,
    )
    from evidence.formats.e_certificate import MAX_FIELDS_BYTES, ECertificateError, IssueFields
    from evidence.formats.e_certificate_views import PublicUrlError, verification_url
    from evidence.verify.e_certificate_signature import (
        ECertificateSignatureError,
        certificate_fingerprint,
        sign_e_certificate,
        verify_e_certificate_signature,
    )
    from zhenglian.report_rendering import FontMissing, check_font

    when = _created_at(created_at)
    if not public_url:
        fail(f"give --public-url or set {PUBLIC_URL_ENV}: the QR code needs it", EXIT_BAD_INPUT)
    try:
        fields = IssueFields.from_json_bytes(_read(fields_path, MAX_FIELDS_BYTES, "the fields"))
    except ECertificateError as exc:
        fail(f"{fields_path}: {exc}", EXIT_BAD_INPUT)
    try:
        url = verification_url(public_url, fields.identifier.text)
    except PublicUrlError as exc:
        fail(f"--public-url: {exc}", EXIT_BAD_INPUT)
    try:
        check_font()
    except FontMissing as exc:
        fail(str(exc), EXIT_FAILED)

    cert_bytes = _read(cert_path, MAX_CERTIFICATE_BYTES, "the certificate")
    try:
        signer = load_certificate(cert_bytes)
        institution = parse_institution_certificate(signer)
    except CertsInputError as exc:
        fail(f"the certificate {cert_path}: {exc}", EXIT_BAD_INPUT)
    subject = institution.subject
    if subject.credit_code.text != fields.issuer_credit_code:
        fail(
            f"issuer.credit_code: the fields say {fields.issuer_credit_code}, the signing "
            f"certificate is {subject.name}'s ({subject.credit_code.text})",
            EXIT_BAD_INPUT,
        )
    if subject.name != fields.issuer_name:
        fail(
            f"issuer.name: the fields say {fields.issuer_name!r}, the signing certificate "
            f"names {subject.name!r}",
            EXIT_BAD_INPUT,
        )
    now = datetime.now(UTC)
    if not institution.not_before <= now <= institution.not_after:
        fail(
            f"the certificate {cert_path} is valid from {institution.not_before:%Y-%m-%d} "
            f"to {institution.not_after:%Y-%m-%d}, not now",
            EXIT_BAD_INPUT,
        )
    try:
        cert = fields.certificate(
            issuer_type=subject.type, certificate_sha256=certificate_fingerprint(signer)
        )
    except ECertificateError as exc:
        fail(f"{fields_path}: {exc}", EXIT_BAD_INPUT)

    institution_key = _institution_key(key_path, cert_path, signer)

    encoded = cert.encode()
    try:
        signature = sign_e_certificate(cert, institution_key.key, engine=institution_key.engine)
        # what a relying party will do
        verify_e_certificate_signature(
            encoded, signature, signer, sm2_engine=institution_key.engine
        )
    except ECertificateSignatureError as exc:
        fail(f"the signature just made does not verify: {exc}", EXIT_FAILED)

    from zhenglian.certificate_rendering import render_certificate_pdf

    try:
        pdf = render_certificate_pdf(
            cert, public_url=public_url, created_at=when, tool_version=_tool_version()
        )
    except FontMissing as exc:
        fail(str(exc), EXIT_FAILED)

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot make the directory {out}: {exc.strerror}", EXIT_FAILED)
    paths = {suffix: out / f"{cert.id}.{suffix}" for suffix in ("json", "sig", "pdf")}
    for path in paths.values():
        if path.exists():
            fail(f"{path} exists: this certificate was issued into {out} already", 2)
    _write_all_new({paths["json"]: encoded, paths["sig"]: signature, paths["pdf"]: pdf})
    click.echo(
        json.dumps(
            {
                "id": cert.id,
                "url": url,
                "json": str(paths["json"]),
                "sig": str(paths["sig"]),
                "pdf": str(paths["pdf"]),
                "issuer_certificate_sha256": cert.issuer.certificate_sha256.hex(),
            },
            ensure_ascii=False,
        )
    )


@certificate.command("show")
@click.argument("file", metavar="FILE.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--public",
    is_flag=True,
    help="Show the public view (the holder's ID number and address masked), as the PDF "
    "and the public pages do.",
)
def show(file: Path, public: bool) -> None:
    """Print an e-certificate (ID.json, its canonical encoding) as JSON: the full view, or
    with --public the masked public view."""
    from evidence.formats.e_certificate import (
        MAX_E_CERTIFICATE_BYTES,
        ECertificate,
        ECertificateError,
    )
    from evidence.formats.e_certificate_views import full_view, public_view

    data = _read(file, MAX_E_CERTIFICATE_BYTES, "the certificate")
    try:
        cert = ECertificate.decode(data)
    except ECertificateError as exc:
        fail(f"{file}: {exc}", EXIT_BAD_INPUT)
    view = public_view(cert) if public else full_view(cert)
    click.echo(json.dumps(view, ensure_ascii=False, indent=2))


# --- register, revoke, status: the issuer and anyone against a server ---------------------------

HTTP_TIMEOUT: Final = 120.0
"""Seconds a registration or revocation may take (the server waits for the chain's block)."""

MAX_SIGNATURE_FILE_BYTES: Final = 512
"""Largest ID.sig read (the server's limit; an ECDSA P-256 or SM2 one has at most 72 bytes)."""

MAX_PDF_FILE_BYTES: Final = 2 * 1024 * 1024
"""Largest ID.pdf sent (the server's limit, api.schemas.MAX_CERTIFICATE_PDF_BYTES)."""

_SERVER_HELP = "Base URL of the Zhenglian API."
_TOKEN_HELP = "Bearer token (default: $ZHENGLIAN_TOKEN)."


def _server_problem(r: object) -> str:
    import httpx

    assert isinstance(r, httpx.Response)
    try:
        body = r.json()
    except ValueError:
        return f"{r.status_code} {r.text[:200]}"
    if not isinstance(body, dict):
        return f"{r.status_code} {r.text[:200]}"
    extra = ""
    if body.get("existing"):
        extra = f" (registered as {body['existing']})"
    if body.get("check"):
        extra += f" [{body['check']}]"
    return f"{r.status_code} {body.get('title', '')}: {body.get('detail', '')}{extra}".strip()


def _refused(what: str, r: object) -> None:
    """End with the server's refusal: exit 2 for a 4xx (the request), 1 otherwise."""
    import httpx

    assert isinstance(r, httpx.Response)
    fail(
        f"{what} refused: {_server_problem(r)}",
        EXIT_BAD_INPUT if 400 <= r.status_code < 500 else EXIT_FAILED,
    )


def _token(token: str | None) -> str:
    if not token:
        fail("a token is required (--token or $ZHENGLIAN_TOKEN)", EXIT_BAD_INPUT)
    return token


def _registry_of(base: str) -> tuple[int, bytes]:
    """The chain id and the CertificateRegistry address the server writes to
    (``GET /v1/chain``): what a status statement binds a signature to."""
    import httpx

    try:
        r = httpx.get(f"{base}/v1/chain", timeout=30.0)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {base}: {exc}")
    if r.status_code != 200:
        _refused("GET /v1/chain", r)
    info = r.json()
    registry = info.get("certificate_registry")
    if not registry:
        fail(f"{base} has no CertificateRegistry", EXIT_FAILED)
    return int(info["chain_id"]), bytes.fromhex(str(registry).removeprefix("0x"))


def _signer(key_path: Path, cert_path: Path) -> tuple[InstitutionKey, bytes]:
    """The institution's key (ECDSA P-256 or SM2) and its certificate (PEM), checked to belong
    together."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from certs.errors import CertsInputError
    from certs.formats.institution_profile import MAX_CERTIFICATE_BYTES, load_certificate

    cert_bytes = _read(cert_path, MAX_CERTIFICATE_BYTES, "the certificate")
    try:
        signer = load_certificate(cert_bytes)
    except CertsInputError as exc:
        fail(f"the certificate {cert_path}: {exc}", EXIT_BAD_INPUT)
    key = _institution_key(key_path, cert_path, signer)
    return key, signer.public_bytes(Encoding.PEM)


def _sign(key: InstitutionKey, statement: bytes) -> str:
    """The base64 of ``key``'s signature over the status statement."""
    import base64

    return base64.b64encode(key.sign(statement)).decode()


def _post_change(
    base: str, identifier: str, action: str, body: Mapping[str, object], bearer: str, what: str
) -> dict[str, object]:
    """POST the signed change ``body`` to ``/v1/certificates/{identifier}/{action}``; its
    answer, or end with the server's refusal (``what`` names it)."""
    import httpx

    try:
        r = httpx.post(
            f"{base}/v1/certificates/{identifier}/{action}",
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=HTTP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {base}: {exc}")
    if r.status_code != 200:
        _refused(what, r)
    answer: dict[str, object] = r.json()
    return answer


def _files_of(path: Path) -> tuple[Path, Path, Path | None]:
    """ID.json, ID.sig and (if there) ID.pdf, from ID.json or the directory holding one."""
    if path.is_dir():
        found = sorted(path.glob("*.json"))
        if len(found) != 1:
            fail(
                f"{path} holds {len(found)} .json files: give the certificate's ID.json",
                EXIT_BAD_INPUT,
            )
        path = found[0]
    signature = path.with_suffix(".sig")
    pdf = path.with_suffix(".pdf")
    return path, signature, pdf if pdf.exists() else None


def _summary(answer: dict[str, object]) -> str:
    status = answer.get("status")
    assert isinstance(status, dict)
    line = {
        "id": answer.get("id"),
        "state": status.get("state"),
        "reason": status.get("reason_name"),
        "effective_time": status.get("effective_time"),
        "successor": status.get("successor"),
        "pending": status.get("pending"),
        "issue": status.get("issue"),
        "change": status.get("change"),
    }
    return json.dumps(line, ensure_ascii=False)


_KEY_OPTION = click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The issuing institution's private key (encrypted with ${SIGNING_PASSPHRASE_ENV}).",
)
_CERT_OPTION = click.option(
    "--cert",
    "cert_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The institution's certificate for that key (PEM or DER).",
)
_TOKEN_OPTION = click.option(
    "--token", default=lambda: os.environ.get("ZHENGLIAN_TOKEN"), help=_TOKEN_HELP
)


@certificate.command("register")
@click.argument("path", metavar="DIR_OR_ID.json", type=click.Path(path_type=Path))
@_KEY_OPTION
@_CERT_OPTION
@click.option("--server", required=True, help=_SERVER_HELP)
@_TOKEN_OPTION
def register(path: Path, key_path: Path, cert_path: Path, server: str, token: str | None) -> None:
    """Register an issued certificate with a server: sends ID.json, ID.sig, ID.pdf (if there),
    the signing certificate and the issue status statement signed with --key for the server's
    chain and registry. Prints the identifier and its status on the chain as one JSON line.

    Exit status: 0 registered; 1 failed (the server or chain unreachable, or pending on the
    chain: run it again); 2 refused (bad files, or the server's 4xx: not the issuer, a number
    registered already, a signature or signer that does not hold)."""
    import base64
    import hashlib

    import httpx

    from certs.formats.status_statement import StatusStatement, certificate_key
    from evidence.formats.e_certificate import (
        MAX_E_CERTIFICATE_BYTES,
        ECertificate,
        ECertificateError,
    )

    bearer = _token(token)
    json_path, sig_path, pdf_path = _files_of(path)
    encoded = _read(json_path, MAX_E_CERTIFICATE_BYTES, "the certificate")
    try:
        cert = ECertificate.decode(encoded)
    except ECertificateError as exc:
        fail(f"{json_path}: {exc}", EXIT_BAD_INPUT)
    signature = _read(sig_path, MAX_SIGNATURE_FILE_BYTES, "the signature")
    pdf = _read(pdf_path, MAX_PDF_FILE_BYTES, "the PDF") if pdf_path else None
    key, signer_pem = _signer(key_path, cert_path)
    base = server.rstrip("/")
    chain_id, registry = _registry_of(base)
    statement = StatusStatement.issue(
        chain_id=chain_id,
        registry=registry,
        certificate=certificate_key(cert.id),
        issuer=cert.issuer.credit_code,
        certificate_hash=hashlib.sha256(encoded).digest(),
    ).to_bytes()
    body = {
        "certificate": base64.b64encode(encoded).decode(),
        "signature": base64.b64encode(signature).decode(),
        "signer_certificate": signer_pem.decode("ascii"),
        "status_signature": _sign(key, statement),
        "pdf": None if pdf is None else base64.b64encode(pdf).decode(),
    }
    try:
        r = httpx.post(
            f"{base}/v1/certificates",
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=HTTP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {base}: {exc}")
    if r.status_code != 201:
        _refused("registration", r)
    click.echo(_summary(r.json()))


@certificate.command("revoke")
@click.argument("identifier", metavar="ID")
@click.option(
    "--reason",
    required=True,
    help="RFC 5280 reason: keyCompromise, cACompromise, affiliationChanged, "
    "cessationOfOperation, privilegeWithdrawn or unspecified (or its code).",
)
@click.option(
    "--effective",
    default=None,
    metavar="TIME",
    help="From when it no longer stands, ISO 8601 with offset (default: now); not future.",
)
@_KEY_OPTION
@_CERT_OPTION
@click.option("--server", required=True, help=_SERVER_HELP)
@_TOKEN_OPTION
def revoke(
    identifier: str,
    reason: str,
    effective: str | None,
    key_path: Path,
    cert_path: Path,
    server: str,
    token: str | None,
) -> None:
    """Revoke a registered certificate: signs the revoke status statement with --key (the
    issuer's) and sends it. Prints the new status as one JSON line. Exit status as register
    (a revoked certificate again, or another institution's: 2)."""

    from certs.errors import CertsInputError
    from certs.formats.status_statement import (
        CertificateRevocationReason,
        StatusStatement,
        certificate_key,
    )
    from evidence.formats.e_certificate_identifier import IdentifierError, parse_identifier

    bearer = _token(token)
    try:
        parse_identifier(identifier)
    except IdentifierError as exc:
        fail(f"{identifier!r:.80}: {exc}", EXIT_BAD_INPUT)
    try:
        why = CertificateRevocationReason.parse(reason)
    except CertsInputError as exc:
        fail(f"--reason: {exc}", EXIT_BAD_INPUT)
    now = int(datetime.now(UTC).timestamp())
    when = now
    if effective is not None:
        try:
            parsed = datetime.fromisoformat(effective)
        except ValueError:
            fail(f"--effective: not an ISO 8601 time: {effective!r:.60}", EXIT_BAD_INPUT)
        if parsed.tzinfo is None:
            fail("--effective: give the offset (Z or +08:00)", EXIT_BAD_INPUT)
        when = int(parsed.timestamp())
        if not 1 <= when <= now:
            fail(f"--effective: {effective} is in the future or before 1970", EXIT_BAD_INPUT)
    key, signer_pem = _signer(key_path, cert_path)
    base = server.rstrip("/")
    chain_id, registry = _registry_of(base)
    statement = StatusStatement.revoke(
        chain_id=chain_id,
        registry=registry,
        certificate=certificate_key(identifier),
        reason=why,
        effective_time=when,
    ).to_bytes()
    body = {
        "reason": why.rfc5280_name,
        "effective_time": when,
        "signature": _sign(key, statement),
        "signer_certificate": signer_pem.decode("ascii"),
    }
    click.echo(_summary(_post_change(base, identifier, "revoke", body, bearer, "revocation")))


def _identifier_of(value: str, what: str) -> str:
    """The identifier ``value`` names: the identifier itself, or an issued ``ID.json`` (or the
    directory holding exactly one) whose certificate's identifier it is."""
    from evidence.formats.e_certificate import (
        MAX_E_CERTIFICATE_BYTES,
        ECertificate,
        ECertificateError,
    )
    from evidence.formats.e_certificate_identifier import IdentifierError, parse_identifier

    try:
        return parse_identifier(value).text
    except IdentifierError as exc:
        path = Path(value)
        if not (value.endswith(".json") or path.is_dir()):
            fail(f"{what}: {value!r:.80}: {exc}", EXIT_BAD_INPUT)
    json_path, _, _ = _files_of(path)
    encoded = _read(json_path, MAX_E_CERTIFICATE_BYTES, "the certificate")
    try:
        return ECertificate.decode(encoded).id
    except ECertificateError as exc:
        fail(f"{json_path}: {exc}", EXIT_BAD_INPUT)


@certificate.command("supersede")
@click.argument("certificate_ref", metavar="ID_OR_ID.json")
@click.option(
    "--by",
    "successor_ref",
    required=True,
    metavar="NEW_ID",
    help="The certificate that replaces it (its identifier or its ID.json): registered and "
    "issued by the same institution.",
)
@_KEY_OPTION
@_CERT_OPTION
@click.option("--server", required=True, help=_SERVER_HELP)
@_TOKEN_OPTION
def supersede(
    certificate_ref: str,
    successor_ref: str,
    key_path: Path,
    cert_path: Path,
    server: str,
    token: str | None,
) -> None:
    """Mark a registered certificate superseded by a new edition (--by): signs the supersede
    status statement with --key (the issuer's, ECDSA P-256 or SM2) and sends it. Prints the new
    status as one JSON line. Exit status as revoke: 0 done; 1 failed (the server or chain
    unreachable, or pending: run it again); 2 refused (bad arguments or files, or the
    server's 4xx: final already, another institution's, a successor not issued by the same
    issuer)."""

    from certs.formats.status_statement import StatusStatement, certificate_key

    bearer = _token(token)
    identifier = _identifier_of(certificate_ref, "ID")
    successor = _identifier_of(successor_ref, "--by")
    if successor == identifier:
        fail(f"--by: {successor} is the certificate itself", EXIT_BAD_INPUT)
    key, signer_pem = _signer(key_path, cert_path)
    base = server.rstrip("/")
    chain_id, registry = _registry_of(base)
    statement = StatusStatement.supersede(
        chain_id=chain_id,
        registry=registry,
        certificate=certificate_key(identifier),
        successor=certificate_key(successor),
    ).to_bytes()
    body = {
        "successor": successor,
        "signature": _sign(key, statement),
        "signer_certificate": signer_pem.decode("ascii"),
    }
    click.echo(_summary(_post_change(base, identifier, "supersede", body, bearer, "supersession")))


@certificate.command("status")
@click.argument("identifier", metavar="ID")
@click.option("--server", required=True, help=_SERVER_HELP)
@click.option("--token", default=None, help="Bearer token: the issuer sees the full view.")
@click.option("--json", "as_json", is_flag=True, help="Print the server's whole answer.")
def status(identifier: str, server: str, token: str | None, as_json: bool) -> None:
    """A registered certificate's status on the chain (issued, revoked with reason and time,
    superseded by a successor, or pending), from a server. One JSON line (with --json the
    whole answer: view, status, signed material). Exit status: 0 issued; 1 revoked,
    superseded, pending or the server unreachable; 2 no such certificate or a bad identifier.
    """
    import httpx

    from evidence.formats.e_certificate_identifier import IdentifierError, parse_identifier

    try:
        parse_identifier(identifier)
    except IdentifierError as exc:
        fail(f"{identifier!r:.80}: {exc}", EXIT_BAD_INPUT)
    base = server.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.get(f"{base}/v1/certificates/{identifier}", headers=headers, timeout=30.0)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {base}: {exc}")
    if r.status_code != 200:
        _refused("status", r)
    answer = r.json()
    click.echo(json.dumps(answer, ensure_ascii=False) if as_json else _summary(answer))
    if answer["status"]["state"] != "issued" or answer["status"]["pending"]:
        raise SystemExit(EXIT_FAILED)
