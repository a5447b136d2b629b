"""Shared fixtures. Real servers are started here, on 127.0.0.1, and stopped at session end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the parametrizations a test module rules out: a module may define
    ``selected_parametrization(test_name, params) -> bool`` (``params``: the item's
    parametrized arguments, fixture parameters included); items for which it answers False
    are reported as deselected, not run."""
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
