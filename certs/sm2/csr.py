"""SM2 certificate requests (PKCS#10, RFC 2986, signed SM2-with-SM3 with the default ID), for
institutions that keep their key on their own side and send a request (``pki issue --csr``).

:func:`check_certificate_request` is the proof of possession: the request is signed by the key
it asks to certify. What the request *says* (its subject) is not trusted: the authority builds
the certificate's subject from its own records and takes only the public key. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from asn1crypto import algos, csr, pem

from certs.sm2 import oids
from certs.sm2.algorithm import DEFAULT_SIGNER_ID, SM2PublicKey
from certs.sm2.certificates import NameAttributes, distinguished_name
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import MalformedSM2Data
from certs.sm2.keys import SM2PrivateKey, public_key_from_info, public_key_info
from certs.sm2.signing import sign_message, verify_message

#: A certificate request larger than this is refused before parsing.
MAX_REQUEST_BYTES: Final = 16 * 1024


@dataclass(frozen=True)
class SM2CertificateRequest:
    """A parsed SM2 PKCS#10 request (structure and algorithms checked, signature not yet)."""

    der: bytes
    info_der: bytes
    subject: tuple[tuple[str, str], ...]
    public_key: SM2PublicKey
    signature: bytes

    @classmethod
    def from_der(cls, der: bytes) -> SM2CertificateRequest:
        if len(der) > MAX_REQUEST_BYTES:
            raise MalformedSM2Data("certificate request", f"larger than {MAX_REQUEST_BYTES} B")
        try:
            request = csr.CertificationRequest.load(der, strict=True)
            info = request["certification_request_info"]
            algorithm = request["signature_algorithm"]
            if algorithm["algorithm"].dotted != oids.SM2_WITH_SM3:
                raise MalformedSM2Data("certificate request", "signature is not SM2-with-SM3")
            if algorithm["parameters"].native is not None:
                raise MalformedSM2Data("certificate request", "SM2-with-SM3 has parameters")
            if info["version"].native != "v1":
                raise MalformedSM2Data("certificate request", "not a version 1 request")
            subject = tuple(
                (atv["type"].dotted, str(atv["value"].native))
                for rdn in info["subject"].chosen
                for atv in rdn
            )
            return cls(
                der=bytes(der),
                info_der=bytes(info.dump()),
                subject=subject,
                public_key=public_key_from_info(info["subject_pk_info"]),
                signature=bytes(request["signature"].native),
            )
        except MalformedSM2Data:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise MalformedSM2Data("certificate request", f"not PKCS#10: {exc}") from exc

    @classmethod
    def from_pem(cls, data: bytes) -> SM2CertificateRequest:
        if len(data) > 2 * MAX_REQUEST_BYTES:
            raise MalformedSM2Data("certificate request", "PEM too large")
        try:
            label, _headers, der = pem.unarmor(data)
        except (ValueError, TypeError) as exc:
            raise MalformedSM2Data("certificate request", f"bad PEM: {exc}") from exc
        if label not in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
            raise MalformedSM2Data("certificate request", f"PEM label {label!r}")
        return cls.from_der(bytes(der))

    def to_pem(self) -> bytes:
        return bytes(pem.armor("CERTIFICATE REQUEST", self.der))


def build_certificate_request(
    *, subject: NameAttributes, key: SM2PrivateKey, engine: SM2Engine
) -> SM2CertificateRequest:
    """A PKCS#10 request for ``key``, signed with it (what an institution's side does)."""
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": distinguished_name(subject),
            "subject_pk_info": public_key_info(key.public_key),
            "attributes": [],
        }
    )
    info_der = bytes(info.dump())
    request = csr.CertificationRequest(
        {
            "certification_request_info": csr.CertificationRequestInfo.load(info_der),
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3}),
            "signature": sign_message(key, info_der, engine=engine),
        }
    )
    return SM2CertificateRequest.from_der(bytes(request.dump()))


def check_certificate_request(
    request: SM2CertificateRequest,
    *,
    engine: SM2Engine,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> bool:
    """Whether the request is signed by the key it carries (proof of possession)."""
    return verify_message(
        request.public_key, request.info_der, request.signature, engine=engine, signer_id=signer_id
    )
