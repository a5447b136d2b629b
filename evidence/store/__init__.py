"""Storage: the metadata database (SQLAlchemy models, engine, Alembic migrations), the
repository queries (Merkle nodes, documents, anchors), the blob stores (local files, S3 with
Object Lock) and the group committer.

Storage knows nothing of the services above it (an import-linter contract keeps it so); it
is constructed only by the composition root, :mod:`zhenglian.composition`.
"""
