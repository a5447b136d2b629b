"""Offline verification of RFC 3161 time-stamp tokens over a checkpoint. Pure.

A time-stamp authority (TSA) signs, at ``genTime``, a TSTInfo holding the digest of a message
(the *message imprint*). A token that verifies proves that the message existed no later than
``genTime``, on the word of an authority the verifier trusts. What this log stamps is the
signed note of a checkpoint (``formats.checkpoint``), as the exact UTF-8 bytes of its text.

What is checked, in this order (the first failure raises :class:`TimeStampError` naming it):

1. size: at most :data:`MAX_TIME_STAMP_BYTES`, before anything is parsed;
2. structure: a DER TimeStampToken (a CMS ContentInfo holding SignedData over a TSTInfo);
3. the imprint's hash is SHA-256 or SHA-512 (SHA-1, SHA-384 and others are refused), and the
   imprint is that hash of ``message`` — "not over this checkpoint" otherwise;
4. the nonce, when the caller gives the one it sent;
5. the token carries its signer's certificate (found by the SignerInfo's issuer and serial);
6. with ``rfc3161-client``'s verifier: the CMS signature over the TSTInfo (OpenSSL's
   ``PKCS7_verify``), the chain from the signer's certificate to one of ``roots`` at
   ``genTime`` with the time-stamping purpose, and the signer's extendedKeyUsage: present,
   critical, with id-kp-timeStamping.

Trust is an argument: ``roots`` are the DER certificates of the authorities the verifier (a
court) accepts; nothing is fetched, read from disk or taken from the clock. Certificates
carried by the token serve only as untrusted intermediates.

Token, not response: what a receipt carries is the *TimeStampToken* (RFC 3161 §2.4.2), the
signed ContentInfo — the part of a TimeStampResp that is evidence, and what CAdES and PAdES
embed. The response's PKIStatusInfo around it is not signed, so keeping it would prove
nothing more. ``rfc3161-client`` (1.0.x) parses only whole TimeStampResp structures, so
:func:`verify_time_stamp` wraps the token in a minimal one (status *granted*) before handing it
over, and checks that the library reads back exactly the token it was given.

Two things ``rfc3161-client`` does not do are done here: it reads the SignedData's
certificate SET only in DER order, while OpenSSL (and other authorities) write a chain in
issue order — the certificates are outside the signature, so :func:`verify_time_stamp`
re-sorts them before parsing (the token's signed content is untouched); and it stops at the
first failure without saying which check it was, so its errors are translated into the
reasons below. It does not check the ESS signing-certificate attribute (RFC 5035) that binds
the signer's certificate into the signed attributes; ``openssl ts -verify`` does (the
integration tests cross-check with it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import rfc3161_client
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from evidence.errors import InputError

__all__ = [
    "ACCEPTED_HASHES",
    "MAX_TIME_STAMP_BYTES",
    "MAX_TIME_STAMP_REPLY_BYTES",
    "MAX_TRUSTED_ROOTS",
    "TimeStampError",
    "TimeStampFacts",
    "TimeStampReply",
    "parse_time_stamp_reply",
    "verify_time_stamp",
]

MAX_TIME_STAMP_BYTES: Final = 64 * 1024
"""Largest token accepted (checked before parsing). A token with its authority's certificate
chain is 1 to 10 KiB."""

MAX_TIME_STAMP_REPLY_BYTES: Final = MAX_TIME_STAMP_BYTES + 4096
"""Largest TimeStampResp (an authority's answer) parsed: a token of the largest size, its
status and status texts."""

MAX_TRUSTED_ROOTS: Final = 256
"""Most root certificates one verification takes as trust."""

ACCEPTED_HASHES: Final[dict[str, tuple[str, Callable[[bytes], bytes]]]] = {
    "2.16.840.1.101.3.4.2.1": ("sha256", lambda data: hashlib.sha256(data).digest()),
    "2.16.840.1.101.3.4.2.3": ("sha512", lambda data: hashlib.sha512(data).digest()),
}
"""Imprint hash algorithms accepted, by OID: (name, function)."""

_GRANTED: Final = bytes.fromhex("3003020100")
"""DER of PKIStatusInfo { status granted(0) }, for the response wrapped around a token."""


class TimeStampError(InputError):
    """A time-stamp token does not prove its message's time: malformed, over the limit, over
    another message, for another request, not signed by its certificate or not by a trusted
    time-stamping authority. ``reason`` names the check that failed (one of
    :data:`REASONS`); the message says it in words, with the values that differ."""

    REASONS: Final = (
        "too-large",
        "malformed",
        "hash-algorithm",
        "not-over-message",
        "nonce",
        "certificate",
        "signature",
        "untrusted",
        "roots",
        "refused",
    )

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown time-stamp failure reason {reason!r}")
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class TimeStampFacts:
    """What a verified token says."""

    time: datetime
    """``genTime``: the message existed no later than this (aware, UTC)."""
    authority: str
    """The signing (TSA) certificate's subject, as an RFC 4514 string."""
    serial: int
    """The token's serial number, unique per authority."""
    hash_algorithm: str
    """The imprint's hash algorithm: ``"sha256"`` or ``"sha512"``."""
    policy: str
    """The authority's policy under which it issued the token (an OID, dotted)."""
    certificate: bytes
    """DER of the signing certificate."""


@dataclass(frozen=True)
class TimeStampReply:
    """An authority's TimeStampResp, split (nothing verified yet)."""

    status: int
    """PKIStatus: 0 granted, 1 grantedWithMods, 2 rejection, 3 waiting, 4 and 5 revocation."""
    texts: tuple[str, ...]
    """The status's free texts, as the authority wrote them."""
    token: bytes | None
    """The TimeStampToken exactly as the authority sent it (DER), when there is one."""

    @property
    def granted(self) -> bool:
        return self.status in (0, 1)


def parse_time_stamp_reply(reply: bytes) -> TimeStampReply:
    """The status and token of a TimeStampResp (RFC 3161 §2.4.2). The token is not checked:
    give it to :func:`verify_time_stamp`.

    :raises TimeStampError: over :data:`MAX_TIME_STAMP_REPLY_BYTES` or malformed.
    """
    if len(reply) > MAX_TIME_STAMP_REPLY_BYTES:
        raise TimeStampError(
            "too-large",
            f"time-stamp reply is {len(reply)} bytes, over the limit of "
            f"{MAX_TIME_STAMP_REPLY_BYTES}",
        )
    try:
        body, end = _element(reply, 0, len(reply), 0x30)
        _, status_end = _element(reply, body, end, 0x30)
        if end != len(reply):
            raise ValueError("bytes after the TimeStampResp")
    except ValueError as exc:
        raise TimeStampError("malformed", f"malformed time-stamp reply: {exc}") from exc
    token = reply[status_end:end] or None
    # rfc3161-client reads the status; the token inside is given with its certificates in
    # DER order (see _with_certificates_in_der_order), which is all it would refuse of it.
    ordered = _with_certificates_in_der_order(token) if token is not None else b""
    try:
        parsed = rfc3161_client.decode_timestamp_response(
            _der(0x30, reply[body:status_end] + ordered)
        )
        status = parsed.status
        texts = tuple(parsed.status_string)
    except Exception as exc:
        raise TimeStampError("malformed", f"malformed time-stamp reply: {exc}") from exc
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        raise TimeStampError("malformed", f"malformed time-stamp reply: {exc}") from exc
    return TimeStampReply(status=status, texts=texts, token=token)


def verify_time_stamp(
    token: bytes, message: bytes, roots: Sequence[bytes], *, nonce: int | None = None
) -> TimeStampFacts:
    """Check that ``token`` is a time stamp of ``message`` by an authority chaining to one of
    ``roots`` (DER certificates); with ``nonce``, that it answers the request that sent it.

    :raises TimeStampError: the first check that failed (``reason``), in the module's order.
    """
    if not isinstance(token, bytes):
        raise TimeStampError("malformed", "a time-stamp token is bytes (DER)")
    if len(token) > MAX_TIME_STAMP_BYTES:
        raise TimeStampError(
            "too-large",
            f"time-stamp token is {len(token)} bytes, over the limit of {MAX_TIME_STAMP_BYTES}",
        )
    trusted = _trusted_roots(roots)
    response = _parse_token(token)
    try:
        info = response.tst_info
        algorithm = info.message_imprint.hash_algorithm.dotted_string
        imprint = info.message_imprint.message
        token_nonce = info.nonce
        gen_time = info.gen_time
        serial = info.serial_number
        policy = info.policy.dotted_string
    except Exception as exc:
        raise TimeStampError("malformed", f"malformed token: its TSTInfo: {exc}") from exc

    accepted = ACCEPTED_HASHES.get(algorithm)
    if accepted is None:
        raise TimeStampError(
            "hash-algorithm",
            f"the token's imprint is hashed with {algorithm}; only SHA-256 and SHA-512 "
            "are accepted",
        )
    hash_name, hash_function = accepted
    expected = hash_function(message)
    if imprint != expected:
        raise TimeStampError(
            "not-over-message",
            f"the time stamp is not over this checkpoint: its {hash_name} imprint is "
            f"{imprint.hex()}, the checkpoint's {hash_name} is {expected.hex()}",
        )
    if nonce is not None and token_nonce != nonce:
        raise TimeStampError(
            "nonce",
            "the time stamp answers another request: "
            + ("it has no nonce" if token_nonce is None else f"its nonce is {token_nonce}")
            + f", the request's was {nonce}",
        )

    signer = _signer_certificate(response)
    try:
        verifier = rfc3161_client.VerifierBuilder(roots=list(trusted), nonce=nonce).build()
        verifier.verify(response, expected)
    except rfc3161_client.VerificationError as exc:
        raise _translated(str(exc), signer.subject, gen_time) from exc
    except Exception as exc:
        raise TimeStampError("refused", f"the RFC 3161 verifier failed: {exc}") from exc
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        raise TimeStampError("refused", f"the RFC 3161 verifier failed: {exc}") from exc

    return TimeStampFacts(
        time=gen_time.replace(tzinfo=UTC) if gen_time.tzinfo is None else gen_time.astimezone(UTC),
        authority=signer.subject,
        serial=serial,
        hash_algorithm=hash_name,
        policy=policy,
        certificate=signer.certificate,
    )


def _trusted_roots(roots: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    if isinstance(roots, bytes | str):
        raise TimeStampError("roots", "roots are a sequence of DER certificates, not one value")
    if not roots:
        raise TimeStampError("roots", "no trusted root given: no authority can be trusted")
    if len(roots) > MAX_TRUSTED_ROOTS:
        raise TimeStampError(
            "roots", f"{len(roots)} trusted roots given, over the limit of {MAX_TRUSTED_ROOTS}"
        )
    parsed: dict[bytes, x509.Certificate] = {}
    for i, der in enumerate(roots):
        try:
            certificate = x509.load_der_x509_certificate(der)
            canonical = certificate.public_bytes(Encoding.DER)
        except Exception as exc:
            raise TimeStampError(
                "roots", f"trusted root {i} is not a DER X.509 certificate: {exc}"
            ) from exc
        parsed.setdefault(canonical, certificate)
    return tuple(parsed.values())


def _parse_token(token: bytes) -> rfc3161_client.TimeStampResponse:
    try:
        _, end = _element(token, 0, len(token), 0x30)
    except ValueError as exc:
        raise TimeStampError(
            "malformed", f"malformed token: not a whole DER SEQUENCE ({exc})"
        ) from exc
    if end != len(token):
        raise TimeStampError(
            "malformed", f"malformed token: {len(token) - end} bytes after its end"
        )
    ordered = _with_certificates_in_der_order(token)
    try:
        response = rfc3161_client.decode_timestamp_response(_as_granted_response(ordered))
        read_back = response.time_stamp_token()
    except Exception as exc:
        if _is_whole_response(token):
            raise TimeStampError(
                "malformed",
                "malformed token: this is a whole TimeStampResp; give its timeStampToken",
            ) from exc
        raise TimeStampError("malformed", f"malformed token: {exc}") from exc
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        raise TimeStampError("malformed", f"malformed token: {exc}") from exc
    if read_back != ordered:
        raise TimeStampError("malformed", "malformed token: not in DER")
    return response


def _is_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a panic of the library's Rust code (pyo3's PanicException, which
    derives from BaseException so that ``except Exception`` does not catch it)."""
    return type(exc).__name__ == "PanicException"


def _is_whole_response(data: bytes) -> bool:
    """Whether ``data`` starts like a TimeStampResp (a SEQUENCE opening with the PKIStatusInfo
    SEQUENCE) rather than a ContentInfo (opening with an OID)."""
    try:
        body, end = _element(data, 0, len(data), 0x30)
        _element(data, body, end, 0x30)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Signer:
    certificate: bytes
    """DER of the signing certificate."""
    subject: str
    """Its subject, RFC 4514."""


def _signer_certificate(response: rfc3161_client.TimeStampResponse) -> _Signer:
    """The certificate the token carries for its one SignerInfo (issuer and serial).

    ``cryptography`` and ``rfc3161-client`` parse names lazily: everything read from them is
    read here, inside the guard, so that a corrupted name is "malformed", not a crash later.
    """
    try:
        signed_data = response.signed_data
        signers = list(signed_data.signer_infos)
        if len(signers) != 1:
            raise TimeStampError(
                "malformed", f"malformed token: {len(signers)} signers where RFC 3161 has one"
            )
        wanted = (signers[0].issuer, signers[0].serial_number)
        for der in signed_data.certificates:
            certificate = x509.load_der_x509_certificate(der)
            if (certificate.issuer, certificate.serial_number) == wanted:
                return _Signer(
                    certificate=certificate.public_bytes(Encoding.DER),
                    subject=certificate.subject.rfc4514_string(),
                )
        issuer = wanted[0].rfc4514_string()
    except TimeStampError:
        raise
    except Exception as exc:
        raise TimeStampError("malformed", f"malformed token: its SignedData: {exc}") from exc
    raise TimeStampError(
        "certificate",
        f"the token does not carry its signer's certificate (issuer {issuer}, serial "
        f"{wanted[1]:#x}): it was requested without certReq, or the certificate was removed",
    )


_OPENSSL_VERIFY_ERROR = re.compile(r'Verify error: ?([^"]*)')


def _translated(detail: str, subject: str, gen_time: datetime) -> TimeStampError:
    """The verifier's error as the check that failed (its words kept as the detail)."""
    if "certificate verify error" in detail:
        found = _OPENSSL_VERIFY_ERROR.search(detail)
        why = found.group(1) if found else detail
        if "not yet valid" in why:
            why = "a certificate of the chain was not yet valid then"
        elif "has expired" in why:
            why = "a certificate of the chain had expired then"
        if "purpose" in why:
            return TimeStampError(
                "certificate",
                f"not by a time-stamping authority: {subject} may not sign time stamps ({why})",
            )
        return TimeStampError(
            "untrusted",
            f"not by a trusted authority: {subject} does not chain to a trusted root at "
            f"{gen_time.isoformat()} ({why})",
        )
    if "Unable to parse sig as pkcs7" in detail:
        return TimeStampError("malformed", "malformed token: OpenSSL cannot read it as CMS")
    if "signature failure" in detail or "digest failure" in detail:
        return TimeStampError(
            "signature",
            f"the signature does not verify: the token was altered or not signed by {subject}",
        )
    if "EKU" in detail:
        return TimeStampError(
            "certificate", f"not by a time-stamping authority: {subject}: {detail}"
        )
    return TimeStampError("refused", f"the RFC 3161 verifier refused the token: {detail}")


def _as_granted_response(token: bytes) -> bytes:
    """TimeStampResp { status granted, timeStampToken token } (RFC 3161 §2.4.2), DER."""
    return _der(0x30, _GRANTED + token)


def _der(tag: int, contents: bytes) -> bytes:
    n = len(contents)
    if n < 0x80:
        return bytes([tag, n]) + contents
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + contents


def _element(data: bytes, pos: int, end: int, tag: int | None) -> tuple[int, int]:
    """(contents start, element end) of the DER element at ``pos`` ending by ``end``."""
    if pos + 2 > end or (tag is not None and data[pos] != tag) or data[pos] & 0x1F == 0x1F:
        raise ValueError("unexpected element")
    first = data[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    else:
        size = first & 0x7F
        if not 1 <= size <= 4 or pos + 2 + size > end:
            raise ValueError("unexpected length")
        start, length = pos + 2 + size, int.from_bytes(data[pos + 2 : pos + 2 + size], "big")
    if start + length > end:
        raise ValueError("element past its container")
    return start, start + length


def _with_certificates_in_der_order(token: bytes) -> bytes:
    """``token`` with its SignedData's certificates sorted as DER sorts a SET OF.

    ContentInfo { contentType, [0] SignedData { version, digestAlgorithms,
    encapContentInfo, [0] IMPLICIT certificates, ... } }: only the certificates' order
    changes (they are not signed), so every length stays the same. Anything unexpected
    leaves the token as it is, for the parser to judge.
    """
    try:
        body, end = _element(token, 0, len(token), 0x30)
        if end != len(token):
            return token
        _, pos = _element(token, body, end, 0x06)
        explicit, explicit_end = _element(token, pos, end, 0xA0)
        pos, signed_end = _element(token, explicit, explicit_end, 0x30)
        for tag in (0x02, 0x31, 0x30):
            _, pos = _element(token, pos, signed_end, tag)
        if pos >= signed_end or token[pos] != 0xA0:
            return token
        start, stop = _element(token, pos, signed_end, 0xA0)
        items = []
        pos = start
        while pos < stop:
            _, after = _element(token, pos, stop, None)
            items.append(token[pos:after])
            pos = after
    except ValueError:
        return token
    return token[:start] + b"".join(sorted(items)) + token[stop:]
