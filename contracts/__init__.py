"""Committed contract artifacts (ABI + bytecode), produced by ``node contracts/build.js``.

This module only reads ``contracts/build/<Name>.json``: it imports no web3 and compiles nothing.
The artifacts are checked against a fresh compilation by ``node contracts/build.js --check``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

__all__ = [
    "ArtifactNotFoundError",
    "ContractArtifact",
    "ContractsError",
    "MalformedArtifactError",
    "load_artifact",
]

#: Contract names are Solidity identifiers; anything else (paths, dots) is refused.
_NAME_PATTERN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

#: Largest artifact file read, in bytes (the LogAnchor artifact is about 35 kB).
MAX_ARTIFACT_BYTES = 4 * 1024 * 1024

_HEX_PATTERN = re.compile(r"0x(?:[0-9a-f]{2})+")


class ContractsError(Exception):
    """Root of every error raised by the ``contracts`` package."""


class ArtifactNotFoundError(ContractsError):
    """No artifact of that name is committed under ``contracts/build``."""


class MalformedArtifactError(ContractsError):
    """An artifact file is not the JSON that ``contracts/build.js`` writes."""


@dataclass(frozen=True)
class ContractArtifact:
    """A compiled contract: its ABI, creation and runtime bytecode, and the compiler used.

    ``abi`` holds the ABI entries as parsed from JSON (what web3 expects); treat them as
    read-only. They take no part in the hash, which the bytecode already determines.
    """

    name: str
    abi: tuple[Mapping[str, Any], ...] = field(hash=False)
    bytecode: bytes
    deployed_bytecode: bytes
    compiler_version: str

    @classmethod
    def from_json(cls, text: str | bytes, *, name: str) -> ContractArtifact:
        """Parse an artifact written by ``contracts/build.js`` for contract ``name``."""
        try:
            document = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedArtifactError(f"artifact {name}: not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise MalformedArtifactError(f"artifact {name}: top level is not an object")
        if document.get("contractName") != name:
            raise MalformedArtifactError(
                f"artifact {name}: contractName is {document.get('contractName')!r}"
            )
        abi = document.get("abi")
        if not isinstance(abi, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("type"), str) for entry in abi
        ):
            raise MalformedArtifactError(f"artifact {name}: abi is not a list of ABI entries")
        compiler = document.get("compiler")
        version = compiler.get("version") if isinstance(compiler, dict) else None
        if not isinstance(version, str) or not version:
            raise MalformedArtifactError(f"artifact {name}: compiler.version is missing")
        return cls(
            name=name,
            abi=tuple(abi),
            bytecode=_parse_code(document.get("bytecode"), name=name, field="bytecode"),
            deployed_bytecode=_parse_code(
                document.get("deployedBytecode"), name=name, field="deployedBytecode"
            ),
            compiler_version=version,
        )


def load_artifact(name: str) -> ContractArtifact:
    """Load the committed artifact ``contracts/build/<name>.json``, e.g. ``"LogAnchor"``."""
    if not _NAME_PATTERN.fullmatch(name):
        raise ArtifactNotFoundError(f"{name!r} is not a contract name")
    resource = resources.files(__name__).joinpath("build", f"{name}.json")
    try:
        with resource.open("rb") as stream:
            raw = stream.read(MAX_ARTIFACT_BYTES + 1)
    except FileNotFoundError as exc:
        raise ArtifactNotFoundError(
            f"no artifact contracts/build/{name}.json (run `node contracts/build.js`)"
        ) from exc
    except OSError as exc:
        raise ContractsError(f"cannot read contracts/build/{name}.json: {exc}") from exc
    if len(raw) > MAX_ARTIFACT_BYTES:
        raise MalformedArtifactError(f"artifact {name}: larger than {MAX_ARTIFACT_BYTES} bytes")
    return ContractArtifact.from_json(raw, name=name)


def _parse_code(value: object, *, name: str, field: str) -> bytes:
    # Unlinked library placeholders (__$...$__) are not hex, so they are refused here too.
    if not isinstance(value, str) or not _HEX_PATTERN.fullmatch(value):
        raise MalformedArtifactError(f"artifact {name}: {field} is not non-empty 0x-hex")
    return bytes.fromhex(value[2:])
