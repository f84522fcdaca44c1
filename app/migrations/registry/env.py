"""Alembic environment of the registry database; Beacon runs it with an open connection."""

from alembic import context

from app.models import Base as target_base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through app.services.sqlite_store.open_database")
context.configure(connection=connection, target_metadata=target_base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
