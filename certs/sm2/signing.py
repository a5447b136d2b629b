"""SM2 signatures over messages with SM3 and a signer ID (GB/T 32918.2-2016, GM/T 0009-2012).

Computing and comparing are split: :func:`certs.sm2.algorithm.message_digest` computes ``e``,
the engine signs or checks it. :func:`verify_message` answers ``True`` or ``False`` for any
signature bytes, malformed ones included: a caller holding a signature cannot make it raise.
Malformed *keys* and over-long IDs do raise :class:`~certs.sm2.errors.MalformedSM2Data`, since
those come from the caller's own trust configuration, not from the signer.
"""

from __future__ import annotations

from certs.sm2.algorithm import (
    DEFAULT_SIGNER_ID,
    MAX_SIGNATURE_BYTES,
    SM2PublicKey,
    SM2Signature,
    message_digest,
)
from certs.sm2.engine import SM2Engine
from certs.sm2.errors import BindingError, MalformedSM2Data
from certs.sm2.keys import SM2PrivateKey


def sign_message(
    key: SM2PrivateKey,
    message: bytes,
    *,
    engine: SM2Engine,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> bytes:
    """The DER signature ``SEQUENCE {r, s}`` of ``message`` (``e = SM3(Z ‖ M)``)."""
    signature = engine.sign_digest(key.scalar, message_digest(key.public_key, message, signer_id))
    try:
        SM2Signature.from_der(signature)
    except MalformedSM2Data as exc:
        raise BindingError(f"{engine.name} returned a malformed signature") from exc
    return signature


def verify_message(
    public_key: SM2PublicKey,
    message: bytes,
    signature: bytes,
    *,
    engine: SM2Engine,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> bool:
    """Whether ``signature`` (canonical DER) signs ``message`` under ``public_key`` and
    ``signer_id``. Never raises for the signature's content."""
    if len(signature) > MAX_SIGNATURE_BYTES:
        return False
    try:
        SM2Signature.from_der(signature)
    except MalformedSM2Data:
        return False
    e = message_digest(public_key, message, signer_id)
    return engine.verify_digest(public_key.raw, e, signature)
