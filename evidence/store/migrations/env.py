"""Alembic environment: runs on the connection handed over in ``config.attributes``.

There is no alembic.ini: :meth:`evidence.store.database.Database.migrate` (or, to write a new
revision, ``evidence.store.database.alembic_config(connection)``) builds the configuration in
code and passes an open connection, already inside the transaction the migrations must run in.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from evidence.store.database import UTCDateTime, metadata


def _render_item(kind: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Autogenerate writes our column types as plain SQLAlchemy types (no evidence imports)."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with evidence.store.database.Database.migrate() or pass a connection via "
        "evidence.store.database.alembic_config(connection)"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    render_item=_render_item,
    # SQLite cannot ALTER most things: autogenerate batch (copy-and-move) operations there.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
