"""The public page of a registered e-certificate: what its QR code opens in a browser
(docs/e-certificates.md §6.1).

**Pure**: HTML text from the certificate's *public* answer (docs/e-certificates.md §8.2 — the
public view of :func:`evidence.formats.e_certificate_views.public_view`, the status as the
service recorded the chain's transactions, the chain's coordinates, the SHA-256 of the
registered bytes), the server's public URL and the time the status was read. No I/O, no clock.

The page is self-contained, unstyled semantic HTML — UTF-8, ``lang="zh-CN"``, a viewport for
phones, no script, style, image, form or external resource — so that it lives with the API's
``Content-Security-Policy: default-src 'none'`` unchanged. Every value that comes from the
answer is escaped (:func:`html.escape`, quotes too): holder names, numbers and the
type-specific fields are the issuer's input. Long hexadecimal values get ``<wbr>`` break
opportunities every 8 digits (no character is added when copied), so nothing runs off a
phone's screen. Links are relative to the page (``ID/report``, a successor's ``ID``), so they
work at whatever address and path prefix the page was opened; the commands printed for
independent checks name ``server_url``.

The page shows the public view only, whoever asks: :func:`certificate_page` refuses an answer
whose view is not the public, masked one (:class:`CertificatePageError`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

from certs.formats.status_statement import CertificateRevocationReason
from evidence.errors import InputError
from evidence.formats.e_certificate_views import PUBLIC_VIEW

__all__ = [
    "CHINA_STANDARD_TIME",
    "MAX_SHOWN_IDENTIFIER_CHARS",
    "CertificatePageError",
    "certificate_page",
    "not_registered_page",
]

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
"""The zone the page shows times in (certificates' dates are China Standard Time, §2)."""

MAX_SHOWN_IDENTIFIER_CHARS: Final = 64
"""Longest identifier echoed on the "not registered" page (an identifier has 34 characters;
whatever was typed in the URL is cut there)."""

HEX_GROUP: Final = 8
"""Hex digits between two line-break opportunities in hashes and addresses."""

REASON_ZH: Final = {
    CertificateRevocationReason.UNSPECIFIED: "未说明原因",
    CertificateRevocationReason.KEY_COMPROMISE: "签发机构密钥泄露",
    CertificateRevocationReason.CA_COMPROMISE: "根证书密钥泄露",
    CertificateRevocationReason.AFFILIATION_CHANGED: "所属关系变更",
    CertificateRevocationReason.CESSATION_OF_OPERATION: "签发机构停止运营",
    CertificateRevocationReason.PRIVILEGE_WITHDRAWN: "资格或许可被撤回",
}
"""The Chinese name shown beside each offered revocation reason's RFC 5280 name."""

_UTC_TIME: Final = "%Y-%m-%dT%H:%M:%SZ"
_IDENTIFIER_CHARS: Final = re.compile(r"[A-Z0-9-]{1,64}")


class CertificatePageError(InputError):
    """The answer given cannot be shown on the public page (not the public view, or not the
    answer's shape); the message says which."""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _hex(value: str) -> str:
    """Hex text with a break opportunity every :data:`HEX_GROUP` digits (after ``0x``)."""
    head = "0x" if value.startswith("0x") else ""
    body = value[len(head) :]
    groups = [body[i : i + HEX_GROUP] for i in range(0, len(body), HEX_GROUP)]
    return "<code>" + _e(head) + "<wbr>".join(_e(g) for g in groups) + "</code>"


def _url(url: str) -> str:
    """A URL as text, with a break opportunity after each ``/`` and before ``?`` and ``&``."""
    text = _e(url)
    for mark, broken in (("/", "/<wbr>"), ("?", "<wbr>?"), ("&amp;", "<wbr>&amp;")):
        text = text.replace(mark, broken)
    return text.replace("/<wbr>/<wbr>", "//")


def _beijing(moment: datetime) -> str:
    local = moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M:%S")
    utc = moment.astimezone(UTC).strftime(_UTC_TIME)
    return f'<time datetime="{_e(utc)}">{_e(local)} 北京时间 (UTC+8)</time>'


def _recorded_time(text: str) -> str:
    return _beijing(datetime.strptime(text, _UTC_TIME).replace(tzinfo=UTC))


def _row(label_zh: str, label_en: str, value_html: str) -> str:
    return f"<dt><strong>{_e(label_zh)}</strong> {_e(label_en)}</dt>\n<dd>{value_html}</dd>\n"


def _both(zh: str, en: str) -> str:
    """Chinese and English of one value, once when they are the same."""
    return _e(zh) if zh == en else f"{_e(zh)} ({_e(en)})"


def _link_target(identifier: str) -> str | None:
    """A page-relative link to another certificate, if the text can only be an identifier."""
    return identifier if _IDENTIFIER_CHARS.fullmatch(identifier) else None


def _head(title: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(title)}</title></head>\n<body>\n"
        "<p>证链 电子证照核验 · Zhenglian e-certificate check</p>\n"
    )


_MASKED_FOOT: Final = (
    "<footer><p>本页为公开页面，持证人的证件号码和地址已遮蔽。"
    "This public page masks the holder's ID number and address.</p></footer>\n"
    "</body></html>\n"
)
_FOOT: Final = "</body></html>\n"


def _verdict(status: Mapping[str, Any], view: Mapping[str, Any], today: date) -> str:
    """The one line a person scanning the code reads first."""
    state = status["state"]
    if state == "pending":
        return (
            "登记尚未上链确认：现在还不能依赖此证照。"
            " Registration pending: the chain does not hold it yet; do not rely on it now."
        )
    if state == "revoked":
        return "已撤销 · Revoked: this certificate no longer stands."
    if state == "superseded":
        line = "已被新版本取代 · Superseded by a new edition: rely on the new one"
        target = status["successor"] and _link_target(status["successor"])
        if target:
            return f'{line}: <a href="{_e(target)}">{_e(target)}</a>.'
        return line + "."
    if state != "issued":
        raise CertificatePageError(f"status.state: unknown state {state!r:.40}")
    valid_from = date.fromisoformat(view["valid_from"])
    until = view["valid_until"]
    if today < valid_from:
        line = "已登记，尚未生效 · Registered, not valid yet (from " + _e(view["valid_from"]) + ")."
    elif until is not None and today > date.fromisoformat(until):
        line = "已登记，已过有效期 · Registered, past its validity (until " + _e(until) + ")."
    else:
        line = "已登记，有效 · Registered and in force."
    if status["pending_change"] is not None:
        line += (
            " 签发机构已提交变更（"
            + _e(status["pending_change"])
            + "），尚待上链确认。 A change by the issuer is pending on the chain."
        )
    return line


def _status_rows(status: Mapping[str, Any], chain: Mapping[str, Any]) -> str:
    rows = []
    state_names = {
        "pending": ("待上链", "pending"),
        "issued": ("有效", "issued"),
        "revoked": ("已撤销", "revoked"),
        "superseded": ("已被取代", "superseded"),
    }
    zh, en = state_names[status["state"]]
    rows.append(_row("状态", "status", f"{_e(zh)} ({_e(en)})"))
    if status["state"] == "revoked" and status["reason"] is not None:
        code = int(status["reason"])
        try:
            reason = CertificateRevocationReason(code)
            shown = f"{_e(REASON_ZH[reason])} ({_e(reason.rfc5280_name)}, {code})"
        except ValueError:
            shown = _e(code)
        rows.append(_row("撤销原因", "reason", shown))
    if status["effective_time"] is not None:
        rows.append(_row("生效时间", "effective from", _recorded_time(status["effective_time"])))
    successor = status["successor"]
    if successor is not None:
        target = _link_target(successor)
        shown = _e(successor) if target is None else f'<a href="{_e(target)}">{_e(successor)}</a>'
        rows.append(_row("新版本", "superseded by", shown))
    rows.append(_row("登记时间", "registered", _recorded_time(status["registered_at"])))
    issue = status["issue"]
    if issue is not None:
        rows.append(
            _row(
                "登记交易",
                "issue transaction",
                f"区块 block {_e(issue['block'])}, {_hex(issue['tx_hash'])}",
            )
        )
    change = status["change"]
    if change is not None:
        rows.append(
            _row(
                "变更交易",
                f"{change['action']} transaction",
                f"区块 block {_e(change['block'])}, {_hex(change['tx_hash'])}, "
                + _recorded_time(change["at"]),
            )
        )
    rows.append(_row("链", "chain id", _e(chain["chain_id"])))
    rows.append(_row("登记合约", "CertificateRegistry", _hex(chain["registry"])))
    rows.append(_row("登记键", "registry key (SHA-256 of the identifier)", _hex(chain["key"])))
    return "".join(rows)


def _certificate_rows(view: Mapping[str, Any]) -> str:
    holder, issuer, kind = view["holder"], view["issuer"], view["type"]
    rows = [
        _row("证照类型", "type", _both(kind["zh"], kind["en"])),
        _row("证照标识", "identifier", f"<code>{_e(view['id'])}</code>"),
        _row("证照编号", "number", _e(view["number"])),
        _row("持证人", "holder", _e(holder["name"])),
        _row("证件类型", "ID type", _both(holder["id_type_zh"], holder["id_type_en"])),
        _row("证件号码", "ID number (masked)", f"<code>{_e(holder['id_number'])}</code>"),
    ]
    if holder["address"] is not None:
        rows.append(_row("地址", "address (masked)", _e(holder["address"])))
    for detail in view["details"]:
        shown = _both(detail["value_zh"], detail["value_en"]) if detail["value_zh"] else "—"
        rows.append(_row(detail["zh"], detail["en"], shown))
    rows += [
        _row("签发机构", "issuer", f"{_e(issuer['name'])} ({_e(issuer['type_zh'])})"),
        _row("统一社会信用代码", "credit code", f"<code>{_e(issuer['credit_code'])}</code>"),
        _row("签发日期", "issued", _e(view["issued"])),
    ]
    until = view["valid_until"]
    validity = (
        f"{_e(view['valid_from'])} 起长期有效 (from {_e(view['valid_from'])} until revoked)"
        if until is None
        else f"{_e(view['valid_from'])} 至 {_e(until)} (from … to, inclusive)"
    )
    rows.append(_row("有效期", "validity", validity))
    rows.append(
        _row(
            "签发机构证书",
            "issuer's signing certificate (SHA-256)",
            _hex(issuer["certificate_sha256"]),
        )
    )
    return "".join(rows)


def _verification(answer: Mapping[str, Any], server_url: str) -> str:
    identifier = answer["id"]
    base = server_url.rstrip("/")
    page = f"{base}/v1/certificates/{identifier}"
    target = _link_target(identifier)
    if target is None:
        raise CertificatePageError(f"id: not an identifier: {identifier!r:.80}")
    report = f"{target}/report"
    pdf = (
        f'<li>签发机构上传的公开 PDF · the issuer\'s public PDF: <a href="{_e(target)}/pdf">'
        f"{_url(page + '/pdf')}</a></li>\n"
        if answer.get("pdf")
        else ""
    )
    return (
        "<section>\n<h2>独立核验 · Verify independently</h2>\n"
        "<dl>\n"
        + _row(
            "登记内容 SHA-256",
            "SHA-256 of the registered certificate (ID.json)",
            _hex(answer["signed"]["certificate_sha256"]),
        )
        + "</dl>\n<ol>\n"
        f'<li>核验报告 · the verification report: <a href="{_e(report)}?format=text">'
        f"{_url(page + '/report?format=text')}</a> (JSON: "
        f'<a href="{_e(report)}">{_url(page + "/report")}</a>; 即时读链 status read from the '
        f'chain now: <a href="{_e(report)}?source=chain&amp;format=text">'
        f"{_url(page + '/report?source=chain&format=text')}</a>)</li>\n"
        "<li>本页内容的 JSON（含签名材料）· this answer as JSON, with the signed material: "
        f"<code>curl {_url(page)}</code></li>\n"
        "<li>状态 · the status with the command line tool: "
        f"<code>zhenglian certificate status {_e(identifier)} --server {_e(base)}</code></li>\n"
        "<li>持有 ID.json 者（持证人、签发机构）· whoever holds the certificate file "
        "(the holder, the issuer): its SHA-256 (<code>sha256sum ID.json</code>) must be the "
        "one above; then, with <code>ID.sig</code> and <code>signer.pem</code> from the JSON "
        "(<code>signed.signature</code> base64-decoded, <code>signed.signer_certificate</code>) "
        f"and the trust bundle <code>{_e(base)}/v1/trust</code>: "
        f"<code>zhenglian verify --certificate {_e(identifier)}.json "
        f"--certificate-signature {_e(identifier)}.sig --signer-cert signer.pem "
        f"--trust trust.json --server {_e(base)} --rpc NODE_URL</code> "
        "(<code>--rpc</code>: a node of the chain you trust, for the registry status)</li>\n"
        "<li>链上 · on the chain: <code>statusOf(登记键 registry key)</code> of the registry "
        "contract above</li>\n" + pdf + "</ol>\n</section>\n"
    )


def certificate_page(answer: Mapping[str, Any], *, server_url: str, checked_at: datetime) -> str:
    """The public page of a registered certificate.

    ``answer`` is the public answer of ``GET /v1/certificates/{id}`` (docs/e-certificates.md
    §8.2: ``id``, ``view``, ``status``, ``chain``, ``signed``, ``pdf``); ``server_url`` the
    server's public base URL, printed in the commands; ``checked_at`` when ``status`` was read
    (aware).

    :raises CertificatePageError: ``view`` is not the public, masked view; or the answer does
        not have the answer's shape."""
    if checked_at.tzinfo is None:
        raise CertificatePageError("checked_at: give the time with its zone")
    try:
        view, status, chain = answer["view"], answer["status"], answer["chain"]
        if view["view"] != PUBLIC_VIEW or view["holder"]["masked"] is not True:
            raise CertificatePageError(
                "the public page shows the public view only (the holder's data masked)"
            )
        today = checked_at.astimezone(CHINA_STANDARD_TIME).date()
        title = f"{view['type']['zh']} {view['id']} · 证链 电子证照核验"
        return (
            _head(title)
            + f"<h1>{_e(view['type']['zh'])}<br>{_e(view['type']['en'])}</h1>\n"
            + f"<p><code>{_e(view['id'])}</code></p>\n"
            + f"<p><strong>{_verdict(status, view, today)}</strong></p>\n"
            + "<section>\n<h2>状态 · Status</h2>\n<dl>\n"
            + _status_rows(status, chain)
            + _row("查询时间", "status checked", _beijing(checked_at))
            + _row(
                "来源",
                "source",
                "本服务在证照登记合约（CertificateRegistry）的交易上链后所作的记录；"
                "可用核验报告的 <code>source=chain</code> 或上述合约的 "
                "<code>statusOf</code> 直接读链核对。 The service's record of the registry "
                "contract's transactions, written once each was mined; read the chain "
                "itself with the report's <code>source=chain</code> or the contract's "
                "<code>statusOf</code>.",
            )
            + "</dl>\n</section>\n"
            + "<section>\n<h2>证照内容 · Certificate</h2>\n<dl>\n"
            + _certificate_rows(view)
            + "</dl>\n</section>\n"
            + _verification(answer, server_url)
            + _MASKED_FOOT
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CertificatePageError(f"not a public certificate answer: {exc!r:.120}") from exc


def not_registered_page(identifier: str, *, problem: str | None = None) -> str:
    """The page of an identifier no certificate is registered under (answered with 404).

    ``identifier`` is echoed (escaped, cut at :data:`MAX_SHOWN_IDENTIFIER_CHARS`);
    ``problem``, when given, says why it is not even an identifier (a wrong check
    character …)."""
    shown = identifier[:MAX_SHOWN_IDENTIFIER_CHARS] + (
        "…" if len(identifier) > MAX_SHOWN_IDENTIFIER_CHARS else ""
    )
    why = (
        ""
        if problem is None
        else f"<p>这不是有效的证照标识 · This is not a valid identifier: {_e(problem)}</p>\n"
    )
    return (
        _head("未登记 · 证链 电子证照核验")
        + "<h1>未登记<br>Not registered</h1>\n"
        + f"<p><code>{_e(shown)}</code></p>\n"
        + why
        + "<p>本服务没有以此标识登记的电子证照。如果这个标识印在一份证照上，"
        "该证照不是在此登记的，请向签发机构核实。 No e-certificate is registered here under "
        "this identifier. If it is printed on a certificate, that certificate was not "
        "registered here: ask its issuer.</p>\n" + _FOOT
    )
