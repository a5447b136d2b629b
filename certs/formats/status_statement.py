"""The status statement: what an institution signs to issue, revoke or supersede an
e-certificate in the chain's ``CertificateRegistry``.

**Verification-critical.** A court checks each status change of a certificate by rebuilding
this statement from the registry's event (plus the chain id and the registry's address, which
it pins) and checking the institution's signature over it. Changing a byte of the encoding
breaks every signature made before. Pure: the standard library and the project's formats.

The statement is UTF-8 text (in fact ASCII), one ``name value`` per line, each line ended by
``\\n``, in this exact order (docs/certificate-registry.md §3)::

    zhenglian/certificate-status/v1
    chain-id <decimal, 1 .. 2^64-1, no leading zero>
    registry 0x<40 lowercase hex: the registry contract's address>
    certificate 0x<64 lowercase hex: SHA-256 of the identifier's UTF-8 bytes>
    action issue|revoke|supersede
    --- issue only:
    issuer <the issuer's 18-character 统一社会信用代码>
    certificate-hash 0x<64 lowercase hex: SHA-256 of the canonical certificate>
    --- revoke only:
    reason <decimal RFC 5280 CRLReason code: 0 1 2 3 5 9>
    effective-time <decimal Unix seconds, 1 .. 2^64-1>
    --- supersede only:
    successor 0x<64 lowercase hex: the successor's key>

The lines are exactly the arguments of the contract call (and of its event), so a statement is
rebuilt from the chain alone. The first line separates these signatures from any other the
institution's key makes (documents, CMS, other versions); the chain id and registry address
keep a signature from being replayed on another chain or registry, the key and the action
from being replayed for another certificate or another change. There is one encoding for a
statement: :func:`parse_status_statement` refuses anything that is not byte for byte what
:meth:`StatusStatement.to_bytes` writes.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from certs.errors import CertsInputError, CreditCodeError
from certs.formats.credit_code import CREDIT_CODE_LENGTH, parse_credit_code

__all__ = [
    "MAX_STATUS_STATEMENT_BYTES",
    "STATUS_STATEMENT_HEADER",
    "CertificateRevocationReason",
    "StatusAction",
    "StatusStatement",
    "StatusStatementError",
    "certificate_key",
    "parse_status_statement",
    "status_statement",
]

STATUS_STATEMENT_HEADER: Final = b"zhenglian/certificate-status/v1\n"
"""The first line: the domain separator and version."""
MAX_STATUS_STATEMENT_BYTES: Final = 512
"""Longest statement read (the longest one written is about 300 bytes)."""
MAX_UINT64: Final = 2**64 - 1


class StatusStatementError(CertsInputError):
    """Bytes that are not a status statement in its one canonical encoding, or a value out of
    range; ``line`` (1-based) names the offending line, if one."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message if line is None else f"status statement line {line}: {message}")


class StatusAction(enum.StrEnum):
    """The three changes of the registry (its functions of the same names)."""

    ISSUE = "issue"
    REVOKE = "revoke"
    SUPERSEDE = "supersede"


class CertificateRevocationReason(enum.IntEnum):
    """The RFC 5280 CRLReason codes an e-certificate may be revoked for (the contract's
    ``isAllowedReason``). Not offered: superseded (4: ``supersede`` names the successor
    instead), certificateHold (6) and removeFromCRL (8) — a revocation is final —, 7 (unused
    in RFC 5280) and aACompromise (10)."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    CESSATION_OF_OPERATION = 5
    PRIVILEGE_WITHDRAWN = 9

    @property
    def rfc5280_name(self) -> str:
        return _REASON_NAMES[self]

    @classmethod
    def parse(cls, text: str) -> CertificateRevocationReason:
        """The reason named ``text`` (RFC 5280 spelling, e.g. ``keyCompromise``) or given by
        its decimal code.

        :raises StatusStatementError: not one of them (the message lists them)."""
        for reason, name in _REASON_NAMES.items():
            if text == name or text == str(int(reason)):
                return reason
        names = ", ".join(f"{n} ({int(r)})" for r, n in _REASON_NAMES.items())
        supersede = ": supersede the certificate instead (it names the successor)"
        why = {
            "superseded": supersede,
            "4": supersede,
            "certificateHold": ": a revocation is final (no holds)",
            "6": ": a revocation is final (no holds)",
            "removeFromCRL": ": a revocation is final",
            "8": ": a revocation is final",
        }.get(text, "")
        raise StatusStatementError(
            f"revocation reason {text!r} is not offered{why}; one of {names}"
        )


_REASON_NAMES: Final = {
    CertificateRevocationReason.UNSPECIFIED: "unspecified",
    CertificateRevocationReason.KEY_COMPROMISE: "keyCompromise",
    CertificateRevocationReason.CA_COMPROMISE: "cACompromise",
    CertificateRevocationReason.AFFILIATION_CHANGED: "affiliationChanged",
    CertificateRevocationReason.CESSATION_OF_OPERATION: "cessationOfOperation",
    CertificateRevocationReason.PRIVILEGE_WITHDRAWN: "privilegeWithdrawn",
}


def certificate_key(identifier: str) -> bytes:
    """The registry's key of a certificate: SHA-256 of its identifier's UTF-8 bytes."""
    return hashlib.sha256(identifier.encode("utf-8")).digest()


@dataclass(frozen=True)
class StatusStatement:
    """One status change, as the issuing institution signs it. Build it with
    :meth:`issue`, :meth:`revoke` or :meth:`supersede`; every field not of its action is
    ``None``."""

    chain_id: int
    registry: bytes
    """The CertificateRegistry contract's 20-byte address."""
    certificate: bytes
    """The certificate's 32-byte key (:func:`certificate_key` of its identifier)."""
    action: StatusAction
    issuer: str | None = None
    """issue: the issuer's 统一社会信用代码."""
    certificate_hash: bytes | None = None
    """issue: SHA-256 of the canonical certificate."""
    reason: CertificateRevocationReason | None = None
    """revoke: why."""
    effective_time: int | None = None
    """revoke: from when (Unix seconds)."""
    successor: bytes | None = None
    """supersede: the successor's key."""

    def __post_init__(self) -> None:
        if type(self.chain_id) is not int or not 1 <= self.chain_id <= MAX_UINT64:
            raise StatusStatementError(f"chain id {self.chain_id!r} is not in 1 .. 2^64-1")
        _check_bytes(self.registry, 20, "registry address")
        _check_bytes(self.certificate, 32, "certificate key")
        if self.certificate == bytes(32):
            raise StatusStatementError("the certificate key is zero")
        wanted = _FIELDS[self.action]
        for name in _ALL_OPTIONAL:
            present = getattr(self, name) is not None
            if present != (name in wanted):
                raise StatusStatementError(
                    f"a {self.action} statement {'needs' if not present else 'has no'} {name}"
                )
        if self.issuer is not None:
            try:
                code = parse_credit_code(self.issuer)
            except CreditCodeError as exc:
                raise StatusStatementError(f"issuer: {exc}") from exc
            if code.text != self.issuer:
                raise StatusStatementError(f"issuer {self.issuer!r} is not in canonical form")
        if self.certificate_hash is not None:
            _check_bytes(self.certificate_hash, 32, "certificate hash")
            if self.certificate_hash == bytes(32):
                raise StatusStatementError("the certificate hash is zero")
        if self.reason is not None and not isinstance(self.reason, CertificateRevocationReason):
            raise StatusStatementError(f"reason {self.reason!r} is not offered")
        if self.effective_time is not None and (
            type(self.effective_time) is not int or not 1 <= self.effective_time <= MAX_UINT64
        ):
            raise StatusStatementError(
                f"effective time {self.effective_time!r} is not in 1 .. 2^64-1"
            )
        if self.successor is not None:
            _check_bytes(self.successor, 32, "successor key")
            if self.successor in (self.certificate, bytes(32)):
                raise StatusStatementError("the successor is the certificate itself or zero")

    # --- named constructors --------------------------------------------------------------

    @classmethod
    def issue(
        cls,
        *,
        chain_id: int,
        registry: bytes,
        certificate: bytes,
        issuer: str,
        certificate_hash: bytes,
    ) -> StatusStatement:
        return cls(
            chain_id,
            registry,
            certificate,
            StatusAction.ISSUE,
            issuer=issuer,
            certificate_hash=certificate_hash,
        )

    @classmethod
    def revoke(
        cls,
        *,
        chain_id: int,
        registry: bytes,
        certificate: bytes,
        reason: CertificateRevocationReason,
        effective_time: int,
    ) -> StatusStatement:
        return cls(
            chain_id,
            registry,
            certificate,
            StatusAction.REVOKE,
            reason=reason,
            effective_time=effective_time,
        )

    @classmethod
    def supersede(
        cls, *, chain_id: int, registry: bytes, certificate: bytes, successor: bytes
    ) -> StatusStatement:
        return cls(chain_id, registry, certificate, StatusAction.SUPERSEDE, successor=successor)

    # --- encoding ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The one canonical encoding, which the institution signs."""
        lines = [
            f"chain-id {self.chain_id}",
            f"registry 0x{self.registry.hex()}",
            f"certificate 0x{self.certificate.hex()}",
            f"action {self.action}",
        ]
        if self.action is StatusAction.ISSUE:
            assert self.issuer is not None and self.certificate_hash is not None
            lines += [f"issuer {self.issuer}", f"certificate-hash 0x{self.certificate_hash.hex()}"]
        elif self.action is StatusAction.REVOKE:
            assert self.reason is not None and self.effective_time is not None
            lines += [f"reason {int(self.reason)}", f"effective-time {self.effective_time}"]
        else:
            assert self.successor is not None
            lines += [f"successor 0x{self.successor.hex()}"]
        return STATUS_STATEMENT_HEADER + "".join(line + "\n" for line in lines).encode("ascii")


def status_statement(
    *,
    chain_id: int,
    registry: bytes,
    certificate: bytes,
    action: StatusAction | str,
    issuer: str | None = None,
    certificate_hash: bytes | None = None,
    reason: CertificateRevocationReason | int | None = None,
    effective_time: int | None = None,
    successor: bytes | None = None,
) -> bytes:
    """The bytes an institution signs for one change (see the module's docstring).

    :raises StatusStatementError: a field is missing, superfluous or out of range."""
    try:
        parsed_action = StatusAction(action)
    except ValueError:
        raise StatusStatementError(f"unknown action {action!r}") from None
    if reason is not None and not isinstance(reason, CertificateRevocationReason):
        reason = CertificateRevocationReason.parse(str(reason))
    return StatusStatement(
        chain_id,
        registry,
        certificate,
        parsed_action,
        issuer=issuer,
        certificate_hash=certificate_hash,
        reason=reason,
        effective_time=effective_time,
        successor=successor,
    ).to_bytes()


_FIELDS: Final = {
    StatusAction.ISSUE: ("issuer", "certificate_hash"),
    StatusAction.REVOKE: ("reason", "effective_time"),
    StatusAction.SUPERSEDE: ("successor",),
}
_ALL_OPTIONAL: Final = ("issuer", "certificate_hash", "reason", "effective_time", "successor")

_DECIMAL: Final = re.compile(r"[1-9][0-9]{0,19}|0")
_HEX20: Final = re.compile(r"0x[0-9a-f]{40}")
_HEX32: Final = re.compile(r"0x[0-9a-f]{64}")
_CODE: Final = re.compile(rf"[0-9A-Z]{{{CREDIT_CODE_LENGTH}}}")


def parse_status_statement(data: bytes) -> StatusStatement:
    """Read a statement; only its canonical encoding is accepted.

    :raises StatusStatementError: naming the first line that is wrong."""
    if not isinstance(data, bytes):
        raise StatusStatementError(f"a statement is bytes, not {type(data).__name__}")
    if len(data) > MAX_STATUS_STATEMENT_BYTES:
        raise StatusStatementError(f"longer than {MAX_STATUS_STATEMENT_BYTES} bytes")
    if not data.startswith(STATUS_STATEMENT_HEADER):
        raise StatusStatementError(
            f"does not start with {STATUS_STATEMENT_HEADER.decode().strip()!r}", line=1
        )
    if not data.endswith(b"\n"):
        raise StatusStatementError("the last line does not end with a newline")
    try:
        text = data[len(STATUS_STATEMENT_HEADER) :].decode("ascii")
    except UnicodeDecodeError as exc:
        raise StatusStatementError(f"not ASCII at byte {exc.start}") from None
    lines = text.split("\n")[:-1]
    reader = _Lines(lines)
    chain_id = reader.number("chain-id", minimum=1)
    registry = reader.hex("registry", _HEX20)
    certificate = reader.hex("certificate", _HEX32)
    action_text = reader.value("action")
    try:
        action = StatusAction(action_text)
    except ValueError:
        raise StatusStatementError(f"unknown action {action_text!r}", line=reader.line) from None
    fields: dict[str, object] = {}
    if action is StatusAction.ISSUE:
        issuer = reader.value("issuer")
        if not _CODE.fullmatch(issuer):
            raise StatusStatementError(
                f"issuer {issuer!r} is not 18 upper-case letters and digits", line=reader.line
            )
        fields["issuer"] = issuer
        fields["certificate_hash"] = reader.hex("certificate-hash", _HEX32)
    elif action is StatusAction.REVOKE:
        code = reader.number("reason", minimum=0)
        try:
            fields["reason"] = CertificateRevocationReason(code)
        except ValueError:
            raise StatusStatementError(
                f"reason {code} is not offered (one of 0, 1, 2, 3, 5, 9)", line=reader.line
            ) from None
        fields["effective_time"] = reader.number("effective-time", minimum=1)
    else:
        fields["successor"] = reader.hex("successor", _HEX32)
    if reader.remaining():
        raise StatusStatementError("a line after the last field", line=reader.line + 1)
    try:
        statement = StatusStatement(chain_id, registry, certificate, action, **fields)  # type: ignore[arg-type]
    except StatusStatementError as exc:
        raise StatusStatementError(str(exc)) from None
    if statement.to_bytes() != data:  # pragma: no cover - the reader accepts only canonical
        raise StatusStatementError("not in canonical form")
    return statement


class _Lines:
    """Reads ``name value`` lines in order; ``line`` is the 1-based number of the last one
    read, counting the header."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._next = 0

    @property
    def line(self) -> int:
        return self._next + 1

    def remaining(self) -> bool:
        return self._next < len(self._lines)

    def value(self, name: str) -> str:
        if not self.remaining():
            raise StatusStatementError(f"missing line {name!r}", line=self._next + 2)
        text = self._lines[self._next]
        self._next += 1
        prefix = name + " "
        if not text.startswith(prefix):
            raise StatusStatementError(f"expected {name!r}, found {text[:40]!r}", line=self.line)
        value = text[len(prefix) :]
        if not value or value != value.strip() or any(c < " " or c > "~" for c in value):
            raise StatusStatementError(f"{name}: malformed value {value[:80]!r}", line=self.line)
        return value

    def number(self, name: str, *, minimum: int) -> int:
        text = self.value(name)
        if not _DECIMAL.fullmatch(text):
            raise StatusStatementError(
                f"{name}: {text[:40]!r} is not a decimal without leading zeros", line=self.line
            )
        value = int(text)
        if not minimum <= value <= MAX_UINT64:
            raise StatusStatementError(
                f"{name}: {value} is not in {minimum} .. 2^64-1", line=self.line
            )
        return value

    def hex(self, name: str, pattern: re.Pattern[str]) -> bytes:
        text = self.value(name)
        if not pattern.fullmatch(text):
            raise StatusStatementError(
                f"{name}: {text[:80]!r} is not 0x and lower-case hex of the right length",
                line=self.line,
            )
        return bytes.fromhex(text[2:])


def _check_bytes(value: object, length: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise StatusStatementError(f"the {what} is not {length} bytes")
