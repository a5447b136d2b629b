"""Rendering a registered e-certificate (电子证照) as an A4 PDF with a QR code to its
verification URL (``docs/e-certificates.md`` §6).

The PDF is public-facing: it shows the certificate's **public view**
(:func:`evidence.formats.e_certificate_views.public_view`, the holder's ID number and address
masked) and never the full one. It carries the type in Chinese and English, the identifier,
the number, the holder, the type-specific fields, the issuer and its credit code, the dates,
the issuer's signing certificate fingerprint, and a QR code (reportlab's QR widget, error
correction level M) that opens ``PUBLIC_URL/v1/certificates/{identifier}``, printed beneath it.

It embeds its font (WenQuanYi Zen Hei, loaded as :mod:`zhenglian.report_rendering` does) and,
given the same certificate, URL and creation time, its bytes are the same: reportlab's
invariant mode fixes the document id and the PDF's creation date is the given time.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final
from xml.sax.saxutils import escape

from evidence.formats.e_certificate import ECertificate
from evidence.formats.e_certificate_views import public_view, verification_url
from zhenglian.report_rendering import _MONO, _SANS, _register_fonts

__all__ = ["QR_ERROR_CORRECTION", "QR_SIZE_MM", "qr_widget", "render_certificate_pdf"]

QR_SIZE_MM: Final = 42
"""The QR code's printed side (a 34-character identifier in a ~70-character URL gives a
version 4–5 code: modules of about 1.1 mm, readable by any phone camera)."""

QR_ERROR_CORRECTION: Final = "M"
"""QR error correction level M (about 15 % of the code may be damaged or covered by a seal)."""

_INK: Final = "#1f2933"
_GREY: Final = "#5f6b7a"
_RULE: Final = "#b8c2cc"


def qr_widget(url: str) -> Any:
    """The reportlab QR widget the PDF draws for ``url`` (tests read its modules back)."""
    from reportlab.graphics.barcode.qr import QrCodeWidget

    return QrCodeWidget(url, barLevel=QR_ERROR_CORRECTION, barBorder=4)


def _x(text: str) -> str:
    return escape(text)


def render_certificate_pdf(
    cert: ECertificate, *, public_url: str, created_at: datetime, tool_version: str
) -> bytes:
    """The A4 PDF of ``cert``'s public view.

    :raises PublicUrlError: ``public_url`` is a loopback or unspecified address, or not a URL.
    :raises FontMissing: the TrueType CJK font is not installed.
    """
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    url = verification_url(public_url, cert.id)
    if created_at.tzinfo is None:
        raise ValueError("the creation time must be timezone-aware")
    created = created_at.astimezone(UTC)
    _register_fonts()
    view = public_view(cert)

    def style(name: str, **kw: Any) -> ParagraphStyle:
        base: dict[str, Any] = {
            "fontName": _SANS,
            "fontSize": 10,
            "leading": 14,
            "textColor": colors.HexColor(_INK),
        }
        return ParagraphStyle(name, **(base | kw))

    title = style("title", fontSize=24, leading=32, alignment=TA_CENTER, spaceAfter=2)
    subtitle = style("subtitle", fontSize=12, leading=16, alignment=TA_CENTER, spaceAfter=4)
    centred = style("centred", alignment=TA_CENTER, fontSize=9, leading=12)
    mono_centred = style("mono_centred", fontName=_MONO, alignment=TA_CENTER, fontSize=11)
    label = style("label", fontSize=8.5, leading=11, textColor=colors.HexColor(_GREY))
    value = style("value", fontSize=10.5, leading=14)
    mono = style("mono", fontName=_MONO, fontSize=9, leading=12)

    def row(zh: str, en: str, text: str, s: ParagraphStyle = value) -> list[Any]:
        return [Paragraph(f"{_x(zh)}<br/>{_x(en)}", label), Paragraph(_x(text) or "—", s)]

    holder, issuer = view["holder"], view["issuer"]
    until = view["valid_until"]
    validity = f"{view['valid_from']} 至 {until}" if until else f"{view['valid_from']} 起长期有效"
    validity_en = (
        f"{view['valid_from']} to {until}" if until else f"from {view['valid_from']}, until revoked"
    )
    rows = [
        row("证照编号", "Certificate number", view["number"]),
        row("持证人", "Holder", holder["name"]),
        row("证件类型", "ID document", f"{holder['id_type_zh']} / {holder['id_type_en']}"),
        row("证件号码", "ID number (masked)", holder["id_number"], mono),
    ]
    if holder["address"] is not None:
        rows.append(row("住址", "Address (masked)", holder["address"]))
    for detail in view["details"]:
        shown = detail["value_zh"]
        if detail["value_en"] != detail["value_zh"] and not isinstance(detail["value"], list):
            shown = f"{detail['value_zh']} / {detail['value_en']}"
        rows.append(row(detail["zh"], detail["en"], shown))
    rows += [
        row("颁发机构", "Issued by", f"{issuer['name']}（{issuer['type_zh']}）"),
        row("统一社会信用代码", "Unified social credit code", issuer["credit_code"], mono),
        row("发证日期", "Date of issue", view["issued"]),
        [
            Paragraph("有效期<br/>Validity", label),
            Paragraph(f"{_x(validity)}<br/>{_x(validity_en)}", value),
        ],
        row("签名证书 SHA-256", "Signing certificate SHA-256", issuer["certificate_sha256"], mono),
    ]

    table = Table(rows, colWidths=[46 * mm, 124 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), _SANS),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor(_RULE)),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )

    widget = qr_widget(url)
    left, bottom, right, top = widget.getBounds()
    side = QR_SIZE_MM * mm
    drawing = Drawing(
        side,
        side,
        transform=[side / (right - left), 0, 0, side / (top - bottom), 0, 0],
    )
    # Without it the renderer selects Helvetica, which is not embedded.
    setattr(drawing, "initialFontName", _SANS)  # noqa: B010 (not in the type stubs)
    drawing.add(widget)
    qr_table = Table([[drawing]], colWidths=[side + 4 * mm])
    qr_table.setStyle(
        TableStyle([("FONT", (0, 0), (-1, -1), _SANS), ("ALIGN", (0, 0), (-1, -1), "CENTER")])
    )

    story: list[Any] = [
        Paragraph(_x(cert.type.zh), title),
        Paragraph(_x(cert.type.en), subtitle),
        Paragraph(_x(cert.id), mono_centred),
        Spacer(1, 6 * mm),
        table,
        Spacer(1, 8 * mm),
        qr_table,
        Paragraph("扫码核验本证照的真实性与现行状态 / Scan to verify this certificate", centred),
        Paragraph(_x(url), style("url", fontName=_MONO, fontSize=8, alignment=TA_CENTER)),
    ]

    stamp = f"D:{created:%Y%m%d%H%M%S}+00'00'"
    footer = (
        "本件为公开版本，持证人个人信息已部分隐去。/ Public copy: the holder's personal data is "
        "partly masked.",
        f"生成时间 / Generated: {created:%Y-%m-%dT%H:%M:%SZ}    zhenglian {tool_version}",
    )

    def on_page(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setDateFormatter(lambda *_: stamp)
        canvas.setFont(_SANS, 7)
        canvas.setFillColor(colors.HexColor(_GREY))
        canvas.drawString(18 * mm, 16 * mm, footer[0])
        canvas.drawString(18 * mm, 12.5 * mm, footer[1])
        canvas.restoreState()

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=24 * mm,
        title=f"{cert.type.zh} {cert.id}",
        author=cert.issuer.name,
        subject=f"{cert.type.en} {cert.id}: {url}",
        creator=f"zhenglian {tool_version}",
        lang="zh-CN",
        invariant=1,
        initialFontName=_SANS,
    )
    page: Callable[[Any, Any], None] = on_page
    document.build(story, onFirstPage=page, onLaterPages=page)
    return out.getvalue()
