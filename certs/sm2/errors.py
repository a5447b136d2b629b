"""Errors of ``certs.sm2``, under the package root :class:`certs.errors.CertsError`.

A bad signature is not an error: verification returns ``False`` or a record saying so. Errors are
for input that cannot be read at all (malformed DER, a point off the curve, an unsupported
algorithm), a wrong passphrase, and a failure inside the compiled binding (wrapped where it
enters, ``raise ... from exc``). Part of the pure core: standard library only.
"""

from __future__ import annotations

from certs.errors import CertsError, CertsInputError


class SM2Error(CertsError):
    """Root of every error raised by ``certs.sm2``."""


class MalformedSM2Data(SM2Error, CertsInputError):
    """Input is not what it claims: bad DER or PEM, a point off the curve, a wrong length, an
    algorithm identifier this module does not handle, or a value over a named limit."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


class KeyDecryptionError(SM2Error):
    """An encrypted private key could not be opened: wrong passphrase or damaged ciphertext
    (PBES2 cannot tell the two apart)."""


class BindingError(SM2Error):
    """The compiled SM2 binding failed where it should not have (key generation, signing)."""
