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
"""

from __future__ import annotations

from typing import Any, Final, Literal

from evidence.formats.e_certificate import ECertificate, format_date
from evidence.formats.holder_identity import mask_address, mask_id_number

__all__ = ["FULL_VIEW", "PUBLIC_VIEW", "full_view", "public_view"]

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
