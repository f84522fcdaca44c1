from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from app.services.sqlite_store import REGISTRY, DatabaseOpenError, open_database


def test_new_database_is_migrated_with_wal_and_foreign_keys(tmp_path: Path):
    engine = open_database(tmp_path / "beacon.sqlite", REGISTRY)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        tables = {row[0] for row in connection.execute(text("SELECT name FROM sqlite_master"))}
    assert {"owners", "cameras", "sharing_policies", "incidents", "users"} <= tables
    engine.dispose()


def test_corrupt_file_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "beacon.sqlite"
    content = b"\x00\x01garbage" * 1000
    path.write_bytes(content)
    with pytest.raises(DatabaseOpenError, match="not an SQLite file"):
        open_database(path, REGISTRY)
    assert path.read_bytes() == content


def test_damaged_sqlite_file_gets_a_clear_message(tmp_path: Path):
    path = tmp_path / "beacon.sqlite"
    open_database(path, REGISTRY).dispose()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page after the header
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseOpenError, match="may be damaged"):
        open_database(path, REGISTRY)


def test_foreign_sqlite_database_is_refused(tmp_path: Path):
    path = tmp_path / "beacon.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE contacts (name TEXT)")
    connection.commit()
    connection.close()
    with pytest.raises(DatabaseOpenError, match="another program"):
        open_database(path, REGISTRY)
    connection = sqlite3.connect(path)
    assert [row[0] for row in connection.execute("SELECT name FROM sqlite_master")] == ["contacts"]
    connection.close()


def test_newer_schema_is_refused_unchanged(tmp_path: Path):
    path = tmp_path / "beacon.sqlite"
    open_database(path, REGISTRY).dispose()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    connection.commit()
    connection.close()
    with pytest.raises(DatabaseOpenError, match="newer version of Beacon"):
        open_database(path, REGISTRY)


def test_the_command_line_says_so_without_a_trace(tmp_path: Path, capsys):
    from app.cli import main

    path = tmp_path / "beacon.sqlite"
    open_database(path, REGISTRY).dispose()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    connection.commit()
    connection.close()
    assert main(["registry", "export", "--format", "json", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "newer version of Beacon" in err and "Traceback" not in err
