"""The e-certificate verification report at 10⁶ registered certificates (issue 12: p99 ≤ 10 ms).

What is timed is what ``GET /v1/certificates/{id}/report`` runs on the server:
:meth:`CertificateRegistration.report` — the stored row read by its identifier, the issuer's
signature over the stored certificate, the issuer's certificate against the root and the
current CRL, the registry status as the service recorded the mined transactions, the validity
window. With ``source=chain`` the status is read from the chain's CertificateRegistry instead
(an ``eth_call`` to a real embedded node over HTTP): timed too, as a row of its own.

The database is seeded synthetically (``add_certificates``, 10,000 rows per statement, not
through the API), every row a real certificate: its own number and identifier, canonically
encoded and signed by one institution's key. The first ``--on-chain`` of them are also
registered on the chain through the registry client, with the institution's signature over the
issue statement; the others are not on the chain, so a chain read of them reads an empty status
(the same ``eth_call``).

Baseline, measured in the same run with the same node and keys: the same report at
``--baseline`` certificates (10³). The ratio shows what the table's size costs. Beside them,
each part alone at the large size: the row read, the chain read, the pure report.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from bench.signature_verification import _ecdsa
from certs.formats.institution_profile import InstitutionType
from certs.formats.status_statement import StatusStatement, certificate_key
from evidence.formats.e_certificate import IssueFields
from evidence.formats.e_certificate_identifier import derived_serial
from evidence.services.certificate_registration import (
    CertificateRegistration,
    recorded_status,
)
from evidence.store.database import Database, open_database
from evidence.store.repository import (
    MAX_CERTIFICATES_PER_INSERT,
    CertificateRecord,
    CertificateStatus,
    NewCertificate,
    add_certificates,
    get_certificate,
)
from evidence.verify.document_signature import SignatureTrust
from evidence.verify.e_certificate_signature import certificate_fingerprint, sign_e_certificate
from evidence.verify.verification_report import certificate_report
from ledger.certificate_registry import CERTIFICATE_REGISTRY, CertificateRegistryClient
from ledger.client import JsonDeploymentStore, LedgerClient
from ledger.node.server import ANCHORER_KEY, EmbeddedNode, load_node_key

CODE = "11110000000029209E"
FIELDS = {
    "type": "notarial_certificate",
    "number": "(2026)京某证字第0号",
    "issued": "2026-03-02",
    "valid_from": "2026-03-02",
    "valid_until": None,
    "holder": {
        "name": "王小红",
        "id_type": "resident_id",
        "id_number": "11010519491231002X",
        "address": "四川省广元市利州区滨河北路88号3栋2单元501室",
    },
    "issuer": {"name": "北京市某公证处", "credit_code": CODE},
    "details": {"matter": "学历公证", "notary": "李明", "purpose": "赴英国留学"},
}


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99, max in milliseconds."""
    ordered = sorted(samples)

    def at(pct: float) -> float:
        return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))] * 1000

    return at(50), at(99), ordered[-1] * 1000


def _row(label: str, times: list[float]) -> float:
    """Print one row (p50, p99, max in ms); its p99."""
    p50, p99, worst = _percentiles(times)
    print(f"{label:56} {p50:7.2f} {p99:7.2f} {worst:7.2f}")
    return p99


def _timed(run: Callable[[str], object], identifiers: list[str]) -> list[float]:
    out = []
    for identifier in identifiers:
        started = time.perf_counter()
        run(identifier)
        out.append(time.perf_counter() - started)
    return out


class Seeder:
    """Real certificates of one institution, numbered 0, 1, 2, …"""

    def __init__(self, signer: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.key = key
        self.signer_der = signer.public_bytes(Encoding.DER)
        self.fingerprint = certificate_fingerprint(signer)
        self.template = IssueFields.from_json_bytes(json.dumps(FIELDS).encode())
        self.registered_at = datetime.now(UTC)
        self.token = str(uuid.uuid4())

    def row(self, i: int) -> tuple[NewCertificate, bytes]:
        """Certificate ``i`` as a seeded row, and its encoding."""
        number = f"(2026)京某证字第{i}号"
        fields = dataclasses.replace(
            self.template, number=number, serial=derived_serial("GZ", CODE, number)
        )
        cert = fields.certificate(
            issuer_type=InstitutionType.NOTARY_OFFICE, certificate_sha256=self.fingerprint
        )
        encoded = cert.encode()
        signature = sign_e_certificate(cert, self.key)
        return (
            NewCertificate(
                id=cert.id,
                issuer_code=CODE,
                issuer_name=cert.issuer.name,
                issuer_type="notary_office",
                type=cert.type.key,
                number=number,
                encoded=encoded,
                certificate_sha256=_sha256(encoded),
                signature=signature,
                signer_certificate=self.signer_der,
                issue_signature=signature,  # not read by the report
                registered_by=self.token,
                registered_at=self.registered_at,
                status=CertificateStatus.ISSUED,
                issue_tx=_sha256(b"tx" + cert.id.encode()),
                issue_block=i + 1,
                issue_block_time=int(self.registered_at.timestamp()),
            ),
            encoded,
        )

    def seed(self, database: Database, count: int) -> list[str]:
        identifiers: list[str] = []
        for start in range(0, count, MAX_CERTIFICATES_PER_INSERT):
            rows = [
                self.row(i)[0]
                for i in range(start, min(count, start + MAX_CERTIFICATES_PER_INSERT))
            ]
            with database.session() as session:
                add_certificates(session, rows)
                session.commit()
            identifiers += [r.id for r in rows]
        return identifiers


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench certificate-report")
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--on-chain", type=int, default=20)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    trust, signer, key = _ecdsa(now)
    seeder = Seeder(signer, key)
    random.seed(12)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        node = EmbeddedNode(work / "chain", block_time=1.0)
        running = node.start("127.0.0.1", 0)
        try:
            client = LedgerClient(
                running.url, "0x" + load_node_key(work / "chain", ANCHORER_KEY).to_bytes().hex()
            )
            registry = CertificateRegistryClient(client)
            registry.ensure_deployed(
                JsonDeploymentStore(work / "registry.json", contract=CERTIFICATE_REGISTRY)
            )
            assert registry.address is not None
            on_chain = []
            for i in range(args.on_chain):
                row, encoded = seeder.row(i)
                statement = StatusStatement.issue(
                    chain_id=registry.chain_id,
                    registry=registry.address,
                    certificate=certificate_key(row.id),
                    issuer=CODE,
                    certificate_hash=_sha256(encoded),
                ).to_bytes()
                registry.issue(
                    certificate_key(row.id),
                    CODE,
                    _sha256(encoded),
                    key.sign(statement, ec.ECDSA(hashes.SHA256())),
                )
                on_chain.append(row.id)
            print(
                f"certificate report: {args.on_chain} certificates registered on the embedded "
                f"chain; samples {args.samples} per row below (ms)"
            )
            print(f"{'':56} {'p50':>7} {'p99':>7} {'max':>7}")
            p99: dict[int, float] = {}
            for count in (args.baseline, args.certificates):
                database = open_database(f"sqlite:///{work / f'certificates-{count}.db'}")
                started = time.perf_counter()
                identifiers = seeder.seed(database, count)
                seeded = time.perf_counter() - started
                registration = CertificateRegistration(database, registry, lambda: trust)
                sample = random.choices(identifiers, k=args.samples)
                registration.report(sample[0])  # warm: connections, parsed root
                p99[count] = _row(
                    f"report, {count:>9,} certificates (seeded in {seeded:.0f} s)",
                    _timed(registration.report, sample),
                )
                if count == args.certificates:
                    _row(
                        "  the status read from the chain instead (source=chain)",
                        _timed(functools.partial(registration.report, from_chain=True), sample),
                    )
                    _parts(database, registry, trust, sample, now)
                database.engine.dispose()
            ratio = p99[args.certificates] / p99[args.baseline]
            print(
                f"p99 at {args.certificates:,} ÷ p99 at {args.baseline:,}: {ratio:.2f}; goal "
                f"p99 ≤ 10 ms: {'met' if p99[args.certificates] <= 10 else 'NOT met'}"
            )
        finally:
            running.stop()


def _parts(
    database: Database,
    registry: CertificateRegistryClient,
    trust: SignatureTrust,
    sample: list[str],
    now: datetime,
) -> None:
    """Each part of the report alone, on the large table."""
    from certs.formats.institution_profile import load_certificate

    def row(identifier: str) -> CertificateRecord:
        with database.session() as session:
            found = get_certificate(session, identifier)
        assert found is not None
        return found

    _row("  part: the row read by identifier", _timed(row, sample))
    _row(
        "  part: the status read from the chain (eth_call)",
        _timed(lambda i: registry.status_of(certificate_key(i)), sample),
    )
    records = {}
    for identifier in sample[:200]:
        found = row(identifier)
        records[identifier] = (found, recorded_status(found))

    def pure(identifier: str) -> object:
        found, status = records[identifier]
        return certificate_report(
            found.encoded,
            found.signature,
            load_certificate(found.signer_certificate),
            (trust.root,),
            trust.crl,
            status,
            now,
            now,
        )

    _row("  part: the checks (pure, in memory)", _timed(pure, list(records) * 5))
