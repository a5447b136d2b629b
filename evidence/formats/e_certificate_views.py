"""What an e-certificate shows: the public view (personal data masked) and the full view.

**Pure.** Both are JSON-able dicts of the same shape, so a page or API response renders
either the same way; which one a caller gets is for the caller to decide (the API's access
policy: the public, the QR page and the PDF get :func:`public_view`; those allowed to read
the certificate get :func:`full_view`). The masking rules are
:mod:`evidence.formats.holder_identity`'s; ``docs/e-certificates.md`` §4 lists them.

Shape::

    {"view": "public" | "full", "id": ..., "v": 1,
     "type": {"key", "zh", "en"}, "number", "issued", "valid_from", "valid_until",
     "issuer": {"name", "credit_code", "type", "type_zh", "certificate_sha256"},
     "holder": {"name", "id_type", "id_type_zh", "id_type_en", "id_number", "address",
                "masked": bool},
     "details": [{"key", "zh", "en", "value", "value_zh", "value_en"}, ...]}

``details`` follows the catalogue's order; ``value`` is what the encoding holds (text, a
choice's key, a list of names, or null) and ``value_zh``/``value_en`` the display text (a
choice's names; names joined with ``、`` / ``, ``; empty for null).

:func:`verification_url` is where a certificate's QR code points: the configured public URL
(never a loopback or unspecified address) and ``/v1/certificates/{identifier}``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final, Literal

from evidence.errors import InputError
from evidence.formats.e_certificate import ECertificate, format_date
from evidence.formats.holder_identity import mask_address, mask_id_number

__all__ = [
    "FULL_VIEW",
    "MAX_PUBLIC_URL_CHARS",
    "PUBLIC_VIEW",
    "VERIFICATION_PATH",
    "PublicUrlError",
    "check_public_url",
    "full_view",
    "public_view",
    "verification_url",
]

PUBLIC_VIEW: Final = "public"
FULL_VIEW: Final = "full"


def _details(cert: ECertificate) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for spec in cert.type.fields:
        value = cert.detail(spec.key)
        if value is None:
            zh = en = ""
        elif isinstance(value, tuple):
            zh, en = "、".join(value), ", ".join(value)
        elif spec.kind == "choice":
            choice = spec.choice(value)
            zh, en = choice.zh, choice.en
        else:
            zh = en = value
        rows.append(
            {
                "key": spec.key,
                "zh": spec.zh,
                "en": spec.en,
                "value": list(value) if isinstance(value, tuple) else value,
                "value_zh": zh,
                "value_en": en,
            }
        )
    return rows


def _view(cert: ECertificate, view: Literal["public", "full"]) -> dict[str, Any]:
    holder = cert.holder
    masked = view == PUBLIC_VIEW
    address = holder.address
    return {
        "view": view,
        "id": cert.id,
        "v": cert.version,
        "type": {"key": cert.type.key, "zh": cert.type.zh, "en": cert.type.en},
        "number": cert.number,
        "issued": format_date(cert.issued),
        "valid_from": format_date(cert.valid_from),
        "valid_until": None if cert.valid_until is None else format_date(cert.valid_until),
        "issuer": {
            "name": cert.issuer.name,
            "credit_code": cert.issuer.credit_code,
            "type": cert.issuer.type.value,
            "type_zh": cert.issuer.type.chinese_name,
            "certificate_sha256": cert.issuer.certificate_sha256.hex(),
        },
        "holder": {
            "name": holder.name,
            "id_type": holder.id_type.key,
            "id_type_zh": holder.id_type.zh,
            "id_type_en": holder.id_type.en,
            "id_number": (
                mask_id_number(holder.id_type, holder.id_number) if masked else holder.id_number
            ),
            "address": mask_address(address) if masked and address is not None else address,
            "masked": masked,
        },
        "details": _details(cert),
    }


def public_view(cert: ECertificate) -> dict[str, Any]:
    """The certificate as anyone may see it: the holder's ID number and address masked."""
    return _view(cert, PUBLIC_VIEW)


def full_view(cert: ECertificate) -> dict[str, Any]:
    """The certificate whole, for those allowed to read it (the caller decides who)."""
    return _view(cert, FULL_VIEW)


# --- The verification URL ----------------------------------------------------------------------

MAX_PUBLIC_URL_CHARS: Final = 200
"""Longest public base URL (as for the CRL distribution point, docs/pki.md)."""

VERIFICATION_PATH: Final = "/v1/certificates/"
"""Where the API answers for a certificate: ``PUBLIC_URL/v1/certificates/{identifier}``."""

_URL: Final = re.compile(r"(https?)://([^/?#@\s]+)(/[^?#\s]*)?")
_NUMERIC_LABEL: Final = re.compile(r"0x[0-9a-f]*|[0-9]+")
_HOST_PORT: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::([0-9]{1,5}))?")


class PublicUrlError(InputError):
    """The configured public URL cannot be printed on a certificate (the message says why)."""


def _loopback_or_unspecified(host: str) -> bool:
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        # 2130706433, 0x7f.1, 127.1: numeric IPv4 forms browsers read (as 127.0.0.1 here).
        return all(_NUMERIC_LABEL.fullmatch(label) for label in name.split("."))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def check_public_url(public_url: str) -> str:
    """``public_url`` without a trailing ``/``, if anyone can open it from a QR code:
    ``http(s)://HOST[:PORT][/PATH]``, no user, query or fragment, at most
    :data:`MAX_PUBLIC_URL_CHARS` characters, and a host that is not a loopback or
    unspecified address (``localhost`` and ``*.localhost``, 127.0.0.0/8, ``::1``,
    ``0.0.0.0``, ``::``, and the IPv4-mapped forms of these); an IPv4 address written other
    than as four decimal numbers (``2130706433``, ``127.1``, ``0x7f.0.0.1``) is refused too,
    as browsers read such forms as addresses.

    :raises PublicUrlError: otherwise."""
    if len(public_url) > MAX_PUBLIC_URL_CHARS:
        raise PublicUrlError(f"the public URL has more than {MAX_PUBLIC_URL_CHARS} characters")
    match = _URL.fullmatch(public_url)
    if match is None:
        raise PublicUrlError(
            f"the public URL must be http(s)://HOST[:PORT][/PATH] without user, query or "
            f"fragment, got {public_url!r:.80}"
        )
    host_port = _HOST_PORT.fullmatch(match.group(2))
    if host_port is None or (host_port.group(2) is not None and int(host_port.group(2)) > 65535):
        raise PublicUrlError(f"the public URL's host is not HOST[:PORT]: {match.group(2)!r:.80}")
    if _loopback_or_unspecified(host_port.group(1)):
        raise PublicUrlError(
            f"the public URL {public_url!r} names a loopback or unspecified address "
            f"({host_port.group(1)}): a QR code must open from anyone's phone; set the "
            "server's public address (ZHENGLIAN_PUBLIC_URL or --public-url)"
        )
    return public_url.rstrip("/")


def verification_url(public_url: str, identifier: str) -> str:
    """``PUBLIC_URL/v1/certificates/{identifier}`` (the public URL checked by
    :func:`check_public_url`)."""
    return check_public_url(public_url) + VERIFICATION_PATH + identifier
