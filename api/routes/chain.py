"""Which chain the log is anchored on: chain id, validators, contract (public)."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.openapi import schema_ref
from api.problems import Problem
from api.routes.pki import published_pki
from api.schemas import ChainPublic
from certs.errors import AuthorityError

router = APIRouter(prefix="/v1", tags=["chain"])


@router.get("/chain", response_model=ChainPublic)
def chain(services: ServicesDep) -> ChainPublic:
    """Everything a third party needs to cross-check receipts against the chain."""
    return ChainPublic(**services.chain_info)


@router.get(
    "/trust",
    responses={
        200: {"description": "the trust bundle", "content": schema_ref("TrustBundle")},
        404: {},
    },
)
def trust_bundle(request: Request, services: ServicesDep) -> JSONResponse:
    """The trust bundle (docs/trust.md): what a verifier of this server's receipts pins —
    chain id and genesis block, LogAnchor contracts, anchoring account, validators, the log's
    key, the witnesses and their quorum, the time-stamp authorities' roots. Saved as it is, it
    is a bundle file for ``zhenglian verify --trust``. It is the operator's word: pin the
    witnesses' keys as the witnesses themselves publish them. ``pki_roots`` holds the
    institutions' root certificate (``GET /v1/pki/ca``) as it is now, if there is one."""
    if services.trust_bundle is None:
        raise Problem(404, "Not found", "this server publishes no trust bundle")
    bundle = services.trust_bundle
    try:
        roots = published_pki(request, services).root_pems()  # ECDSA, and SM2 if any
    except AuthorityError as exc:
        raise Problem(503, "Storage or ledger unavailable", "the PKI files cannot be read") from exc
    if roots:
        bundle = replace(bundle, pki_roots=tuple(root.decode("ascii") for root in roots))
    return JSONResponse(bundle.to_json())
