"""``/healthz`` says when the served CRL has passed its nextUpdate: from then on every signed
deposit is refused as ``crl-stale`` until ``zhenglian pki crl`` runs, and an operator must
learn that from the health check, not from refused notaries."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.formats.revocation_list import CrlContent, build_crl, crl_number, load_crl
from certs.store.authority import CA_FILE, CRL_FILE, KEY_FILE, PKI_DIRECTORY
from certs.store.pki_files import write_atomic
from tests.support.zl_server import running_server

pytestmark = pytest.mark.integration

PASSPHRASE = "root passphrase for the health test"


def zl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhenglian.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ZHENGLIAN_CA_PASSPHRASE": PASSPHRASE},
    )


def _stale_crl(pki: Path) -> None:
    """A CRL signed by the real root whose nextUpdate passed an hour ago (the next number, as
    an operator's last `pki crl` a week and an hour ago would have made)."""
    key = serialization.load_pem_private_key((pki / KEY_FILE).read_bytes(), PASSPHRASE.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    root = x509.load_pem_x509_certificate((pki / CA_FILE).read_bytes())
    current = load_crl((pki / CRL_FILE).read_bytes())
    this_update = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7, hours=1)
    crl = build_crl(CrlContent(crl_number(current) + 1, this_update, ()), root_key=key, root=root)
    write_atomic(pki / CRL_FILE, crl.public_bytes(serialization.Encoding.DER))


def test_health_reports_the_crl_and_turns_degraded_when_it_is_stale(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = zl("pki", "init", "--data-dir", str(data), "--name", "某市司法局机构证书根")
    assert done.returncode == 0, done.stderr
    with running_server(data) as server:
        health = httpx.get(f"{server.url}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        crl = health.json()["pki"]["crl"]
        assert crl["number"] == 1
        assert 167 < crl["hours_left"] <= 168

        _stale_crl(data / PKI_DIRECTORY)
        health = httpx.get(f"{server.url}/healthz", timeout=10)
        assert health.status_code == 503
        body = health.json()
        assert body["pki"]["crl"]["number"] == 2
        assert body["pki"]["crl"]["hours_left"] < 0
        [problem] = [p for p in body["problems"] if p.startswith("pki:")]
        assert "crl-stale" in problem and "zhenglian pki crl" in problem

        done = zl("pki", "crl", "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
        health = httpx.get(f"{server.url}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["pki"]["crl"]["number"] > 2


def test_health_without_a_pki_has_no_pki_section(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        health = httpx.get(f"{server.url}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["pki"] is None
