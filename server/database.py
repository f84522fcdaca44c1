"""Opening the server's database (PostgreSQL or SQLite) and migrating it to head with Alembic."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MARKER_TABLE = "audit_events"


class ServerDatabaseError(Exception):
    """The database cannot be used by this server; the message says why and what to do."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def create_server_engine(db_url: str) -> Engine:
    """An engine for ``db_url``; SQLite gets WAL, foreign keys and a busy timeout."""
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise ServerDatabaseError(
            f"{db_url!r} is not a database URL; use e.g. sqlite:///path/server.sqlite3 or "
            "postgresql+psycopg://user@host/dbname"
        ) from exc
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ServerDatabaseError(
            f"the server runs on PostgreSQL or SQLite, not {url.get_backend_name()}"
        )
    if url.drivername == "postgresql":  # psycopg 3 is what the server installs
        url = url.set(drivername="postgresql+psycopg")
    options: dict[str, Any] = {}
    in_memory = url.get_backend_name() == "sqlite" and url.database in {None, "", ":memory:"}
    if in_memory:  # one shared connection, or every thread would see its own empty database
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    try:
        engine = create_engine(url, **options)
    except NoSuchModuleError as exc:
        raise ServerDatabaseError(f"no driver for {url.drivername} is installed") from exc
    if url.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                if not in_memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=10000")
            finally:
                cursor.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema; refuse one that is not ours or is newer."""
    scripts = ScriptDirectory.from_config(alembic_config())
    known = {script.revision for script in scripts.walk_revisions()}
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            current = MigrationContext.configure(connection).get_current_revision()
            if current is None and tables:
                raise ServerDatabaseError(
                    f"{where} holds tables of another program ({', '.join(sorted(tables)[:5])}); "
                    "give the server an empty database of its own"
                )
            if current is not None and current not in known:
                raise ServerDatabaseError(
                    f"{where} was written by a newer server (schema revision {current}); "
                    "upgrade this server, the database was not changed"
                )
            if current != scripts.get_current_head():
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
    except DBAPIError as exc:
        raise ServerDatabaseError(f"{where} cannot be used: {exc.orig}") from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
