"""Alembic environment: runs against the connection the metadata store hands in."""

from __future__ import annotations

from alembic import context

from userlens.store.meta.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
