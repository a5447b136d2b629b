"""``zhenglian report`` on a receipt served by a real ``zhenglian serve``: two real witness
processes cosign its checkpoints and a real RFC 3161 authority stamps them, so the receipt
is a version 2 one; the trust bundle is the server's ``GET /v1/trust``. The PDF is A4 with
its font embedded and shows the Chinese title and the verdict; a tampered file gives exit 1
and a report saying altered (篡改); the Markdown form has the same rows."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest

from tests.integration.test_api_e2e import deposit
from tests.support.tsa import running_authority
from tests.support.witness_process import running_witness
from tests.support.zl_server import ZhenglianServer, running_server

pytestmark = pytest.mark.integration

#: Seconds from a deposit to its witnessed, time-stamped receipt (anchoring ~1 s).
WITNESSED_DEADLINE = 30.0
GENERATED_AT = "2025-03-01T16:30:00+08:00"
WITNESSES = ("court.test.example/w1", "notaries.test.example/w2")
AUTHORITY = "Report test TSA"


@dataclass
class Served:
    server: ZhenglianServer
    workdir: Path
    document: Path
    receipt: Path
    trust: Path


def _witnessed_receipt(server: ZhenglianServer, headers: dict[str, str], doc_id: str) -> Any:
    start = time.monotonic()
    while True:
        r = httpx.get(f"{server.url}/v1/documents/{doc_id}/receipt", headers=headers, timeout=10)
        if r.status_code == 200 and r.json().get("version") == 2:
            return r.json()
        assert r.status_code in (200, 202), r.text
        if time.monotonic() - start > WITNESSED_DEADLINE:
            pytest.fail(f"no witnessed receipt within {WITNESSED_DEADLINE}s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("report")
    data_dir = work / "data"
    made = subprocess.run(  # the log's key, for the witnesses to know it
        [sys.executable, "-m", "zhenglian.cli", "log", "key", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    log_key = made.stdout.strip().splitlines()[-1]
    with (
        running_authority(work / "tsa", name=AUTHORITY) as authority,
        running_witness(work / "w1", WITNESSES[0], [log_key]) as w1,
        running_witness(work / "w2", WITNESSES[1], [log_key]) as w2,
    ):
        env = {
            "ZHENGLIAN_WITNESSES": json.dumps([{"key": w.key, "url": w.url} for w in (w1, w2)]),
            "ZHENGLIAN_WITNESS_QUORUM": "2",
            "ZHENGLIAN_TSA_URL": authority.url(),
            "ZHENGLIAN_TSA_ROOTS": str(authority.authority.directory / "root.pem"),
        }
        with running_server(data_dir, env) as server:
            headers = {"Authorization": f"Bearer {server.token('城东公证处', 'notary')}"}
            content = "遗嘱公证书：本人自愿将房产留给女儿。".encode() * 50
            created = deposit(server, headers, content)
            assert created.status_code == 201, created.text
            body = _witnessed_receipt(server, headers, created.json()["id"])
            document = work / "will.pdf"
            document.write_bytes(content)
            receipt = work / "will.receipt.json"
            receipt.write_text(json.dumps(body, ensure_ascii=False, indent=2))
            trust = work / "trust.json"
            trust.write_text(httpx.get(f"{server.url}/v1/trust", timeout=10).text)
            yield Served(server, work, document, receipt, trust)


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _fonts(data: bytes) -> list[dict[str, Any]]:
    """Every font of every page, with its descriptor (that of its descendant, for Type0)."""
    fonts = []
    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        resources: Any = page["/Resources"]
        for reference in resources["/Font"].values():
            font: Any = reference.get_object()
            if "/DescendantFonts" in font:
                font = font["/DescendantFonts"][0].get_object()
            fonts.append(font)
    return fonts


def _check_headings(markdown: str) -> list[str]:
    """The check rows of the Markdown form: '<title zh> / <title en> — <status>'."""
    return re.findall(r"^### \d+\. (.+)$", markdown, re.MULTILINE)


def test_the_pdf_report_on_a_served_receipt_is_intact_with_its_font_embedded(
    served: Served,
) -> None:
    s = served
    out = s.workdir / "report.pdf"
    args = [str(s.receipt), str(s.document), "--trust", str(s.trust), "--generated-at"]
    done = _report(*args, GENERATED_AT, "-o", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "verdict: intact"
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = _pdf_text(data)
    assert "电子证据核验报告" in text and "Electronic evidence verification report" in text
    flat = _flat(text)
    assert "结论/Verdict:完好/intact" in flat
    for witness in WITNESSES:
        assert _flat(f"Cosigned by {witness} at") in flat
    assert AUTHORITY.replace(" ", "") in flat
    assert "2025-03-01T08:30:00Z" in flat  # the generation time, in the footer
    fonts = _fonts(data)
    assert fonts and all("/FontFile2" in f["/FontDescriptor"] for f in fonts), [
        f.get("/BaseFont") for f in fonts
    ]
    assert any("WenQuanYi" in f["/BaseFont"] for f in fonts)
    # The same inputs and time give the same bytes.
    again = s.workdir / "again.pdf"
    assert _report(*args, GENERATED_AT, "-o", str(again)).returncode == 0
    assert again.read_bytes() == data
    # The Markdown form has the same rows.
    md_path = s.workdir / "report.md"
    done = _report(*args, GENERATED_AT, "-o", str(md_path))
    assert done.returncode == 0, done.stderr
    markdown = md_path.read_text()
    headings = _check_headings(markdown)
    assert len(headings) == 10 and all(h.endswith("— 通过 / passed") for h in headings), headings
    for heading in headings:
        assert _flat(heading) in flat, heading
    rows = re.findall(r"^\| (.+?) \| .+ \|$", markdown, re.MULTILINE)
    for label in rows:
        if label != "项目 / Item":
            assert _flat(label.split(" / ")[0]) in flat, label


def test_a_tampered_file_gives_exit_1_and_a_report_saying_altered(served: Served) -> None:
    s = served
    tampered = s.workdir / "tampered.pdf"
    content = bytearray(s.document.read_bytes())
    content[10] ^= 0x01
    tampered.write_bytes(bytes(content))
    out = s.workdir / "tampered-report.pdf"
    base = [str(s.receipt), str(tampered), "--trust", str(s.trust), "--generated-at"]
    done = _report(*base, GENERATED_AT, "-o", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "verdict: altered"
    assert "zhenglian: altered: document digest:" in done.stderr
    flat = _flat(_pdf_text(out.read_bytes()))
    assert "篡改" in flat and "altered" in flat
    assert _flat("文件摘要核对 / Document digest — 未通过 / FAILED") in flat
    md_path = s.workdir / "tampered-report.md"
    assert _report(*base, GENERATED_AT, "-o", str(md_path)).returncode == 1
    markdown = md_path.read_text()
    assert "## 结论 / Verdict: 已被篡改或替换 / altered" in markdown
    headings = _check_headings(markdown)
    assert headings[0] == "文件摘要核对 / Document digest — 未通过 / FAILED"
    assert all(h.endswith("— 通过 / passed") for h in headings[1:]), headings
    for heading in headings:
        assert _flat(heading) in flat, heading


def test_without_a_file_the_report_covers_the_receipt_only(served: Served) -> None:
    s = served
    out = s.workdir / "receipt-only.md"
    done = _report(str(s.receipt), "--trust", str(s.trust), "-o", str(out))
    assert done.returncode == 0, done.stderr
    markdown = out.read_text()
    assert "回执有效（未比对文件）" in markdown
    assert "### 1. 文件摘要核对 / Document digest — 未进行 / not performed" in markdown


def test_bad_input_exits_2_and_writes_nothing(served: Served) -> None:
    s = served
    out = s.workdir / "never.pdf"
    garbage = s.workdir / "garbage.json"
    garbage.write_text('{"type": "zhenglian-receipt"')
    done = _report(str(garbage), str(s.document), "--trust", str(s.trust), "-o", str(out))
    assert done.returncode == 2 and "bad receipt" in done.stderr, done.stderr
    done = _report(str(s.receipt), str(s.document), "--trust", str(s.trust), "-o", "r.txt")
    assert done.returncode == 2 and ".pdf or .md" in done.stderr, done.stderr
    done = _report(
        str(s.receipt), str(s.document), "--trust", str(s.trust), "-o", str(out),
        "--generated-at", "2025-03-01 16:30",
    )  # fmt: skip
    assert done.returncode == 2 and "offset" in done.stderr, done.stderr
    assert not out.exists()
