"""Bearer tokens and roles (re-exported from :mod:`evidence.access.enforcement` and
:mod:`evidence.access.policy`).

Tokens are random (256 bits), shown once, stored only as their SHA-256, bound to one
institution and one role, revocable, optionally expiring. Who may do what is the table in
:mod:`evidence.access.policy`, applied by :func:`evidence.access.enforcement.authorize`.
"""

from __future__ import annotations

from evidence.access.enforcement import (
    MAX_TOKEN_CHARS,
    PUBLIC,
    TOKEN_BYTES,
    TOKEN_PREFIX,
    Principal,
    new_token,
    token_hash,
)
from evidence.access.policy import INSTITUTION_TYPE_OF_ROLE, Role

#: Roles a token can have (``public`` is the caller without one).
ROLES = tuple(r.value for r in INSTITUTION_TYPE_OF_ROLE)

__all__ = [
    "MAX_TOKEN_CHARS",
    "PUBLIC",
    "ROLES",
    "TOKEN_BYTES",
    "TOKEN_PREFIX",
    "Principal",
    "Role",
    "new_token",
    "token_hash",
]
