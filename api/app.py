"""The FastAPI application: settings, dependencies, routes, schemas, error mapping — nothing else.

Everything with state (database, blob store, deposit service, anchoring worker, ledger client)
is built by :mod:`zhenglian.composition` and handed in as :class:`Services`.
"""

from __future__ import annotations

from fastapi import FastAPI

from api import openapi, problems
from api.deps import Services
from api.routes import (
    admin,
    cases,
    certificates,
    chain,
    custody,
    documents,
    health,
    institutions,
    log,
    pki,
    shares,
    verify,
)
from api.security_headers import SecurityHeaders


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Zhenglian (证链)",
        version="0.1.0",
        description=(
            "Blockchain-anchored electronic evidence store: deposit documents, fetch receipts, "
            "verify documents against receipts."
        ),
        docs_url=None,  # the Swagger UI and ReDoc load scripts from a CDN: not served
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.state.services = services
    openapi.install(app)  # first: problems.install documents problem answers on top of it
    problems.install(app)
    app.include_router(documents.router)
    app.include_router(cases.router)
    app.include_router(shares.router)
    app.include_router(admin.router)
    app.include_router(institutions.router)
    app.include_router(custody.router)
    app.include_router(verify.router)
    app.include_router(log.router)
    app.include_router(chain.router)
    app.include_router(pki.router)
    app.include_router(certificates.router)
    app.include_router(health.router)
    return app
