"""``zhenglian serve`` deploys the CertificateRegistry beside the custody log's LogAnchor (on
the embedded chain: the validator is its admin, the service's chain account its registrar),
records it in DATA_DIR/certificate-registry-deployments.json, attaches to it on the next start,
and publishes its address in the trust bundle (``GET /v1/trust``, ``zhenglian trust export``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from eth_utils.crypto import keccak

from contracts import load_artifact
from evidence.formats.trust_bundle import TrustBundle
from ledger.client import make_web3
from tests.support.zl_server import running_server

pytestmark = pytest.mark.integration

REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)


def test_serve_deploys_the_registry_and_publishes_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir) as server:
        bundle = TrustBundle.from_json_bytes(httpx.get(f"{server.url}/v1/trust").content)
        address = bundle.certificate_registry
        assert address is not None
        w3 = make_web3(server.rpc_url)
        checksummed = w3.to_checksum_address(address)
        assert bytes(w3.eth.get_code(checksummed)) == (
            load_artifact("CertificateRegistry").deployed_bytecode
        )
        registry = w3.eth.contract(
            address=checksummed, abi=list(load_artifact("CertificateRegistry").abi)
        )
        anchoring = w3.to_checksum_address(bundle.anchoring_account)
        validator = w3.to_checksum_address(bundle.validators[0].address)
        assert registry.functions.hasRole(REGISTRAR_ROLE, anchoring).call()
        assert registry.functions.hasRole(DEFAULT_ADMIN_ROLE, validator).call()
        assert not registry.functions.hasRole(DEFAULT_ADMIN_ROLE, anchoring).call()
        chain = httpx.get(f"{server.url}/v1/chain").json()
        assert chain["certificate_registry"] == checksummed
        exported = server.cli("trust", "export", "-o", "-", "--data-dir", str(data_dir))
        assert TrustBundle.from_json_bytes(exported.stdout.encode()) == bundle
    recorded = json.loads((data_dir / "certificate-registry-deployments.json").read_text())
    (record,) = recorded["CertificateRegistry"]
    assert record["address"].lower() == "0x" + address.hex()
    # The next start attaches to the same registry.
    with running_server(data_dir) as server:
        again = TrustBundle.from_json_bytes(httpx.get(f"{server.url}/v1/trust").content)
        assert again.certificate_registry == address
