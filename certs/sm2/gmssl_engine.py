"""The SM2 engine on ``gmssl-pyx`` (GmSSL 3, compiled into the wheel).

Chosen by measurement (docs/benchmarks.md, "SM2 bindings"): it verifies the published vectors, its
digest-level sign and verify cost about 0.5 ms and 1 ms, and it wraps the reference 国密
implementation. Its exceptions are wrapped here, where they enter. GmSSL prints a line or two to
standard error when a verification fails (its ``error_print``); the result is still ``False``.
``GmsslEngine(quiet=True)`` — for the command line, which promises one readable line per error —
sends file descriptor 2 to ``/dev/null`` for the length of each verification (one process-wide
lock): not for a server, whose other threads may be writing their logs at that moment.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Final

import gmssl_pyx

from certs.sm2.algorithm import COORDINATE_SIZE
from certs.sm2.errors import BindingError, MalformedSM2Data

DIGEST_SIZE: Final = 32
_STDERR_LOCK: Final = threading.Lock()


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null meanwhile (GmSSL's C code writes there, not to
    ``sys.stderr``)."""
    with _STDERR_LOCK:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class GmsslEngine:
    """:class:`certs.sm2.engine.SM2Engine` on gmssl-pyx. ``quiet``: GmSSL's lines on a failed
    verification are dropped (command-line use only, see the module's docstring)."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

    @property
    def name(self) -> str:
        return f"gmssl-pyx {gmssl_pyx.__version__}"

    def generate_keypair(self) -> tuple[bytes, bytes]:
        try:
            public_key, private_key = gmssl_pyx.sm2_key_generate()
        except gmssl_pyx.GmsslInnerError as exc:
            raise BindingError(f"SM2 key generation failed: {exc}") from exc
        return bytes(private_key), bytes(public_key)

    def sign_digest(self, private_key: bytes, digest: bytes) -> bytes:
        _check_length("SM2 private key", private_key, COORDINATE_SIZE)
        _check_length("SM3 digest", digest, DIGEST_SIZE)
        try:
            return bytes(gmssl_pyx.sm2_sign_sm3_digest(private_key, digest))
        except gmssl_pyx.GmsslInnerError as exc:
            raise BindingError(f"SM2 signing failed: {exc}") from exc

    def verify_digest(self, public_key: bytes, digest: bytes, signature: bytes) -> bool:
        _check_length("SM2 public key", public_key, 2 * COORDINATE_SIZE)
        _check_length("SM3 digest", digest, DIGEST_SIZE)
        try:
            if self.quiet:
                with _stderr_silenced():
                    return bool(gmssl_pyx.sm2_verify_sm3_digest(public_key, digest, signature))
            return bool(gmssl_pyx.sm2_verify_sm3_digest(public_key, digest, signature))
        except gmssl_pyx.GmsslInnerError:
            # GmSSL refuses some malformed signatures by raising: for the caller that is simply
            # a signature that does not verify.
            return False


def _check_length(what: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise MalformedSM2Data(what, f"expected {size} bytes, got {len(value)}")
