"""Shared fixtures. Real servers are started here, on 127.0.0.1, and stopped at session end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.support import servers

#: RFC 6962 vectors (transparency-dev/merkle testdata, Apache-2.0), kept in the repository.
VECTORS_DIR = servers.REPO_ROOT / "tests" / "assets" / "rfc6962"


@pytest.fixture(scope="session")
def rfc6962_vectors() -> Path:
    return VECTORS_DIR


@pytest.fixture(scope="session")
def hardhat_rpc_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real external Ethereum node (Hardhat/EDR from node_modules)."""
    with servers.hardhat_node(tmp_path_factory.mktemp("hardhat")) as url:
        yield url


@pytest.fixture(scope="session")
def hardhat_key() -> str:
    return servers.HARDHAT_KEY_0


@pytest.fixture(scope="session")
def embedded_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A running embedded chain: (JSON-RPC URL, an allowlisted key, data dir)."""
    data_dir = tmp_path_factory.mktemp("embedded")
    with servers.embedded_node(data_dir) as (url, _node):
        yield url, servers.embedded_anchorer_key(data_dir), data_dir


@pytest.fixture(scope="session", params=["embedded", "hardhat"])
def chain_endpoint(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(JSON-RPC URL, funded/allowlisted private key) of each kind of node we support."""
    if request.param == "embedded":
        url, key, _ = request.getfixturevalue("embedded_chain")
        return url, key
    return request.getfixturevalue("hardhat_rpc_url"), servers.HARDHAT_KEY_0


MODULE_SECONDS: Final[dict[str, int]] = {
    "tests/integration/test_access_api.py": 498,
    "tests/integration/test_custody_e2e.py": 421,
    "tests/integration/test_certificates_api.py": 329,
    "tests/integration/test_verification_report.py": 277,
    "tests/integration/test_signed_documents.py": 234,
    "tests/integration/test_evidence_bundle.py": 224,
    "tests/integration/test_api_e2e.py": 199,
    "tests/integration/test_trust.py": 198,
    "tests/integration/test_audit.py": 187,
    "tests/integration/test_sm2_documents.py": 169,
    "tests/integration/test_embedded_node.py": 140,
    "tests/integration/test_security.py": 138,
    "tests/integration/test_fault_injection.py": 124,
    "tests/integration/test_openapi_fuzz.py": 108,
    "tests/integration/test_witness.py": 101,
    "tests/integration/test_log_anchor_contract.py": 96,
    "tests/integration/test_serve_process.py": 94,
    "tests/integration/test_rollback_detection.py": 93,
    "tests/integration/test_acknowledgement.py": 77,
    "tests/integration/test_pki.py": 70,
    "tests/integration/test_certificate_registry_contract.py": 62,
    "tests/integration/test_report.py": 51,
    "tests/integration/test_cli_ledger.py": 40,
    "tests/integration/test_certificate_page.py": 38,
    "tests/integration/test_anchoring_recovery.py": 34,
    "tests/integration/test_ledger_client.py": 33,
    "tests/integration/test_external_node.py": 31,
    "tests/integration/test_pki_health.py": 31,
    "tests/integration/test_cosigning.py": 30,
    "tests/integration/test_upload_stream.py": 28,
    "tests/integration/test_certificate_registry_serve.py": 28,
}
"""Seconds the longest modules took in a full run (``./dev test --junitxml=FILE`` with three
workers, 2026-12-03; summed per module by each test's setup, call and teardown). Only their
order matters: pytest-xdist's ``--dist loadfile`` hands whole modules to the workers in
collection order, so the longest go first and short ones fill the end (no long module may
start last and run alone). A module not listed keeps its place after them."""


def _longest_modules_first(items: list[pytest.Item]) -> None:
    """Reorder ``items`` in place, modules of :data:`MODULE_SECONDS` first, longest first; the
    order within a module and among the others is kept (a stable sort)."""
    root = Path(__file__).resolve().parent.parent

    def seconds(item: pytest.Item) -> int:
        try:
            name = item.path.resolve().relative_to(root).as_posix()
        except ValueError:
            return 0
        return MODULE_SECONDS.get(name, 0)

    items.sort(key=lambda item: -seconds(item))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the parametrizations a test module rules out: a module may define
    ``selected_parametrization(test_name, params) -> bool`` (``params``: the item's
    parametrized arguments, fixture parameters included); items for which it answers False
    are reported as deselected, not run. Then hand out the longest modules first
    (:func:`_longest_modules_first`)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        select = getattr(getattr(item, "module", None), "selected_parametrization", None)
        callspec = getattr(item, "callspec", None)
        if select is not None and callspec is not None:
            name = getattr(item, "originalname", item.name)
            if not select(name, dict(callspec.params)):
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _longest_modules_first(items)
