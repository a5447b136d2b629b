"""The file-backed certificate authority (``DATA_DIR/pki``): disk, locks, atomic writes.
Not pure: it is kept apart from ``certs.formats`` and ``certs.verify``."""
