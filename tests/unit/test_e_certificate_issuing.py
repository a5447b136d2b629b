"""The issuer's side of e-certificates: ``zhenglian certificate issue`` and ``show`` end to end
with a real authority (``pki init``, ``pki issue --out``), the detached signature checked
offline (here and with OpenSSL), the PDF read back (identifier, URL, masked data, embedded
fonts, deterministic bytes, the QR code decoded), the public URL's refusals, and every
refusal one line with its exit status."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pypdf import PdfReader

from certs.verify.institution_check import check_institution_certificate
from evidence.formats.e_certificate import ECertificate, fields_of
from evidence.formats.e_certificate_views import (
    PublicUrlError,
    check_public_url,
    verification_url,
)
from evidence.verify.e_certificate_signature import (
    ECertificateSignatureError,
    verify_e_certificate_signature,
)
from zhenglian.certificate_rendering import qr_widget, render_certificate_pdf
from zhenglian.cli import main

VECTORS = Path(__file__).resolve().parents[1] / "assets" / "e_certificates"
CA_PASSPHRASE = "bureau root passphrase"
SIGNING_PASSPHRASE = "institution passphrase"
PUBLIC_URL = "https://zhenglian.example.gov.cn"
CREATED_AT = "2026-03-02T16:00:00+08:00"
ENV = {
    "ZHENGLIAN_CA_PASSPHRASE": CA_PASSPHRASE,
    "ZHENGLIAN_SIGNING_PASSPHRASE": SIGNING_PASSPHRASE,
    "ZHENGLIAN_PUBLIC_URL": "",
}


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=ENV | (env or {}))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _vector_fields(name: str) -> dict[str, Any]:
    fields = dict(fields_of(ECertificate.decode((VECTORS / f"{name}.ecert").read_bytes())))
    del fields["serial"]  # derived from the number, as the vectors' are (but for one)
    return fields


@dataclass
class Authority:
    data: Path
    root: x509.Certificate
    institutions: dict[str, Path]

    def crl(self) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl((self.data / "pki" / "crl.der").read_bytes())


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    base = tmp_path_factory.mktemp("authority")
    data = base / "data"
    code, _, err = run(["pki", "init", "--data-dir", str(data), "--name", "广元市司法局机构证书根"])
    assert code == 0, err
    institutions = {
        "notary": ("广元市利州公证处", "32510802MB1530425A", None),
        "bureau": ("广元市司法局", "11510800008950238H", "justice_bureau"),
        "law_firm": ("四川广元明法律师事务所", "31510800MD1234578X", None),
    }
    out = {}
    for label, (name, credit_code, kind) in institutions.items():
        args = ["pki", "issue", "--data-dir", str(data), "--institution", name]
        args += ["--credit-code", credit_code, "--out", str(base / label)]
        args += ["--type", kind] if kind else []
        code, _, err = run(args)
        assert code == 0, err
        out[label] = base / label
    root = x509.load_pem_x509_certificate((data / "pki" / "ca.pem").read_bytes())
    return Authority(data, root, out)


def _issue(
    authority: Authority,
    tmp_path: Path,
    fields: dict[str, Any],
    institution: str = "notary",
    *extra: str,
    env: dict[str, str] | None = None,
    out: Path | None = None,
) -> tuple[int, str, str]:
    path = tmp_path / "fields.json"
    path.write_text(json.dumps(fields, ensure_ascii=False, indent=2), "utf-8")
    keys = authority.institutions[institution]
    args = ["certificate", "issue", str(path), "--key", str(keys / "key.pem")]
    args += ["--cert", str(keys / "cert.pem"), "-o", str(out or tmp_path / "out")]
    args += ["--created-at", CREATED_AT, *extra]
    if "--public-url" not in extra:
        args += ["--public-url", PUBLIC_URL]
    return run(args, env)


# --- Issuing ---------------------------------------------------------------------------------


def test_issue_writes_the_encoding_a_signature_and_the_pdf(
    authority: Authority, tmp_path: Path
) -> None:
    code, out, err = _issue(authority, tmp_path, _vector_fields("notarial-certificate"))
    assert code == 0, err
    line = json.loads(out)
    expected = json.loads((VECTORS / "cases.json").read_text("utf-8"))
    identifier = expected["notarial-certificate"]["id"]
    assert line["id"] == identifier  # the serial derived from the number, as in the vector
    assert line["url"] == f"{PUBLIC_URL}/v1/certificates/{identifier}"
    encoded = Path(line["json"]).read_bytes()
    signature = Path(line["sig"]).read_bytes()
    signer_pem = (authority.institutions["notary"] / "cert.pem").read_bytes()
    signer = x509.load_pem_x509_certificate(signer_pem)

    cert = ECertificate.decode(encoded)
    assert cert.encode() == encoded
    assert (
        cert.issuer.certificate_sha256 == hashlib.sha256(signer.public_bytes(Encoding.DER)).digest()
    )
    assert cert.issuer.type.value == "notary_office"
    # The vector differs only in the issuer's certificate fingerprint.
    vector = ECertificate.decode((VECTORS / "notarial-certificate.ecert").read_bytes())
    assert fields_of(cert) == fields_of(vector)

    # Offline: the signer certificate alone, then its chain and CRL as the caller's next step.
    signed = verify_e_certificate_signature(encoded, signature, signer)
    assert signed.certificate == cert and signed.signer.subject.name == "广元市利州公证处"
    now = datetime.now(UTC)
    check = check_institution_certificate(
        signer, root=authority.root, crl=authority.crl(), at=now, now=now
    )
    assert check.ok, check.failures
    with pytest.raises(ECertificateSignatureError, match="does not verify"):
        verify_e_certificate_signature(
            encoded, bytes(signature[:-1]) + bytes([signature[-1] ^ 1]), signer
        )
    other = x509.load_pem_x509_certificate(
        (authority.institutions["bureau"] / "cert.pem").read_bytes()
    )
    with pytest.raises(ECertificateSignatureError, match="SHA-256"):
        verify_e_certificate_signature(encoded, signature, other)

    if shutil.which("openssl"):
        public = subprocess.run(
            ["openssl", "x509", "-pubkey", "-noout"],
            input=signer_pem,
            capture_output=True,
            check=True,
        ).stdout
        (tmp_path / "pub.pem").write_bytes(public)
        verified = subprocess.run(
            [
                "openssl",
                "dgst",
                "-sha256",
                "-verify",
                str(tmp_path / "pub.pem"),
                "-signature",
                line["sig"],
                line["json"],
            ],
            capture_output=True,
            text=True,
        )
        assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stderr

    # The same certificate and creation time give the same PDF.
    code, again, err = _issue(
        authority, tmp_path, _vector_fields("notarial-certificate"), out=tmp_path / "again"
    )
    assert code == 0, err
    assert Path(json.loads(again)["pdf"]).read_bytes() == Path(line["pdf"]).read_bytes()
    assert Path(json.loads(again)["json"]).read_bytes() == encoded


def test_the_justice_bureau_issues_practising_certificates(
    authority: Authority, tmp_path: Path
) -> None:
    fields = _vector_fields("lawyer-practising-certificate") | {"serial": "2026000031"}
    code, out, err = _issue(authority, tmp_path, fields, "bureau")
    assert code == 0, err
    assert json.loads(out)["id"].startswith("LS-11510800008950238H-2026000031-")


# --- The PDF -----------------------------------------------------------------------------------


def _pdf(tmp_path: Path, authority: Authority) -> tuple[ECertificate, bytes]:
    code, out, err = _issue(authority, tmp_path, _vector_fields("notarial-certificate"))
    assert code == 0, err
    line = json.loads(out)
    return ECertificate.decode(Path(line["json"]).read_bytes()), Path(line["pdf"]).read_bytes()


def test_the_pdf_shows_the_public_view_with_its_url_and_embeds_its_fonts(
    authority: Authority, tmp_path: Path
) -> None:
    cert, pdf = _pdf(tmp_path, authority)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert [round(float(v)) for v in page.mediabox[2:]] == [595, 842]  # A4
    text = page.extract_text()
    flat = text.replace("\n", "")
    url = f"{PUBLIC_URL}/v1/certificates/{cert.id}"
    assert cert.id in text and url in flat
    for shown in (
        "公证书",
        "Notarial certificate",
        "王小红",
        "110105********002X",
        "四川省广元市****",
        "学历公证",
        "32510802MB1530425A",
        "广元市利州公证处",
    ):
        assert shown in text, shown
    assert cert.holder.id_number not in text and "滨河北路" not in text
    assert reader.metadata is not None
    assert reader.metadata["/CreationDate"] == "D:20260302080000+00'00'"
    fonts = page["/Resources"]["/Font"]
    assert fonts
    for name in fonts:
        font = fonts[name].get_object()
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, (name, font["/BaseFont"])  # TrueType, embedded
        assert "WenQuanYi" in font["/BaseFont"]


def _pixels(png_bytes: bytes) -> tuple[int, int, bytes]:
    import png  # pypng

    width, height, rows, info = png.Reader(bytes=png_bytes).asDirect()
    top = (1 << info["bitdepth"]) - 1
    pixels = bytearray()
    for row in rows:
        pixels.extend(v * 255 // top for v in row[:: info["planes"]])
    return width, height, bytes(pixels)


def test_the_qr_code_opens_the_verification_url(authority: Authority, tmp_path: Path) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    cert, pdf = _pdf(tmp_path, authority)
    url = verification_url(PUBLIC_URL, cert.id)
    # The widget's modules, drawn as pixels (4 per module, with the quiet zone).
    widget = qr_widget(url)
    widget.draw()
    count = widget.qr.getModuleCount()
    scale, border = 4, 4
    side = (count + 2 * border) * scale
    pixels = bytearray(b"\xff" * side * side)
    for r in range(count):
        for c in range(count):
            if widget.qr.isDark(r, c):
                for dy in range(scale):
                    start = ((r + border) * scale + dy) * side + (c + border) * scale
                    pixels[start : start + scale] = b"\x00" * scale
    found = zxingcpp.read_barcodes(memoryview(bytes(pixels)).cast("B", (side, side)))
    assert [b.text for b in found] == [url]
    # The printed page itself, rasterised, when poppler's pdftoppm is installed.
    if shutil.which("pdftoppm"):
        (tmp_path / "c.pdf").write_bytes(pdf)
        png = subprocess.run(
            ["pdftoppm", "-r", "100", "-gray", "-png", "-singlefile", str(tmp_path / "c.pdf")],
            capture_output=True,
            check=True,
        ).stdout
        width, height, raster = _pixels(png)
        found = zxingcpp.read_barcodes(memoryview(raster).cast("B", (height, width)))
        assert [b.text for b in found] == [url]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.8.9.10",
        "http://localhost:8000",
        "http://api.localhost",
        "http://[::1]:8000",
        "http://0.0.0.0:8000",
        "http://[::]",
        "http://[::ffff:127.0.0.1]",
        "http://2130706433",
        "ftp://zhenglian.example.gov.cn",
        "https://user@zhenglian.example.gov.cn",
        "https://zhenglian.example.gov.cn/?q=1",
        "zhenglian.example.gov.cn",
    ],
)
def test_loopback_unspecified_and_malformed_public_urls_are_refused(url: str) -> None:
    with pytest.raises(PublicUrlError):
        check_public_url(url)


def test_public_urls_that_anyone_can_open_are_kept() -> None:
    assert (
        check_public_url("https://zhenglian.example.gov.cn/") == "https://zhenglian.example.gov.cn"
    )
    assert check_public_url("http://10.20.30.40:8080/zl") == "http://10.20.30.40:8080/zl"
    cert = ECertificate.decode((VECTORS / "forensic-opinion.ecert").read_bytes())
    with pytest.raises(PublicUrlError, match="loopback"):
        render_certificate_pdf(
            cert,
            public_url="http://127.0.0.1:8000",
            created_at=datetime(2026, 3, 2, tzinfo=UTC),
            tool_version="test",
        )


# --- Refusals -----------------------------------------------------------------------------------


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zhenglian: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_refusals_are_one_line_naming_what_is_wrong(authority: Authority, tmp_path: Path) -> None:
    notarial = _vector_fields("notarial-certificate")
    wrong_id = notarial | {"holder": notarial["holder"] | {"id_number": "110105194912310021"}}
    practising = _vector_fields("lawyer-practising-certificate")
    by_law_firm = practising | {
        "issuer": {"name": "四川广元明法律师事务所", "credit_code": "31510800MD1234578X"}
    }
    cases: list[tuple[dict[str, Any], str, tuple[str, ...], dict[str, str], int, str]] = [
        (wrong_id, "notary", (), {}, 2, "holder.id_number: wrong 居民身份证 check character"),
        (notarial | {"colour": "red"}, "notary", (), {}, 2, "colour: unknown field"),
        (practising, "notary", (), {}, 2, "issuer.credit_code: the fields say 11510800008950238H"),
        (by_law_firm, "law_firm", (), {}, 2, "issuer.type: a law_firm may not issue"),
        (
            notarial | {"issuer": notarial["issuer"] | {"name": "另一个公证处"}},
            "notary",
            (),
            {},
            2,
            "issuer.name: the fields say",
        ),
        (notarial, "notary", ("--public-url", "http://127.0.0.1:8000"), {}, 2, "loopback"),
        (notarial, "notary", ("--public-url", "http://localhost"), {}, 2, "loopback"),
        (
            notarial,
            "notary",
            (),
            {"ZHENGLIAN_SIGNING_PASSPHRASE": "wrong passphrase"},
            1,
            "wrong ZHENGLIAN_SIGNING_PASSPHRASE",
        ),
        (
            notarial,
            "notary",
            (),
            {"ZHENGLIAN_SIGNING_PASSPHRASE": ""},
            2,
            "set ZHENGLIAN_SIGNING_PASSPHRASE",
        ),
    ]
    for fields, institution, extra, env, status, message in cases:
        code, out, err = _issue(authority, tmp_path, fields, institution, *extra, env=env)
        assert code == status, (message, err)
        assert message in _one_line(err), err
        assert out == ""
    assert not (tmp_path / "out").exists()

    # The key of another institution with this certificate.
    (tmp_path / "fields.json").write_text(json.dumps(notarial, ensure_ascii=False), "utf-8")
    code, _, err = run(
        [
            "certificate",
            "issue",
            str(tmp_path / "fields.json"),
            "--key",
            str(authority.institutions["bureau"] / "key.pem"),
            "--cert",
            str(authority.institutions["notary"] / "cert.pem"),
            "--public-url",
            PUBLIC_URL,
            "-o",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "is not the key of the certificate" in _one_line(err)

    # No public URL at all, and an issued certificate issued again into the same directory.
    code, _, err = run(
        [
            "certificate",
            "issue",
            str(tmp_path / "fields.json"),
            "--key",
            str(authority.institutions["notary"] / "key.pem"),
            "--cert",
            str(authority.institutions["notary"] / "cert.pem"),
            "-o",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "--public-url" in _one_line(err)
    assert _issue(authority, tmp_path, notarial)[0] == 0
    code, _, err = _issue(authority, tmp_path, notarial)
    assert code == 2 and "issued into" in _one_line(err)


# --- show --------------------------------------------------------------------------------------


def test_show_prints_the_full_or_the_public_view(tmp_path: Path) -> None:
    path = VECTORS / "notarial-certificate.ecert"
    code, out, err = run(["certificate", "show", str(path)])
    assert code == 0, err
    full = json.loads(out)
    assert full["view"] == "full" and full["holder"]["id_number"] == "11010519491231002X"
    code, out, err = run(["certificate", "show", str(path), "--public"])
    assert code == 0, err
    public = json.loads(out)
    assert public["holder"]["id_number"] == "110105********002X"
    assert "11010519491231002X" not in out and "滨河北路" not in out
    code, out, err = run(["certificate", "show", str(VECTORS / "wrong-resident-id-check.ecert")])
    assert code == 2 and "holder.id_number: wrong" in _one_line(err)
    code, _, err = run(["certificate", "show", str(VECTORS / "non-canonical-order.ecert")])
    assert code == 2 and "not in canonical form" in _one_line(err)
    code, _, err = run(["certificate", "show", str(tmp_path / "missing.json")])
    assert code == 1 and "cannot read" in _one_line(err)


def test_a_failed_write_leaves_none_of_the_files(
    authority: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from zhenglian.commands import certificate as command

    real = command._link_or_move

    def disk_full_at_the_pdf(temporary: Path, path: Path) -> None:
        if path.suffix == ".pdf":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(temporary, path)

    monkeypatch.setattr(command, "_link_or_move", disk_full_at_the_pdf)
    code, out, err = _issue(authority, tmp_path, _vector_fields("notarial-certificate"))
    assert code == 1 and "No space left on device" in _one_line(err) and out == ""
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.setattr(command, "_link_or_move", real)
    code, _, err = _issue(authority, tmp_path, _vector_fields("notarial-certificate"))
    assert code == 0, err
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".json", ".pdf", ".sig"]
