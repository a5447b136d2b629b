"""Signatures verified per second: our deposit check against the library's raw verify, in one run.

Three signature kinds, each checked the way the deposit check does
(:func:`evidence.verify.document_signature.check_detached_signature` / ``check_pdf_signature``:
parse the CMS, message digest, the signature, the signing time, the signer's certificate against
the root, its validity, profile, key usage and the root's CRL), and each against a baseline of
the same signature's bare cryptography measured in the same run:

* **ECDSA** (CAdES, P-256/SHA-256, made by pyHanko): baseline ``cryptography``'s
  ``EllipticCurvePublicKey.verify`` of the signature over the signed attributes;
* **SM2** (GM/T 0010, SM3, default signer ID): baseline gmssl-pyx's ``sm2_verify`` of the
  signature over the signed attributes with the signer ID (message level: ``Z``, ``e`` and the
  curve work in C);
* **PAdES** (a PDF signed by pyHanko, PAdES-B-T): baselines pyHanko's own
  ``validate_pdf_signature`` (against the same roots, the signature's and the time stamp's,
  revocation not fetched: it checks less than ours) and the raw ECDSA verify.

Every signature carries an RFC 3161 signature time-stamp token from a local ``openssl ts``
authority (tests/support/tsa.py), as deployed (CAdES-T, PAdES-T): our check verifies it too
(the token's CMS signature and its authority's chain), the raw baselines do not. Each figure
is the best of ``--rounds`` rounds of ``--count`` checks, as checks per second; the ratio is
ours / baseline in time per check (1.0 = as fast as the bare verify). The document is 1 KiB
(its digests are computed once, outside the loop, as the server computes them while the upload
streams).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gmssl_pyx
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.timestamps.api import TimeStamper

from certs.formats.credit_code import parse_credit_code
from certs.formats.institution_profile import (
    InstitutionSubject,
    InstitutionType,
    IssuanceRequest,
    build_institution_certificate,
    build_root_certificate,
)
from certs.formats.revocation_list import CrlContent, build_crl
from certs.formats.root_signer import Sm2RootSigner, build_sm2_root_certificate
from certs.signing.document_signer import load_signing_identity, sign_detached, sign_pdf
from certs.signing.sm2_signer import Sm2SigningIdentity, sign_sm2_detached
from certs.sm2 import keys as sm2_keys
from certs.sm2.algorithm import DEFAULT_SIGNER_ID
from certs.sm2.certificates import SM2Certificate
from certs.sm2.gmssl_engine import GmsslEngine
from certs.verify.cms_signature import read_detached_signature
from evidence.verify.document_signature import (
    SignatureTrust,
    check_detached_signature,
    check_pdf_signature,
)
from tests.support.tsa import LocalTimeStampAuthority

SUBJECT = InstitutionSubject(
    "北京市某公证处", parse_credit_code("11110000000029209E"), InstitutionType.NOTARY_OFFICE
)
DOCUMENT = b"notarial certificate body, 1 KiB " * 31 + b"x" * 1
PASSPHRASE = b"bench passphrase"


def _best(run: Callable[[], object], count: int, rounds: int) -> float:
    """Seconds per call: the best of ``rounds`` rounds of ``count`` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(count):
            run()
        best = min(best, (time.perf_counter() - started) / count)
    return best


def _digests(data: bytes) -> dict[str, bytes]:
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(data)
    return {"sha256": hashlib.sha256(data).digest(), "sm3": sm3.finalize()}


def _pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "公证书 — signed for the benchmark")
    page.showPage()
    page.save()
    return out.getvalue()


def _ecdsa(now: datetime) -> tuple[SignatureTrust, x509.Certificate, ec.EllipticCurvePrivateKey]:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = build_root_certificate(
        root_key,
        "某市司法局机构证书根",
        serial=1,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=3650),
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = build_institution_certificate(
        IssuanceRequest(
            subject=SUBJECT,
            public_key_der=key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            serial=2,
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=365),
        ),
        root_key=root_key,
        root=root,
    )
    crl = build_crl(CrlContent(1, now - timedelta(minutes=1), ()), root_key=root_key, root=root)
    return SignatureTrust(root, crl), certificate, key


def _sm2(now: datetime, engine: GmsslEngine) -> tuple[Sm2RootSigner, x509.Certificate, bytes]:
    root_key = sm2_keys.generate_private_key(engine)
    root = build_sm2_root_certificate(
        root_key,
        "某市司法局SM2根",
        serial=3,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=3650),
        engine=engine,
    )
    signer = Sm2RootSigner(root_key, root, engine)
    crl = signer.sign_crl(CrlContent(1, now - timedelta(minutes=1), ()))
    return signer, x509.load_der_x509_certificate(root.der), crl


class _LocalTimeStamper(TimeStamper):
    """pyHanko's TimeStamper answered in-process by the ``openssl ts`` authority."""

    def __init__(self, authority: LocalTimeStampAuthority) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(self.authority.reply(req.dump()))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench signatures")
    parser.add_argument("--count", type=int, default=200, help="checks per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        _run(args, LocalTimeStampAuthority.create(Path(tmp) / "tsa"))


def _run(args: argparse.Namespace, authority: LocalTimeStampAuthority) -> None:
    stamper = _LocalTimeStamper(authority)
    now = datetime.now(UTC) + timedelta(seconds=5)
    engine = GmsslEngine()
    digests = _digests(DOCUMENT)

    # ECDSA: a CAdES signature by pyHanko.
    trust, certificate, key = _ecdsa(now)
    trust = SignatureTrust(trust.root, trust.crl, (authority.root_der,))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    identity = load_signing_identity(
        key_pem, certificate.public_bytes(serialization.Encoding.PEM), PASSPHRASE
    )
    ecdsa_signature = sign_detached(DOCUMENT, identity, time_stamper=stamper)
    cms = read_detached_signature(ecdsa_signature)
    public = key.public_key()
    ecdsa_raw = _best(
        lambda: public.verify(
            cms.signature_value, cms.signed_attributes, ec.ECDSA(hashes.SHA256())
        ),
        args.count,
        args.rounds,
    )
    ecdsa_ours = _best(
        lambda: check_detached_signature(ecdsa_signature, digests, trust, now=now),
        args.count,
        args.rounds,
    )

    # SM2: a GM/T 0010 signature by certs.signing.sm2_signer.
    signer, sm2_root, sm2_crl = _sm2(now, engine)
    sm2_key = sm2_keys.generate_private_key(engine)
    sm2_certificate = SM2Certificate.from_der(
        signer.issue(
            IssuanceRequest(
                subject=SUBJECT,
                public_key_der=sm2_keys.public_key_info_der(sm2_key.public_key),
                serial=4,
                not_before=now - timedelta(days=1),
                not_after=now + timedelta(days=365),
            )
        )
    )
    sm2_signature = sign_sm2_detached(
        io.BytesIO(DOCUMENT),
        Sm2SigningIdentity(sm2_key, sm2_certificate),
        engine=engine,
        time_stamper=stamper,
    )
    sm2_trust = SignatureTrust(
        trust.root,
        trust.crl,
        trust.time_stamp_roots,
        sm2_root=sm2_root,
        sm2_crl=sm2_crl,
        sm2_engine=engine,
    )
    sm2_cms = read_detached_signature(sm2_signature)  # reads GM/T 0010 structures too
    raw_public = sm2_key.public_key.raw
    sm2_raw = _best(
        lambda: gmssl_pyx.sm2_verify(
            raw_public, sm2_cms.signed_attributes, sm2_cms.signature_value, DEFAULT_SIGNER_ID
        ),
        args.count,
        args.rounds,
    )
    assert gmssl_pyx.sm2_verify(
        raw_public, sm2_cms.signed_attributes, sm2_cms.signature_value, DEFAULT_SIGNER_ID
    )
    sm2_ours = _best(
        lambda: check_detached_signature(sm2_signature, digests, sm2_trust, now=now),
        args.count,
        args.rounds,
    )

    # PAdES: a PDF signed by pyHanko.
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from certs.verify.pades_signature import read_pdf_signature

    signed_pdf = sign_pdf(io.BytesIO(_pdf()), identity, time_stamper=stamper, root=None, crl=None)
    content = read_pdf_signature(signed_pdf)
    pdf_cms = read_detached_signature(content.signed_data)
    pades_raw_ecdsa = _best(
        lambda: public.verify(
            pdf_cms.signature_value, pdf_cms.signed_attributes, ec.ECDSA(hashes.SHA256())
        ),
        args.count,
        args.rounds,
    )
    from asn1crypto import x509 as asn1_x509

    roots = [
        asn1_x509.Certificate.load(trust.root.public_bytes(serialization.Encoding.DER)),
        asn1_x509.Certificate.load(authority.root_der),
    ]

    def hanko() -> None:
        reader = PdfFileReader(io.BytesIO(signed_pdf))
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = asyncio.run(async_validate_pdf_signature(reader.embedded_signatures[0], context))
        assert status.intact and status.valid

    hanko_count = max(args.count // 10, 5)
    pades_hanko = _best(hanko, hanko_count, args.rounds)
    pades_ours = _best(
        lambda: check_pdf_signature(signed_pdf, trust, now=now), args.count, args.rounds
    )

    rows = [
        ("ECDSA CAdES", "cryptography ECDSA verify", ecdsa_raw, ecdsa_ours),
        ("SM2 GM/T 0010", "gmssl-pyx sm2_verify", sm2_raw, sm2_ours),
        ("PAdES", "cryptography ECDSA verify", pades_raw_ecdsa, pades_ours),
        ("PAdES", "pyHanko validate_pdf_signature", pades_hanko, pades_ours),
    ]
    print(
        f"signature checks per second (best of {args.rounds} rounds of {args.count}; "
        f"pyHanko: {hanko_count}), our full check vs the baseline in the same run"
    )
    print(f"{'signature':<15} {'baseline':<32} {'baseline/s':>11} {'ours/s':>9} {'ratio':>7}")
    for kind, baseline, raw, ours in rows:
        print(f"{kind:<15} {baseline:<32} {1 / raw:>11,.0f} {1 / ours:>9,.0f} {ours / raw:>7.2f}")
