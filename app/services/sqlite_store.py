"""Opening Beacon's SQLite databases: WAL, foreign keys, Alembic to head, clear refusals.

Both local databases (the registry and the audit log) open through ``open_database``, which
refuses a file that is corrupt, is some other program's database, or was written by a newer
Beacon, with a message that says what to do, and never modifies such a file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import DatabaseError, OperationalError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseOpenError(Exception):
    """A database that Beacon will not use; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Schema:
    """One kind of Beacon database: its Alembic scripts and a table that marks it as ours."""

    name: str
    marker_table: str

    @property
    def script_location(self) -> Path:
        return MIGRATIONS / self.name


REGISTRY = Schema("registry", "cameras")
AUDIT = Schema("audit", "audit_events")


def _alembic_config(schema: Schema) -> Config:
    config = Config()
    config.set_main_option("script_location", str(schema.script_location))
    return config


def create_sqlite_engine(path: Path, *, synchronous: str = "NORMAL") -> Engine:
    engine = create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
        finally:
            cursor.close()

    return engine


def _check_sqlite_file(path: Path) -> None:
    if not path.exists():
        return
    with path.open("rb") as handle:
        header = handle.read(16)
    if header and header != b"SQLite format 3\x00":
        raise DatabaseOpenError(
            f"{path} is not a Beacon database (not an SQLite file). Move it aside or use "
            "--data-dir to point Beacon at another data directory."
        )


def open_database(path: Path, schema: Schema, *, synchronous: str = "NORMAL") -> Engine:
    """Open (creating if new) a Beacon database of ``schema`` and migrate it to head."""
    _check_sqlite_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_sqlite_engine(path, synchronous=synchronous)
    scripts = ScriptDirectory.from_config(_alembic_config(schema))
    known_revisions = {script.revision for script in scripts.walk_revisions()}
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            current = MigrationContext.configure(connection).get_current_revision()
            if current is None and tables:
                raise DatabaseOpenError(
                    f"{path} is an SQLite database of another program (tables: "
                    f"{', '.join(sorted(tables)[:5])}), not a Beacon {schema.name} database. "
                    "Move it aside or use --data-dir."
                )
            if current is not None and current not in known_revisions:
                raise DatabaseOpenError(
                    f"{path} was written by a newer version of Beacon (schema revision "
                    f"{current}). Upgrade Beacon on this workstation; the file was not changed."
                )
            if current != scripts.get_current_head():
                config = _alembic_config(schema)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
    except DatabaseOpenError:
        engine.dispose()
        raise
    except (DatabaseError, OperationalError) as exc:
        engine.dispose()
        raise DatabaseOpenError(
            f"{path} cannot be read as a Beacon {schema.name} database ({exc.orig}). It may be "
            "damaged: keep a copy for the administrator and restore from backup."
        ) from exc
    return engine
