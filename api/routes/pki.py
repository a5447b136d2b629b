"""The institutions' PKI, as published (public): the root certificate and the current CRL.

Both are read from ``DATA_DIR/pki`` as ``zhenglian pki`` leaves them, re-read when a file
changed (one ``stat`` per request), so issuing, revoking or publishing needs no restart.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import Services, ServicesDep, limit_address
from api.problems import Problem
from certs.errors import AuthorityError
from certs.store.publication import PublishedPki

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/pki", tags=["pki"], dependencies=[Depends(limit_address)])

PEM_CHAIN = "application/pem-certificate-chain"
"""RFC 8555 §9.1: PEM certificates."""
PKIX_CRL = "application/pkix-crl"
"""RFC 2585 §4.2: a DER CRL."""


def published_pki(request: Request, services: Services) -> PublishedPki:
    """The data directory's published PKI files (one reader per application)."""
    reader: PublishedPki | None = getattr(request.app.state, "published_pki", None)
    if reader is None:
        reader = PublishedPki(services.settings.data_dir)
        request.app.state.published_pki = reader
    return reader


def _unavailable(exc: AuthorityError) -> Problem:
    log.error("PKI files unreadable: %s", exc)  # the paths are for operators, not callers
    return Problem(503, "Storage or ledger unavailable", "the PKI files cannot be read")


@router.get(
    "/ca",
    response_class=Response,
    responses={
        200: {
            "description": "the root certificates of the institutions' PKI (PEM): the ECDSA "
            "root, then the SM2 root when the authority has one",
            "content": {PEM_CHAIN: {"schema": {"type": "string"}}},
        },
        404: {},
        503: {},
    },
)
def pki_root(request: Request, services: ServicesDep) -> Response:
    """The justice bureau's root certificate, which certifies institutions' signing keys
    (docs/pki.md). 404 until ``zhenglian pki init`` ran on this data directory. It is the
    operator's word: pin it from the bureau, as the trust bundle's ``pki_roots``."""
    try:
        pem = b"".join(published_pki(request, services).root_pems()) or None
    except AuthorityError as exc:
        raise _unavailable(exc) from None
    if pem is None:
        raise Problem(404, "Not found", "this server has no PKI (zhenglian pki init)")
    return Response(pem, media_type=PEM_CHAIN, headers={"Cache-Control": "no-cache"})


@router.get(
    "/crl",
    response_class=Response,
    responses={
        200: {
            "description": "the current certificate revocation list (DER, RFC 5280)",
            "content": {PKIX_CRL: {"schema": {"type": "string", "format": "binary"}}},
        },
        404: {},
        503: {},
    },
)
def pki_crl(
    request: Request, services: ServicesDep, algorithm: Literal["ecdsa", "sm2"] = "ecdsa"
) -> Response:
    """The root's current CRL (DER): every revoked institution certificate, with its
    reason and, when earlier than the revocation, its invalidity date. A relying party
    refuses it after its nextUpdate (the authority re-issues it at least weekly).
    ``?algorithm=sm2``: the SM2 root's CRL (SM2-with-SM3), which SM2 certificates name."""
    try:
        reader = published_pki(request, services)
        der = reader.sm2_crl_der() if algorithm == "sm2" else reader.crl_der()
    except AuthorityError as exc:
        raise _unavailable(exc) from None
    if der is None:
        raise Problem(404, "Not found", "this server has no PKI (zhenglian pki init)")
    return Response(der, media_type=PKIX_CRL, headers={"Cache-Control": "no-cache"})
