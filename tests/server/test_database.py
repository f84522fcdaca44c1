"""The server's database: Alembic builds exactly the models' schema, on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from server.database import ServerDatabaseError, create_server_engine, migrate
from server.models import ServerBase
from tests.postgres import PostgresCluster


def test_migrations_build_the_models_schema(db_url: str):
    engine = create_server_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # a second time is a no-op
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, ServerBase.metadata) == []
    finally:
        engine.dispose()


def test_a_database_of_another_program_is_refused(db_url: str):
    engine = create_server_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
        with pytest.raises(ServerDatabaseError, match="tables of another program"):
            migrate(engine)
    finally:
        engine.dispose()


def test_a_url_for_another_database_is_refused():
    with pytest.raises(ServerDatabaseError, match="PostgreSQL or SQLite"):
        create_server_engine("mysql://root@localhost/beacon")
    with pytest.raises(ServerDatabaseError, match="not a database URL"):
        create_server_engine("beacon.sqlite3")


def test_the_postgres_cluster_is_real_and_quick(postgres_cluster: PostgresCluster):
    engine = create_server_engine(postgres_cluster.url())
    try:
        with engine.connect() as connection:
            version = connection.scalar(text("SHOW server_version_num"))
    finally:
        engine.dispose()
    assert int(str(version)) >= 130000
    assert postgres_cluster.started_in_s < 30
