"""``zhenglian verify``: check a document against its receipt, offline or cross-checked online;
or (``--custody``) a document's custody export, offline; or (``--certificate``) a registered
e-certificate.

Files and e-certificates give a verification report
(:mod:`evidence.verify.verification_report`, docs/report.md §6), built by
:func:`verify_document` and :func:`verify_certificate` — callable with paths by other commands
(``--bundle``) — and printed by :func:`_print`. The verdict (docs/trust.md) is one word:
``intact``, ``altered``, ``receipt-invalid``, ``untrusted``, ``signature-invalid``,
``revoked`` or ``unknown``, by the precedence of ``VERDICT_PRECEDENCE``.

Exit status (the same for every verifying command, docs/reliability.md):
0 intact; 1 any other verdict (one line per failed check); 2 bad input or usage; 3 could not
check (the node or server is unreachable or lacks the block).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import click
from cryptography import x509
from eth_utils.address import is_hex_address, to_canonical_address

from certs.sm2.engine import SM2Engine
from evidence.digest import DocumentDigest, digest_file
from evidence.errors import InputError
from evidence.formats.receipt_format import MAX_RECEIPT_BYTES, Receipt
from evidence.verify.document_signature import SignatureCheck
from evidence.verify.receipt_verifier import (
    Check,
    IndependenceTrust,
    VerificationFailed,
    VerificationResult,
    verify_receipt,
)
from evidence.verify.verification_report import (
    SECTION_ANCHOR,
    SECTION_LOG,
    CheckStatus,
    ReportCheck,
    SignatureEvidence,
    VerificationReport,
    certificate_report,
    document_report,
    render_text,
)
from ledger.anchor_proof import ChainTrust
from ledger.certificate_status import StatusEvent, StatusRecord
from ledger.errors import LedgerError
from zhenglian.common import EXIT_BAD_INPUT, EXIT_CANNOT_CHECK, EXIT_FAILED, fail


def _addresses(raw: str) -> list[bytes]:
    out = []
    for item in raw.split(","):
        item = item.strip()
        if not is_hex_address(item):
            fail(f"not an Ethereum address: {item!r}", EXIT_BAD_INPUT)
        out.append(bytes(to_canonical_address(item)))
    return out


def _online_checks(rpc: str, receipt: Receipt) -> list[tuple[str, bool, str]]:
    """Cross-check with a node: the block is on its chain and the contract holds the head."""
    from eth_account import Account

    from ledger.client import LedgerClient

    client = LedgerClient(rpc, Account.create().key)
    proof = receipt.anchor
    checks = []
    block_hash = client.block_hash(proof.block_number)
    if block_hash is None:
        fail(
            f"could not check: the node at {rpc} has no block {proof.block_number} "
            "(another chain, or not synchronised yet)",
            EXIT_CANNOT_CHECK,
        )
    same = block_hash == proof.block_hash
    checks.append(
        (
            "block on chain",
            same,
            f"block {proof.block_number} of the node {'is' if same else 'is NOT'} the proven block",
        )
    )
    client.attach(proof.contract)
    head = client.head_at(_anchor_index(receipt))
    ok = (head.tree_size, head.root_hash) == (receipt.tree_size, receipt.root_hash)
    checks.append(("contract head", ok, f"LogAnchor head {head.index} is size {head.tree_size}"))
    return checks


def _promise_checks(
    receipt: Receipt, ack_path: Path | None, log_key: str | None, also: tuple[Path, ...]
) -> list[tuple[str, bool, str]]:
    """The receipt against the log's acknowledgement and against other receipts."""
    from evidence.formats.acknowledgement import Acknowledgement
    from evidence.formats.signed_note import VerifierKey
    from evidence.verify.fork_checks import (
        ForkDetected,
        check_against_acknowledgement,
        check_same_history,
    )

    checks = []
    if ack_path is not None and log_key is not None:
        try:
            key = VerifierKey.from_text(log_key)
            ack = Acknowledgement.verify(ack_path.read_bytes(), key)
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad acknowledgement: {exc}", EXIT_BAD_INPUT)
        try:
            checks.append(("acknowledged leaf", True, check_against_acknowledgement(receipt, ack)))
        except ForkDetected as exc:
            checks.append(("acknowledged leaf", False, str(exc)))
    for path in also:
        try:
            other = Receipt.from_json_bytes(path.read_bytes()[: MAX_RECEIPT_BYTES + 1])
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad receipt {path}: {exc}", EXIT_BAD_INPUT)
        try:
            checks.append(
                (f"same history as {path.name}", True, check_same_history(receipt, other))
            )
        except ForkDetected as exc:
            checks.append((f"same history as {path.name}", False, str(exc)))
    return checks


@dataclass(frozen=True)
class PinnedTrust:
    """What a verifier pinned: the chain trust and, for version 2 receipts, the rest."""

    chain: ChainTrust
    independence: IndependenceTrust | None


def pinned_trust(
    receipt: Receipt,
    trust_path: Path | None,
    validators: str | None,
    contract: str | None,
    log_key: str | None,
    witness_keys: tuple[str, ...],
    quorum: int | None,
) -> PinnedTrust:
    """What the verifier pins, from a bundle or from flags; refused (exit 2) when something a
    verdict depends on is not pinned, with what to pin."""
    from evidence.formats.cosignature import WitnessKey
    from evidence.formats.signed_note import NoteError, VerifierKey
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle

    witnesses: tuple[WitnessKey, ...] | None = None
    if witness_keys:
        try:
            witnesses = tuple(WitnessKey.from_text(k) for k in witness_keys)
        except NoteError as exc:
            fail(f"--witness: {exc}", EXIT_BAD_INPUT)
    v2 = receipt.version == 2
    if trust_path is not None:
        if validators is not None or contract is not None or log_key is not None:
            fail("--trust pins validators, contract and log key: give none of those", 2)
        try:
            with trust_path.open("rb") as fh:
                bundle = TrustBundle.from_json_bytes(fh.read(MAX_TRUST_BUNDLE_BYTES + 1))
            if witnesses is not None or quorum is not None:
                bundle = bundle.with_witnesses(
                    witnesses if witnesses is not None else bundle.witnesses,
                    quorum if quorum is not None else bundle.witness_quorum,
                )
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad trust bundle {trust_path}: {exc}", EXIT_BAD_INPUT)
        # A validator counts from its block on: a seal older than that is not its to make.
        block = receipt.anchor.block_number
        addresses = [v.address for v in bundle.validators if v.from_block <= block]
        kwargs: dict[str, Any] = {
            "contract": bundle.documents_contract,
            "anchoring_account": bundle.anchoring_account,
            "require_transaction": v2,
        }
        if bundle.sealed and not addresses:
            fail(f"the bundle names no validator counting at block {block}", EXIT_BAD_INPUT)
        chain = (
            ChainTrust.sealed(bundle.chain_id, addresses, **kwargs)
            if bundle.sealed
            else ChainTrust.unsafe_unsealed(bundle.chain_id, **kwargs)
        )
        return PinnedTrust(
            chain,
            IndependenceTrust(
                bundle.log_key,
                bundle.witnesses,
                bundle.witness_quorum,
                bundle.time_stamp_roots_der(),
            ),
        )
    missing = []
    if validators is None:
        missing.append("--validators (the chain's validators)")
    if contract is None:
        missing.append("--contract (the LogAnchor you trust; --rpc alone lets a stranger's do)")
    if v2 and log_key is None:
        missing.append("--log-key (the log's key, for the checkpoint)")
    if v2 and quorum is None:
        missing.append("--quorum (how many --witness must have cosigned; 0 for none)")
    if missing:
        fail("pin what you trust: give --trust BUNDLE, or " + ", ".join(missing), 2)
    assert validators is not None and contract is not None
    if not is_hex_address(contract):
        fail(f"--contract is not an address: {contract!r}", EXIT_BAD_INPUT)
    chain = ChainTrust.sealed(
        receipt.anchor.chain_id,
        _addresses(validators),
        contract=bytes(to_canonical_address(contract)),
        require_transaction=v2,
    )
    independence = None
    if v2:
        assert log_key is not None and quorum is not None
        try:
            key = VerifierKey.from_text(log_key)
            independence = IndependenceTrust(key, witnesses or (), quorum)
        except NoteError as exc:
            fail(f"--log-key: {exc}", EXIT_BAD_INPUT)
        except ValueError as exc:
            fail(f"--quorum: {exc}", EXIT_BAD_INPUT)
    return PinnedTrust(chain, independence)


def _anchor_index(receipt: Receipt) -> int:
    from ledger.anchor_proof import ChainTrust as _T
    from ledger.anchor_proof import verify_anchor_proof

    return verify_anchor_proof(
        receipt.anchor, _T.unsafe_unsealed(receipt.anchor.chain_id)
    ).anchor_index


#: Most page files one ``verify --custody`` joins (5,000 events each).
MAX_CUSTODY_PAGES = 2000


def custody_checks(
    paths: tuple[Path, ...], validators: str | None, contract: str | None
) -> tuple[tuple[Check, ...], str, str, str]:
    """Check a custody export (all its pages) offline: proofs, anchor, hash links, complete.
    Returns the checks, a summary line, and the export's object type and id; exits 2 on bad
    input."""
    from evidence.formats.custody_export import MAX_EXPORT_BYTES, CustodyExport
    from evidence.verify.custody_verifier import CustodyVerificationFailed, verify_custody_export

    if validators is None:
        fail("give --validators: custody exports are verified offline", EXIT_BAD_INPUT)
    if len(paths) > MAX_CUSTODY_PAGES:
        fail(f"at most {MAX_CUSTODY_PAGES} pages (--custody) at once", EXIT_BAD_INPUT)
    pages = []
    for path in paths:
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_EXPORT_BYTES + 1)
            pages.append(CustodyExport.from_json_bytes(data))
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        except InputError as exc:
            fail(f"bad custody export {path}: {exc}", EXIT_BAD_INPUT)
    try:
        export = CustodyExport.combine(pages)
    except InputError as exc:
        fail(f"bad custody export: {exc}", EXIT_BAD_INPUT)
    pinned = None
    if contract is not None:
        if not is_hex_address(contract):
            fail(f"--contract is not an address: {contract!r}", EXIT_BAD_INPUT)
        pinned = bytes(to_canonical_address(contract))
    chain_id = export.anchor.chain_id if export.anchor is not None else 1
    trust = ChainTrust.sealed(chain_id, _addresses(validators), contract=pinned)
    try:
        result = verify_custody_export(export, trust)
        checks = result.checks
        summary = (
            f"{result.anchored} events anchored in custody head {result.tree_size}, "
            f"{result.pending} pending (not yet proven); "
            + (
                f"complete up to custody leaf {result.complete_through}"
                if result.complete_through is not None
                else "completeness not proven"
                + (" (a version 1 export)" if export.version == 1 else " (nothing anchored yet)")
            )
        )
    except CustodyVerificationFailed as exc:
        checks = exc.checks
        summary = f"{len(exc.failed)} of {len(checks)} checks failed"
    return tuple(checks), summary, export.subject.type, export.subject.id


def _verify_custody(
    paths: tuple[Path, ...], validators: str | None, contract: str | None, as_json: bool
) -> None:
    """Check a custody export (all its pages) offline; one line per check."""
    checks, summary, object_type, object_id = custody_checks(paths, validators, contract)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "result": "failed" if failed else "intact",
                    "object": {"type": object_type, "id": object_id},
                    "summary": summary,
                    "checks": [c.__dict__ for c in checks],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for c in checks:
            click.echo(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}")
        click.echo(summary)
    if failed:
        for line in failed:
            click.echo(f"zhenglian: verification failed: {line}", err=True)
        raise SystemExit(EXIT_FAILED)


def _signature_checks(
    receipt: Receipt,
    file: Path,
    digest: DocumentDigest,
    signature_path: Path | None,
    trust_path: Path | None,
) -> list[SignatureCheck]:
    """The offline checks of the signature of a version 2 entry: the detached one given with
    --signature, or the one inside a signed PDF (exit 2 on bad input)."""
    signed = receipt.entry.signature
    if signed is None:
        if signature_path is not None:
            fail(
                "--signature: the receipt's entry records no signature (version 1)", EXIT_BAD_INPUT
            )
        return []
    embedded = signed.form == "pades-embedded"
    if signature_path is None and not embedded:
        return []
    if trust_path is None:
        if signature_path is not None:
            fail("--signature needs --trust (the bundle's pki_roots)", EXIT_BAD_INPUT)
        return []
    from cryptography import x509

    from certs.verify.cms_signature import MAX_SIGNATURE_BYTES
    from certs.verify.pades_signature import MAX_SIGNED_PDF_BYTES
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle
    from evidence.verify.document_signature import (
        check_committed_pdf_signature,
        check_committed_signature,
    )

    try:
        with trust_path.open("rb") as fh:
            bundle = TrustBundle.from_json_bytes(fh.read(MAX_TRUST_BUNDLE_BYTES + 1))
        roots = [x509.load_pem_x509_certificate(pem.encode()) for pem in bundle.pki_roots]
        if embedded and signature_path is None:
            if digest.size > MAX_SIGNED_PDF_BYTES:
                fail(f"{file} is over {MAX_SIGNED_PDF_BYTES} bytes: its signature is not checked")
            return check_committed_pdf_signature(signed, file.read_bytes(), roots)
        assert signature_path is not None
        with signature_path.open("rb") as fh:
            signature = fh.read(MAX_SIGNATURE_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    except InputError as exc:
        fail(f"bad trust bundle: {exc}", EXIT_BAD_INPUT)
    return check_committed_signature(
        signed,
        signature,
        {"sha256": digest.sha256, "sm3": digest.sm3},
        roots,
        sm2_engine=_sm2_engine(),
    )


@functools.lru_cache(maxsize=1)
def _sm2_engine() -> SM2Engine:
    """GmSSL, quiet: the command line prints one readable line per error, not GmSSL's."""
    from certs.sm2.gmssl_engine import GmsslEngine

    return GmsslEngine(quiet=True)


CRL_FETCH_TIMEOUT: Final = 10.0
"""Seconds to wait for ``GET /v1/pki/crl`` (``--server``)."""

MAX_CERTIFICATE_PEM_BYTES: Final = 16 * 1024
"""Largest signer certificate file read (``--signer-cert``)."""


@dataclass(frozen=True)
class RevocationData:
    """The CRLs a report judges revocation by — the ECDSA root's and the SM2 root's —, or why
    there is none."""

    crl: x509.CertificateRevocationList | None
    missing: str
    sm2_crl: x509.CertificateRevocationList | None = None


MAX_CRL_FILES: Final = 2
"""``--crl`` given at most twice: the ECDSA root's CRL and the SM2 root's."""


def revocation_data(
    crl_paths: Sequence[Path] = (),
    crl_der: bytes | None = None,
    server: str | None = None,
    *,
    sm2: bool = False,
) -> RevocationData:
    """The CRLs for "now": ``--crl`` files if given (each sorted by its signature algorithm:
    SM2-with-SM3 is the SM2 root's, any other the ECDSA root's), else ``crl_der`` (from a
    bundle), else the server's ``GET /v1/pki/crl`` (``?algorithm=sm2`` when the signer is
    ``sm2``); none of them: why (revocation then not performed). Bad input exits 2; an
    unreachable server 3."""
    from certs.errors import CertsInputError
    from certs.formats.revocation_list import MAX_CRL_BYTES, load_crl
    from certs.sm2.oids import SM2_WITH_SM3

    if len(crl_paths) > MAX_CRL_FILES:
        fail(
            f"--crl at most {MAX_CRL_FILES} times (the ECDSA root's CRL and the SM2 root's)",
            EXIT_BAD_INPUT,
        )
    found: list[tuple[str, bytes]] = []
    for path in crl_paths:
        try:
            with path.open("rb") as fh:
                found.append((str(path), fh.read(MAX_CRL_BYTES + 1)))
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    if not found and crl_der is not None:
        found.append(("the bundle's CRL", crl_der))
    if not found and server is not None:
        url = server.rstrip("/") + "/v1/pki/crl" + ("?algorithm=sm2" if sm2 else "")
        data = _fetch_crl(url, MAX_CRL_BYTES)
        if data is None:
            return RevocationData(None, f"the server has no SM2 root's CRL ({url}: 404)")
        found.append((url, data))
    if not found:
        return RevocationData(None, "no CRL given (--crl FILE, or --server URL)")
    crls: dict[bool, x509.CertificateRevocationList] = {}
    for source, data in found:
        try:
            crl = load_crl(data)
        except CertsInputError as exc:
            fail(f"bad CRL ({source}): {exc}", EXIT_BAD_INPUT)
        is_sm2 = crl.signature_algorithm_oid.dotted_string == SM2_WITH_SM3
        if is_sm2 in crls:
            fail(
                f"two {'SM2' if is_sm2 else 'ECDSA'} CRLs given ({source}): give each root's "
                "CRL once",
                EXIT_BAD_INPUT,
            )
        crls[is_sm2] = crl
    return RevocationData(crls.get(False), "", crls.get(True))


def _fetch_crl(url: str, limit: int) -> bytes | None:
    """The CRL at ``url`` (None: 404, the server has no such root); other failures exit."""
    import httpx

    try:
        with httpx.stream("GET", url, timeout=CRL_FETCH_TIMEOUT) as answer:
            if answer.status_code == 404 and url.endswith("?algorithm=sm2"):
                return None
            if answer.status_code != 200:
                fail(f"could not fetch {url}: HTTP {answer.status_code}", EXIT_CANNOT_CHECK)
            chunks = []
            size = 0
            for chunk in answer.iter_bytes():
                size += len(chunk)
                if size > limit:
                    fail(f"{url}: a CRL is at most {limit} bytes", EXIT_BAD_INPUT)
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        fail(f"could not fetch {url}: {exc}", EXIT_CANNOT_CHECK)


def _certifies_sm2(certificate: x509.Certificate | None) -> bool:
    from certs.errors import ProfileError
    from certs.formats.institution_profile import certified_key_algorithm

    if certificate is None:
        return False
    try:
        return certified_key_algorithm(certificate) == "sm2"
    except ProfileError:
        return False


def _pki_roots(trust_path: Path | None) -> tuple[x509.Certificate, ...]:
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle

    if trust_path is None:
        return ()
    try:
        with trust_path.open("rb") as fh:
            bundle = TrustBundle.from_json_bytes(fh.read(MAX_TRUST_BUNDLE_BYTES + 1))
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    except InputError as exc:
        fail(f"bad trust bundle {trust_path}: {exc}", EXIT_BAD_INPUT)
    return _parsed_roots(bundle.pki_roots)


@functools.lru_cache(maxsize=8)
def _parsed_roots(pems: tuple[str, ...]) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificate(pem.encode()) for pem in pems)


def _signer_of(file: Path, signature_path: Path | None) -> x509.Certificate | None:
    """The signer's certificate as the signature carries it (None when it cannot be read:
    the signature checks then say why)."""
    from certs.verify.cms_signature import MAX_SIGNATURE_BYTES, read_detached_signature
    from certs.verify.pades_signature import MAX_SIGNED_PDF_BYTES, read_pdf_signature

    try:
        if signature_path is not None:
            with signature_path.open("rb") as fh:
                return read_detached_signature(fh.read(MAX_SIGNATURE_BYTES + 1)).certificate
        with file.open("rb") as fh:
            content = read_pdf_signature(fh.read(MAX_SIGNED_PDF_BYTES + 1))
        return read_detached_signature(content.signed_data).certificate
    except (OSError, InputError, ValueError):
        return None


def verify_document(
    file: Path,
    receipt_path: Path,
    *,
    trust_path: Path | None = None,
    validators: str | None = None,
    contract: str | None = None,
    log_key: str | None = None,
    witness_keys: tuple[str, ...] = (),
    quorum: int | None = None,
    signature_path: Path | None = None,
    crl_paths: Sequence[Path] = (),
    crl_der: bytes | None = None,
    server: str | None = None,
    ack_path: Path | None = None,
    also_paths: tuple[Path, ...] = (),
    rpc: str | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """The verification report of FILE against its receipt (docs/report.md §6): offline
    under ``trust_path`` (or the flags), the detached signature ``signature_path`` (or the one
    inside a signed PDF) against the bundle's ``pki_roots``, revocation by the CRLs of
    ``crl_paths``, else ``crl_der``, else ``server``'s (an SM2 signer: the SM2 root's);
    ``rpc`` cross-checks the block online. Bad input exits 2 (one line), an unreachable node
    or server 3."""
    if ack_path is not None and log_key is None and trust_path is None:
        fail("--ack needs the log's key: --log-key or --trust", EXIT_BAD_INPUT)
    try:
        data = receipt_path.read_bytes()[: MAX_RECEIPT_BYTES + 1]
        receipt = Receipt.from_json_bytes(data)
        digest = digest_file(file)
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
    except InputError as exc:
        fail(f"bad receipt: {exc}", EXIT_BAD_INPUT)
    pinned = pinned_trust(receipt, trust_path, validators, contract, log_key, witness_keys, quorum)
    if log_key is None and pinned.independence is not None and ack_path is not None:
        log_key = pinned.independence.log_key.to_text()
    outcome: VerificationResult | VerificationFailed
    try:
        outcome = verify_receipt(
            receipt,
            digest.sha256,
            pinned.chain,
            sm3=digest.sm3,
            size=digest.size,
            independence=pinned.independence,
        )
    except VerificationFailed as exc:
        outcome = exc
    extra = [
        _check(name, ok, detail, SECTION_LOG)
        for name, ok, detail in _promise_checks(receipt, ack_path, log_key, also_paths)
    ]
    signature_checks = _signature_checks(receipt, file, digest, signature_path, trust_path)
    signature = None
    missing = None
    signed = receipt.entry.signature
    signer = None
    if signature_checks:
        signer = _signer_of(file, signature_path)
        signature = SignatureEvidence(tuple(signature_checks), signer)
    elif signed is not None:
        missing = (
            "give --trust (the bundle's pki_roots)"
            if trust_path is None
            else "give the detached signature (--signature FILE.p7s)"
        )
    revocation = (
        revocation_data(crl_paths, crl_der, server, sm2=_certifies_sm2(signer))
        if signed is not None and signature is not None
        else RevocationData(None, "")
    )
    failed = (
        not isinstance(outcome, VerificationResult)
        or any(c.failed for c in extra)
        or any(not c.ok for c in signature_checks)
    )
    if rpc is not None and not failed:
        try:
            for name, ok, detail in _online_checks(rpc, receipt):
                extra.append(_check(name, ok, detail, SECTION_ANCHOR))
        except LedgerError as exc:
            fail(f"could not check against {rpc}: {exc}", EXIT_CANNOT_CHECK)
    return document_report(
        receipt=receipt,
        outcome=outcome,
        document=digest,
        now=now or datetime.now(UTC),
        signature=signature,
        signature_missing=missing,
        pki_roots=_pki_roots(trust_path),
        crl=revocation.crl,
        crl_missing=revocation.missing or "no CRL given (--crl FILE, or --server URL)",
        extra=tuple(extra),
        sm2_crl=revocation.sm2_crl,
        sm2_engine=_sm2_engine(),
    )


def _check(name: str, ok: bool, detail: str, section: str) -> ReportCheck:
    return ReportCheck(name, section, CheckStatus.PASSED if ok else CheckStatus.FAILED, detail)


def verify_certificate(
    certificate_path: Path,
    signature_path: Path,
    signer_path: Path,
    trust_path: Path,
    *,
    rpc: str | None = None,
    crl_paths: Sequence[Path] = (),
    crl_der: bytes | None = None,
    server: str | None = None,
    at: datetime | None = None,
    now: datetime | None = None,
    status_signer_paths: Sequence[Path] = (),
) -> VerificationReport:
    """The verification report of a registered e-certificate (``ID.json``, its ``ID.sig``
    and the issuer's certificate) under the bundle ``trust_path``: offline signature and PKI
    checks; with ``rpc`` its status read from the bundle's pinned CertificateRegistry
    (``contracts.certificates``) and the issuer's signature on each of its changes (under the
    signer certificate, or one of ``status_signer_paths``). ``at``: the time asked about
    (default now). Bad input exits 2, an unreachable node 3."""
    from certs.errors import CertsInputError
    from certs.formats.institution_profile import load_certificate
    from evidence.formats.e_certificate import MAX_E_CERTIFICATE_BYTES, ECertificate
    from evidence.formats.trust_bundle import MAX_TRUST_BUNDLE_BYTES, TrustBundle
    from evidence.verify.e_certificate_signature import MAX_SIGNATURE_BYTES

    def read(path: Path, limit: int) -> bytes:
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_BAD_INPUT)
        if len(data) > limit:
            fail(f"{path} is over {limit} bytes", EXIT_BAD_INPUT)
        return data

    encoded = read(certificate_path, MAX_E_CERTIFICATE_BYTES)
    signature = read(signature_path, MAX_SIGNATURE_BYTES)
    try:
        certificate = ECertificate.decode(encoded)
        signer = load_certificate(read(signer_path, MAX_CERTIFICATE_PEM_BYTES))
        bundle = TrustBundle.from_json_bytes(read(trust_path, MAX_TRUST_BUNDLE_BYTES))
    except (InputError, CertsInputError) as exc:
        fail(f"bad input: {exc}", EXIT_BAD_INPUT)
    record = None
    events: list[StatusEvent] | None = None
    missing = "no registry consulted (give --rpc URL)"
    if rpc is not None:
        if bundle.certificate_registry is None:
            fail(
                "--rpc: the bundle pins no CertificateRegistry (contracts.certificates)",
                EXIT_BAD_INPUT,
            )
        record, events = _registry_status(
            rpc, bundle.chain_id, bundle.certificate_registry, certificate.id
        )
    revocation = revocation_data(crl_paths, crl_der, server, sm2=_certifies_sm2(signer))
    moment = now or datetime.now(UTC)
    return certificate_report(
        encoded,
        signature,
        signer,
        _parsed_roots(bundle.pki_roots),
        revocation.crl,
        record,
        at or moment,
        moment,
        crl_missing=revocation.missing or "no CRL given (--crl FILE, or --server URL)",
        registry_missing=missing,
        sm2_crl=revocation.sm2_crl,
        sm2_engine=_sm2_engine(),
        status_events=events,
        registry=(bundle.chain_id, bundle.certificate_registry)
        if bundle.certificate_registry is not None
        else None,
        status_signers=[
            _read_certificate(path, read(path, MAX_CERTIFICATE_PEM_BYTES))
            for path in status_signer_paths
        ],
    )


def _read_certificate(path: Path, data: bytes) -> x509.Certificate:
    from certs.errors import CertsInputError
    from certs.formats.institution_profile import load_certificate

    try:
        return load_certificate(data)
    except CertsInputError as exc:
        fail(f"bad certificate {path}: {exc}", EXIT_BAD_INPUT)


def _registry_status(
    rpc: str, chain_id: int, registry: bytes, identifier: str
) -> tuple[StatusRecord, list[StatusEvent]]:
    """The registry's record of ``identifier`` and its events (with the issuer's signatures)
    from the node at ``rpc`` (the pinned registry on the pinned chain: another chain exits 2,
    an unreachable node 3)."""
    from eth_account import Account

    from certs.formats.status_statement import certificate_key
    from ledger.certificate_registry import CertificateRegistryClient
    from ledger.client import LedgerClient

    try:
        client = CertificateRegistryClient(LedgerClient(rpc, Account.create().key))
        if client.chain_id != chain_id:
            fail(
                f"--rpc: the node is on chain {client.chain_id}, the bundle pins {chain_id}",
                EXIT_BAD_INPUT,
            )
        client.attach(registry)
        key = certificate_key(identifier)
        return client.status_of(key), [entry.event for entry in client.history(key)]
    except LedgerError as exc:
        fail(f"could not read the registry at {rpc}: {exc}", EXIT_CANNOT_CHECK)


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--receipt",
    "receipt_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The receipt (JSON) of FILE.",
)
@click.option(
    "--custody",
    "custody_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instead: a custody export (GET /v1/documents/ID/custody), checked offline; "
    "repeat it for every page of a paged export.",
)
@click.option(
    "--validators",
    default=None,
    help="Trusted validator addresses, comma-separated (offline: no network at all).",
)
@click.option(
    "--contract", default=None, help="The LogAnchor address you trust (required without --trust)."
)
@click.option("--rpc", default=None, help="Also cross-check against this JSON-RPC node.")
@click.option(
    "--ack",
    "ack_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The log's acknowledgement of the deposit (from its 201): the receipt must prove "
    "the leaf it promised. Needs --log-key or --trust.",
)
@click.option(
    "--log-key",
    default=None,
    help="The log's verifier key (NAME+KEYID+KEY): checkpoints of version 2 receipts, and --ack.",
)
@click.option(
    "--also",
    "also_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Another receipt of the same log: the two must not give one leaf two entries.",
)
@click.option(
    "--trust",
    "trust_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A trust bundle (GET /v1/trust, zhenglian trust export): chain, contract, anchoring "
    "account, validators, log key, witnesses and quorum, time-stamp roots, all pinned at once.",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness's verifier key, as the witness publishes it; repeat for each. Replaces "
    "the bundle's witnesses.",
)
@click.option(
    "--quorum",
    type=click.IntRange(0, 32),
    default=None,
    help="How many of the pinned witnesses must have cosigned (default: the bundle's).",
)
@click.option(
    "--signature",
    "signature_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE's detached signature (.p7s): checked offline against the entry's commitment "
    "and the bundle's pki_roots (needs --trust).",
)
@click.option(
    "--crl",
    "crl_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PKI root's CRL (DER or PEM): the signer's revocation at signing time and now. "
    "Twice for both roots: the ECDSA root's and the SM2 root's (told apart by their "
    "signature algorithm).",
)
@click.option(
    "--server",
    default=None,
    help="Without --crl: fetch the CRL from this server's GET /v1/pki/crl "
    "(?algorithm=sm2 for an SM2 signer).",
)
@click.option(
    "--certificate",
    "certificate_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instead of FILE: a registered e-certificate (ID.json); needs "
    "--certificate-signature, --signer-cert and --trust; --rpc reads its registry status.",
)
@click.option(
    "--certificate-signature",
    "certificate_signature_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The e-certificate's signature (ID.sig).",
)
@click.option(
    "--signer-cert",
    "signer_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The issuing institution's certificate (PEM or DER) the e-certificate names.",
)
@click.option(
    "--status-signer-cert",
    "status_signer_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="(--certificate --rpc) Another certificate of the issuer that may have signed a "
    "change of the status (a renewal); the signer certificate is always tried.",
)
@click.option(
    "--at",
    default=None,
    help="With --certificate: the time asked about (ISO 8601 with its zone; default now).",
)
@click.option(
    "--bundle",
    "bundle_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instead: an evidence bundle (zhenglian fetch --bundle), every part checked offline "
    "against --trust (docs/bundle.md).",
)
@click.option(
    "--trust-from-bundle",
    is_flag=True,
    help="(--bundle) Trust the bundle's own trust.json instead of --trust: the server's word.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(
    file: Path | None,
    receipt_path: Path | None,
    custody_paths: tuple[Path, ...],
    validators: str | None,
    contract: str | None,
    rpc: str | None,
    ack_path: Path | None,
    log_key: str | None,
    also_paths: tuple[Path, ...],
    trust_path: Path | None,
    witness_keys: tuple[str, ...],
    quorum: int | None,
    as_json: bool,
    signature_path: Path | None = None,
    crl_paths: tuple[Path, ...] = (),
    server: str | None = None,
    certificate_path: Path | None = None,
    certificate_signature_path: Path | None = None,
    signer_path: Path | None = None,
    status_signer_paths: tuple[Path, ...] = (),
    at: str | None = None,
    bundle_path: Path | None = None,
    trust_from_bundle: bool = False,
) -> None:
    """Is FILE the document the receipt was issued for, deposited and anchored as it says?

    With --custody EXPORT (and no FILE; once per page): is the document's chain of custody
    complete and anchored as the export says? (--contract: the custody log's LogAnchor.)

    Pin what you trust: --trust BUNDLE (everything at once), or --validators and --contract
    (and, for a version 2 receipt, --log-key, --witness and --quorum). --rpc alone is not
    enough: a stranger can anchor anything in a contract of their own.

    With --certificate ID.json --certificate-signature ID.sig --signer-cert CERT --trust
    BUNDLE: is this e-certificate the issuer's, and does it stand (registry status with --rpc)?

    The report (docs/report.md §6): verdict first, then one line per check by section
    (ok / FAIL / -- not performed), then notices; --json: the same as JSON. Revocation is
    judged by --crl, else --server's GET /v1/pki/crl (an SM2 signer: the SM2 root's CRL).

    Verdict: intact, altered, receipt-invalid, untrusted, signature-invalid, revoked or
    unknown. Exit status: 0 intact; 1 any other verdict (one stderr line per failed check);
    2 bad input or usage; 3 could not check (the node or server is unreachable or lacks the
    block)."""
    if bundle_path is not None:  # docs/bundle.md: unpacked, then the checks below on its files
        from zhenglian.commands.verify_bundle import verify_bundle

        return verify_bundle(
            click.get_current_context(), bundle_path, trust_path, trust_from_bundle, as_json
        )
    if custody_paths:
        if file is not None or receipt_path is not None or rpc is not None or certificate_path:
            fail("--custody takes no FILE, --receipt or --rpc", EXIT_BAD_INPUT)
        _verify_custody(custody_paths, validators, contract, as_json)
        return
    if certificate_path is not None:
        if file is not None or receipt_path is not None or signature_path is not None:
            fail("--certificate takes no FILE, --receipt or --signature", EXIT_BAD_INPUT)
        if certificate_signature_path is None or signer_path is None or trust_path is None:
            fail(
                "--certificate needs --certificate-signature, --signer-cert and --trust",
                EXIT_BAD_INPUT,
            )
        assert certificate_signature_path is not None and signer_path is not None
        assert trust_path is not None
        report = verify_certificate(
            certificate_path,
            certificate_signature_path,
            signer_path,
            trust_path,
            rpc=rpc,
            crl_paths=crl_paths,
            server=server,
            at=_asked_time(at),
            status_signer_paths=status_signer_paths,
        )
        _print(report, as_json)
        return
    if file is None or receipt_path is None:
        fail("give FILE and --receipt RECEIPT (or --custody EXPORT)", EXIT_BAD_INPUT)
    assert file is not None and receipt_path is not None
    report = verify_document(
        file,
        receipt_path,
        trust_path=trust_path,
        validators=validators,
        contract=contract,
        log_key=log_key,
        witness_keys=witness_keys,
        quorum=quorum,
        signature_path=signature_path,
        crl_paths=crl_paths,
        server=server,
        ack_path=ack_path,
        also_paths=also_paths,
        rpc=rpc,
    )
    _print(report, as_json)


def _asked_time(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        fail(f"--at: not an ISO 8601 time: {raw!r}", EXIT_BAD_INPUT)
    if value.tzinfo is None:
        fail("--at: give the time with its zone (e.g. 2026-12-01T10:00:00+08:00)", EXIT_BAD_INPUT)
    return value


def _print(report: VerificationReport, as_json: bool) -> None:
    """Print ``report`` (text or JSON); exit 1 with one stderr line per failed check unless
    it is intact."""
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(report))
    if report.exit_status != 0:
        for check in report.failed:
            click.echo(f"zhenglian: {report.verdict}: {check.name}: {check.detail}", err=True)
        if not report.failed:
            click.echo(f"zhenglian: {report.verdict}", err=True)
        raise SystemExit(EXIT_FAILED)
