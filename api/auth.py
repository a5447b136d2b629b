"""Bearer tokens and roles (re-exported from :mod:`evidence.access` and :mod:`evidence.policy`).

Tokens are random (256 bits), shown once, stored only as their SHA-256, bound to one
institution and one role, revocable, optionally expiring. Who may do what is the table in
:mod:`evidence.policy`, applied by :func:`evidence.access.authorize`.
"""

from __future__ import annotations

from evidence.access import (
    MAX_TOKEN_CHARS,
    PUBLIC,
    TOKEN_BYTES,
    TOKEN_PREFIX,
    Principal,
    new_token,
    token_hash,
)
from evidence.policy import INSTITUTION_TYPE_OF_ROLE, Role

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
