"""A real RFC 3161 time-stamp authority for tests: its own CA, ``openssl ts -reply``, HTTP.

:class:`LocalTimeStampAuthority` keeps, in one directory, a root CA, a time-stamping
certificate it issued (critical extendedKeyUsage timeStamping; keyUsage digitalSignature and
nonRepudiation), the key, and the OpenSSL TSA configuration; :meth:`~LocalTimeStampAuthority.
reply` answers a TimeStampReq with ``openssl ts -reply``.

:func:`running_authority` serves it over HTTP on 127.0.0.1 from its own process
(``python -m tests.support.tsa_server``), stopped when the block ends. The server answers
``POST /<behaviour>`` (see :data:`BEHAVIOURS`): ``/honest`` as an authority should, the others
misbehaving in one way each. The session fixture :func:`time_stamp_authority` runs one
(import it into a test module, as with ``tests.support.moto``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.servers import REPO_ROOT, SERVER_START_TIMEOUT, stop

#: The authority's policy: under 2.999, the arc X.660 reserves for examples.
TEST_POLICY = "2.999.3161.1"
#: A policy the authority does not serve: asking for it gets a rejection.
UNSERVED_POLICY = "2.999.3161.99"
#: Seconds one ``openssl`` call may take.
OPENSSL_TIMEOUT = 10.0
#: Seconds the ``slow`` behaviour waits before answering (by default).
SLOW_SECONDS = 5.0
#: Largest query the server reads.
MAX_QUERY_BYTES = 16 * 1024

BEHAVIOURS = {
    "honest": "a time-stamp reply to the query",
    "garbage": "200, application/timestamp-reply, bytes that are not DER",
    "other-message": "a valid token over another message (the query's imprint replaced)",
    "other-nonce": "a valid token with another nonce than the query's",
    "slow": "an honest reply after --slow-seconds",
    "wrong-content-type": "an honest reply labelled text/html",
    "http-error": "503 Service Unavailable",
    "rejection": "a TimeStampResp with status rejection (unaccepted policy)",
    "oversize": "200, application/timestamp-reply, 256 KiB",
}
"""What ``POST /<behaviour>`` answers."""

CONFIG = """\
# OpenSSL time-stamp authority configuration (tests only)
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {directory}
serial = $dir/serial
crypto_device = builtin
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512, sha1
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Zhenglian tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _root_certificate(name: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = _name(f"{name} root CA")
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _tsa_certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    valid_from: dt.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )


class LocalTimeStampAuthority:
    """An OpenSSL time-stamp authority in ``directory`` (made by :meth:`create`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.config = directory / "tsa.cnf"
        if not self.config.exists():
            raise FileNotFoundError(f"{self.config}: make the authority with create() first")
        options = json.loads((directory / "options.json").read_text())
        self.name: str = options["name"]
        self.include_chain: bool = options["include_chain"]
        self.root_pem = (directory / "root.pem").read_bytes()
        self.root_der = x509.load_pem_x509_certificate(self.root_pem).public_bytes(
            serialization.Encoding.DER
        )
        self.certificate_der = x509.load_pem_x509_certificate(
            (directory / "tsa.pem").read_bytes()
        ).public_bytes(serialization.Encoding.DER)
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        name: str = "Zhenglian test TSA",
        issuer: LocalTimeStampAuthority | None = None,
        valid_from: dt.datetime | None = None,
        include_chain: bool = True,
    ) -> LocalTimeStampAuthority:
        """Make a root CA (or take ``issuer``'s) and a TSA certificate, valid from
        ``valid_from`` (a day ago by default); tokens carry the chain when ``include_chain``."""
        directory.mkdir(parents=True, exist_ok=True)
        if issuer is None:
            root_key = ec.generate_private_key(ec.SECP256R1())
            root = _root_certificate(name, root_key)
        else:
            root_key = serialization.load_pem_private_key(
                (issuer.directory / "root.key").read_bytes(), password=None
            )  # type: ignore[assignment]
            root = x509.load_pem_x509_certificate(issuer.root_pem)
        key = ec.generate_private_key(ec.SECP256R1())
        since = valid_from or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        certificate = _tsa_certificate(name, key, root, root_key, since)
        (directory / "root.key").write_bytes(_key_pem(root_key))
        (directory / "root.pem").write_bytes(_pem(root))
        (directory / "tsa.key").write_bytes(_key_pem(key))
        (directory / "tsa.pem").write_bytes(_pem(certificate))
        (directory / "serial").write_text("01\n")
        (directory / "tsa.cnf").write_text(CONFIG.format(directory=directory, policy=TEST_POLICY))
        (directory / "options.json").write_text(
            json.dumps({"name": name, "include_chain": include_chain})
        )
        return cls(directory)

    def _openssl(self, *args: str) -> None:
        try:
            subprocess.run(
                ["openssl", "ts", *args],
                check=True,
                capture_output=True,
                timeout=OPENSSL_TIMEOUT,
                cwd=self.directory,
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"openssl ts {args[0]}: {exc.stderr.decode()[-500:]}") from exc

    def query(
        self,
        data: bytes,
        *,
        digest: str = "sha256",
        nonce: bool = True,
        certificate: bool = True,
        policy: str | None = None,
    ) -> bytes:
        """A TimeStampReq over ``data`` made by ``openssl ts -query``."""
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            data_file, out = Path(tmp) / "data", Path(tmp) / "query.tsq"
            data_file.write_bytes(data)
            args = ["-query", "-data", str(data_file), f"-{digest}", "-out", str(out)]
            args += [] if nonce else ["-no_nonce"]
            args += ["-cert"] if certificate else []
            args += ["-tspolicy", policy] if policy else []
            self._openssl(*args)
            return out.read_bytes()

    def reply(self, query: bytes, *, include_chain: bool | None = None) -> bytes:
        """The TimeStampResp of ``openssl ts -reply`` to ``query`` (DER)."""
        chain = self.include_chain if include_chain is None else include_chain
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            query_file, out = Path(tmp) / "query.tsq", Path(tmp) / "reply.tsr"
            query_file.write_bytes(query)
            args = ["-reply", "-config", str(self.config), "-queryfile", str(query_file)]
            args += ["-inkey", "tsa.key", "-signer", "tsa.pem", "-out", str(out)]
            args += ["-chain", "root.pem"] if chain else []
            self._openssl(*args)
            return out.read_bytes()

    def token(self, reply: bytes) -> bytes:
        """The TimeStampToken of a reply, cut out by ``openssl ts -reply -token_out``."""
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            reply_file, out = Path(tmp) / "reply.tsr", Path(tmp) / "token.tst"
            reply_file.write_bytes(reply)
            self._openssl("-reply", "-in", str(reply_file), "-token_out", "-out", str(out))
            return out.read_bytes()

    def openssl_verifies(self, token: bytes, message: bytes) -> tuple[bool, str]:
        """``openssl ts -verify`` of ``token`` over ``message`` against this root: (ok, output)."""
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            token_file, data_file = Path(tmp) / "token.tst", Path(tmp) / "data"
            token_file.write_bytes(token)
            data_file.write_bytes(message)
            done = subprocess.run(
                [
                    *("openssl", "ts", "-verify", "-data", str(data_file), "-in", str(token_file)),
                    *("-token_in", "-CAfile", str(self.directory / "root.pem")),
                ],
                capture_output=True,
                timeout=OPENSSL_TIMEOUT,
            )
            return done.returncode == 0, (done.stdout + done.stderr).decode()


# --- changing a query (for the misbehaving answers) --------------------------------------


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, contents start, end) of the DER element at ``pos``."""
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    size = first & 0x7F
    length = int.from_bytes(data[pos + 2 : pos + 2 + size], "big")
    return tag, pos + 2 + size, pos + 2 + size + length


def _query_fields(query: bytes) -> list[tuple[int, int, int]]:
    """TimeStampReq's fields: version, messageImprint, [reqPolicy], [nonce], [certReq], ..."""
    _, pos, end = _element(query, 0)
    fields = []
    while pos < end:
        field = _element(query, pos)
        fields.append(field)
        pos = field[2]
    return fields


def query_over_other_message(query: bytes, other: bytes = b"another message") -> bytes:
    """``query`` with its imprint replaced by the same hash of ``other`` (nonce kept)."""
    _, imprint_start, _ = _query_fields(query)[1]
    _, _, algorithm_end = _element(query, imprint_start)
    _, start, end = _element(query, algorithm_end)
    name = {32: "sha256", 48: "sha384", 64: "sha512", 20: "sha1"}[end - start]
    return query[:start] + hashlib.new(name, other).digest() + query[end:]


def query_with_other_nonce(query: bytes) -> bytes:
    """``query`` with the lowest bit of its nonce flipped."""
    nonces = [f for f in _query_fields(query)[2:] if f[0] == 0x02]
    if not nonces:
        raise ValueError("the query has no nonce")
    end = nonces[0][2]
    return query[: end - 1] + bytes([query[end - 1] ^ 1]) + query[end:]


# --- the server process ------------------------------------------------------------------


@dataclass
class RunningAuthority:
    """A time-stamp authority served over HTTP on 127.0.0.1."""

    authority: LocalTimeStampAuthority
    base_url: str
    process: subprocess.Popen[bytes]

    def url(self, behaviour: str = "honest") -> str:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}: one of {', '.join(BEHAVIOURS)}")
        return f"{self.base_url}/{behaviour}"

    def stop(self) -> None:
        stop(self.process)


@contextlib.contextmanager
def running_authority(
    workdir: Path, *, slow_seconds: float = SLOW_SECONDS, **create: object
) -> Iterator[RunningAuthority]:
    """A new authority in ``workdir`` (``create`` goes to :meth:`LocalTimeStampAuthority.
    create`), served by its own process until the block ends."""
    authority = LocalTimeStampAuthority.create(workdir / "authority", **create)  # type: ignore[arg-type]
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    log = workdir / "tsa_server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.support.tsa_server"),
                *("--directory", str(authority.directory), "--port-file", str(port_file)),
                *("--slow-seconds", str(slow_seconds)),
            ],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None:
                raise RuntimeError(
                    f"tsa_server exited with {process.returncode}: {log.read_text()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"tsa_server did not start in {SERVER_START_TIMEOUT}s")
            time.sleep(0.05)
        port = int(port_file.read_text())
        yield RunningAuthority(authority, f"http://127.0.0.1:{port}", process)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def time_stamp_authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAuthority]:
    """A running test time-stamp authority (see :data:`BEHAVIOURS` for its URLs)."""
    with running_authority(tmp_path_factory.mktemp("tsa")) as running:
        yield running
