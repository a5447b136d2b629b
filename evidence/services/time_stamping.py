"""Asking an RFC 3161 time-stamp authority for a token over a checkpoint (HTTP, RFC 3161 §3.4).

:class:`HttpTimeStampAuthority` sends a TimeStampReq (SHA-256 imprint, a random 64-bit nonce,
certReq) built by ``rfc3161-client`` as ``application/timestamp-query``, reads the
``application/timestamp-reply``, checks its PKIStatus, and returns the TimeStampToken only
after :func:`evidence.verify.time_stamp_check.verify_time_stamp` accepted it — over this
message, for this nonce, by an authority chaining to the configured roots. What it returns is
what receipts carry and what a court checks offline with the same function.

Two kinds of failure, so that callers can tell waiting from alarm:

* :class:`TimeStampUnavailable` — no token could be had: the authority is down, refused the
  connection, timed out, answered an HTTP error or refused to stamp (PKIStatus rejection,
  waiting, ...). Asking again later may work.
* :class:`~evidence.verify.time_stamp_check.TimeStampError` — the authority answered, and the
  answer is wrong: not an RFC 3161 reply, too large, malformed, over another message, for
  another nonce, or not by a trusted authority. Asking again is unlikely to help; someone
  should look.

URLs are logged and quoted in errors without user info, query or fragment (they may hold
credentials).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import urlsplit

import requests
import rfc3161_client
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from evidence.errors import EvidenceError, InputError
from evidence.verify.time_stamp_check import (
    MAX_TIME_STAMP_REPLY_BYTES,
    MAX_TRUSTED_ROOTS,
    TimeStampError,
    parse_time_stamp_reply,
    verify_time_stamp,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_REPLY_BYTES",
    "MAX_ROOTS_FILE_BYTES",
    "HttpTimeStampAuthority",
    "TimeStampAuthority",
    "TimeStampUnavailable",
    "load_time_stamp_roots",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds to connect to the authority, and then for each read of its answer."""
MAX_REPLY_BYTES: Final = MAX_TIME_STAMP_REPLY_BYTES
"""Largest answer read (a TimeStampResp)."""
MAX_ROOTS_FILE_BYTES: Final = 1024 * 1024
"""Largest PEM bundle of trusted roots read."""

QUERY_TYPE: Final = "application/timestamp-query"
REPLY_TYPE: Final = "application/timestamp-reply"


class TimeStampUnavailable(EvidenceError):
    """Could not get a time stamp: the authority is down, slow, answered an HTTP error or
    refused to stamp. Nothing untrusted was received; asking later may work."""


class TimeStampAuthority(Protocol):
    def stamp(self, message: bytes) -> bytes:
        """A DER TimeStampToken over ``message``, already checked by
        :func:`~evidence.verify.time_stamp_check.verify_time_stamp`.

        :raises TimeStampUnavailable: no token could be had.
        :raises TimeStampError: the authority's answer is wrong or untrusted.
        """
        ...


def display_url(url: str) -> str:
    """``url`` without user info, query and fragment: what logs and errors may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class HttpTimeStampAuthority:
    """An RFC 3161 authority at ``url`` (http or https), trusted through ``roots`` (DER)."""

    def __init__(self, url: str, roots: Sequence[bytes], timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"time-stamp authority URL {display_url(url)!r} is not http(s)")
        if not roots:
            raise InputError("a time-stamp authority needs at least one trusted root")
        if not timeout > 0:
            raise InputError(f"time-stamp timeout must be positive, not {timeout}")
        self.url = url
        self.name = display_url(url)
        self.roots = tuple(roots)
        self.timeout = timeout
        self._session = requests.Session()
        self._lock = threading.Lock()

    def stamp(self, message: bytes) -> bytes:
        if not message:
            raise InputError("nothing to time-stamp: the message is empty")
        request = (
            rfc3161_client.TimestampRequestBuilder()
            .data(message)
            .hash_algorithm(rfc3161_client.HashAlgorithm.SHA256)
            .nonce(nonce=True)
            .cert_request(cert_request=True)
            .build()
        )
        nonce = request.nonce
        status, content_type, body = self._post(request.as_bytes())
        if status != 200:
            raise TimeStampUnavailable(
                f"could not get a time stamp from {self.name}: HTTP {status}"
            )
        if content_type != REPLY_TYPE:
            raise TimeStampError(
                "malformed",
                f"{self.name} answered {content_type or 'no Content-Type'}, not {REPLY_TYPE}",
            )
        token = self._granted_token(body)
        try:
            facts = verify_time_stamp(token, message, self.roots, nonce=nonce)
        except TimeStampError as exc:
            raise TimeStampError(exc.reason, f"{self.name} answered wrongly: {exc}") from exc
        log.info(
            "time stamp from %s: %s, serial %d, at %s",
            self.name,
            facts.authority,
            facts.serial,
            facts.time.isoformat(),
        )
        return token

    def _post(self, query: bytes) -> tuple[int, str, bytes]:
        """(HTTP status, media type, body of at most MAX_REPLY_BYTES + 1 bytes)."""
        try:
            with self._lock:
                response = self._session.post(
                    self.url,
                    data=query,
                    headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
                    timeout=self.timeout,
                    stream=True,
                    allow_redirects=False,
                )
                try:
                    body = response.raw.read(MAX_REPLY_BYTES + 1, decode_content=True)
                finally:
                    response.close()
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise TimeStampUnavailable(
                f"could not get a time stamp from {self.name}: no answer within {self.timeout:g} s"
            ) from exc
        except requests.ConnectionError as exc:
            raise TimeStampUnavailable(
                f"could not get a time stamp from {self.name}: cannot connect ({_root_cause(exc)})"
            ) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TimeStampUnavailable(
                f"could not get a time stamp from {self.name}: {type(exc).__name__} "
                f"({_root_cause(exc)})"
            ) from exc
        if len(body) > MAX_REPLY_BYTES:
            raise TimeStampError(
                "too-large", f"{self.name} answered more than {MAX_REPLY_BYTES} bytes"
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return response.status_code, content_type, body

    def _granted_token(self, body: bytes) -> bytes:
        """The TimeStampToken of a granted reply."""
        try:
            reply = parse_time_stamp_reply(body)
        except TimeStampError as exc:
            raise TimeStampError(exc.reason, f"{self.name} answered wrongly: {exc}") from exc
        if not reply.granted:
            try:
                name = rfc3161_client.PKIStatus(reply.status).name.lower()
            except ValueError:
                name = str(reply.status)
            said = f": {'; '.join(reply.texts)[:200]}" if reply.texts else ""
            raise TimeStampUnavailable(f"{self.name} refused to time-stamp (status {name}{said})")
        if reply.token is None:
            raise TimeStampError("malformed", f"{self.name} granted a time stamp without a token")
        return reply.token


def _root_cause(exc: BaseException) -> str:
    """The innermost error, as its class and the system's words when it is an OSError (a
    refused connection, a failed name lookup). Never the URL: it may hold credentials."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


def load_time_stamp_roots(path: str | Path) -> tuple[bytes, ...]:
    """The DER certificates of the PEM bundle at ``path``: the roots the authority's
    certificate must chain to (those the courts accept).

    :raises InputError: the file is missing, unreadable, over :data:`MAX_ROOTS_FILE_BYTES`,
        empty, not PEM certificates, or holds more than
        :data:`~evidence.verify.time_stamp_check.MAX_TRUSTED_ROOTS`.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_ROOTS_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise InputError(f"time-stamp roots {path}: no such file") from exc
    except OSError as exc:
        raise InputError(f"time-stamp roots {path}: cannot read it ({exc.strerror})") from exc
    if len(data) > MAX_ROOTS_FILE_BYTES:
        raise InputError(f"time-stamp roots {path}: over {MAX_ROOTS_FILE_BYTES} bytes")
    if not data.strip():
        raise InputError(f"time-stamp roots {path}: the file is empty")
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(f"time-stamp roots {path}: not a PEM file of certificates")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError(
            f"time-stamp roots {path}: not a PEM file of certificates ({exc})"
        ) from exc
    roots = tuple(dict.fromkeys(c.public_bytes(Encoding.DER) for c in certificates))
    if len(roots) > MAX_TRUSTED_ROOTS:
        raise InputError(
            f"time-stamp roots {path}: {len(roots)} certificates, over {MAX_TRUSTED_ROOTS}"
        )
    return roots
