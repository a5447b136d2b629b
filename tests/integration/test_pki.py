"""The institutions' PKI on a real ``zhenglian serve``: the root and CRL served publicly,
changes by the CLI (issue, revoke, publish from an offline root) seen without a restart, and
the root carried by the trust bundle (``GET /v1/trust``, ``zhenglian trust export``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from certs.formats.revocation_list import crl_number
from tests.support.zl_server import running_server

pytestmark = pytest.mark.integration

PASSPHRASES = {
    "ZHENGLIAN_CA_PASSPHRASE": "root passphrase for the tests",
    "ZHENGLIAN_SIGNING_PASSPHRASE": "institution passphrase for the tests",
}


def pki(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``zhenglian pki ...`` as an operator would (passphrases in the environment only)."""
    done = subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", "pki", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **PASSPHRASES},
    )
    assert done.returncode == 0, done.stderr
    return done


def served_crl(url: str) -> x509.CertificateRevocationList:
    r = httpx.get(f"{url}/v1/pki/crl", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(r.content)


def test_the_pki_is_served_and_follows_the_cli_without_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pki(
        "init",
        "--data-dir",
        str(data),
        "--name",
        "某市司法局机构证书根",
        "--public-url",
        "https://zl.example.cn",
    )
    root_pem = (data / "pki" / "ca.pem").read_bytes()
    with running_server(data) as server:
        # The serve process was given no passphrase: it never needs the root key.
        assert "ZHENGLIAN_CA_PASSPHRASE" not in server.env
        r = httpx.get(f"{server.url}/v1/pki/ca", timeout=30)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pem-certificate-chain"
        assert r.content == root_pem
        root = x509.load_pem_x509_certificate(r.content)
        first = served_crl(server.url)
        assert crl_number(first) == 1 and len(first) == 0
        assert first.is_signature_valid(root.public_key())  # type: ignore[arg-type]

        issued = json.loads(
            pki(
                "issue",
                "--data-dir",
                str(data),
                "--institution",
                "北京市司法局",
                "--credit-code",
                "11110000000029209E",
                "--type",
                "justice_bureau",
                "--out",
                str(tmp_path / "bureau"),
            ).stdout
        )
        pki(
            "revoke",
            "--data-dir",
            str(data),
            issued["serial"],
            "--reason",
            "keyCompromise",
            "--effective",
            _an_hour_ago(),
        )
        crl = served_crl(server.url)
        assert crl_number(crl) == 2
        entry = crl.get_revoked_certificate_by_serial_number(int(issued["serial"], 16))
        assert entry is not None
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
            x509.ReasonFlags.key_compromise
        )
        certificate = x509.load_pem_x509_certificate(
            (tmp_path / "bureau" / "cert.pem").read_bytes()
        )
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert points[0].full_name[0].value == "https://zl.example.cn/v1/pki/crl"  # type: ignore[index]

        bundle = httpx.get(f"{server.url}/v1/trust", timeout=30).json()
        assert bundle["pki_roots"] == [root_pem.decode()]
        exported = subprocess.run(
            [
                sys.executable,
                "-m",
                "zhenglian.cli",
                "trust",
                "export",
                "--data-dir",
                str(data),
                "-o",
                "-",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(exported.stdout)["pki_roots"] == [root_pem.decode()]


def _an_hour_ago() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()


def test_an_offline_root_published_into_a_running_server(tmp_path: Path) -> None:
    data, offline = tmp_path / "data", tmp_path / "offline"
    with running_server(data) as server:
        for path in ("/v1/pki/ca", "/v1/pki/crl"):
            r = httpx.get(f"{server.url}{path}", timeout=30)
            assert r.status_code == 404
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "pki init" in r.json()["detail"]
        assert httpx.get(f"{server.url}/v1/trust", timeout=30).json()["pki_roots"] == []

        # The root lives on another machine (here: another directory); only its public files
        # reach the server, by `zhenglian pki publish`.
        pki("init", "--data-dir", str(offline), "--name", "某市司法局机构证书根")
        issued = json.loads(
            pki(
                "issue",
                "--data-dir",
                str(offline),
                "--institution",
                "华为技术有限公司",
                "--credit-code",
                "914403001922038216",
                "--type",
                "law_firm",
                "--out",
                str(tmp_path / "firm"),
            ).stdout
        )
        pki("publish", "--from", str(offline), "--data-dir", str(data))
        assert not (data / "pki" / "ca-key.pem").exists()
        ca = httpx.get(f"{server.url}/v1/pki/ca", timeout=30)
        assert ca.status_code == 200 and ca.content == (offline / "pki" / "ca.pem").read_bytes()
        assert len(served_crl(server.url)) == 0
        listed = subprocess.run(
            [sys.executable, "-m", "zhenglian.cli", "pki", "list", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(listed.stdout)["serial"] == issued["serial"]

        pki(
            "revoke",
            "--data-dir",
            str(offline),
            issued["serial"],
            "--reason",
            "cessationOfOperation",
        )
        assert len(served_crl(server.url)) == 0  # not yet published
        pki("publish", "--from", str(offline), "--data-dir", str(data))
        crl = served_crl(server.url)
        assert crl_number(crl) == 2
        assert crl.get_revoked_certificate_by_serial_number(int(issued["serial"], 16)) is not None
        assert httpx.get(f"{server.url}/v1/trust", timeout=30).json()["pki_roots"] == [ca.text]


def test_an_sm2_root_is_served_beside_the_ecdsa_one_and_follows_the_cli(tmp_path: Path) -> None:
    """``pki init --algorithm sm2`` on a running server's data directory: both roots in
    ``/v1/pki/ca`` and the trust bundle, the SM2 CRL at ``/v1/pki/crl?algorithm=sm2``, an SM2
    certificate issued (``--out`` and ``--csr``), listed, revoked and re-listed without a
    restart; ``pki crl`` renews both CRLs."""
    from certs.sm2 import keys as sm2_keys
    from certs.sm2.certificates import SM2Certificate
    from certs.sm2.crl import check_crl
    from certs.sm2.csr import build_certificate_request
    from certs.sm2.gmssl_engine import GmsslEngine

    engine = GmsslEngine()
    data = tmp_path / "data"
    pki(
        "init",
        "--data-dir",
        str(data),
        "--name",
        "某市司法局机构证书根",
        "--public-url",
        "https://zl.example.cn",
    )
    with running_server(data) as server:
        assert httpx.get(f"{server.url}/v1/pki/crl?algorithm=sm2", timeout=30).status_code == 404
        pki("init", "--data-dir", str(data), "--name", "某市司法局SM2根", "--algorithm", "sm2")
        served = httpx.get(f"{server.url}/v1/pki/ca", timeout=30).text
        assert served.count("-----BEGIN CERTIFICATE-----") == 2
        sm2_root = SM2Certificate.from_pem((data / "pki" / "sm2-ca.pem").read_bytes())
        assert sm2_root.to_pem().decode() in served
        roots = httpx.get(f"{server.url}/v1/trust", timeout=30).json()["pki_roots"]
        assert len(roots) == 2 and roots[1] == sm2_root.to_pem().decode()

        common = [
            "--data-dir",
            str(data),
            "--institution",
            "北京市某公证处",
            "--credit-code",
            "11110000000029209E",
            "--type",
            "notary_office",
            "--algorithm",
            "sm2",
        ]
        made = json.loads(pki("issue", *common, "--out", str(tmp_path / "notary")).stdout)
        assert made["algorithm"] == "sm2" and made["type"] == "notary_office"
        certificate = x509.load_pem_x509_certificate(
            (tmp_path / "notary" / "cert.pem").read_bytes()
        )
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert points[0].full_name[0].value == (  # type: ignore[index]
            "https://zl.example.cn/v1/pki/crl?algorithm=sm2"
        )
        key = sm2_keys.generate_private_key(engine)
        csr = tmp_path / "token.csr"
        csr.write_bytes(
            build_certificate_request(subject=[("2.5.4.3", "x")], key=key, engine=engine).to_pem()
        )
        token = json.loads(pki("issue", *common, "--csr", str(csr)).stdout)
        assert SM2Certificate.from_pem((tmp_path / "token.cert.pem").read_bytes()).public_key == (
            key.public_key
        )
        listed = [
            json.loads(line) for line in pki("list", "--data-dir", str(data)).stdout.splitlines()
        ]
        assert {r["serial"]: r["algorithm"] for r in listed} == {
            made["serial"]: "sm2",
            token["serial"]: "sm2",
        }

        pki("revoke", "--data-dir", str(data), made["serial"], "--reason", "superseded")
        r = httpx.get(f"{server.url}/v1/pki/crl", params={"algorithm": "sm2"}, timeout=30)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pkix-crl"
        crl = check_crl(r.content, sm2_root, at=datetime.now(UTC), engine=engine)
        assert crl.ok and crl.crl_number == 2 and crl.entry(int(made["serial"], 16)) is not None
        assert len(served_crl(server.url)) == 0  # the ECDSA root's CRL lists no SM2 serial
        statuses = {
            json.loads(line)["serial"]: json.loads(line)["status"]
            for line in pki("list", "--data-dir", str(data)).stdout.splitlines()
        }
        assert statuses == {made["serial"]: "revoked", token["serial"]: "valid"}

        renewed = pki("crl", "--data-dir", str(data)).stdout
        assert "CRL 2 issued" in renewed and "SM2 CRL 3 issued" in renewed
        r = httpx.get(f"{server.url}/v1/pki/crl", params={"algorithm": "sm2"}, timeout=30)
        assert check_crl(r.content, sm2_root, at=datetime.now(UTC), engine=engine).crl_number == 3
