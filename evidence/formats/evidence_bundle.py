"""The evidence bundle (version 1, docs/bundle.md): one zip file with everything a court needs
to check a deposited document offline — the original, its signature and the signer's chain,
the receipt, the custody export and the trust bundle — and a manifest naming each member.

Pure: the writer turns members (bytes, and the original as chunks) into zip bytes as they
are produced, without a file or a seek; the reader takes an open binary file (the caller
opens it) and refuses, before reading any member, an archive that is not one of ours or that
could exhaust the reader (too many members, too many bytes, names that could escape a
directory). The manifest is a convenience — it says what each member is and its SHA-256 —,
not a proof: whoever altered a member could rewrite it too. What proves is the receipt, the
signature and the custody export, checked against trust the verifier pins.

Layout (members in this order, every timestamp the deposit time, UTC):

```
manifest.json                     the manifest (JSON, below)
receipt.json                      GET /v1/documents/{id}/receipt
trust.json                        GET /v1/trust (the server's word: not trusted by itself)
signature/signature.p7s           the detached CMS signature (DER), if any
signature/signer.cer              the signer's certificate (DER), if signed
signature/root.cer                the bureau's root the signature was checked against (DER)
signature/crl-now.crl             the root's CRL current when the bundle was made (DER)
signature/crl-at-signing.crl      the root's CRL current at the signing time (DER), if kept
custody/page-0001.json ...        the custody export, every page
original/<name>                   the original, byte for byte (stored, not compressed)
```
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Final

from evidence.errors import InputError
from evidence.formats.canonical_json import (
    JsonFields,
    StrictJsonErrors,
    format_utc_seconds,
    parse_utc_time,
    strict_loads,
)
from evidence.formats.custody_export import MAX_EXPORT_BYTES

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MANIFEST_NAME",
    "MAX_BUNDLE_MEMBERS",
    "MAX_CUSTODY_PAGES",
    "MAX_MEMBER_BYTES",
    "ROLES",
    "BundleError",
    "BundleLimits",
    "BundleManifest",
    "BundleMember",
    "EvidenceBundle",
    "MemberEntry",
    "custody_page_name",
    "original_name",
    "write_bundle",
]

BUNDLE_FORMAT: Final = "zhenglian/evidence-bundle"
"""The manifest's ``format``."""
BUNDLE_VERSION: Final = 1
"""The manifest's ``version``; a reader refuses any other."""

MANIFEST_NAME: Final = "manifest.json"
RECEIPT_NAME: Final = "receipt.json"
TRUST_NAME: Final = "trust.json"
SIGNATURE_NAME: Final = "signature/signature.p7s"
SIGNER_CERTIFICATE_NAME: Final = "signature/signer.cer"
ROOT_CERTIFICATE_NAME: Final = "signature/root.cer"
CRL_NOW_NAME: Final = "signature/crl-now.crl"
CRL_AT_SIGNING_NAME: Final = "signature/crl-at-signing.crl"
ORIGINAL_DIRECTORY: Final = "original/"
CUSTODY_DIRECTORY: Final = "custody/"

MAX_CUSTODY_PAGES: Final = 1000
"""Most custody export pages in one bundle (5,000 events each)."""

#: What each member is (the manifest's ``role``), with its fixed name (None: a pattern) and
#: how many a bundle holds at most.
ROLES: Final[dict[str, tuple[str | None, int]]] = {
    "receipt": (RECEIPT_NAME, 1),
    "trust": (TRUST_NAME, 1),
    "signature": (SIGNATURE_NAME, 1),
    "signer-certificate": (SIGNER_CERTIFICATE_NAME, 1),
    "root-certificate": (ROOT_CERTIFICATE_NAME, 1),
    "crl-now": (CRL_NOW_NAME, 1),
    "crl-at-signing": (CRL_AT_SIGNING_NAME, 1),
    "custody-page": (None, MAX_CUSTODY_PAGES),
    "original": (None, 1),
}
_REQUIRED_ROLES: Final = ("receipt", "original")
_ROLE_ORDER: Final = {role: i for i, role in enumerate(ROLES)}

MAX_BUNDLE_MEMBERS: Final = MAX_CUSTODY_PAGES + len(ROLES) + 1
"""Most members (the manifest included) a reader accepts."""
MAX_MANIFEST_BYTES: Final = 1024 * 1024
"""Largest manifest read (about 100 bytes a member)."""
MAX_MEMBER_BYTES: Final = MAX_EXPORT_BYTES
"""Largest member other than the original (a custody page is the largest kind)."""
DEFAULT_MAX_ORIGINAL_BYTES: Final = 4 * 1024**3
"""Largest original a reader accepts unless told otherwise (the server's default upload
limit)."""
DEFAULT_MAX_TOTAL_BYTES: Final = DEFAULT_MAX_ORIGINAL_BYTES + 2 * 1024**3
"""Most uncompressed bytes of all members together unless told otherwise."""
MAX_COMPRESSION_RATIO: Final = 200
"""Most uncompressed bytes per compressed byte of a compressed member (a zip bomb's tell;
JSON of custody proofs compresses about 2:1)."""
MAX_NAME_CHARS: Final = 200
"""Longest member name."""
MAX_ORIGINAL_NAME_CHARS: Final = 100
"""Longest file name the writer keeps for the original (``original/<name>``)."""

_MANIFEST_DEPTH: Final = 4
_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]")
_NAME: Final = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_CUSTODY_PAGE: Final = re.compile(r"custody/page-([0-9]{4,5})\.json")
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_CHUNK: Final = 1024 * 1024


class BundleError(InputError):
    """Not an evidence bundle this reader accepts (the message says why)."""


def _error(path: str, reason: str) -> BundleError:
    return BundleError(f"bundle manifest: {path}: {reason}")


_FIELDS: Final = JsonFields(_error)
_JSON_ERRORS: Final = StrictJsonErrors(syntax=BundleError)


def original_name(filename: str | None, document_id: str) -> str:
    """``original/<name>``: the deposit's file name with anything but ``A-Za-z0-9._-`` made
    ``_`` (at most :data:`MAX_ORIGINAL_NAME_CHARS`), or ``<id>.bin`` without one."""
    name = _SAFE_NAME.sub("_", filename or "")[:MAX_ORIGINAL_NAME_CHARS].strip(".")
    if not name:
        name = _SAFE_NAME.sub("_", document_id)[:MAX_ORIGINAL_NAME_CHARS] + ".bin"
    return ORIGINAL_DIRECTORY + name


def custody_page_name(number: int) -> str:
    """``custody/page-NNNN.json``, pages numbered from 1."""
    if not 1 <= number <= MAX_CUSTODY_PAGES:
        raise ValueError(f"custody page {number} outside 1..{MAX_CUSTODY_PAGES}")
    return f"{CUSTODY_DIRECTORY}page-{number:04d}.json"


def check_member_name(name: str) -> str:
    """``name`` if a reader may extract it under a directory of its own: relative, segments
    of ``A-Za-z0-9._-`` only (no ``..``, no ``.``, no backslash, no drive), at most
    :data:`MAX_NAME_CHARS`."""
    if len(name) > MAX_NAME_CHARS or _NAME.fullmatch(name) is None:
        raise BundleError(f"member name {name[:MAX_NAME_CHARS]!r} is not allowed in a bundle")
    if any(part in (".", "..") for part in name.split("/")):
        raise BundleError(f"member name {name!r} climbs out of the bundle")
    return name


def _role_of(name: str) -> str:
    """The role a member of this name must have."""
    for role, (fixed, _) in ROLES.items():
        if fixed == name:
            return role
    if name.startswith(ORIGINAL_DIRECTORY) and name.count("/") == 1:
        return "original"
    if _CUSTODY_PAGE.fullmatch(name):
        return "custody-page"
    raise BundleError(f"member {name!r} is not one an evidence bundle holds")


@dataclass(frozen=True)
class MemberEntry:
    """One member as the manifest names it."""

    name: str
    role: str
    sha256: bytes
    size: int

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "sha256": self.sha256.hex(),
            "size": self.size,
        }


@dataclass(frozen=True)
class BundleManifest:
    """What the bundle holds: the document, when the bundle was made, and each member."""

    document_id: str
    document_sha256: bytes
    created_at: datetime
    members: tuple[MemberEntry, ...]

    def to_json_bytes(self) -> bytes:
        value = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "document_id": self.document_id,
            "document_sha256": self.document_sha256.hex(),
            "created_at": format_utc_seconds(self.created_at),
            "members": [m.to_json() for m in self.members],
        }
        return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> BundleManifest:
        doc = strict_loads(
            data,
            what="bundle manifest",
            max_bytes=MAX_MANIFEST_BYTES,
            max_depth=_MANIFEST_DEPTH,
            errors=_JSON_ERRORS,
            integers_only=True,
        )
        keys = ("format", "version", "document_id", "document_sha256", "created_at", "members")
        top = _FIELDS.exact_object(doc, "$", keys)
        if top["format"] != BUNDLE_FORMAT:
            raise _error("format", f"must be {BUNDLE_FORMAT!r}")
        if top["version"] != BUNDLE_VERSION:
            raise _error("version", f"version {top['version']!r:.20} is not {BUNDLE_VERSION}")
        document_id = top["document_id"]
        if not isinstance(document_id, str) or not 1 <= len(document_id) <= 64:
            raise _error("document_id", "must be a string of 1 to 64 characters")
        listed = top["members"]
        if not isinstance(listed, list) or not 1 <= len(listed) < MAX_BUNDLE_MEMBERS:
            raise _error("members", f"must be a list of 1 to {MAX_BUNDLE_MEMBERS - 1} members")
        members = []
        for i, item in enumerate(listed):
            path = f"members[{i}]"
            fields = _FIELDS.exact_object(item, path, ("name", "role", "sha256", "size"))
            name = fields["name"]
            if not isinstance(name, str):
                raise _error(f"{path}.name", "must be a string")
            check_member_name(name)
            role = fields["role"]
            if role != _role_of(name):
                raise _error(f"{path}.role", f"{role!r:.40} is not the role of {name!r}")
            members.append(
                MemberEntry(
                    name,
                    role,
                    _FIELDS.hex(fields["sha256"], f"{path}.sha256", 32, exact=True),
                    _FIELDS.uint(fields["size"], f"{path}.size", 2**62),
                )
            )
        return cls(
            document_id,
            _FIELDS.hex(top["document_sha256"], "document_sha256", 32, exact=True),
            parse_utc_time(top["created_at"], "created_at", millis=False, error=BundleError),
            tuple(members),
        )

    def member(self, role: str) -> MemberEntry | None:
        """The one member of ``role`` (None if the bundle has none)."""
        return next((m for m in self.members if m.role == role), None)

    def custody_pages(self) -> tuple[MemberEntry, ...]:
        return tuple(m for m in self.members if m.role == "custody-page")


@dataclass(frozen=True)
class BundleMember:
    """A member the writer puts in memory (every member but the original)."""

    name: str
    data: bytes

    @property
    def role(self) -> str:
        return _role_of(self.name)


class _Sink(io.RawIOBase):
    """Where zipfile writes: kept until :meth:`drain` hands the bytes on (no seek, so zipfile
    writes data descriptors and the central directory from what it counted)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(b))
        return len(b)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _info(name: str, when: tuple[int, int, int, int, int, int], compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever writes it: the same bytes everywhere
    info.external_attr = 0o100444 << 16  # a read-only regular file
    return info


def write_bundle(
    *,
    document_id: str,
    document_sha256: bytes,
    document_size: int,
    original: str,
    original_chunks: Iterable[bytes],
    members: Sequence[BundleMember],
    created_at: datetime,
    deposited_at: datetime,
) -> Iterator[bytes]:
    """The zip bytes of a bundle, as they are produced: the manifest first, ``members`` in
    the layout's order, the original last, streamed from ``original_chunks`` (which must
    yield exactly the deposited bytes: the caller re-checks them, and an error it raises
    stops the bundle before its end). Every member's timestamp is ``deposited_at`` (UTC).

    :raises ValueError: a member name or role the layout does not have, twice, or too many.
    """
    check_member_name(original)
    if _role_of(original) != "original":
        raise ValueError(f"{original!r} is not an original's name")
    ordered = sorted(members, key=lambda m: (_ROLE_ORDER[m.role], m.name))
    names = [m.name for m in ordered] + [original]
    if len(set(names)) != len(names) or len(names) >= MAX_BUNDLE_MEMBERS:
        raise ValueError("member names repeat, or too many members")
    for role, (_, most) in ROLES.items():
        if sum(1 for m in ordered if m.role == role) > most:
            raise ValueError(f"more than {most} members of role {role}")
    manifest = BundleManifest(
        document_id,
        document_sha256,
        created_at,
        (
            *(
                MemberEntry(m.name, m.role, hashlib.sha256(m.data).digest(), len(m.data))
                for m in ordered
            ),
            MemberEntry(original, "original", document_sha256, document_size),
        ),
    )
    when = max(deposited_at.utctimetuple()[:6], _ZIP_EPOCH)
    stamp = (when[0], when[1], when[2], when[3], when[4], when[5])
    sink = _Sink()
    archive = zipfile.ZipFile(sink, mode="w", allowZip64=True)
    archive.writestr(_info(MANIFEST_NAME, stamp, True), manifest.to_json_bytes())
    yield sink.drain()
    for member in ordered:
        archive.writestr(_info(member.name, stamp, True), member.data)
        yield sink.drain()
    info = _info(original, stamp, False)
    info.file_size = document_size
    with archive.open(info, mode="w", force_zip64=document_size > 2**31) as out:
        for chunk in original_chunks:
            out.write(chunk)
            data = sink.drain()
            if data:
                yield data
    archive.close()
    yield sink.drain()


@dataclass(frozen=True)
class BundleLimits:
    """What a reader accepts (the defaults are the named limits above)."""

    max_members: int = MAX_BUNDLE_MEMBERS
    max_member_bytes: int = MAX_MEMBER_BYTES
    max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES


@dataclass(frozen=True)
class EvidenceBundle:
    """A bundle whose archive and manifest passed every structural check. Members are read
    on demand: :meth:`read` (bounded, in memory) or :meth:`chunks` (streamed); both give the
    bytes as stored — compare them with the manifest's SHA-256 (:meth:`digest_of`)."""

    manifest: BundleManifest
    _archive: zipfile.ZipFile = field(repr=False, compare=False)
    limits: BundleLimits = BundleLimits()

    @classmethod
    def from_zip(cls, file: IO[bytes], limits: BundleLimits = BundleLimits()) -> EvidenceBundle:
        """Read the archive's directory and manifest from ``file`` (open, binary, seekable).

        Refused (:class:`BundleError`) before any member other than the manifest is read:
        not a zip; more than ``max_members`` members; a name that is absolute, has ``..``,
        a backslash or anything but ``A-Za-z0-9._-`` segments; a name twice; a directory,
        link or encrypted member; a member over its size limit or compressed more than
        :data:`MAX_COMPRESSION_RATIO` to 1; more than ``max_total_bytes`` in all; no
        manifest, or a manifest that does not list exactly the other members, exactly one
        original and one receipt. (A member whose bytes differ from the manifest's SHA-256 or
        size is not refused here: that is a finding of the verification, not bad input.)
        """
        try:
            archive = zipfile.ZipFile(file, mode="r")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise BundleError(f"not a zip archive: {exc}") from None
        try:
            infos = archive.infolist()
            if len(infos) > limits.max_members:
                raise BundleError(
                    f"{len(infos)} members, more than the limit of {limits.max_members}"
                )
            sizes: dict[str, int] = {}
            total = 0
            for info in infos:
                name = check_member_name(info.filename)
                if name in sizes:
                    raise BundleError(f"member {name!r} appears twice")
                if name != MANIFEST_NAME:
                    _role_of(name)  # a member the layout has
                if info.is_dir() or (info.external_attr >> 16) & 0o170000 not in (0, 0o100000):
                    raise BundleError(f"member {name!r} is not a regular file")
                if info.flag_bits & 0x1:
                    raise BundleError(f"member {name!r} is encrypted")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise BundleError(f"member {name!r}: compression {info.compress_type}")
                limit = (
                    limits.max_original_bytes
                    if name.startswith(ORIGINAL_DIRECTORY)
                    else MAX_MANIFEST_BYTES
                    if name == MANIFEST_NAME
                    else limits.max_member_bytes
                )
                if info.file_size > limit:
                    raise BundleError(
                        f"member {name!r} is {info.file_size} bytes, over the limit of {limit}"
                    )
                if (
                    info.compress_type == zipfile.ZIP_DEFLATED
                    and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
                ):
                    raise BundleError(f"member {name!r} is compressed suspiciously well")
                total += info.file_size
                sizes[name] = info.file_size
            if total > limits.max_total_bytes:
                raise BundleError(
                    f"members hold {total} bytes, over the limit of {limits.max_total_bytes}"
                )
            if MANIFEST_NAME not in sizes:
                raise BundleError(f"no {MANIFEST_NAME}: not an evidence bundle")
            manifest = BundleManifest.from_json_bytes(
                _read(archive, MANIFEST_NAME, MAX_MANIFEST_BYTES)
            )
            listed = {m.name: m for m in manifest.members}
            if len(listed) != len(manifest.members):
                raise BundleError("the manifest lists a member twice")
            others = {name for name in sizes if name != MANIFEST_NAME}
            if set(listed) != others:
                unlisted = sorted(others - set(listed))[:5]
                absent = sorted(set(listed) - others)[:5]
                raise BundleError(
                    f"the manifest does not list the members: unlisted {unlisted}, absent {absent}"
                )
            for role, (_, most) in ROLES.items():
                count = sum(1 for m in manifest.members if m.role == role)
                if count > most or (role in _REQUIRED_ROLES and count != 1):
                    raise BundleError(f"{count} members of role {role}")
            original = manifest.member("original")
            assert original is not None
            if original.sha256 != manifest.document_sha256:
                raise BundleError("the manifest's original is not its document")
        except BaseException:
            archive.close()
            raise
        return cls(manifest, archive, limits)

    def digest_of(self, name: str) -> bytes:
        """The manifest's SHA-256 of member ``name``."""
        for m in self.manifest.members:
            if m.name == name:
                return m.sha256
        raise KeyError(name)

    def read(self, name: str) -> bytes:
        """Member ``name`` in memory (not the original: :meth:`chunks`)."""
        if name.startswith(ORIGINAL_DIRECTORY) or name not in self._names():
            raise KeyError(name)
        return _read(self._archive, name, self.limits.max_member_bytes)

    def chunks(self, name: str) -> Iterator[bytes]:
        """Member ``name`` streamed (:class:`BundleError` if the archive is damaged)."""
        if name not in self._names():
            raise KeyError(name)
        try:
            with self._archive.open(name) as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BundleError(f"member {name!r} cannot be read: {exc}") from None

    def close(self) -> None:
        self._archive.close()

    def _names(self) -> frozenset[str]:
        return frozenset(m.name for m in self.manifest.members)


def _read(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        with archive.open(name) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BundleError(f"member {name!r} cannot be read: {exc}") from None
    if len(data) > limit:
        raise BundleError(f"member {name!r} is over the limit of {limit} bytes")
    return data
