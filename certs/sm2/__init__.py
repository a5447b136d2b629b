"""SM2 (国密) building blocks: keys, signatures, certificates and detached CMS signatures.

Modules, by what they are:

* ``algorithm`` — sm2p256v1, SM3, ``Z`` and ``e``, point and signature encodings (pure);
* ``oids`` — the object identifiers used (pure);
* ``engine`` — the :class:`~certs.sm2.engine.SM2Engine` Protocol, the seam to a compiled binding;
* ``gmssl_engine`` — that engine on gmssl-pyx (GmSSL 3): the only module touching the binding;
* ``keys`` — key generation, PKCS#8 (PBES2-encrypted at rest), SubjectPublicKeyInfo (pure);
* ``signing`` — message signatures with SM3 and a signer ID (pure, given an engine);
* ``certificates`` — GM/T 0015 certificates: build, parse, check at a time (pure);
* ``csr`` — PKCS#10 requests signed SM2-with-SM3, and the proof-of-possession check (pure);
* ``crl`` — CRLs signed SM2-with-SM3: build, parse, check at a time (pure);
* ``detached_signature`` — CMS SignedData per GM/T 0010 or RFC 5652 (pure);
* ``errors`` — :class:`~certs.sm2.errors.SM2Error` under :class:`certs.errors.CertsError`.

Everything that does elliptic-curve work takes ``engine=`` explicitly; nothing reads files.
docs/sm2.md says which standard each part follows and what is left out.
"""
