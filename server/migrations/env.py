"""Alembic environment of the server database; the server runs it with an open connection."""

from alembic import context

from server.models import ServerBase

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the server's migrations through server.database.migrate")
context.configure(
    connection=connection,
    target_metadata=ServerBase.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
