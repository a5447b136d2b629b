"""Alembic environment: run with the connection handed over by ``Database.migrate``."""

from __future__ import annotations

from alembic import context

from evidence.repository import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
