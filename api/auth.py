"""Bearer tokens: random, shown once, stored only as their SHA-256; roles bound to institutions."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

#: Prefix that makes a Zhenglian token recognisable (e.g. by secret scanners).
TOKEN_PREFIX = "zl_"
#: Random bytes in a token (256 bits).
TOKEN_BYTES = 32
#: Longest Authorization header value accepted.
MAX_TOKEN_CHARS = 128

ROLES = ("admin", "notary", "forensic", "legal_aid", "court", "lawyer")
#: Roles that deposit documents, and the document kind each deposits by default.
DEPOSITING_ROLES = frozenset({"notary", "forensic", "legal_aid"})
#: Roles that see every document's status and receipt (courts weigh evidence of all parties).
READ_ALL_ROLES = frozenset({"admin", "court"})


@dataclass(frozen=True)
class Principal:
    token_id: str
    institution: str
    role: str


def new_token() -> str:
    raw = secrets.token_bytes(TOKEN_BYTES)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
