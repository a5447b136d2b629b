"""The client of the CertificateRegistry: issue, revoke and supersede e-certificates on chain,
read their status and history, deploy or attach the contract (docs/certificate-registry.md).

It is a :class:`~ledger.client.LedgerClient` of the registry's artifact, made with
``client.sibling("CertificateRegistry")`` so that it shares the node, the account and the
nonces of the anchoring clients (all three send from the service's one chain account). Every
change is first run with eth_call: a change the contract refuses is reported as a
:class:`~ledger.errors.StatusChangeRefused` subclass naming the rule, and never sent. Then it
is sent with a fixed gas limit (a bound over the measured cost, like anchors) and waited for.

Certificates are named by their key: SHA-256 of the identifier's UTF-8 bytes (computed by
``certs.formats.status_statement.certificate_key``; ``ledger`` does not import ``certs``). The
institution's signature is opaque here: the service checks it before calling, a verifier
after reading it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError

from ledger.anchor_proof import AnchorProof
from ledger.certificate_status import (
    ISSUER_CODE_BYTES,
    MAX_SIGNATURE_BYTES,
    STATUS_EVENT_TOPICS,
    CertificateState,
    StatusEvent,
    StatusProof,
    StatusRecord,
    decode_status_event,
)
from ledger.client import (
    MALFORMED_ANSWER_ERRORS,
    Deployment,
    DeploymentStore,
    LedgerClient,
    _hash32,
)
from ledger.errors import (
    CertificateAlreadyRegistered,
    CertificateNotRegistered,
    CertificateStatusFinal,
    ClientError,
    ContractError,
    InvalidStatusChange,
    MalformedStatusEventError,
    NodeDataError,
    RegistrarNotAuthorized,
    StatusChangeRefused,
    SuccessorNotIssued,
)
from ledger.proof_collector import collect_anchor_proof

__all__ = [
    "CERTIFICATE_REGISTRY",
    "ISSUE_GAS",
    "REVOKE_GAS",
    "SUPERSEDE_GAS",
    "CertificateRegistryClient",
    "StatusChange",
    "StatusHistoryEntry",
]

log = logging.getLogger(__name__)

CERTIFICATE_REGISTRY: Final = "CertificateRegistry"
"""The contract's name (artifact, deployment store key)."""

#: Gas limits of the changes: bounds over the measured cost with a 512-byte signature, the
#: longest the contract takes (72-byte signatures, docs/certificate-registry.md: issue 97.6k,
#: revoke 41.0k, supersede 65.0k).
ISSUE_GAS: Final = 150_000
REVOKE_GAS: Final = 90_000
SUPERSEDE_GAS: Final = 110_000

REGISTRAR_ROLE: Final = keccak(text="REGISTRAR_ROLE")

#: The contract's custom errors, by the typed error a refusal raises.
_RULES: Final[dict[str, type[StatusChangeRefused]]] = {
    "AlreadyRegistered": CertificateAlreadyRegistered,
    "UnknownCertificate": CertificateNotRegistered,
    "StatusIsFinal": CertificateStatusFinal,
    "SuccessorNotIssued": SuccessorNotIssued,
    "SelfSuccessor": SuccessorNotIssued,
    "AccessControlUnauthorizedAccount": RegistrarNotAuthorized,
}


#: What reading a change's receipt may raise on a malformed answer.
_RECEIPT_ERRORS: Final[tuple[type[Exception], ...]] = (
    MalformedStatusEventError,
    *MALFORMED_ANSWER_ERRORS,
)


@dataclass(frozen=True)
class StatusChange:
    """Where a status change landed on chain."""

    key: bytes
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    log_index: int
    event: StatusEvent


@dataclass(frozen=True)
class StatusHistoryEntry:
    """One change of a certificate's history, read back from the chain's logs."""

    event: StatusEvent
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    log_index: int


class CertificateRegistryClient:
    """Issue, revoke, supersede and read certificates in one CertificateRegistry."""

    def __init__(self, client: LedgerClient) -> None:
        """``client``: any client of the node and account (its nonces are shared)."""
        self.client = client.sibling(CERTIFICATE_REGISTRY)
        self._abi = self.client.artifact.abi

    @property
    def address(self) -> bytes | None:
        return self.client.contract_address

    @property
    def chain_id(self) -> int:
        return self.client.chain_id

    # --- deployment -----------------------------------------------------------------------

    def attach(self, address: bytes | str) -> None:
        self.client.attach(address)

    def deploy(
        self, *, admin: bytes | str | None = None, registrar: bytes | str | None = None
    ) -> Deployment:
        """Deploy a registry: ``admin`` (default: this account) hands roles over,
        ``registrar`` (default: this account) writes."""
        return self.client.deploy(admin=admin, anchorer=registrar)

    def ensure_deployed(
        self, store: DeploymentStore, *, admin: bytes | str | None = None
    ) -> Deployment:
        """Attach to the recorded registry of this chain, or deploy and record one (this
        account is the registrar)."""
        return self.client.ensure_deployed(store, admin=admin)

    def is_registrar(self, account: bytes | str) -> bool:
        contract = self.client._contract()
        address = to_checksum_address(account)
        return self.client._rpc(
            "hasRole", lambda: bool(contract.functions.hasRole(REGISTRAR_ROLE, address).call())
        )

    # --- changes --------------------------------------------------------------------------

    def issue(
        self, key: bytes, issuer_code: str, certificate_hash: bytes, signature: bytes
    ) -> StatusChange:
        """Register ``key`` as issued by ``issuer_code`` (its 统一社会信用代码) with the
        institution's ``signature`` over the issue statement; wait for the block.

        :raises StatusChangeRefused: a subclass naming the rule (e.g.
            :class:`CertificateAlreadyRegistered`); nothing was sent.
        """
        _check_key(key, "certificate key")
        _check_key(certificate_hash, "certificate hash")
        code = issuer_code.encode("ascii", errors="replace")
        if len(code) != ISSUER_CODE_BYTES or not code.isalnum():
            raise InvalidStatusChange(
                f"issuer code {issuer_code!r} is not 18 ASCII letters and digits",
                rule="IssuerCode",
            )
        _check_signature(signature)
        return self._change(
            "issue", [key, code, certificate_hash, signature], key, f"issue 0x{key.hex()}"
        )

    def revoke(
        self, key: bytes, reason_code: int, effective_time: int, signature: bytes
    ) -> StatusChange:
        """Revoke the issued certificate ``key`` for ``reason_code`` (RFC 5280 CRLReason: 0,
        1, 2, 3, 5 or 9) from ``effective_time`` (Unix seconds); wait for the block.

        :raises StatusChangeRefused: a subclass naming the rule; nothing was sent.
        """
        _check_key(key, "certificate key")
        if not 0 <= reason_code <= 255 or not 0 < effective_time < 2**64:
            raise InvalidStatusChange(
                f"reason {reason_code} or effective time {effective_time} out of range",
                rule="Range",
            )
        _check_signature(signature)
        return self._change(
            "revoke",
            [key, reason_code, effective_time, signature],
            key,
            f"revoke 0x{key.hex()}",
        )

    def supersede(self, key: bytes, successor: bytes, signature: bytes) -> StatusChange:
        """Mark the issued certificate ``key`` as replaced by the issued ``successor``; wait
        for the block.

        :raises StatusChangeRefused: a subclass naming the rule; nothing was sent.
        """
        _check_key(key, "certificate key")
        _check_key(successor, "successor key")
        _check_signature(signature)
        return self._change(
            "supersede", [key, successor, signature], key, f"supersede 0x{key.hex()}"
        )

    def _change(self, function: str, args: list[Any], key: bytes, what: str) -> StatusChange:
        client = self.client
        contract = client._contract()
        data = HexBytes(contract.encode_abi(function, args=args))
        assert client.contract_address is not None
        to = to_checksum_address(client.contract_address)
        call = {"from": client.account.address, "to": to, "data": data}

        def simulate() -> None:
            try:
                client.w3.eth.call(call)  # type: ignore[arg-type]
            except ContractLogicError as exc:
                raise self._refusal(what, exc.data) from exc

        client._rpc(what, simulate)
        gas = {"issue": ISSUE_GAS, "revoke": REVOKE_GAS, "supersede": SUPERSEDE_GAS}[function]
        tx_hash = client.send(client.contract_address, data, what, gas=gas)
        receipt = client.wait_for_receipt(tx_hash, what)
        try:
            for entry in receipt["logs"]:
                topics = tuple(bytes(t) for t in entry["topics"])
                if (
                    bytes(HexBytes(entry["address"])) == client.contract_address
                    and topics
                    and topics[0] in STATUS_EVENT_TOPICS
                ):
                    event = decode_status_event(topics, bytes(entry["data"]))
                    return StatusChange(
                        key=key,
                        tx_hash=tx_hash,
                        block_number=int(receipt["blockNumber"]),
                        block_hash=_hash32(receipt["blockHash"]),
                        log_index=int(entry["logIndex"]),
                        event=event,
                    )
        except _RECEIPT_ERRORS as exc:
            raise NodeDataError(f"{what}: malformed receipt: {exc}") from exc
        raise ContractError(f"{what}: transaction 0x{tx_hash.hex()} emitted no status event")

    def _refusal(self, what: str, data: Any) -> StatusChangeRefused:
        """The typed refusal for the revert data of the registry's custom error."""
        message = f"{what}: {self.client._decode_revert(data)}"
        if isinstance(data, dict):  # Hardhat nests the revert data
            data = data.get("data")
        try:
            raw = bytes(HexBytes(data)) if data else b""
        except (TypeError, ValueError):
            raw = b""
        selector = self.client._errors.get(raw[:4]) if len(raw) >= 4 else None
        if selector is None:
            return StatusChangeRefused(message, rule="unknown")
        name, types = selector
        try:
            values = tuple(abi_decode(types, raw[4:]))
        except Exception:
            values = ()
        return _RULES.get(name, InvalidStatusChange)(message, rule=name, values=values)

    # --- reading --------------------------------------------------------------------------

    def status_of(self, key: bytes) -> StatusRecord:
        """Everything the registry stores about ``key`` (state NONE if never issued)."""
        _check_key(key, "certificate key")
        contract = self.client._contract()

        def read() -> StatusRecord:
            raw = contract.functions.statusOf(key).call()
            return StatusRecord(
                key=key,
                state=CertificateState(int(raw[0])),
                reason_code=int(raw[1]),
                issuer_code=bytes(raw[2]),
                effective_time=int(raw[3]),
                certificate_hash=bytes(raw[4]),
                successor=bytes(raw[5]),
                issued_at=int(raw[6]),
                issued_block=int(raw[7]),
                changed_at=int(raw[8]),
                changed_block=int(raw[9]),
            )

        return self.client._rpc(f"statusOf 0x{key.hex()}", read)

    def history(self, key: bytes) -> list[StatusHistoryEntry]:
        """The changes of ``key``, oldest first, with the institution's signatures, read from
        the events in the two blocks ``statusOf`` names (so it needs no scan of the chain).

        :raises NodeDataError: the node lacks an event the status says is there.
        """
        status = self.status_of(key)
        if status.state is CertificateState.NONE:
            return []
        blocks = [status.issued_block]
        if status.state is not CertificateState.ISSUED:
            blocks.append(status.changed_block)
        entries: list[StatusHistoryEntry] = []
        for number in sorted(set(blocks)):
            entries += self._events_in(key, number)
        expected = len(blocks)
        if len(entries) != expected:
            raise NodeDataError(
                f"history of 0x{key.hex()}: {len(entries)} events in blocks {blocks}, "
                f"the status says {expected}"
            )
        return entries

    def _events_in(self, key: bytes, number: int) -> list[StatusHistoryEntry]:
        assert self.client.contract_address is not None
        address = to_checksum_address(self.client.contract_address)
        query = {
            "address": address,
            "topics": [["0x" + t.hex() for t in STATUS_EVENT_TOPICS], "0x" + key.hex()],
            "fromBlock": number,
            "toBlock": number,
        }

        def read() -> list[StatusHistoryEntry]:
            out = []
            for entry in self.client.w3.eth.get_logs(query):  # type: ignore[arg-type]
                topics = tuple(bytes(t) for t in entry["topics"])
                try:
                    event = decode_status_event(topics, bytes(entry["data"]))
                except MalformedStatusEventError as exc:
                    raise NodeDataError(f"block {number}: {exc}") from exc
                out.append(
                    StatusHistoryEntry(
                        event=event,
                        tx_hash=_hash32(entry["transactionHash"]),
                        block_number=int(entry["blockNumber"]),
                        block_hash=_hash32(entry["blockHash"]),
                        log_index=int(entry["logIndex"]),
                    )
                )
            return sorted(out, key=lambda e: (e.block_number, e.log_index))

        return self.client._rpc(f"eth_getLogs of 0x{key.hex()} in block {number}", read)

    def status_proof(self, key: bytes, tx_hash: bytes) -> StatusProof:
        """The offline proof of the status change of ``key`` made by transaction ``tx_hash``:
        its block header, receipt proof and the transaction (see
        :func:`ledger.certificate_status.verify_status_proof`)."""
        if self.client.contract_address is None:
            raise ContractError(f"{CERTIFICATE_REGISTRY} is not deployed or attached yet")
        if len(tx_hash) != 32:
            raise ClientError(f"not a transaction hash: 0x{tx_hash.hex()}")
        _check_key(key, "certificate key")
        contract = self.client.contract_address
        chain_id = self.chain_id

        def collect() -> AnchorProof:
            return collect_anchor_proof(
                self.client.w3,
                tx_hash,
                contract=contract,
                with_transaction=True,
                chain_id=chain_id,
                event_topics=tuple(STATUS_EVENT_TOPICS),
            )

        proof = self.client._rpc(f"status proof of 0x{tx_hash.hex()}", collect)
        return StatusProof(key, proof)


def _check_key(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise InvalidStatusChange(f"the {what} is not 32 bytes", rule="KeyLength")


def _check_signature(signature: bytes) -> None:
    if not isinstance(signature, bytes) or not 0 < len(signature) <= MAX_SIGNATURE_BYTES:
        length = len(signature) if isinstance(signature, bytes) else None
        raise InvalidStatusChange(
            f"a signature of {length} bytes (1 to {MAX_SIGNATURE_BYTES})",
            rule="SignatureLength",
            values=(length, MAX_SIGNATURE_BYTES),
        )
