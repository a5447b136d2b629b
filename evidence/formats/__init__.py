"""Specified, versioned formats: what Zhenglian writes for others to read and verify.

**Verification-critical and pure.** Log entries, receipts, custody events and custody exports
are read years later by courts and by third-party re-implementations of ``docs/``. Every module
here uses only the standard library, :mod:`ledger.merkle`, :mod:`ledger.anchor_proof`, the
pure :mod:`certs.formats` (credit codes and institution types, for e-certificates) and the
other modules of this package; nothing does I/O. The one canonical JSON encoding they share is
:mod:`evidence.formats.canonical_json`; the version policy is ``docs/formats.md``.
"""
