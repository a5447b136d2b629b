"""Registering e-certificates (电子证照) and changing their status on the chain.

An issuing institution signs its certificate (``zhenglian certificate issue``) and a status
statement for each change (``certs.formats.status_statement``); this service checks both, who
asks, and writes the change to the chain's ``CertificateRegistry`` through the service's chain
account (``ledger.certificate_registry``). docs/e-certificates.md §8 is this module in prose.

**Never acknowledge a status the chain does not hold.** Each change is recorded first as
*pending* (a registration as a row of status ``pending``, which also reserves its identifier and
number; a revocation or supersession as the row's ``change_*`` fields), committed, then sent to
the chain; only when the chain's transaction is mined is the row marked done, together with the
change's custody event, in one transaction. If the node is down in between, the caller gets a
:class:`CertificatePending` (HTTP 503: retry) and the row stays pending: a retry of the same
request, or :meth:`CertificateRegistration.complete_pending` (run by
:class:`PendingCertificateWorker`), completes it from what was stored — the issuer's signature
over the statement is kept, so nothing needs the caller again. A change the chain refuses is
forgotten (the row deleted, or its change cleared). A change the chain already holds (sent,
then the node went down before the receipt) is recognised from ``statusOf`` and adopted, never
sent twice. Readers see ``pending`` until then, never a status the chain lacks.

Who may register and change what is the policy table (``certificate.register``,
``certificate.revoke``, ``certificate.read``; evidence/access/policy.py): the certificate's
issuer is the caller's institution (its name and type), and a 律师执业证 only through the
bureau's ``bureau_registrar`` role. A refusal leaves the chain untouched.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import CertsInputError, StatusSignatureError
from certs.formats.institution_profile import certified_key_algorithm, load_certificate
from certs.formats.status_statement import (
    CertificateRevocationReason,
    StatusStatement,
    certificate_key,
)
from certs.sm2.engine import SM2Engine
from certs.verify.status_signature import check_status_signature
from evidence.access.enforcement import Principal, authorize
from evidence.access.policy import Action, Relation, decide
from evidence.errors import Conflict, DuplicateRecord, EvidenceError, InputError, NotFound
from evidence.formats.custody_event import Actor, CustodyObject
from evidence.formats.e_certificate import ECertificate, ECertificateError
from evidence.services.custody_recording import (
    CustodyRecorder,
    append_events,
    fit_note,
    new_draft,
)
from evidence.store.database import Database
from evidence.store.repository import (
    CertificateRecord,
    CertificateStatus,
    NewCertificate,
    add_certificates,
    certificate_pdf,
    confirm_certificate_change,
    confirm_certificate_issue,
    discard_certificate_change,
    discard_pending_certificate,
    find_certificate_by_number,
    get_certificate,
    pending_certificate_count,
    pending_certificates,
    request_certificate_change,
)
from evidence.verify.document_signature import (
    SignatureRefused,
    SignatureTrust,
    check_signer_certificate,
)
from evidence.verify.e_certificate_signature import (
    ECertificateSignatureError,
    verify_e_certificate_signature,
)
from evidence.verify.verification_report import VerificationReport, certificate_report
from ledger.certificate_registry import CertificateRegistryClient, StatusChange
from ledger.certificate_status import CertificateState, StatusEvent, StatusRecord
from ledger.certificate_status import StatusAction as StatusEventAction
from ledger.errors import (
    CertificateAlreadyRegistered,
    CertificateNotRegistered,
    CertificateStatusFinal,
    LedgerError,
    RegistrarNotAuthorized,
    StatusChangeRefused,
    SuccessorNotIssued,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "MAX_CLOCK_SKEW_SECONDS",
    "PENDING_RETRY_SECONDS",
    "CertificatePending",
    "CertificateRefused",
    "CertificateRegistration",
    "NumberTaken",
    "PendingCertificateWorker",
    "RegisteredCertificate",
    "StatusConflict",
]

log = logging.getLogger(__name__)

MAX_CLOCK_SKEW_SECONDS: Final = 60
"""How far a revocation's effective time may lie past the server's clock (the issuer's clock
may run ahead a little); anything later is "in the future" and refused."""

PENDING_RETRY_SECONDS: Final = 15.0
"""How often :class:`PendingCertificateWorker` retries changes the chain does not hold yet."""


class CertificateRefused(InputError):
    """The request does not hold (HTTP 422): ``check`` names what failed — ``certificate`` (the
    message names the field), ``signature``, ``signer-certificate``, ``status-signature``,
    ``reason``, ``effective-time``, ``successor`` or ``chain`` (the registry refused)."""

    def __init__(self, check: str, message: str) -> None:
        self.check = check
        super().__init__(f"{check}: {message}")


class NumberTaken(Conflict):
    """The identifier, or the issuer's (type, number), is registered already (HTTP 409);
    ``existing`` is the registered identifier."""

    def __init__(self, existing: str, message: str) -> None:
        self.existing = existing
        super().__init__(message)


class StatusConflict(Conflict):
    """The status does not allow the change (already revoked or superseded, or another change
    pending): HTTP 409."""


class CertificatePending(EvidenceError):
    """The change is recorded but the chain does not hold it yet (the node did not answer):
    nothing is acknowledged; it completes on a retry or by the pending worker (HTTP 503)."""

    def __init__(self, identifier: str, cause: Exception) -> None:
        self.identifier = identifier
        super().__init__(
            f"{identifier}: recorded as pending, the chain does not hold it yet ({cause}); "
            "retry the same request, or wait: it is completed in the background"
        )


@dataclass(frozen=True)
class RegisteredCertificate:
    """A stored certificate, decoded, with the statements its signatures are over."""

    record: CertificateRecord
    certificate: ECertificate
    issue_statement: bytes
    """The issue status statement the issuer signed (``record.issue_signature``)."""
    change_statement: bytes | None
    """The revoke/supersede statement the issuer signed (``record.change_signature``)."""
    chain_id: int
    registry: bytes


def _relation(principal: Principal, issuer_name: str, issuer_type: str) -> Relation:
    """``own`` when the certificate's issuer is the caller's institution (name and type)."""
    if principal.institution == issuer_name and principal.institution_type == issuer_type:
        return Relation.OWN
    return Relation.OTHER


def _actor(principal: Principal) -> Actor:
    return Actor(principal.role, principal.token_id, principal.institution)


def _chain_refusal(identifier: str, exc: StatusChangeRefused) -> EvidenceError:
    """The registry's typed refusal as the service's error: an unknown certificate 404
    (``CertificateNotRegistered``), a registered or final one 409
    (``CertificateAlreadyRegistered``, ``CertificateStatusFinal``), a successor not issued 422
    ``successor``, anything else (``InvalidStatusChange``) 422 ``chain``."""
    if isinstance(exc, CertificateNotRegistered):
        return NotFound(f"{identifier} is not registered on the chain: {exc}")
    if isinstance(exc, CertificateAlreadyRegistered):
        return NumberTaken(identifier, f"{identifier} is registered on the chain already")
    if isinstance(exc, CertificateStatusFinal):
        return StatusConflict(f"{identifier} is final on the chain already")
    if isinstance(exc, SuccessorNotIssued):
        return CertificateRefused("successor", f"the registry refused: {exc}")
    return CertificateRefused("chain", f"the registry refused: {exc}")


def recorded_status(record: CertificateRecord) -> StatusRecord | None:
    """The registry's record of ``record`` as the service recorded the mined transactions
    (the layout ``statusOf`` returns); None when the record cannot say it exactly: the issue
    or a change pending, or a block time not recorded."""
    if record.issue_pending or record.change_pending:
        return None
    if record.issue_block is None or record.issue_block_time is None:
        return None
    state, reason, effective, successor = CertificateState.ISSUED, 0, 0, bytes(32)
    changed_at = changed_block = 0
    if record.status in (CertificateStatus.REVOKED, CertificateStatus.SUPERSEDED):
        if record.change_block is None or record.change_block_time is None:
            return None
        changed_at, changed_block = record.change_block_time, record.change_block
        if record.status is CertificateStatus.REVOKED:
            if record.change_reason is None or record.change_effective_at is None:
                return None
            state, reason = CertificateState.REVOKED, record.change_reason
            effective = int(record.change_effective_at.timestamp())
        else:
            if record.change_successor is None:
                return None
            state = CertificateState.SUPERSEDED
            successor = certificate_key(record.change_successor)
    return StatusRecord(
        key=certificate_key(record.id),
        state=state,
        reason_code=reason,
        issuer_code=record.issuer_code.encode("ascii"),
        effective_time=effective,
        certificate_hash=record.certificate_sha256,
        successor=successor,
        issued_at=record.issue_block_time,
        issued_block=record.issue_block,
        changed_at=changed_at,
        changed_block=changed_block,
    )


def recorded_events(record: CertificateRecord, registrar: bytes) -> list[StatusEvent]:
    """The registry's events for ``record`` as the service recorded the mined transactions:
    the issue, and the change when there is one (call with a status :func:`recorded_status`
    could say: nothing pending). ``registrar``: the service's account, which sent them."""
    key = certificate_key(record.id)
    events = [
        StatusEvent(
            action=StatusEventAction.ISSUE,
            key=key,
            signature=record.issue_signature,
            registrar=registrar,
            issuer_code=record.issuer_code.encode("ascii"),
            certificate_hash=record.certificate_sha256,
        )
    ]
    if record.change_signature is not None and record.status is CertificateStatus.REVOKED:
        assert record.change_reason is not None and record.change_effective_at is not None
        events.append(
            StatusEvent(
                action=StatusEventAction.REVOKE,
                key=key,
                signature=record.change_signature,
                registrar=registrar,
                reason_code=record.change_reason,
                effective_time=int(record.change_effective_at.timestamp()),
            )
        )
    elif record.change_signature is not None and record.status is CertificateStatus.SUPERSEDED:
        assert record.change_successor is not None
        events.append(
            StatusEvent(
                action=StatusEventAction.SUPERSEDE,
                key=key,
                signature=record.change_signature,
                registrar=registrar,
                successor=certificate_key(record.change_successor),
            )
        )
    return events


def _certifies_sm2(certificate: x509.Certificate) -> bool:
    try:
        return certified_key_algorithm(certificate) == "sm2"
    except CertsInputError:
        return False


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


class CertificateRegistration:
    """Registers certificates and changes their status, checked, on the chain and in the
    database (see the module's docstring)."""

    def __init__(
        self,
        database: Database,
        registry: CertificateRegistryClient,
        trust: Callable[[], SignatureTrust],
        *,
        custody: CustodyRecorder | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``trust``: the PKI root and current CRL as served (the deposit check's source,
        ``SignatureChecking.trust``)."""
        self.database = database
        self.registry = registry
        self._trust = trust
        self._custody = custody
        self._clock = clock
        self._lock = threading.Lock()  # one chain write of this service at a time

    # --- statements ---------------------------------------------------------------------

    @property
    def registry_address(self) -> bytes:
        address = self.registry.address
        if address is None:
            raise LedgerError("the CertificateRegistry is not deployed")
        return address

    def issue_statement(self, identifier: str, issuer_code: str, encoded: bytes) -> bytes:
        """The issue statement the issuer signs for ``encoded`` on this chain and registry."""
        return StatusStatement.issue(
            chain_id=self.registry.chain_id,
            registry=self.registry_address,
            certificate=certificate_key(identifier),
            issuer=issuer_code,
            certificate_hash=hashlib.sha256(encoded).digest(),
        ).to_bytes()

    def _change_statement(self, record: CertificateRecord) -> bytes | None:
        key = certificate_key(record.id)
        if record.change_action == "revoke":
            assert record.change_reason is not None and record.change_effective_at is not None
            return StatusStatement.revoke(
                chain_id=self.registry.chain_id,
                registry=self.registry_address,
                certificate=key,
                reason=CertificateRevocationReason(record.change_reason),
                effective_time=int(record.change_effective_at.timestamp()),
            ).to_bytes()
        if record.change_action == "supersede":
            assert record.change_successor is not None
            return StatusStatement.supersede(
                chain_id=self.registry.chain_id,
                registry=self.registry_address,
                certificate=key,
                successor=certificate_key(record.change_successor),
            ).to_bytes()
        return None

    def _registered(self, record: CertificateRecord) -> RegisteredCertificate:
        certificate = ECertificate.decode(record.encoded)
        return RegisteredCertificate(
            record=record,
            certificate=certificate,
            issue_statement=self.issue_statement(record.id, record.issuer_code, record.encoded),
            change_statement=self._change_statement(record),
            chain_id=self.registry.chain_id,
            registry=self.registry_address,
        )

    # --- reading ------------------------------------------------------------------------

    def get(self, identifier: str) -> RegisteredCertificate | None:
        with self.database.session() as session:
            record = get_certificate(session, identifier)
        return None if record is None else self._registered(record)

    def by_number(
        self, *, issuer_code: str, type: str, number: str
    ) -> RegisteredCertificate | None:
        with self.database.session() as session:
            record = find_certificate_by_number(
                session, issuer_code=issuer_code, type=type, number=number
            )
        return None if record is None else self._registered(record)

    def report(
        self, identifier: str, *, at: datetime | None = None, from_chain: bool = False
    ) -> VerificationReport | None:
        """The verification report of a registered certificate (docs/report.md §6.3), built as
        ``zhenglian verify --certificate --rpc`` builds it: the stored signed material checked
        against the served PKI roots and their current CRLs (an SM2 issuer: the SM2 root, its
        CRL and the SM2 engine), the registry status, the validity window at ``at`` (default
        now). None: not registered here.

        The status is the service's record of what the chain holds — written only once the
        chain's transaction was mined, with its block and block time — unless ``from_chain``
        (or the record lacks a block time, or a change is pending), when it is read from the
        chain now. The service's account is the registry's only registrar, so both agree
        unless the database was altered; a court that relies on neither reads the chain itself
        (``zhenglian verify --certificate --rpc``). A chain that does not answer leaves the
        registry check not performed, naming why, rather than failing the report.

        :raises ReportError: ``at`` without a zone.
        """
        with self.database.session() as session:
            record = get_certificate(session, identifier)
        if record is None:
            return None
        now = self._clock()
        roots: tuple[x509.Certificate, ...] = ()
        crl = sm2_crl = None
        sm2_engine = None
        crl_missing = "this server has no current CRL"
        try:
            trust = self._trust()
            roots, crl, sm2_engine = (trust.root,), trust.crl, trust.sm2_engine
            if trust.sm2_root is not None:
                roots += (trust.sm2_root,)
            if trust.sm2_crl is not None:
                sm2_crl = x509.load_der_x509_crl(trust.sm2_crl)
        except SignatureRefused as exc:
            crl_missing = f"this server has no institution PKI ({exc})"
        except ValueError as exc:  # the served SM2 CRL is not one (checked when published)
            crl_missing = f"this server's SM2 CRL cannot be read ({exc})"
        status = None if from_chain else recorded_status(record)
        events = None if status is None else recorded_events(record, self._registrar())
        registry_missing = "the registry was not read"
        if status is None:
            try:
                status = self.registry.status_of(certificate_key(identifier))
                events = [h.event for h in self.registry.history(certificate_key(identifier))]
            except LedgerError as exc:
                registry_missing = f"the chain did not answer: {str(exc)[:200]}"
        change_signer = record.change_signer_certificate
        return certificate_report(
            record.encoded,
            record.signature,
            load_certificate(record.signer_certificate),
            roots,
            crl,
            status,
            at or now,
            now,
            crl_missing=crl_missing,
            registry_missing=registry_missing,
            sm2_crl=sm2_crl,
            sm2_engine=sm2_engine,
            status_events=events,
            registry=(self.registry.chain_id, self.registry_address) if events else None,
            status_signers=(load_certificate(change_signer),) if change_signer else (),
        )

    def _registrar(self) -> bytes:
        """The service's account: the registry's registrar, which sent every change."""
        return bytes.fromhex(self.registry.client.account.address.removeprefix("0x"))

    def pdf(self, identifier: str) -> bytes | None:
        with self.database.session() as session:
            return certificate_pdf(session, identifier)

    def may_read_full(self, principal: Principal, record: CertificateRecord) -> bool:
        """Whether ``principal`` gets the full view (``certificate.read``)."""
        relation = _relation(principal, record.issuer_name, record.issuer_type)
        return decide(principal.role, Action.CERTIFICATE_READ, relation)

    def pending_count(self) -> int:
        """Certificates whose issue or change the chain does not hold yet (for health)."""
        with self.database.session() as session:
            return pending_certificate_count(session)

    # --- checks -------------------------------------------------------------------------

    def _sm2_engine(self) -> SM2Engine | None:
        """The SM2 engine of the served trust (None: no SM2 root here, or no PKI at all — the
        signer certificate's check then names why)."""
        try:
            return self._trust().sm2_engine
        except SignatureRefused:
            return None

    def _signer(self, signer_certificate: bytes) -> tuple[x509.Certificate, SM2Engine | None]:
        """The signer certificate, chained to the served root of its key's algorithm (an SM2
        key: the SM2 root and its CRL) and not revoked now; with the SM2 engine of the served
        trust, which checks an SM2 signer's signatures."""
        try:
            signer = load_certificate(signer_certificate)
        except CertsInputError as exc:
            raise CertificateRefused("signer-certificate", str(exc)) from None
        try:
            trust = self._trust()
        except SignatureRefused as exc:  # no PKI on this server
            raise CertificateRefused("signer-certificate", str(exc)) from None
        now = self._clock()
        try:
            check = check_signer_certificate(signer, trust, signed_at=now, now=now)
        except (SignatureRefused, CertsInputError) as exc:  # no SM2 root; neither P-256 nor SM2
            raise CertificateRefused("signer-certificate", str(exc)) from None
        if not check.ok:
            raise CertificateRefused(
                "signer-certificate", "; ".join(str(f) for f in check.failures)
            )
        return signer, trust.sm2_engine

    def _status_signature(
        self,
        statement: bytes,
        signature: bytes,
        signer: x509.Certificate,
        issuer_code: str,
        sm2_engine: SM2Engine | None,
    ) -> None:
        try:
            signed = check_status_signature(
                statement, signature, _der(signer), sm2_engine=sm2_engine
            )
        except (StatusSignatureError, CertsInputError) as exc:
            raise CertificateRefused("status-signature", str(exc)) from None
        if signed.signer_code != issuer_code:
            raise CertificateRefused(
                "status-signature",
                f"signed by {signed.signer_code}, not by the issuer {issuer_code}",
            )

    # --- registering --------------------------------------------------------------------

    def register(
        self,
        principal: Principal,
        *,
        encoded: bytes,
        signature: bytes,
        signer_certificate: bytes,
        status_signature: bytes,
        pdf: bytes | None = None,
        client: str | None = None,
    ) -> RegisteredCertificate:
        """Check and register a signed certificate, then issue it on the chain.

        :raises CertificateRefused: the certificate, a signature or the signer does not hold,
            or the registry refused (nothing registered);
        :raises Forbidden: the caller's institution is not the issuer, or its role may not
            register this type (the chain untouched);
        :raises NumberTaken: the identifier or number is registered already;
        :raises CertificatePending: recorded, the chain does not hold it yet.
        """
        try:
            certificate = ECertificate.decode(encoded)
        except ECertificateError as exc:
            raise CertificateRefused("certificate", str(exc)) from None
        issuer = certificate.issuer
        authorize(
            principal,
            Action.CERTIFICATE_REGISTER,
            _relation(principal, issuer.name, issuer.type.value),
            kind=certificate.type.key,
        )
        try:
            signer = load_certificate(signer_certificate)
        except CertsInputError as exc:
            raise CertificateRefused("signer-certificate", str(exc)) from None
        sm2_engine = self._sm2_engine()
        if sm2_engine is None and _certifies_sm2(signer):
            self._signer(signer_certificate)  # names why: no SM2 root served here
        try:
            verify_e_certificate_signature(encoded, signature, signer, sm2_engine=sm2_engine)
        except ECertificateError as exc:
            raise CertificateRefused("certificate", str(exc)) from None
        except ECertificateSignatureError as exc:
            raise CertificateRefused("signature", str(exc)) from None
        signer, sm2_engine = self._signer(signer_certificate)
        statement = self.issue_statement(certificate.id, issuer.credit_code, encoded)
        self._status_signature(statement, status_signature, signer, issuer.credit_code, sm2_engine)
        holder = principal.holder()
        row = NewCertificate(
            id=certificate.id,
            issuer_code=issuer.credit_code,
            issuer_name=issuer.name,
            issuer_type=issuer.type.value,
            type=certificate.type.key,
            number=certificate.number,
            encoded=encoded,
            certificate_sha256=hashlib.sha256(encoded).digest(),
            signature=signature,
            signer_certificate=_der(signer),
            issue_signature=status_signature,
            registered_by=holder.token_id,
            registered_at=self._clock(),
            pdf=pdf,
        )
        with self._lock:
            with self.database.session() as session:
                existing = get_certificate(session, certificate.id)
                if existing is not None and not (
                    existing.issue_pending and existing.certificate_sha256 == row.certificate_sha256
                ):
                    raise NumberTaken(existing.id, f"{certificate.id} is registered already")
                if existing is None:
                    taken = find_certificate_by_number(
                        session,
                        issuer_code=row.issuer_code,
                        type=row.type,
                        number=row.number,
                    )
                    if taken is not None:
                        raise NumberTaken(
                            taken.id,
                            f"{issuer.name} registered {certificate.type.key} number "
                            f"{certificate.number!r} already, as {taken.id}",
                        )
                    try:
                        add_certificates(session, [row])
                        session.commit()
                    except DuplicateRecord:
                        session.rollback()
                        raise NumberTaken(
                            certificate.id, f"{certificate.id} was registered meanwhile"
                        ) from None
            self._issue_on_chain(certificate.id, _actor(principal), client)
        found = self.get(certificate.id)
        assert found is not None
        return found

    def _issue_on_chain(self, identifier: str, actor: Actor, client: str | None) -> None:
        """Send the pending issue of ``identifier`` (or adopt the chain's), then mark it issued
        with its custody event. Holds ``self._lock``."""
        with self.database.session() as session:
            record = get_certificate(session, identifier)
        if record is None or not record.issue_pending:
            return
        key = certificate_key(identifier)
        try:
            try:
                change = self.registry.issue(
                    key, record.issuer_code, record.certificate_sha256, record.issue_signature
                )
                tx_hash, block = change.tx_hash, change.block_number
            except CertificateAlreadyRegistered:
                adopted = self._adopt_issue(key, record)
                if adopted is None:
                    self._discard(identifier)
                    raise NumberTaken(
                        identifier, f"{identifier} is registered on the chain already"
                    ) from None
                tx_hash, block = adopted
        except RegistrarNotAuthorized as exc:  # the operator must grant the role: stays pending
            raise CertificatePending(identifier, exc) from exc
        except StatusChangeRefused as exc:
            self._discard(identifier)
            raise _chain_refusal(identifier, exc) from None
        except LedgerError as exc:
            raise CertificatePending(identifier, exc) from exc
        block_time = self._block_time(block)
        with self.database.session() as session:
            confirm_certificate_issue(
                session, identifier, tx_hash=tx_hash, block_number=block, block_time=block_time
            )
            self._custody_event(session, "certificate_register", actor, identifier, client)
            session.commit()
        self._appended()

    def _block_time(self, block: int) -> int | None:
        """The block's time (None if the node does not answer now: the change is recorded
        all the same, and the report then reads the time from the chain)."""
        try:
            return self.registry.client.block_timestamp(block)
        except LedgerError:
            return None

    def _adopt_issue(self, key: bytes, record: CertificateRecord) -> tuple[bytes, int] | None:
        """The chain's issue of ``key`` if it is this very certificate (sent before the node
        went down), else None."""
        status = self.registry.status_of(key)
        if (
            status.state is CertificateState.NONE
            or status.certificate_hash != record.certificate_sha256
            or status.issuer_code != record.issuer_code.encode("ascii")
        ):
            return None
        for entry in self.registry.history(key):
            if entry.event.action == "issue":
                return entry.tx_hash, entry.block_number
        return None

    def _discard(self, identifier: str) -> None:
        with self.database.session() as session:
            discard_pending_certificate(session, identifier)
            session.commit()

    # --- changing -----------------------------------------------------------------------

    def revoke(
        self,
        principal: Principal,
        identifier: str,
        *,
        reason: int,
        effective_time: int,
        signature: bytes,
        signer_certificate: bytes,
        client: str | None = None,
    ) -> RegisteredCertificate:
        """Revoke an issued certificate with the issuer's signature over the revoke statement.

        :raises NotFound: no such certificate;
        :raises Forbidden: the caller's institution is not its issuer (chain untouched);
        :raises CertificateRefused: the reason, time, signer or signature does not hold;
        :raises StatusConflict: revoked or superseded already, or another change pending;
        :raises CertificatePending: recorded, the chain does not hold it yet.
        """
        record = self._changeable(principal, identifier)
        try:
            why = CertificateRevocationReason.parse(str(reason))
        except CertsInputError as exc:
            raise CertificateRefused("reason", str(exc)) from None
        now = int(self._clock().timestamp())
        if not 1 <= effective_time <= now + MAX_CLOCK_SKEW_SECONDS:
            raise CertificateRefused(
                "effective-time",
                f"{effective_time} is in the future (now {now}) or not a time",
            )
        statement = StatusStatement.revoke(
            chain_id=self.registry.chain_id,
            registry=self.registry_address,
            certificate=certificate_key(identifier),
            reason=why,
            effective_time=effective_time,
        ).to_bytes()
        signer, sm2_engine = self._signer(signer_certificate)
        self._status_signature(statement, signature, signer, record.issuer_code, sm2_engine)
        effective_at = datetime.fromtimestamp(effective_time, UTC)
        return self._change(
            principal,
            record,
            "revoke",
            signature=signature,
            signer=signer,
            client=client,
            reason=int(why),
            effective_at=effective_at,
        )

    def supersede(
        self,
        principal: Principal,
        identifier: str,
        *,
        successor: str,
        signature: bytes,
        signer_certificate: bytes,
        client: str | None = None,
    ) -> RegisteredCertificate:
        """Mark an issued certificate replaced by ``successor``, an issued certificate of the
        same issuer, with the issuer's signature over the supersede statement.

        :raises CertificateRefused: the successor is not an issued certificate of the same
            issuer, or the signer or signature does not hold; otherwise as :meth:`revoke`.
        """
        record = self._changeable(principal, identifier)
        with self.database.session() as session:
            next_record = get_certificate(session, successor)
        if next_record is None or next_record.status is not CertificateStatus.ISSUED:
            raise CertificateRefused("successor", f"{successor} is not an issued certificate")
        if next_record.issuer_code != record.issuer_code or successor == identifier:
            raise CertificateRefused(
                "successor", f"{successor} is not another certificate of the same issuer"
            )
        statement = StatusStatement.supersede(
            chain_id=self.registry.chain_id,
            registry=self.registry_address,
            certificate=certificate_key(identifier),
            successor=certificate_key(successor),
        ).to_bytes()
        signer, sm2_engine = self._signer(signer_certificate)
        self._status_signature(statement, signature, signer, record.issuer_code, sm2_engine)
        return self._change(
            principal,
            record,
            "supersede",
            signature=signature,
            signer=signer,
            client=client,
            successor=successor,
        )

    def _changeable(self, principal: Principal, identifier: str) -> CertificateRecord:
        with self.database.session() as session:
            record = get_certificate(session, identifier)
        if record is None:
            raise NotFound(f"no certificate {identifier}")
        authorize(
            principal,
            Action.CERTIFICATE_REVOKE,
            _relation(principal, record.issuer_name, record.issuer_type),
            kind=record.type,
        )
        if record.status in (CertificateStatus.REVOKED, CertificateStatus.SUPERSEDED):
            raise StatusConflict(f"{identifier} is {record.status.value} already: it is final")
        if record.status is CertificateStatus.PENDING:
            raise StatusConflict(f"{identifier} is not issued on the chain yet (pending)")
        return record

    def _change(
        self,
        principal: Principal,
        record: CertificateRecord,
        action: str,
        *,
        signature: bytes,
        signer: x509.Certificate,
        client: str | None,
        reason: int | None = None,
        effective_at: datetime | None = None,
        successor: str | None = None,
    ) -> RegisteredCertificate:
        identifier = record.id
        with self._lock:
            same = (
                record.change_action == action
                and record.change_reason == reason
                and record.change_effective_at == effective_at
                and record.change_successor == successor
            )
            if record.change_pending and not same:
                raise StatusConflict(f"another change of {identifier} is pending")
            # The same change again (a retry; its new signature is over the same statement):
            # the stored one completes it.
            if not record.change_pending:
                with self.database.session() as session:
                    asked = request_certificate_change(
                        session,
                        identifier,
                        action=action,
                        signature=signature,
                        signer_certificate=_der(signer),
                        changed_by=principal.holder().token_id,
                        changed_at=self._clock(),
                        reason=reason,
                        effective_at=effective_at,
                        successor=successor,
                    )
                    session.commit()
                if not asked:
                    raise StatusConflict(f"{identifier} changed meanwhile")
            self._change_on_chain(identifier, _actor(principal), client)
        found = self.get(identifier)
        assert found is not None
        return found

    def _change_on_chain(self, identifier: str, actor: Actor, client: str | None) -> None:
        """Send the pending change of ``identifier`` (or adopt the chain's), then mark it done
        with its custody event. Holds ``self._lock``."""
        with self.database.session() as session:
            record = get_certificate(session, identifier)
        if record is None or not record.change_pending:
            return
        assert record.change_signature is not None
        key = certificate_key(identifier)
        try:
            try:
                change: StatusChange | tuple[bytes, int]
                if record.change_action == "revoke":
                    assert record.change_reason is not None
                    assert record.change_effective_at is not None
                    change = self.registry.revoke(
                        key,
                        record.change_reason,
                        int(record.change_effective_at.timestamp()),
                        record.change_signature,
                    )
                else:
                    assert record.change_successor is not None
                    change = self.registry.supersede(
                        key, certificate_key(record.change_successor), record.change_signature
                    )
                tx_hash, block = change.tx_hash, change.block_number
            except CertificateStatusFinal:
                adopted = self._adopt_change(key, record)
                if adopted is None:
                    self._clear_change(identifier)
                    raise StatusConflict(f"{identifier} is final on the chain already") from None
                tx_hash, block = adopted
        except RegistrarNotAuthorized as exc:  # the operator must grant the role: stays pending
            raise CertificatePending(identifier, exc) from exc
        except StatusChangeRefused as exc:
            self._clear_change(identifier)
            raise _chain_refusal(identifier, exc) from None
        except LedgerError as exc:
            raise CertificatePending(identifier, exc) from exc
        action = (
            "certificate_revoke" if record.change_action == "revoke" else "certificate_supersede"
        )
        block_time = self._block_time(block)
        with self.database.session() as session:
            confirm_certificate_change(
                session, identifier, tx_hash=tx_hash, block_number=block, block_time=block_time
            )
            self._custody_event(session, action, actor, identifier, client)
            session.commit()
        self._appended()

    def _adopt_change(self, key: bytes, record: CertificateRecord) -> tuple[bytes, int] | None:
        status: StatusRecord = self.registry.status_of(key)
        wanted = (
            CertificateState.REVOKED
            if record.change_action == "revoke"
            else CertificateState.SUPERSEDED
        )
        if status.state is not wanted:
            return None
        for entry in self.registry.history(key):
            if entry.event.action == record.change_action and (
                entry.event.signature == record.change_signature
            ):
                return entry.tx_hash, entry.block_number
        return None

    def _clear_change(self, identifier: str) -> None:
        with self.database.session() as session:
            discard_certificate_change(session, identifier)
            session.commit()

    # --- custody and the pending worker -------------------------------------------------

    def _custody_event(
        self,
        session: Session,
        action: str,
        actor: Actor,
        identifier: str,
        client: str | None,
        note: str | None = None,
    ) -> None:
        if self._custody is None:
            return
        draft = new_draft(
            action,
            actor,
            CustodyObject("certificate", identifier),
            client,
            note=None if note is None else fit_note(note),
        )
        append_events(session, [draft])

    def _appended(self) -> None:
        if self._custody is not None:
            self._custody.appended()

    def complete_pending(self) -> int:
        """Send (or adopt) every issue and change the chain does not hold yet, as recorded;
        returns how many were completed. Their custody events name ``system`` as the actor
        (the caller was told 503 and may not come back). A node still down leaves them
        pending; a refusal forgets them."""
        done = 0
        with self.database.session() as session:
            identifiers = pending_certificates(session)
        for identifier in identifiers:
            with self._lock:
                with self.database.session() as session:
                    record = get_certificate(session, identifier)
                if record is None:
                    continue
                try:
                    if record.issue_pending:
                        self._issue_on_chain(identifier, Actor.system(), None)
                    elif record.change_pending:
                        self._change_on_chain(identifier, Actor.system(), None)
                    done += 1
                except CertificatePending as exc:
                    log.warning("certificate still pending: %s", exc)
                    break  # the node is down: try again later
                except (CertificateRefused, Conflict, NotFound) as exc:
                    log.warning("pending certificate change dropped: %s", exc)
        return done


class PendingCertificateWorker:
    """Runs :meth:`CertificateRegistration.complete_pending` every
    :data:`PENDING_RETRY_SECONDS` in a daemon thread until :meth:`stop`."""

    def __init__(
        self, registration: CertificateRegistration, interval: float = PENDING_RETRY_SECONDS
    ) -> None:
        self._registration = registration
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="certificate-pending", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._registration.complete_pending()
            except Exception:
                log.exception("completing pending certificate changes failed")
