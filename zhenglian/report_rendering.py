"""Rendering an admissibility report (:mod:`evidence.verify.admissibility`) as Markdown or PDF.

Both forms show the same parts and rows in the same order; only the layout differs. The PDF
is A4, embeds its font (a TrueType subset: a court's reader needs nothing installed), wraps
long hashes inside table cells, and carries a footer on every page with the generation time,
the tool version and the SHA-256 of the receipt and trust files. Given the same report
(including its generation time) the bytes are the same: reportlab's invariant mode fixes the
document id, and the PDF's creation date is the report's generation time.

The font is WenQuanYi Zen Hei (Debian package ``fonts-wqy-zenhei``): TrueType outlines, so
reportlab can subset and embed it (it cannot embed the CFF-based Noto CJK fonts), with the
Latin letters and digits the hashes and English need; its monospaced face (subfont 1) sets
hashes, keys and addresses. reportlab's built-in CID fonts (STSong-Light) would not be
embedded and would depend on the reader's own fonts.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

from evidence.verify.admissibility import (
    AdmissibilityReport,
    Bilingual,
    CheckRow,
    Fact,
    ProvisionRow,
    Section,
    Status,
    format_time,
)

__all__ = [
    "CJK_FONT_FILE",
    "CJK_FONT_PACKAGE",
    "FontMissing",
    "check_font",
    "render_markdown",
    "render_pdf",
]

CJK_FONT_PACKAGE: Final = "fonts-wqy-zenhei"
"""The Debian package that installs :data:`CJK_FONT_FILE` (``.ci/run`` installs it)."""

CJK_FONT_FILE: Final = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""WenQuanYi Zen Hei: subfont 0 is the proportional face, 1 the monospaced one."""

_SANS: Final = "ZhenglianSans"
_MONO: Final = "ZhenglianMono"


class FontMissing(RuntimeError):
    """The TrueType CJK font the PDF embeds is not installed."""


def check_font(path: Path = CJK_FONT_FILE) -> None:
    """:raises FontMissing: ``path`` is not there, naming the package that installs it."""
    if not path.is_file():
        raise FontMissing(
            f"the PDF report needs the TrueType CJK font {path}: install the Debian package "
            f"{CJK_FONT_PACKAGE} (apt-get install {CJK_FONT_PACKAGE}), or write -o NAME.md"
        )


def _register_fonts(path: Path = CJK_FONT_FILE) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    check_font(path)
    registered = pdfmetrics.getRegisteredFontNames()
    if _SANS not in registered:
        pdfmetrics.registerFont(TTFont(_SANS, str(path), subfontIndex=0))
    if _MONO not in registered:
        pdfmetrics.registerFont(TTFont(_MONO, str(path), subfontIndex=1))


# --- Markdown --------------------------------------------------------------------------------


def _both(text: Bilingual, separator: str = " / ") -> str:
    return f"{text.zh}{separator}{text.en}" if text.zh != text.en else text.zh


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _md_value(fact: Fact) -> str:
    if fact.literal:
        return "<br>".join(f"`{line}`" for line in fact.value.split("\n"))
    return _cell(fact.value)


def _md_facts(facts: tuple[Fact, ...]) -> list[str]:
    lines = ["| 项目 / Item | 内容 / Value |", "|---|---|"]
    lines += [f"| {_cell(_both(f.label))} | {_md_value(f)} |" for f in facts]
    return lines


def _md_section(section: Section) -> list[str]:
    return [f"## {_both(section.title)}", "", *_md_facts(section.facts), ""]


def _md_check(number: int, row: CheckRow, report: AdmissibilityReport) -> list[str]:
    names = {p.provision.key: p.provision.short for p in report.provisions}
    lines = [
        f"### {number}. {_both(row.title)} — {_both(row.status.text)}",
        "",
        f"- 证明 / Proves: {row.proves.zh}",
        f"  {row.proves.en}",
        f"- 不证明 / Does not prove: {row.does_not_prove.zh}",
        f"  {row.does_not_prove.en}",
    ]
    if row.provisions:
        legal = "; ".join(_both(names[key]) for key in row.provisions)
        lines.append(f"- 法律要点 / Legal points: {legal}")
    if row.note is not None:
        lines += [f"- 注意 / Note: {row.note.zh}", f"  {row.note.en}"]
    if row.detail:
        lines.append(f"- 技术细节 / Technical detail: {row.detail}")
    lines.append("")
    if row.evidence:
        lines += [*_md_facts(row.evidence), ""]
    return lines


def _md_provision(row: ProvisionRow) -> list[str]:
    p = row.provision
    return [
        f"### {_both(p.citation)}",
        "",
        f"- 要点 / Point: {p.point.zh}",
        f"  {p.point.en}",
        f"- 对应核验 / Checks: {'; '.join(_both(c) for c in row.checks)}",
        f"- 本报告所示 / This report shows: {row.answer.zh}",
        f"  {row.answer.en}",
        f"- 留待法院判断 / Left to the court: {p.remains.zh}",
        f"  {p.remains.en}",
        "",
    ]


def _footer_lines(report: AdmissibilityReport) -> list[str]:
    p = report.provenance
    return [
        f"生成时间 / Generated: {format_time(p.generated_at.astimezone(UTC))}",
        f"工具 / Tool: zhenglian {p.tool_version}",
        f"回执文件 SHA-256 / Receipt file SHA-256: {p.receipt_file_sha256.hex()}",
        f"信任文件 SHA-256 / Trust file SHA-256: {p.trust_file_sha256.hex()}",
    ]


def render_markdown(report: AdmissibilityReport) -> str:
    """The report as Markdown (UTF-8 text, tables in GitHub's pipe syntax)."""
    lines = [
        f"# {_both(report.title)}",
        "",
        f"## 结论 / Verdict: {_both(report.headline)}",
        "",
        report.explanation.zh,
        "",
        report.explanation.en,
        "",
    ]
    for notice in report.notices:
        lines += [f"> 注意 / Note: {notice.zh}", ">", f"> {notice.en}", ""]
    if report.failed:
        lines += ["### 未通过的核验 / Failed checks", ""]
        lines += [
            f"- {_both(row.title)}: {row.detail or row.status.text.en}" for row in report.failed
        ]
        lines.append("")
    lines += _md_section(report.summary)
    lines += ["## 核验项目 / Checks", ""]
    for number, row in enumerate(report.checks, 1):
        lines += _md_check(number, row, report)
    lines += ["## 法律要点对照 / Legal mapping", ""]
    for provision in report.provisions:
        lines += _md_provision(provision)
    lines += _md_section(report.trust)
    lines += ["## 本报告不能证明的事项 / What this report does not prove", ""]
    lines += [f"- {limit.zh}\n  {limit.en}" for limit in report.limits]
    lines += ["", "---", ""]
    lines += [f"{line}  " for line in _footer_lines(report)]
    return "\n".join(lines).rstrip() + "\n"


# --- PDF -------------------------------------------------------------------------------------

_GREEN: Final = "#1e7b34"
_RED: Final = "#b3261e"
_GREY: Final = "#5f6368"
_STATUS_COLOUR: Final = {Status.PASSED: _GREEN, Status.FAILED: _RED, Status.NOT_PERFORMED: _GREY}


def _x(text: str) -> str:
    """Text for a reportlab Paragraph: XML-escaped, newlines as line breaks."""
    return escape(text).replace("\n", "<br/>")


def render_pdf(report: AdmissibilityReport) -> bytes:
    """The report as an A4 PDF with the CJK font embedded.

    :raises FontMissing: the font is not installed (see :func:`check_font`).
    """
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_fonts()

    def style(name: str, **kw: Any) -> ParagraphStyle:
        base: dict[str, Any] = {
            "fontName": _SANS,
            "fontSize": 9,
            "leading": 13,
            "wordWrap": "CJK",
        }
        return ParagraphStyle(name, **{**base, **kw})

    title = style("title", fontSize=17, leading=24, alignment=TA_CENTER, spaceAfter=2)
    subtitle = style("subtitle", fontSize=11, leading=15, alignment=TA_CENTER, spaceAfter=8)
    h1 = style("h1", fontSize=13, leading=18, spaceBefore=10, spaceAfter=4)
    h2 = style("h2", fontSize=10.5, leading=15, spaceBefore=8, spaceAfter=3)
    body = style("body")
    small = style("small", fontSize=8, leading=11)
    mono = style("mono", fontName=_MONO, fontSize=8, leading=11)
    verdict_style = style("verdict", fontSize=15, leading=21)

    width = A4[0] - 36 * mm
    label_width = 48 * mm

    def both(text: Bilingual, s: ParagraphStyle = body) -> Paragraph:
        if text.zh == text.en:
            return Paragraph(_x(text.zh), s)
        return Paragraph(f"{_x(text.zh)}<br/>{_x(text.en)}", s)

    def grid(rows: list[list[Any]], header: str | None = None) -> Table:
        table = Table(rows, colWidths=[label_width, width - label_width], hAlign="LEFT")
        commands: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), _SANS),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0b4ba")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f3f4")),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        if header is not None:
            commands += [
                ("SPAN", (0, 0), (-1, 0)),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(header)),
            ]
        table.setStyle(TableStyle(commands))
        return table

    def fact_rows(facts: tuple[Fact, ...]) -> list[list[Any]]:
        return [
            [both(f.label, small), Paragraph(_x(f.value), mono if f.literal else body)]
            for f in facts
        ]

    story: list[Any] = [
        Paragraph(_x(report.title.zh), title),
        Paragraph(_x(report.title.en), subtitle),
    ]

    # The verdict, first.
    colour = _GREEN if report.intact else _RED
    verdict_rows: list[list[Any]] = [
        [
            Paragraph(
                f'<font color="{colour}">结论 / Verdict: {_x(_both(report.headline))}</font>',
                verdict_style,
            )
        ],
        [both(report.explanation)],
    ]
    verdict_rows += [
        [
            Paragraph(
                f'<font color="{_RED}">未通过 / Failed:</font> {_x(_both(row.title))}'
                f"<br/>{_x(row.detail)}",
                body,
            )
        ]
        for row in report.failed
    ]
    box = Table(verdict_rows, colWidths=[width], hAlign="LEFT")
    box.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _SANS),
                ("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor(colour)),
                (
                    "BACKGROUND",
                    (0, 0),
                    (-1, -1),
                    colors.HexColor("#f6fbf7" if report.intact else "#fdf3f2"),
                ),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story.append(box)
    for notice in report.notices:
        story.append(Spacer(0, 3))
        story.append(Paragraph(f"注意 / Note: {_x(notice.zh)}<br/>{_x(notice.en)}", small))

    story.append(Paragraph(_x(_both(report.summary.title)), h1))
    story.append(grid(fact_rows(report.summary.facts)))

    story.append(Paragraph("核验项目 / Checks", h1))
    names = {p.provision.key: p.provision.short for p in report.provisions}
    for number, row in enumerate(report.checks, 1):
        status_colour = _STATUS_COLOUR[row.status]
        heading = Paragraph(
            f"{number}. {_x(_both(row.title))} — "
            f'<font color="{status_colour}">{_x(_both(row.status.text))}</font>',
            h2,
        )
        rows: list[list[Any]] = [
            [both(Bilingual("证明", "Proves"), small), both(row.proves)],
            [both(Bilingual("不证明", "Does not prove"), small), both(row.does_not_prove)],
        ]
        if row.provisions:
            legal = Bilingual(
                "；".join(names[k].zh for k in row.provisions),
                "; ".join(names[k].en for k in row.provisions),
            )
            rows.append([both(Bilingual("法律要点", "Legal points"), small), both(legal)])
        if row.note is not None:
            rows.append([both(Bilingual("注意", "Note"), small), both(row.note)])
        if row.detail:
            rows.append(
                [
                    both(Bilingual("技术细节", "Technical detail"), small),
                    Paragraph(_x(row.detail), small),
                ]
            )
        rows += fact_rows(row.evidence)
        story += [heading, grid(rows)]

    story.append(Paragraph("法律要点对照 / Legal mapping", h1))
    for provision in report.provisions:
        p = provision.provision
        rows = [
            [both(p.citation, body), ""],
            [both(Bilingual("要点", "Point"), small), both(p.point)],
            [
                both(Bilingual("对应核验", "Checks"), small),
                both(
                    Bilingual(
                        "；".join(c.zh for c in provision.checks),
                        "; ".join(c.en for c in provision.checks),
                    )
                ),
            ],
            [both(Bilingual("本报告所示", "This report shows"), small), both(provision.answer)],
            [both(Bilingual("留待法院判断", "Left to the court"), small), both(p.remains)],
        ]
        story += [Spacer(0, 5), grid(rows, header="#e8eaed")]

    story.append(Paragraph(_x(_both(report.trust.title)), h1))
    story.append(grid(fact_rows(report.trust.facts)))

    story.append(Paragraph("本报告不能证明的事项 / What this report does not prove", h1))
    for limit in report.limits:
        story.append(Paragraph(f"• {_x(limit.zh)}<br/>{_x(limit.en)}", body))
        story.append(Spacer(0, 3))

    footer = _footer_lines(report)
    generated = report.provenance.generated_at.astimezone(UTC)

    def on_page(canvas: Any, document: Any) -> None:
        canvas.saveState()
        if document.page == 1:
            stamp = f"D:{generated:%Y%m%d%H%M%S}+00'00'"
            canvas.setDateFormatter(lambda *_: stamp)
        canvas.setFont(_SANS, 6.5)
        canvas.setFillColor(colors.HexColor(_GREY))
        y = 16 * mm
        canvas.drawString(18 * mm, y, f"{footer[0]}    {footer[1]}")
        canvas.drawRightString(A4[0] - 18 * mm, y, f"第 {document.page} 页 / page {document.page}")
        for line in footer[2:]:
            y -= 3.2 * mm
            canvas.drawString(18 * mm, y, line)
        canvas.restoreState()

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=28 * mm,
        title=f"{report.title.zh} / {report.title.en}",
        author=f"zhenglian {report.provenance.tool_version}",
        subject=f"{report.headline.zh} / {report.headline.en}",
        creator=f"zhenglian {report.provenance.tool_version}",
        lang="zh-CN",
        invariant=1,
        initialFontName=_SANS,
    )
    page: Callable[[Any, Any], None] = on_page
    document.build(story, onFirstPage=page, onLaterPages=page)
    return out.getvalue()
