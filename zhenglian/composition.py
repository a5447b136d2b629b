"""The composition root: the one place that constructs storage and wires the services.

``zhenglian serve`` assembles a running Zhenglian here (:func:`start_runtime`: chain, embedded
or external; database; blobs; services; the API's :class:`~api.deps.Services`), and the
administrative commands open a data directory's database here (:func:`open_database_of`,
:func:`in_operator_transaction`, :func:`read_from`). Above the services, nothing else imports
:mod:`evidence.store` (an import-linter contract keeps it so): routes and commands are handed
what was built here.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from api.settings import Settings
from evidence.store.blob_store import BlobStore, LocalBlobStore
from evidence.store.database import Database, open_database
from evidence.store.group_commit import commit_with_retry
from evidence.store.repository import bytes_deposited_since
from ledger.errors import LedgerError, NodeError
from zhenglian.common import CERTIFICATE_REGISTRY_DEPLOYMENTS, CUSTODY_DEPLOYMENTS

if TYPE_CHECKING:
    # The administrative commands import this module for the database alone; what only
    # serve needs (web3, FastAPI, py-evm's client side) is imported by start_runtime.
    from sqlalchemy.orm import Session

    from api.deps import Services
    from evidence.formats.signed_note import VerifierKey
    from evidence.formats.trust_bundle import TrustBundle
    from evidence.services.audit import AuditReport
    from evidence.services.certificate_registration import (
        CertificateRegistration,
        PendingCertificateWorker,
    )
    from evidence.services.cosigning import WitnessingPolicy
    from evidence.services.custody_recording import CustodyRecorder
    from evidence.services.deposits import DepositService
    from evidence.services.signature_checking import SignatureChecking
    from evidence.services.time_stamping import HttpTimeStampAuthority
    from evidence.store.findings import Finding
    from ledger.certificate_registry import CertificateRegistryClient
    from ledger.client import LedgerClient
    from zhenglian.chain_process import ChainProcess

log = logging.getLogger(__name__)

T = TypeVar("T")


def open_metadata(settings: Settings) -> Database:
    """The metadata database the settings name (SQLite in the data directory by default),
    migrated to the newest schema."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_database(settings.resolved_database_url())


def open_database_of(data_dir: Path) -> Database:
    """The metadata database of a data directory (migrated), as ``zhenglian serve`` opens it.

    Imports only the database layer, so administrative commands start quickly.
    """
    return open_metadata(Settings(data_dir=data_dir))


def in_operator_transaction(data_dir: Path, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction of a data directory's database and commit it (retried
    while another writer holds the database), as the administrative commands do."""
    return commit_with_retry(open_database_of(data_dir), work)


def read_from(data_dir: Path, read: Callable[[Session], T]) -> T:
    """What ``read`` reads from a data directory's database, in one session."""
    with open_database_of(data_dir).session() as session:
        return read(session)


def _deposited(database: Database) -> Callable[[str, datetime], int]:
    def used(institution: str, since: datetime) -> int:
        with database.session() as session:
            return bytes_deposited_since(session, institution, since)

    return used


def open_blobs(settings: Settings, *, owner: bool = True) -> BlobStore:
    """The blob store the settings name. ``owner`` (serve): clean up after a crash and create
    the bucket if missing; a reader beside a running server (the audit) passes False."""
    if not settings.s3_endpoint:
        return LocalBlobStore(settings.data_dir / "blobs", owner=owner)
    from evidence.store.s3_blob_store import RetentionPolicy, S3BlobStore

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
    if owner:
        store.ensure_bucket(object_lock=retention is not None)
    return store


def audit_data_dir(
    data_dir: Path, *, rpc_url: str | None, originals: bool = True
) -> tuple[AuditReport, list[Finding]]:
    """One integrity sweep of a data directory's database and blobs (and, given ``rpc_url``,
    of its anchors against that node), its findings stored; safe beside a running serve."""
    from evidence.services.audit import Auditor, record_tamper_events, run_audit
    from evidence.services.originals import signature_store

    settings = Settings(data_dir=data_dir)
    database = open_database_of(data_dir)
    try:
        blobs = open_blobs(settings, owner=False) if originals else None
        client = custody_client = None
        if rpc_url:
            client, custody_client = _reading_clients(data_dir, rpc_url)
        auditor = Auditor(
            database,
            blobs,
            client=client,
            custody_client=custody_client,
            signatures=signature_store(blobs, data_dir) if blobs is not None else None,
        )
        return run_audit(auditor, record_tamper=record_tamper_events)
    finally:
        database.dispose()


def log_verifier_key(data_dir: Path) -> str:
    """The verifier key of a data directory's log key, made first if there is none."""
    from evidence.store.log_key import load_or_create_log_key
    from ledger.node.keystore import resolve_passphrase

    data_dir.mkdir(parents=True, exist_ok=True)
    key = load_or_create_log_key(data_dir, resolve_passphrase(data_dir, create=True))
    return key.verifier.to_text()


def _reading_clients(data_dir: Path, rpc_url: str) -> tuple[LedgerClient, LedgerClient]:
    """Read-only clients of the two LogAnchor deployments recorded in a data directory."""
    from eth_account import Account

    from ledger.client import JsonDeploymentStore, LedgerClient

    clients = []
    for name in ("deployments.json", CUSTODY_DEPLOYMENTS):
        client = LedgerClient(rpc_url, bytes(Account.create().key))  # signs nothing
        deployment = JsonDeploymentStore(data_dir / name).load(
            client.chain_id, client.genesis_hash()
        )
        if deployment is None:
            raise NodeError(
                f"{data_dir / name} records no LogAnchor on the chain at {rpc_url} "
                f"(chain {client.chain_id}): another chain, or a reset one"
            )
        client.attach(deployment.address)
        clients.append(client)
    return clients[0], clients[1]


@dataclass(frozen=True)
class Resumed:
    """What ``zhenglian log resume-anchoring`` did to one log."""

    log: str
    retired_contracts: tuple[bytes, ...]
    retired_anchors: int
    log_size: int
    event_leaf_index: int


DEPLOYMENT_FILES = {"documents": "deployments.json", "custody": CUSTODY_DEPLOYMENTS}
"""The file (in the data directory) recording each log's LogAnchor deployment."""


def retired_contracts(data_dir: Path) -> list[dict[str, str]]:
    """The LogAnchor contracts retired in a data directory (for ``GET /v1/chain``)."""
    from ledger.client import JsonDeploymentStore

    out = []
    for name, file in DEPLOYMENT_FILES.items():
        for item in JsonDeploymentStore(data_dir / file).retired():
            out.append(
                {
                    "log": name,
                    "contract": str(item.get("address")),
                    "retired_at": str(item.get("retiredAt")),
                    "reason": str(item.get("reason")),
                }
            )
    return out


PRIVATE_FILES = (
    "zhenglian.sqlite",
    "zhenglian.sqlite-wal",
    "zhenglian.sqlite-shm",
    "zhenglian.sqlite-journal",
    "deployments.json",
    CUSTODY_DEPLOYMENTS,
)
"""Files of a data directory that only the service's user may read (case titles, file names,
participants, token hashes; keys check their own modes when loaded)."""


def make_private(data_dir: Path) -> list[str]:
    """Take group and other permissions away from the data directory, its database files and
    every directory below it (the blob store's included), as the service's umask (077) makes
    new ones; returns what was changed, for a warning at start."""
    changes = []

    def tighten(path: Path, is_dir: bool) -> None:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)
            kind = "directory" if is_dir else "file"
            changes.append(
                f"{kind} {path} was readable by other users (mode {mode:o}); "
                f"made it {mode & 0o700:o}"
            )

    tighten(data_dir, True)
    for name in PRIVATE_FILES:
        with contextlib.suppress(FileNotFoundError):
            tighten(data_dir / name, False)
    for root, dirs, _files in os.walk(data_dir):
        for name in dirs:
            with contextlib.suppress(FileNotFoundError):
                tighten(Path(root) / name, True)
        if len(Path(root).relative_to(data_dir).parts) >= PRIVATE_WALK_DEPTH:
            dirs[:] = []  # the blob store's leaf directories: not their millions of files
    return changes


PRIVATE_WALK_DEPTH = 3
"""Depth below the data directory whose subdirectories :func:`make_private` checks without
listing them (``blobs/sha256/ab`` lists ``cd/``, the directories that hold the originals)."""


def serve_is_running(data_dir: Path) -> bool:
    """True while a serve (its embedded chain) holds the data directory's chain lock."""
    import fcntl

    path = data_dir / "chain" / "LOCK"
    if not path.exists():
        return False
    with path.open("ab") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def resume_anchoring(data_dir: Path, logs: tuple[str, ...], reason: str) -> list[Resumed]:
    """Resume anchoring of ``logs`` in new LogAnchor contracts after a restore, on purpose and
    on the record (serve stopped): per log, move its anchor records to ``retired_anchors``,
    record a custody event ``anchoring_resumed`` (actor ``operator``, the reason and the
    retired contract as its note) in the same transaction, then retire the recorded
    deployment so that the next start deploys a new contract and anchors the whole log in it.
    Running it again after a failure finishes what is left.

    :raises EvidenceError: the database cannot be used or the event not recorded.
    :raises LedgerError: a deployments file cannot be read or written.
    """
    database = open_database_of(data_dir)
    return [_resume_one(database, data_dir, name, reason) for name in logs]


def _resume_one(database: Database, data_dir: Path, name: str, reason: str) -> Resumed:
    from datetime import UTC

    from eth_utils.address import to_checksum_address

    from evidence.formats.custody_event import Actor, CustodyObject
    from evidence.services.anchoring import DOCUMENT_LOG
    from evidence.services.custody_recording import (
        CUSTODY_LOG,
        append_events,
        fit_note,
        new_draft,
    )
    from evidence.store.repository import retire_anchors
    from ledger.client import JsonDeploymentStore

    target = DOCUMENT_LOG if name == "documents" else CUSTODY_LOG
    store = JsonDeploymentStore(data_dir / DEPLOYMENT_FILES[name])
    contracts = tuple(d.address for d in store.current())
    now = datetime.now(UTC)
    retired_text = ", ".join(to_checksum_address(c) for c in contracts) or "none recorded"

    def work(session: Session) -> tuple[int, int, int]:
        moved = retire_anchors(
            session,
            log=name,
            contract=contracts[-1] if contracts else bytes(20),
            now=now,
            table=target.anchors_table,
        )
        size = target.store(session).size()
        note = (
            f"{reason}\nretired LogAnchor {retired_text} ({moved} anchor records); "
            f"the log's {size} entries are anchored afresh in a new contract"
        )
        draft = new_draft(
            "anchoring_resumed", Actor.operator(), CustodyObject.log(name), note=fit_note(note)
        )
        return moved, size, append_events(session, [draft])[0].leaf_index

    moved, size, leaf_index = commit_with_retry(database, work)
    store.retire(reason, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return Resumed(name, contracts, moved, size, leaf_index)


def record_halt(database: Database, log_name: str, reason: str) -> None:
    """Record that anchoring of the ``log_name`` log halted: a custody event
    ``anchoring_halted`` (actor ``system``, the reason as its note), not repeated while the
    reason stays the same. A failure to record it is logged; it never hides the halt."""
    from evidence.errors import EvidenceError
    from evidence.formats.custody_event import Actor
    from evidence.services.custody_recording import record_log_event

    try:
        record_log_event(database, "anchoring_halted", Actor.system(), log_name, reason)
    except EvidenceError as exc:
        log.error("the halt of the %s log could not be recorded: %s", log_name, exc)


@dataclass
class Runtime:
    services: Services
    chain: ChainProcess | None = None

    def close(self) -> None:
        """Stop the workers and the committers, then the chain child (if any)."""
        try:
            if self.services.audit is not None:
                self.services.audit.stop()
            if self.services.cosigner is not None:
                self.services.cosigner.stop()
            if self.services.certificate_worker is not None:
                self.services.certificate_worker.stop()
            self.services.worker.stop()
            if self.services.custody_worker is not None:
                self.services.custody_worker.stop()
            self.services.deposits.close()
            if self.services.custody is not None:
                self.services.custody.close()
        finally:
            if self.chain is not None:
                self.chain.stop()


UNSEALED = "none"
"""``ZHENGLIAN_CHAIN_VALIDATORS`` of an unsealed development node (Hardhat): said explicitly."""


def _require_sealed_by(client: LedgerClient, validators: list[bytes]) -> None:
    """Refuse a node whose latest block is not sealed by ``validators``: receipts anchored
    there would fail verification against them while the API called them sealed."""
    from ledger.anchor_proof import ChainTrust, verify_block_seal
    from ledger.errors import AnchorProofError

    number, header = client.latest_header()
    try:
        verify_block_seal(header, ChainTrust.sealed(client.chain_id, validators))
    except AnchorProofError as exc:
        raise NodeError(
            f"ZHENGLIAN_CHAIN_VALIDATORS names {len(validators)} validators, but block {number} "
            f"of {client.rpc_url} is not sealed by them ({exc}); for an unsealed development "
            f"node set ZHENGLIAN_CHAIN_VALIDATORS={UNSEALED}"
        ) from exc


def _parse_validators(raw: str | None) -> list[bytes]:
    from eth_utils.address import is_hex_address, to_canonical_address

    out = []
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        if not is_hex_address(item):
            raise NodeError(f"ZHENGLIAN_CHAIN_VALIDATORS: not an address: {item!r}")
        out.append(bytes(to_canonical_address(item)))
    return out


def _certificate_registry(
    client: LedgerClient, data_dir: Path, *, admin: str | None = None
) -> CertificateRegistryClient:
    """The CertificateRegistry of this chain, deployed on first start (``admin`` hands its
    roles over; the service's chain account writes) and attached after."""
    from ledger.certificate_registry import CERTIFICATE_REGISTRY, CertificateRegistryClient
    from ledger.client import JsonDeploymentStore

    registry = CertificateRegistryClient(client)
    store = JsonDeploymentStore(
        data_dir / CERTIFICATE_REGISTRY_DEPLOYMENTS, contract=CERTIFICATE_REGISTRY
    )
    registry.ensure_deployed(store, admin=admin)
    return registry


def _certificate_registration(
    database: Database,
    registry: CertificateRegistryClient,
    deposits: DepositService,
    custody: CustodyRecorder,
) -> tuple[CertificateRegistration, PendingCertificateWorker]:
    """E-certificate registration on ``registry``, its signers checked against the PKI root and
    CRL the deposit check reads, and its pending worker (started)."""
    from evidence.services.certificate_registration import (
        CertificateRegistration,
        PendingCertificateWorker,
    )

    checking = deposits.signatures
    if checking is None:  # serve always checks signatures; a bare composition may not
        raise RuntimeError("certificate registration needs the deposit signature checking")
    registration = CertificateRegistration(database, registry, checking.trust, custody=custody)
    worker = PendingCertificateWorker(registration)
    worker.start()
    return registration, worker


TRUST_FILE = "trust.json"
"""The trust bundle serve last published (``GET /v1/trust``), kept in the data directory for
``zhenglian trust export``."""


def _trust_bundle(
    client: LedgerClient,
    *,
    contract: bytes,
    custody_contract: bytes,
    certificate_registry: bytes | None,
    validators: list[bytes],
    sealed: bool,
    log_key: VerifierKey,
    witnessing: WitnessingPolicy,
    time_stamp_roots: tuple[bytes, ...],
) -> TrustBundle:
    """What a verifier of this server's receipts pins: the chain, contracts, anchoring account,
    validators, log key, witnesses and quorum, time-stamp roots."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from eth_utils.address import to_canonical_address

    from evidence.formats.trust_bundle import TrustBundle, Validator

    genesis = client.block_hash(0)
    if genesis is None:
        raise NodeError(f"{client.rpc_url} has no genesis block")
    return TrustBundle(
        chain_id=client.chain_id,
        genesis_hash=genesis,
        documents_contract=contract,
        custody_contract=custody_contract,
        certificate_registry=certificate_registry,
        anchoring_account=bytes(to_canonical_address(client.account.address)),
        sealed=sealed,
        validators=tuple(Validator(v, 0) for v in validators),
        log_key=log_key,
        witnesses=tuple(w.key for w in witnessing.witnesses),
        witness_quorum=witnessing.quorum,
        time_stamp_roots=tuple(
            x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()
            for der in time_stamp_roots
        ),
    )


def export_trust_bundle(data_dir: Path) -> bytes:
    """The trust bundle serve last published for ``data_dir``, checked.

    :raises StorageError: serve has not published one yet, or it does not parse.
    """
    from evidence.errors import StorageError
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle

    path = data_dir / TRUST_FILE
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_TRUST_BUNDLE_BYTES + 1)
    except FileNotFoundError:
        raise StorageError(
            f"{path} does not exist: start `zhenglian serve --data-dir {data_dir}` once, it "
            "publishes the trust bundle there"
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return TrustBundle.from_json_bytes(data).to_json_bytes()


def _signature_checking(settings: Settings, blobs: BlobStore) -> SignatureChecking:
    """Signatures on deposit, checked against DATA_DIR/pki and ZHENGLIAN_TSA_ROOTS, kept in
    the originals' blob store (docs/storage.md)."""
    from evidence.services.originals import signature_store
    from evidence.services.signature_checking import SignatureChecking
    from evidence.services.time_stamping import load_time_stamp_roots

    roots = load_time_stamp_roots(settings.tsa_roots) if settings.tsa_roots else ()
    return SignatureChecking(
        settings.data_dir, signature_store(blobs, settings.data_dir), time_stamp_roots=roots
    )


def _time_stamp_authority(settings: Settings) -> HttpTimeStampAuthority | None:
    """The RFC 3161 authority of ``ZHENGLIAN_TSA_URL`` (its roots from ZHENGLIAN_TSA_ROOTS)."""
    if not settings.tsa_url:
        return None
    from evidence.services.time_stamping import HttpTimeStampAuthority, load_time_stamp_roots

    assert settings.tsa_roots is not None  # the settings require both
    return HttpTimeStampAuthority(settings.tsa_url, load_time_stamp_roots(settings.tsa_roots))


def start_runtime(
    settings: Settings,
    *,
    rpc_host: str = "127.0.0.1",
    rpc_port: int = 8545,
    block_time: float = 1.0,
) -> Runtime:
    """Start the chain (embedded unless ZHENGLIAN_CHAIN_RPC_URL), storage, services and worker.

    The embedded chain is a supervised child process (:class:`ChainProcess`), started and
    answering JSON-RPC before anything else starts; :meth:`Runtime.close` stops it last.
    """
    from eth_utils.address import to_checksum_address

    from api.deps import Services
    from api.ratelimit import ConcurrencyLimit, RateLimiter, UploadQuota
    from evidence.errors import ChainDivergence
    from evidence.services.anchoring import AnchoringWorker, AnchorPolicy
    from evidence.services.audit import Auditor, AuditThread, record_tamper_events, run_audit
    from evidence.services.cosigning import CheckpointCosigner
    from evidence.services.custody_recording import CUSTODY_LOG, CustodyRecorder
    from evidence.services.deposits import DepositService
    from evidence.services.log_signer import LogSigner
    from evidence.services.originals import signature_store
    from evidence.services.receipt_assembly import ReceiptPolicy
    from evidence.store.log_key import load_or_create_log_key
    from evidence.verify.receipt_verifier import IndependenceTrust
    from ledger.anchor_proof import ChainTrust
    from ledger.client import JsonDeploymentStore, LedgerClient
    from ledger.node.keystore import resolve_passphrase, write_private
    from zhenglian.chain_process import ChainProcess

    data_dir: Path = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for change in make_private(data_dir):
        log.warning("%s", change)
    chain: ChainProcess | None = None
    if settings.chain_rpc_url:
        from ledger.node.keystore import PASSPHRASE_ENV, load_key

        passphrase = os.environ.get(PASSPHRASE_ENV)
        missing = []
        if settings.chain_keystore is None:
            missing.append("ZHENGLIAN_CHAIN_KEYSTORE (the anchoring account's keystore file)")
        if not passphrase:
            missing.append(f"{PASSPHRASE_ENV} (the passphrase of that keystore)")
        if not (settings.chain_validators or "").strip():
            missing.append(
                "ZHENGLIAN_CHAIN_VALIDATORS (the validators' addresses, comma-separated; "
                f"'{UNSEALED}' for an unsealed development node such as Hardhat)"
            )
        if missing:
            raise NodeError("with ZHENGLIAN_CHAIN_RPC_URL, set " + "; ".join(missing))
        assert settings.chain_keystore is not None and passphrase
        unsealed = (settings.chain_validators or "").strip().lower() == UNSEALED
        validators = [] if unsealed else _parse_validators(settings.chain_validators)
        key = load_key(settings.chain_keystore, passphrase)
        rpc_url = settings.chain_rpc_url
        client = LedgerClient(rpc_url, key.to_bytes())
        contract = client.ensure_deployed(
            JsonDeploymentStore(data_dir / "deployments.json")
        ).address
        custody_client = client.sibling()
        custody_deployment = custody_client.ensure_deployed(
            JsonDeploymentStore(data_dir / CUSTODY_DEPLOYMENTS)
        )
        registry = _certificate_registry(client, data_dir)
        if validators:
            _require_sealed_by(client, validators)
            trust = ChainTrust.sealed(client.chain_id, validators, contract=contract)
        else:
            log.warning("ZHENGLIAN_CHAIN_VALIDATORS=none: receipts will verify as UNSEALED")
            trust = ChainTrust.unsafe_unsealed(client.chain_id, contract=contract)
    else:
        # The embedded chain runs in its own process (py-evm, chain state and the keystores'
        # scrypt stay out of this one); this process is one JSON-RPC client of it.
        chain = ChainProcess(data_dir, host=rpc_host, port=rpc_port, block_time=block_time)
        handoff = chain.start()
        try:
            rpc_url = handoff.url
            client = LedgerClient(rpc_url, handoff.anchorer_key)
            if client.chain_id != handoff.chain_id:
                raise NodeError(f"{rpc_url} serves chain {client.chain_id}, not the embedded one")
            client.attach(handoff.contract)  # deployed (and recorded) by the chain process
            # The custody log's own LogAnchor, deployed by this process like the documents'
            # one is by the chain process: the same admin (validator) and anchoring account.
            custody_client = client.sibling()
            custody_deployment = custody_client.ensure_deployed(
                JsonDeploymentStore(data_dir / CUSTODY_DEPLOYMENTS),
                admin=to_checksum_address(handoff.validators[0]),
            )
            registry = _certificate_registry(
                client, data_dir, admin=to_checksum_address(handoff.validators[0])
            )
        except BaseException:
            chain.stop()
            raise
        validators = list(handoff.validators)
        contract = handoff.contract
        trust = ChainTrust.sealed(client.chain_id, validators, contract=contract)
    try:
        database = open_metadata(settings)
        blobs = open_blobs(settings)
        worker = AnchoringWorker(
            database,
            client,
            AnchorPolicy(
                batch=settings.anchor_batch,
                interval=settings.anchor_interval,
                in_flight=settings.anchor_in_flight,
            ),
            on_halt=lambda reason: record_halt(database, "documents", reason),
        )
        custody_worker = AnchoringWorker(
            database,
            custody_client,
            AnchorPolicy(batch=settings.anchor_batch, interval=settings.anchor_interval),
            target=CUSTODY_LOG,
            on_halt=lambda reason: record_halt(database, "custody", reason),
        )
        for each in (worker, custody_worker):
            # Refuse to start on a log behind an anchored head or a chain behind recorded
            # heads (ChainDivergence, raised to serve, recorded as a custody event); a node
            # that does not answer yet only delays this to the worker's first step.
            try:
                each.reconcile()
            except LedgerError as exc:
                log.warning("%s log not reconciled with the chain yet: %s", each.target.name, exc)
            except ChainDivergence as exc:
                record_halt(database, each.target.name, str(exc))
                raise
        worker.start()
        custody_worker.start()
        audit = None
        if settings.audit_interval:
            auditor = Auditor(
                database,
                blobs,
                client=client,
                custody_client=custody_client,
                signatures=signature_store(blobs, data_dir),
            )
            audit = AuditThread(
                lambda: run_audit(auditor, record_tamper=record_tamper_events),
                settings.audit_interval,
            )
            audit.start()
        log_key = load_or_create_log_key(data_dir, resolve_passphrase(data_dir, create=True))
        log_signer = LogSigner(log_key)
        witnessing = settings.witnessing_policy()
        time_stamps = _time_stamp_authority(settings)
        cosigner = CheckpointCosigner(database, log_key, witnessing, time_stamps=time_stamps)
        worker.on_confirm = cosigner.poke
        cosigner.start()
        independence = IndependenceTrust(
            log_key.verifier,
            tuple(w.key for w in witnessing.witnesses),
            witnessing.quorum,
            time_stamps.roots if time_stamps is not None else (),
        )
        receipt_policy = ReceiptPolicy(
            tuple(w.key_text for w in witnessing.witnesses),
            witnessing.quorum,
            time_stamped=time_stamps is not None,
        )
        custody = CustodyRecorder(database, on_append=custody_worker.poke)
        deposits = DepositService(
            database,
            blobs,
            max_upload_bytes=settings.max_upload_bytes,
            custody=custody,
            signatures=_signature_checking(settings, blobs),
        )
        certificates, certificate_worker = _certificate_registration(
            database, registry, deposits, custody
        )
        bundle = _trust_bundle(
            client,
            contract=contract,
            custody_contract=custody_deployment.address,
            certificate_registry=registry.address,
            validators=validators,
            sealed=trust.require_seal,
            log_key=log_key.verifier,
            witnessing=witnessing,
            time_stamp_roots=independence.time_stamp_roots,
        )
        write_private(data_dir / TRUST_FILE, bundle.to_json_bytes())
    except BaseException:
        if chain is not None:
            chain.stop()
        raise
    chain_info = {
        "chain_id": client.chain_id,
        "validators": [to_checksum_address(v) for v in validators],
        "contract": to_checksum_address(contract),
        "rpc_url": rpc_url,
        "sealed": trust.require_seal,
        "custody_contract": to_checksum_address(custody_deployment.address),
        "certificate_registry": (
            to_checksum_address(registry.address) if registry.address else None
        ),
        "retired_contracts": retired_contracts(data_dir),
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
        object_event_limits=RateLimiter(
            settings.custody_events_per_object_per_hour / 3600,
            max(1, settings.custody_events_per_object_per_hour // 6),
            what="custody events per document",
        ),
        upload_quota=UploadQuota(settings.upload_quota_bytes_per_day, _deposited(database)),
        anonymous_verifications=ConcurrencyLimit(settings.anonymous_verify_concurrency),
        audit=audit,
        log_signer=log_signer,
        cosigner=cosigner,
        independence=independence,
        receipt_policy=receipt_policy,
        trust_bundle=bundle,
        certificates=certificates,
        certificate_worker=certificate_worker,
    )
    return Runtime(services=services, chain=chain)
