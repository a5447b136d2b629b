"""Errors of the ``certs`` package: one root, typed subclasses, third-party errors wrapped.

Part of the pure core: it imports nothing but the standard library.
"""

from __future__ import annotations


class CertsError(Exception):
    """Root of every error raised by the ``certs`` package."""


class CertsInputError(CertsError):
    """Caller input is malformed or over a named limit (CLI exit 2, HTTP 4xx)."""


class CreditCodeError(CertsInputError):
    """A 统一社会信用代码 is not one: wrong length, a character outside its alphabet, or a
    wrong check character. ``position`` (1-based) names the offending character, if one."""

    def __init__(self, message: str, *, position: int | None = None) -> None:
        self.position = position
        super().__init__(message)


class CheckCharacterMismatch(CreditCodeError):
    """A check character differs from the one the other characters give."""

    def __init__(self, what: str, position: int, found: str, expected: str) -> None:
        self.found = found
        self.expected = expected
        super().__init__(
            f"wrong {what} check character at position {position}: {found!r}, "
            f"expected {expected!r}",
            position=position,
        )


class ProfileError(CertsInputError):
    """A certificate, request or CRL does not fit the institution profile (docs/pki.md)."""


class UnsupportedAlgorithm(CertsInputError):
    """A key or signature algorithm this PKI does not issue for (yet)."""


class AuthorityError(CertsError):
    """The certificate authority's files cannot be used: missing, unreadable, locked, or a
    wrong passphrase (CLI exit 1)."""


class AuthorityNotInitialised(AuthorityError):
    """The data directory holds no PKI: ``zhenglian pki init`` was never run there."""


class UnknownCertificate(CertsInputError):
    """No certificate of that serial number was issued by this authority."""


class AlreadyRevoked(CertsInputError):
    """The certificate is already revoked (a revocation is final, never overwritten)."""


class StatusSignatureError(CertsError):
    """An institution's signature over a certificate status statement does not verify: not a
    signature of the statement by the certificate's key, or by another institution than the
    statement names."""


class StatusSignerMismatch(StatusSignatureError):
    """The statement names another issuer than the signing certificate's institution."""

    def __init__(self, statement_issuer: str, certificate_issuer: str) -> None:
        self.statement_issuer = statement_issuer
        self.certificate_issuer = certificate_issuer
        super().__init__(
            f"the statement names issuer {statement_issuer}, the signing certificate is "
            f"{certificate_issuer}'s"
        )
