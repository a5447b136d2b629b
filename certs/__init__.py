"""Institutions' PKI, signatures and e-certificates (电子证照).

Rooms: ``formats/`` (specified and pure: the 统一社会信用代码, the institution certificate
profile, revocation lists), ``verify/`` (pure checks taking trust and time as arguments),
``store/`` (the file-backed certificate authority: not pure), and the 国密 SM2 primitives
beside them. ``certs`` imports neither ``ledger`` nor ``evidence``: a court can use it alone.
The PKI is specified in docs/pki.md.
"""
