"""Documents as evidence: formats, offline verification, access, storage and services.

Rooms (``docs/architecture.md`` has the map):

- :mod:`evidence.formats` — specified, versioned, pure: canonical JSON, log entries, receipts,
  custody events and exports, their JSON Schemas.
- :mod:`evidence.verify` — pure offline verification of receipts and custody exports.
- :mod:`evidence.access` — the policy table, case and share codes, and enforcement.
- :mod:`evidence.store` — database, repositories, migrations, blob stores, group commit.
- :mod:`evidence.services` — deposits, anchoring, custody, online verification, receipts.

Shared by all rooms: :mod:`evidence.errors` (the package's one error root) and
:mod:`evidence.digest` (SHA-256 and SM3 of a document in one streaming pass).
"""
