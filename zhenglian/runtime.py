"""Assembling a running Zhenglian: chain (embedded or external), database, blobs, services, API."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from eth_utils.address import is_hex_address, to_canonical_address, to_checksum_address

from api.deps import Services
from api.ratelimit import RateLimiter, UploadQuota
from api.settings import Settings
from evidence.anchoring import AnchoringWorker, AnchorPolicy
from evidence.blobstore import BlobStore, LocalBlobStore
from evidence.custody import CUSTODY_LOG, CustodyRecorder
from evidence.repository import Database, bytes_deposited_since, open_database
from evidence.service import DepositService
from ledger.anchor_proof import ChainTrust
from ledger.client import JsonDeploymentStore, LedgerClient
from ledger.errors import LedgerError, NodeError

log = logging.getLogger(__name__)

CUSTODY_DEPLOYMENTS = "custody-deployments.json"
"""File (in the data directory) recording the custody log's LogAnchor deployment."""


def _deposited(database: Database) -> Callable[[str, datetime], int]:
    def used(institution: str, since: datetime) -> int:
        with database.session() as session:
            return bytes_deposited_since(session, institution, since)

    return used


def open_metadata(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_database(settings.resolved_database_url())
    database.migrate()
    return database


def open_blobs(settings: Settings) -> BlobStore:
    if not settings.s3_endpoint:
        return LocalBlobStore(settings.data_dir / "blobs")
    from evidence.s3store import RetentionPolicy, S3BlobStore

    if settings.s3_access_key is None or settings.s3_secret_key is None:
        raise NodeError("ZHENGLIAN_S3_ACCESS_KEY and ZHENGLIAN_S3_SECRET_KEY are required with S3")
    retention = None
    if settings.s3_retention_days or settings.s3_legal_hold:
        retention = RetentionPolicy(
            days=settings.s3_retention_days, legal_hold=settings.s3_legal_hold
        )
    store = S3BlobStore(
        settings.s3_endpoint,
        settings.s3_access_key.get_secret_value(),
        settings.s3_secret_key.get_secret_value(),
        settings.s3_bucket,
        secure=settings.s3_secure,
        region=settings.s3_region,
        retention=retention,
    )
    store.ensure_bucket(object_lock=retention is not None)
    return store


@dataclass
class Runtime:
    services: Services
    node: Any = None
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        self.services.worker.stop()
        if self.services.custody_worker is not None:
            self.services.custody_worker.stop()
        self.services.deposits.close()
        if self.services.custody is not None:
            self.services.custody.close()
        if self.node is not None:
            self.node.close()


def _parse_validators(raw: str | None) -> list[bytes]:
    out = []
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        if not is_hex_address(item):
            raise NodeError(f"ZHENGLIAN_CHAIN_VALIDATORS: not an address: {item!r}")
        out.append(bytes(to_canonical_address(item)))
    return out


def start_runtime(
    settings: Settings,
    *,
    rpc_host: str = "127.0.0.1",
    rpc_port: int = 8545,
    block_time: float = 1.0,
) -> Runtime:
    """Start the chain (embedded unless ZHENGLIAN_CHAIN_RPC_URL), storage, services and worker."""
    data_dir: Path = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    node = None
    if settings.chain_rpc_url:
        from ledger.node.keystore import PASSPHRASE_ENV, load_key

        if settings.chain_keystore is None:
            raise NodeError("ZHENGLIAN_CHAIN_KEYSTORE is required with ZHENGLIAN_CHAIN_RPC_URL")
        passphrase = os.environ.get(PASSPHRASE_ENV)
        if not passphrase:
            raise NodeError(f"{PASSPHRASE_ENV} is required to unlock {settings.chain_keystore}")
        key = load_key(settings.chain_keystore, passphrase)
        rpc_url = settings.chain_rpc_url
        client = LedgerClient(rpc_url, key.to_bytes())
        deployment = client.ensure_deployed(JsonDeploymentStore(data_dir / "deployments.json"))
        custody_client = client.sibling()
        custody_deployment = custody_client.ensure_deployed(
            JsonDeploymentStore(data_dir / CUSTODY_DEPLOYMENTS)
        )
        validators = _parse_validators(settings.chain_validators)
        if validators:
            trust = ChainTrust.sealed(client.chain_id, validators, contract=deployment.address)
        else:
            log.warning("no ZHENGLIAN_CHAIN_VALIDATORS: receipts will verify as UNSEALED")
            trust = ChainTrust.unsafe_unsealed(client.chain_id, contract=deployment.address)
    else:
        from ledger.node.server import ANCHORER_KEY, VALIDATOR_KEY, EmbeddedNode, load_node_key

        node = EmbeddedNode(data_dir, block_time=block_time)
        try:
            running = node.start(rpc_host, rpc_port)
            rpc_url = running.url
            anchorer = load_node_key(data_dir, ANCHORER_KEY)
            validator = load_node_key(data_dir, VALIDATOR_KEY)
            client = LedgerClient(rpc_url, anchorer.to_bytes())
            deployment = client.ensure_deployed(
                JsonDeploymentStore(data_dir / "deployments.json"),
                admin=validator.public_key.to_checksum_address(),
                anchorer=anchorer.public_key.to_checksum_address(),
            )
            custody_client = client.sibling()
            custody_deployment = custody_client.ensure_deployed(
                JsonDeploymentStore(data_dir / CUSTODY_DEPLOYMENTS),
                admin=validator.public_key.to_checksum_address(),
                anchorer=anchorer.public_key.to_checksum_address(),
            )
        except BaseException:
            node.close()
            raise
        validators = list(node.chain.validators)
        trust = ChainTrust.sealed(client.chain_id, validators, contract=deployment.address)
    try:
        database = open_metadata(settings)
        blobs = open_blobs(settings)
        deposits = DepositService(database, blobs, max_upload_bytes=settings.max_upload_bytes)
        worker = AnchoringWorker(
            database,
            client,
            AnchorPolicy(batch=settings.anchor_batch, interval=settings.anchor_interval),
        )
        worker.start()
        custody_worker = AnchoringWorker(
            database,
            custody_client,
            AnchorPolicy(batch=settings.anchor_batch, interval=settings.anchor_interval),
            target=CUSTODY_LOG,
        )
        custody_worker.start()
        custody = CustodyRecorder(database, on_append=custody_worker.poke)
    except (LedgerError, Exception):
        if node is not None:
            node.close()
        raise
    chain_info = {
        "chain_id": client.chain_id,
        "validators": [to_checksum_address(v) for v in validators],
        "contract": to_checksum_address(deployment.address),
        "rpc_url": rpc_url,
        "sealed": trust.require_seal,
        "custody_contract": to_checksum_address(custody_deployment.address),
    }
    services = Services(
        settings=settings,
        database=database,
        blobs=blobs,
        deposits=deposits,
        worker=worker,
        client=client,
        trust=trust,
        chain_info=chain_info,
        custody=custody,
        custody_worker=custody_worker,
        custody_trust=replace(trust, contract=custody_deployment.address),
        token_limits=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        public_limits=RateLimiter(
            settings.public_rate_limit_per_s, settings.public_rate_limit_burst
        ),
        upload_quota=UploadQuota(settings.upload_quota_bytes_per_day, _deposited(database)),
    )
    return Runtime(services=services, node=node)
