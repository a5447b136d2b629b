"""The embedded chain's configuration, kept in ``DATA_DIR/chain/config.json``.

Chain id, genesis parameters and validator set are fixed when the chain is created. The
transaction-sender allowlist (like Besu's local account permissioning) may be edited while
the node runs (``zhenglian chain allow``); the node re-reads it when the file changes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_utils.address import is_hex_address, to_canonical_address, to_checksum_address

from ledger.errors import NodeError

CONFIG_VERSION = 1

#: Default chain id of a new embedded chain ("ZL" = 0x5a4c).
DEFAULT_CHAIN_ID = 0x5A4C

#: Block gas limit. Blocks are filled to at most half of it, so the London base fee stays 0.
DEFAULT_GAS_LIMIT = 30_000_000

#: Largest validator set a genesis block may name.
MAX_VALIDATORS = 32

#: Largest allowlist the node accepts.
MAX_ALLOWLIST = 10_000

#: A config file larger than this is refused.
MAX_CONFIG_BYTES = 1024 * 1024


def _address(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not is_hex_address(value):
        raise NodeError(f"{what} is not an Ethereum address: {value!r}")
    return bytes(to_canonical_address(value))


@dataclass(frozen=True)
class ChainConfig:
    chain_id: int
    validators: tuple[bytes, ...]
    allowlist: tuple[bytes, ...]
    gas_limit: int
    genesis_timestamp: int
    genesis_hash: bytes | None = None
    #: Genesis balances. Gas is free on this chain; balances only serve value transfers
    #: (tooling and tests that fund accounts the way they would on any chain).
    alloc: tuple[tuple[bytes, int], ...] = ()

    def with_allowlist(self, allowlist: tuple[bytes, ...]) -> ChainConfig:
        if len(allowlist) > MAX_ALLOWLIST:
            raise NodeError(f"allowlist longer than {MAX_ALLOWLIST} accounts")
        return replace(self, allowlist=tuple(dict.fromkeys(allowlist)))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CONFIG_VERSION,
            "chainId": self.chain_id,
            "validators": [to_checksum_address(v) for v in self.validators],
            "allowlist": [to_checksum_address(a) for a in self.allowlist],
            "gasLimit": self.gas_limit,
            "genesisTimestamp": self.genesis_timestamp,
            "genesisHash": None if self.genesis_hash is None else "0x" + self.genesis_hash.hex(),
            "alloc": {to_checksum_address(a): str(b) for a, b in self.alloc},
        }

    @classmethod
    def from_json(cls, obj: Any) -> ChainConfig:
        if not isinstance(obj, dict) or obj.get("version") != CONFIG_VERSION:
            raise NodeError(f"chain config must be an object with version {CONFIG_VERSION}")
        try:
            chain_id = obj["chainId"]
            gas_limit = obj["gasLimit"]
            ts = obj["genesisTimestamp"]
            validators = obj["validators"]
            allowlist = obj["allowlist"]
            genesis_hash = obj.get("genesisHash")
        except KeyError as exc:
            raise NodeError(f"chain config lacks {exc.args[0]!r}") from exc
        for name, val in (("chainId", chain_id), ("gasLimit", gas_limit), ("genesisTimestamp", ts)):
            if not isinstance(val, int) or isinstance(val, bool) or not 0 < val < 2**63:
                raise NodeError(f"chain config {name} must be a positive integer")
        if not isinstance(validators, list) or not 0 < len(validators) <= MAX_VALIDATORS:
            raise NodeError(f"chain config needs 1 to {MAX_VALIDATORS} validators")
        if not isinstance(allowlist, list) or len(allowlist) > MAX_ALLOWLIST:
            raise NodeError(f"chain config allowlist must be a list of at most {MAX_ALLOWLIST}")
        gh: bytes | None = None
        if genesis_hash is not None:
            if not (isinstance(genesis_hash, str) and len(genesis_hash) == 66):
                raise NodeError("chain config genesisHash must be a 0x-prefixed 32-byte hex")
            gh = bytes.fromhex(genesis_hash[2:])
        raw_alloc = obj.get("alloc", {})
        if not isinstance(raw_alloc, dict) or len(raw_alloc) > MAX_ALLOWLIST:
            raise NodeError("chain config alloc must be an object of address: balance")
        alloc = []
        for addr, bal in raw_alloc.items():
            if not isinstance(bal, str) or not bal.isdigit() or len(bal) > 78:
                raise NodeError(f"chain config alloc balance of {addr} must be a decimal string")
            alloc.append((_address(addr, "alloc account"), int(bal)))
        return cls(
            alloc=tuple(alloc),
            chain_id=chain_id,
            validators=tuple(_address(v, "validator") for v in validators),
            allowlist=tuple(_address(a, "allowlisted account") for a in allowlist),
            gas_limit=gas_limit,
            genesis_timestamp=ts,
            genesis_hash=gh,
        )


def config_path(data_dir: Path) -> Path:
    return data_dir / "chain" / "config.json"


def load_config(data_dir: Path) -> ChainConfig:
    path = config_path(data_dir)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise NodeError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
        return ChainConfig.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise NodeError(f"no chain in {data_dir} (missing {path})") from exc
    except (OSError, ValueError) as exc:
        raise NodeError(f"cannot read {path}: {exc}") from exc


def save_config(data_dir: Path, config: ChainConfig) -> None:
    path = config_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".config.json.tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2) + "\n", encoding="utf-8")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
