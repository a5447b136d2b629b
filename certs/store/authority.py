"""The justice bureau's certificate authority, kept in files under ``DATA_DIR/pki``.

Layout (docs/pki.md §4; every file 0600, the directories 0700)::

    pki/authority.json    the authority's settings: root name, CRL URL (the server's public URL)
    pki/ca-key.pem        the root key, PKCS #8 encrypted with ZHENGLIAN_CA_PASSPHRASE
                          (absent on a server whose root is kept offline)
    pki/ca.pem            the root certificate           (GET /v1/pki/ca)
    pki/crl.der           the current CRL                (GET /v1/pki/crl)
    pki/crls/N.der        every CRL issued, by CRLNumber
    pki/index.json        every certificate issued: the authority's record, its source of truth
    pki/issued/SERIAL.pem every certificate issued
    pki/.lock             the lock every change is made under

    pki/sm2-ca-key.pem    the SM2 root key (``pki init --algorithm sm2``), encrypted as
                          :mod:`certs.sm2.keys` does with ZHENGLIAN_CA_PASSPHRASE
    pki/sm2-ca.pem        the SM2 root certificate (GM/T 0015)   (in GET /v1/pki/ca's bundle)
    pki/sm2-crl.der       the SM2 root's current CRL          (GET /v1/pki/crl?algorithm=sm2)
    pki/sm2-crls/N.der    every CRL the SM2 root issued, by its own CRLNumber

One index for both roots: each record names its algorithm (``ecdsa-p256`` or ``sm2``: which
root issued it) and the index keeps one CRL number per root (``crl_number``,
``sm2_crl_number``); each root's CRL lists the revoked certificates of its algorithm only.

A change writes the index first and then the CRL derived from it; a CRL found behind the
index (a crash in between) is re-issued by the next command that holds the key. The root key
is only ever needed to issue, revoke and re-issue the CRL: those can run on an offline machine
and be published to the server with :func:`publish` (``zhenglian pki publish``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import (
    AlreadyRevoked,
    AuthorityError,
    AuthorityNotInitialised,
    CertsInputError,
    ProfileError,
    UnknownCertificate,
)
from certs.formats.institution_profile import (
    INSTITUTION_CERTIFICATE_DAYS,
    MAX_CERTIFICATE_BYTES,
    MAX_CRL_URL_CHARS,
    ROOT_CERTIFICATE_DAYS,
    InstitutionSubject,
    IssuanceRequest,
    build_root_certificate,
    check_name,
    load_certificate,
    parse_institution_certificate,
)
from certs.formats.revocation_list import (
    MAX_CRL_BYTES,
    CrlContent,
    RevocationReason,
    RevokedEntry,
    crl_number,
    load_crl,
)
from certs.formats.root_signer import (
    ALGORITHMS,
    ECDSA_P256,
    SM2,
    EcdsaRootSigner,
    RootSigner,
    Sm2RootSigner,
    build_sm2_root_certificate,
)
from certs.sm2 import keys as sm2_keys
from certs.sm2.certificates import SM2Certificate
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import KeyDecryptionError, MalformedSM2Data
from certs.store.pki_files import (
    exclusive_lock,
    make_private_directory,
    read_bounded,
    write_atomic,
)

__all__ = [
    "CA_FILE",
    "CRL_FILE",
    "INDEX_FILE",
    "KEY_FILE",
    "MAX_INDEX_BYTES",
    "MIN_PASSPHRASE_CHARS",
    "PKI_DIRECTORY",
    "ROOT_FILES",
    "CertificateAuthority",
    "IssuedRecord",
    "RootFiles",
    "has_pki",
    "list_certificates",
    "normalise_serial",
    "pki_directory",
]

PKI_DIRECTORY: Final = "pki"
CONFIG_FILE: Final = "authority.json"
KEY_FILE: Final = "ca-key.pem"
CA_FILE: Final = "ca.pem"
CRL_FILE: Final = "crl.der"
INDEX_FILE: Final = "index.json"
ISSUED_DIRECTORY: Final = "issued"
CRL_ARCHIVE: Final = "crls"
INDEX_TYPE: Final = "zhenglian-pki-index"
INDEX_VERSION: Final = 1
SM2_KEY_FILE: Final = "sm2-ca-key.pem"
SM2_CA_FILE: Final = "sm2-ca.pem"
SM2_CRL_FILE: Final = "sm2-crl.der"
SM2_CRL_ARCHIVE: Final = "sm2-crls"


@dataclass(frozen=True)
class RootFiles:
    """Where one root's key, certificate and CRLs live under ``pki/``."""

    key: str
    certificate: str
    crl: str
    crl_archive: str


ROOT_FILES: Final[dict[str, RootFiles]] = {
    ECDSA_P256: RootFiles(KEY_FILE, CA_FILE, CRL_FILE, CRL_ARCHIVE),
    SM2: RootFiles(SM2_KEY_FILE, SM2_CA_FILE, SM2_CRL_FILE, SM2_CRL_ARCHIVE),
}
"""Each root algorithm's files."""
MAX_INDEX_BYTES: Final = 64 * 1024 * 1024
"""Largest index read (about 150,000 certificates)."""
MAX_KEY_BYTES: Final = 16 * 1024
MAX_CONFIG_BYTES: Final = 16 * 1024
MIN_PASSPHRASE_CHARS: Final = 12
"""Shortest passphrase a new root key (or institution key) is encrypted with."""
CLOCK_SKEW: Final = timedelta(minutes=5)
"""An effective time this little in the future is taken as now (clocks differ)."""


def pki_directory(data_dir: Path) -> Path:
    return data_dir / PKI_DIRECTORY


def has_pki(data_dir: Path) -> bool:
    return (pki_directory(data_dir) / CA_FILE).exists()


@dataclass(frozen=True)
class IssuedRecord:
    """One line of the index: a certificate the authority issued, and its status."""

    serial: str
    """Lowercase hexadecimal, no leading zeros (the form ``zhenglian pki revoke`` takes)."""
    institution: str
    credit_code: str
    type: str
    algorithm: str
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    status: str
    """``issued`` or ``revoked`` (``list`` also says ``expired``)."""
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    revocation_effective: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "serial": self.serial,
            "institution": self.institution,
            "credit_code": self.credit_code,
            "type": self.type,
            "algorithm": self.algorithm,
            "not_before": when(self.not_before),
            "not_after": when(self.not_after),
            "issued_at": when(self.issued_at),
            "status": self.status,
            "revoked_at": when(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "revocation_effective": when(self.revocation_effective),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> IssuedRecord:
        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if value is not None else None

        try:
            return cls(
                serial=str(raw["serial"]),
                institution=str(raw["institution"]),
                credit_code=str(raw["credit_code"]),
                type=str(raw["type"]),
                algorithm=str(raw["algorithm"]),
                not_before=datetime.fromisoformat(raw["not_before"]),
                not_after=datetime.fromisoformat(raw["not_after"]),
                issued_at=datetime.fromisoformat(raw["issued_at"]),
                status=str(raw["status"]),
                revoked_at=when(raw.get("revoked_at")),
                revocation_reason=raw.get("revocation_reason"),
                revocation_effective=when(raw.get("revocation_effective")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthorityError(f"the PKI index has a malformed record: {exc}") from exc

    def status_at(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``valid`` at ``now``."""
        if self.status == "revoked":
            return "revoked"
        return "expired" if now > self.not_after else "valid"

    def revoked_entry(self) -> RevokedEntry:
        assert self.revoked_at is not None and self.revocation_reason is not None
        effective = self.revocation_effective
        return RevokedEntry(
            serial=int(self.serial, 16),
            revoked_at=self.revoked_at,
            reason=RevocationReason(self.revocation_reason),
            invalid_since=effective
            if effective is not None and effective < self.revoked_at
            else None,
        )


@dataclass(frozen=True)
class _Index:
    crl_number: int
    """The ECDSA root's last CRL number."""
    records: tuple[IssuedRecord, ...]
    sm2_crl_number: int | None = None
    """The SM2 root's last CRL number (None: this authority has no SM2 root)."""

    def number(self, algorithm: str) -> int:
        if algorithm == SM2:
            return self.sm2_crl_number or 0
        return self.crl_number

    def with_number(self, algorithm: str, number: int) -> _Index:
        if algorithm == SM2:
            return replace(self, sm2_crl_number=number)
        return replace(self, crl_number=number)

    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {
            "type": INDEX_TYPE,
            "version": INDEX_VERSION,
            "crl_number": self.crl_number,
        }
        if self.sm2_crl_number is not None:
            document["sm2_crl_number"] = self.sm2_crl_number
        document["certificates"] = [r.to_json() for r in self.records]
        return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, path: Path) -> _Index:
        try:
            document = json.loads(data)
            if document.get("type") != INDEX_TYPE or document.get("version") != INDEX_VERSION:
                raise ValueError(f"not a {INDEX_TYPE} version {INDEX_VERSION}")
            number = document["crl_number"]
            sm2_number = document.get("sm2_crl_number")
            raw = document["certificates"]
            if (
                not isinstance(number, int)
                or not isinstance(raw, list)
                or not (sm2_number is None or isinstance(sm2_number, int))
            ):
                raise ValueError("crl_number, sm2_crl_number or certificates malformed")
        except (ValueError, KeyError, AttributeError) as exc:
            raise AuthorityError(f"{path} is not a PKI index: {exc}") from exc
        return cls(number, tuple(IssuedRecord.from_json(r) for r in raw), sm2_number)

    def revoked(self, algorithm: str = ECDSA_P256) -> tuple[RevokedEntry, ...]:
        """The revoked certificates the root of ``algorithm`` issued (its CRL's entries)."""
        return tuple(
            r.revoked_entry()
            for r in self.records
            if r.status == "revoked" and r.algorithm == algorithm
        )


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_der: bytes
    record: IssuedRecord

    @property
    def certificate_pem(self) -> bytes:
        return x509.load_der_x509_certificate(self.certificate_der).public_bytes(Encoding.PEM)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _load_index(directory: Path) -> _Index:
    path = directory / INDEX_FILE
    data = read_bounded(path, MAX_INDEX_BYTES)
    if data is None:
        raise AuthorityError(f"{path} is missing: the PKI directory is incomplete")
    return _Index.from_bytes(data, path)


def _require_pki(data_dir: Path) -> Path:
    directory = pki_directory(data_dir)
    if not (directory / CA_FILE).exists():
        raise AuthorityNotInitialised(
            f"{data_dir} has no PKI: make one with `zhenglian pki init --data-dir {data_dir}`"
        )
    return directory


def _load_root(directory: Path) -> x509.Certificate:
    data = read_bounded(directory / CA_FILE, MAX_CERTIFICATE_BYTES)
    if data is None:
        raise AuthorityNotInitialised(f"{directory / CA_FILE} is missing")
    try:
        return load_certificate(data)
    except ProfileError as exc:
        raise AuthorityError(f"{directory / CA_FILE}: {exc}") from exc


def _load_config(directory: Path) -> dict[str, Any]:
    data = read_bounded(directory / CONFIG_FILE, MAX_CONFIG_BYTES)
    if data is None:
        return {}
    try:
        config = json.loads(data)
    except ValueError as exc:
        raise AuthorityError(f"{directory / CONFIG_FILE} is not JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise AuthorityError(f"{directory / CONFIG_FILE} is not a JSON object")
    return config


def list_certificates(data_dir: Path) -> tuple[IssuedRecord, ...]:
    """Every certificate the authority of ``data_dir`` issued (no passphrase needed: the
    index is also on a server whose root key is kept offline)."""
    return _load_index(_require_pki(data_dir)).records


MAX_SERIAL_CHARS: Final = 42
"""Longest serial number text taken (159 bits are 40 hexadecimal digits, and a ``0x``)."""


def normalise_serial(text: str) -> str:
    """A serial number as the index writes it: lowercase hexadecimal without leading zeros
    (``0x``, colons and upper case are accepted, as other tools print serials).

    :raises CertsInputError: not hexadecimal, or too long."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    if (
        not cleaned
        or len(cleaned) > MAX_SERIAL_CHARS
        or any(c not in "0123456789abcdef" for c in cleaned)
    ):
        raise CertsInputError(
            f"a serial number is hexadecimal, as `zhenglian pki list` prints it: {text[:60]!r}"
        )
    return format(int(cleaned, 16), "x")


def check_crl_url(url: str) -> str:
    longest = MAX_CRL_URL_CHARS - len("/v1/pki/crl") - len(SM2_CRL_QUERY)
    if len(url) > longest:
        raise CertsInputError(f"the public URL is longer than {longest} characters")
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise CertsInputError(f"the public URL must be http(s)://HOST[:PORT][/PATH]: {url!r}")
    if "?" in url or "#" in url:
        raise CertsInputError("the public URL may not have a query or fragment")
    return url.rstrip("/") + "/v1/pki/crl"


SM2_CRL_QUERY: Final = "?algorithm=sm2"
"""Appended to the CRL URL in SM2 certificates: ``GET /v1/pki/crl?algorithm=sm2`` serves the
SM2 root's CRL."""


def sm2_crl_url(crl_url: str) -> str:
    """The CRL distribution point SM2 certificates name: the authority's, for the SM2 CRL."""
    return crl_url + SM2_CRL_QUERY


class CertificateAuthority:
    """The authority of one data directory, opened with its root keys (the ECDSA root, and
    the SM2 root when it has one).

    Every change holds the directory's lock from reading the index to writing the CRL(s)."""

    def __init__(self, data_dir: Path, signers: dict[str, RootSigner], crl_url: str | None) -> None:
        if ECDSA_P256 not in signers:
            raise AuthorityError("an authority always has its ECDSA root")
        self.data_dir = data_dir
        self.directory = pki_directory(data_dir)
        self._signers = signers
        self.crl_url = crl_url

    @property
    def root(self) -> x509.Certificate:
        """The ECDSA root."""
        return x509.load_der_x509_certificate(self._signers[ECDSA_P256].root_der)

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms of the roots this authority has (``ecdsa-p256`` first)."""
        return tuple(a for a in ALGORITHMS if a in self._signers)

    def root_of(self, algorithm: str) -> x509.Certificate:
        """The root certificate of ``algorithm`` (an SM2 root parses, its key does not load).

        :raises AuthorityError: no root of that algorithm here."""
        return x509.load_der_x509_certificate(self._signer(algorithm).root_der)

    def _signer(self, algorithm: str) -> RootSigner:
        signer = self._signers.get(algorithm)
        if signer is None:
            raise AuthorityError(
                f"{self.data_dir} has no {'SM2' if algorithm == SM2 else algorithm} root: "
                "make it with "
                f"`zhenglian pki init --data-dir {self.data_dir} --algorithm sm2 --name NAME`"
            )
        return signer

    # --- making and opening ---------------------------------------------------------------

    @classmethod
    def init(
        cls,
        data_dir: Path,
        name: str,
        *,
        passphrase: bytes,
        public_url: str | None,
        now: datetime | None = None,
    ) -> CertificateAuthority:
        """Make the root key (ECDSA P-256), the root certificate and the first, empty CRL.

        :raises AuthorityError: the directory already has a PKI (it is never replaced).
        :raises CertsInputError: a bad name, public URL or too short a passphrase."""
        name = check_name(name, "root name")
        crl_url = check_crl_url(public_url) if public_url else None
        if len(passphrase) < MIN_PASSPHRASE_CHARS:
            raise CertsInputError(
                f"ZHENGLIAN_CA_PASSPHRASE must have at least {MIN_PASSPHRASE_CHARS} characters"
            )
        now = now or _now()
        directory = pki_directory(data_dir)
        make_private_directory(directory)
        with exclusive_lock(directory):
            if (directory / CA_FILE).exists() or (directory / KEY_FILE).exists():
                root = _load_root(directory)
                raise AuthorityError(
                    f"{data_dir} already has a PKI (root {root.subject.rfc4514_string()}); "
                    "a root is never replaced"
                )
            key = ec.generate_private_key(ec.SECP256R1())
            root = build_root_certificate(
                key,
                name,
                serial=x509.random_serial_number(),
                not_before=now - timedelta(minutes=5),
                not_after=now + timedelta(days=ROOT_CERTIFICATE_DAYS),
            )
            for sub in (ISSUED_DIRECTORY, CRL_ARCHIVE):
                make_private_directory(directory / sub)
            config = {"name": name, "crl_url": crl_url, "algorithm": ECDSA_P256}
            write_atomic(directory / CONFIG_FILE, json.dumps(config, ensure_ascii=False).encode())
            write_atomic(
                directory / KEY_FILE,
                key.private_bytes(
                    Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.BestAvailableEncryption(passphrase),
                ),
            )
            authority = cls(data_dir, {ECDSA_P256: EcdsaRootSigner(key, root)}, crl_url)
            authority._commit(_Index(1, ()), now, (ECDSA_P256,))
            write_atomic(directory / CA_FILE, root.public_bytes(Encoding.PEM))  # last: "has a PKI"
        return authority

    @classmethod
    def init_sm2(
        cls,
        data_dir: Path,
        name: str,
        *,
        passphrase: bytes,
        engine: SM2Engine,
        now: datetime | None = None,
    ) -> CertificateAuthority:
        """Give the authority of ``data_dir`` its SM2 root beside the ECDSA one: an SM2 key
        (PKCS #8, PBES2 as :mod:`certs.sm2.keys` writes it, with ``passphrase``), the
        self-signed GM/T 0015 root and its first, empty CRL (number 1).

        :raises AuthorityNotInitialised: no ECDSA root here yet (``pki init`` first).
        :raises AuthorityError: an SM2 root exists already (never replaced), or a wrong
            passphrase (the ECDSA root key must open with it: one passphrase, one authority).
        :raises CertsInputError: a bad name."""
        name = check_name(name, "root name")
        now = now or _now()
        authority = cls.open(data_dir, passphrase=passphrase, engine=engine)
        directory = authority.directory
        files = ROOT_FILES[SM2]
        with exclusive_lock(directory):
            if (directory / files.certificate).exists() or (directory / files.key).exists():
                raise AuthorityError(
                    f"{data_dir} already has an SM2 root ({directory / files.certificate}); "
                    "a root is never replaced"
                )
            index = _load_index(directory)
            key = sm2_keys.generate_private_key(engine)
            root = build_sm2_root_certificate(
                key,
                name,
                serial=x509.random_serial_number(),
                not_before=now - timedelta(minutes=5),
                not_after=now + timedelta(days=ROOT_CERTIFICATE_DAYS),
                engine=engine,
            )
            make_private_directory(directory / files.crl_archive)
            write_atomic(directory / files.key, sm2_keys.private_key_to_pem(key, passphrase))
            authority._signers[SM2] = Sm2RootSigner(key, root, engine)
            authority._commit(index.with_number(SM2, 1), now, (SM2,))
            write_atomic(directory / files.certificate, root.to_pem())  # last: "has an SM2 root"
        return authority

    @classmethod
    def open(
        cls, data_dir: Path, *, passphrase: bytes, engine: SM2Engine | None = None
    ) -> CertificateAuthority:
        """The authority of ``data_dir`` with its root key(s) decrypted: the ECDSA root, and
        the SM2 root if there is one (its key is read with ``engine``, default GmSSL's).

        :raises AuthorityNotInitialised: no PKI there.
        :raises AuthorityError: no root key here (kept offline), or a wrong passphrase."""
        directory = _require_pki(data_dir)
        root = _load_root(directory)
        key_path = directory / KEY_FILE
        data = read_bounded(key_path, MAX_KEY_BYTES)
        if data is None:
            raise AuthorityError(
                f"{key_path} is missing: this data directory has no root key (kept offline?); "
                "issue and revoke where the key is, then `zhenglian pki publish` here"
            )
        try:
            key = serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError) as exc:
            raise AuthorityError(
                f"cannot decrypt {key_path}: wrong ZHENGLIAN_CA_PASSPHRASE, or not a key"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AuthorityError(f"{key_path} is not an ECDSA key")
        try:
            signers: dict[str, RootSigner] = {ECDSA_P256: EcdsaRootSigner(key, root)}
        except ProfileError as exc:
            raise AuthorityError(f"{key_path}: {exc}") from exc
        if (directory / ROOT_FILES[SM2].certificate).exists():
            signers[SM2] = _open_sm2_root(directory, passphrase, engine)
        config = _load_config(directory)
        crl_url = config.get("crl_url")
        return cls(data_dir, signers, crl_url if isinstance(crl_url, str) else None)

    # --- changes --------------------------------------------------------------------------

    def issue(
        self,
        subject: InstitutionSubject,
        public_key_der: bytes,
        *,
        now: datetime | None = None,
        algorithm: str = ECDSA_P256,
    ) -> IssuedCertificate:
        """Certify ``public_key_der`` for ``subject`` for :data:`INSTITUTION_CERTIFICATE_DAYS`
        by the root of ``algorithm`` (``ecdsa-p256`` or ``sm2``).

        :raises UnsupportedAlgorithm: the key is not of the root's algorithm.
        :raises AuthorityError: no root of that algorithm here."""
        now = now or _now()
        signer = self._signer(algorithm)
        with exclusive_lock(self.directory):
            index = self._repaired_index(now)
            taken = {r.serial for r in index.records}
            serial = x509.random_serial_number()
            while format(serial, "x") in taken:  # 2^-159: never, but never twice either
                serial = x509.random_serial_number()
            request = IssuanceRequest(
                subject=subject,
                public_key_der=public_key_der,
                serial=serial,
                not_before=now - CLOCK_SKEW,
                not_after=now + timedelta(days=INSTITUTION_CERTIFICATE_DAYS),
                crl_url=sm2_crl_url(self.crl_url)
                if algorithm == SM2 and self.crl_url
                else self.crl_url,
            )
            der = signer.issue(request)
            issued = parse_institution_certificate(x509.load_der_x509_certificate(der))
            record = IssuedRecord(
                serial=issued.serial_hex,
                institution=subject.name,
                credit_code=subject.credit_code.text,
                type=subject.type.value,
                algorithm=signer.algorithm,
                not_before=issued.not_before,
                not_after=issued.not_after,
                issued_at=now,
                status="issued",
            )
            pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
            write_atomic(self.directory / ISSUED_DIRECTORY / f"{record.serial}.pem", pem)
            write_atomic(
                self.directory / INDEX_FILE,
                replace(index, records=(*index.records, record)).to_bytes(),
            )
        return IssuedCertificate(der, record)

    def revoke(
        self,
        serial: str,
        reason: RevocationReason,
        *,
        effective: datetime | None = None,
        now: datetime | None = None,
    ) -> IssuedRecord:
        """Revoke the certificate of ``serial`` (hex), effective ``effective`` (default: now;
        earlier: written as the CRL entry's invalidityDate), and issue the new CRL.

        :raises UnknownCertificate: not issued here. :raises AlreadyRevoked: already revoked.
        :raises CertsInputError: an effective time in the future (a time before the certificate's
            notBefore is taken: a key stolen before it was certified never vouched)."""
        now = now or _now()
        serial = normalise_serial(serial)
        if effective is None:
            effective = now
        if effective.tzinfo is None:
            raise CertsInputError("the effective time must say its zone (e.g. +08:00 or Z)")
        effective = effective.astimezone(UTC)
        if effective > now + CLOCK_SKEW:
            raise CertsInputError(
                f"the effective time {effective.isoformat()} is in the future: a CRL cannot "
                "announce a revocation in advance; revoke at that time"
            )
        effective = min(effective, now).replace(microsecond=0)
        with exclusive_lock(self.directory):
            index = self._repaired_index(now)
            records = list(index.records)
            for i, record in enumerate(records):  # noqa: B007 - i is used after the loop
                if record.serial == serial:
                    break
            else:
                raise UnknownCertificate(
                    f"no certificate with serial {serial} was issued here "
                    "(see `zhenglian pki list`)"
                )
            self._signer(record.algorithm)  # its root's key is needed for the CRL
            if record.status == "revoked":
                raise AlreadyRevoked(
                    f"certificate {serial} is already revoked ({record.revocation_reason}, "
                    f"{record.revoked_at.isoformat() if record.revoked_at else '?'})"
                )
            revoked = replace(
                record,
                status="revoked",
                revoked_at=now,
                revocation_reason=reason.value,
                revocation_effective=effective,
            )
            records[i] = revoked
            algorithm = record.algorithm
            self._commit(
                replace(index, records=tuple(records)).with_number(
                    algorithm, index.number(algorithm) + 1
                ),
                now,
                (algorithm,),
            )
        return revoked

    def renew_crl(self, *, now: datetime | None = None) -> x509.CertificateRevocationList:
        """Issue a new CRL (the next number) of the revocations recorded, by every root: run it
        before the current ones' nextUpdate. Returns the ECDSA root's (see :meth:`crl_numbers`
        for every root's number)."""
        now = now or _now()
        with exclusive_lock(self.directory):
            index = self._repaired_index(now)
            for algorithm in self.algorithms:
                index = index.with_number(algorithm, index.number(algorithm) + 1)
            self._commit(index, now, self.algorithms)
        data = read_bounded(self.directory / CRL_FILE, MAX_CRL_BYTES)
        assert data is not None
        return x509.load_der_x509_crl(data)

    def crl_numbers(self) -> dict[str, int]:
        """The number of each root's last CRL, as the index records it."""
        index = _load_index(self.directory)
        return {algorithm: index.number(algorithm) for algorithm in self.algorithms}

    # --- inside the lock ------------------------------------------------------------------

    def _repaired_index(self, now: datetime) -> _Index:
        """The index, after re-issuing each root's CRL that a crash left behind the index."""
        index = _load_index(self.directory)
        behind: list[str] = []
        for algorithm in self.algorithms:
            path = self.directory / ROOT_FILES[algorithm].crl
            crl_data = read_bounded(path, MAX_CRL_BYTES)
            try:
                current = _crl_number_of(crl_data, algorithm) if crl_data is not None else 0
            except (ProfileError, MalformedSM2Data) as exc:
                raise AuthorityError(f"{path}: {exc}") from exc
            if current != index.number(algorithm):
                index = index.with_number(algorithm, max(current, index.number(algorithm)) + 1)
                behind.append(algorithm)
        if behind:
            self._commit(index, now, tuple(behind))
        return index

    def _commit(self, index: _Index, now: datetime, algorithms: tuple[str, ...]) -> None:
        """Write ``index``, then for each of ``algorithms`` the root's CRL numbered as the
        index says, made from it. The index goes first: a CRL behind it is found and
        re-issued (:meth:`_repaired_index`)."""
        write_atomic(self.directory / INDEX_FILE, index.to_bytes())
        for algorithm in algorithms:
            files = ROOT_FILES[algorithm]
            number = index.number(algorithm)
            der = self._signer(algorithm).sign_crl(
                CrlContent(number, now, index.revoked(algorithm))
            )
            write_atomic(self.directory / files.crl_archive / f"{number}.der", der)
            write_atomic(self.directory / files.crl, der)


def _crl_number_of(data: bytes, algorithm: str) -> int:
    """The CRLNumber of a root's CRL (an SM2 CRL parses with ``cryptography``; only its
    signature cannot be checked there, and is not needed to read the number).

    :raises ProfileError: not a CRL, or no number."""
    del algorithm  # both roots' CRLs are RFC 5280 CRLs
    return crl_number(load_crl(data))


def _open_sm2_root(directory: Path, passphrase: bytes, engine: SM2Engine | None) -> Sm2RootSigner:
    """The SM2 root's signer: its certificate and its key, decrypted with ``passphrase``.

    :raises AuthorityError: the key is missing (kept offline), unreadable, or not the root's."""
    files = ROOT_FILES[SM2]
    if engine is None:
        from certs.sm2.gmssl_engine import GmsslEngine

        engine = GmsslEngine()
    certificate_path = directory / files.certificate
    key_path = directory / files.key
    certificate_data = read_bounded(certificate_path, MAX_CERTIFICATE_BYTES)
    key_data = read_bounded(key_path, MAX_KEY_BYTES)
    if certificate_data is None:
        raise AuthorityError(f"{certificate_path} is missing")
    if key_data is None:
        raise AuthorityError(
            f"{key_path} is missing: this data directory has no SM2 root key (kept offline?)"
        )
    try:
        root = SM2Certificate.from_pem(certificate_data)
        key = sm2_keys.load_private_key(key_data, passphrase, engine=engine)
        return Sm2RootSigner(key, root, engine)
    except KeyDecryptionError as exc:
        raise AuthorityError(
            f"cannot decrypt {key_path}: wrong ZHENGLIAN_CA_PASSPHRASE, or not a key"
        ) from exc
    except (MalformedSM2Data, ProfileError) as exc:
        raise AuthorityError(f"{directory}: the SM2 root: {exc}") from exc
