"""Shared fixtures: a temporary data directory, settings bound to it, a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

# Qt tests run offscreen; set here so nobody has to remember it by hand. Two monitors, DP-1
# (primary, 1920x1080) and DP-2 (2560x1440) to its right, as on an operator's desk.
os.environ.setdefault(
    "QT_QPA_PLATFORM",
    f"offscreen:configfile={Path(__file__).resolve().parent / 'widgets' / 'screens.json'}",
)
# Never let a test reach the developer's own settings or keyring: any use of the system keyring
# in a test fails (and the console's check refuses it as insecure).
os.environ.pop("BEACON_SECURITY__KEYRING_BACKEND", None)
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

from app.services.audit_log import AuditLog
from app.settings import Settings, load_settings
from tests.postgres import PostgresCluster
from tests.sync_server import ServerDatabase, ThreadServer

pytest_plugins = ["tests.rtsp.fixtures"]


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 18, 15, 30, tzinfo=UTC))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, tmp_path: Path) -> Settings:
    config = tmp_path / "settings.toml"
    config.write_text('workstation = "test-ws"\n[security]\nkeyring_backend = "file"\n')
    return load_settings(config, data_dir, env={})


@pytest.fixture
def audit_log(settings: Settings, clock: ManualClock) -> Iterator[AuditLog]:
    log = AuditLog.open(settings.audit_db, settings.workstation, clock)
    yield log
    log.close()


@pytest.fixture
def server_db(tmp_path: Path) -> Iterator[ServerDatabase]:
    """A sync server's database (SQLite) to register workstations in and read events back."""
    database = ServerDatabase(f"sqlite:///{tmp_path / 'server.sqlite3'}")
    yield database
    database.close()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One real PostgreSQL cluster for the whole run (each test gets its own database)."""
    with PostgresCluster.start() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh sync server database URL: SQLite, then a database on the real cluster."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.sqlite3'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    yield url
    cluster.drop_database(str(make_url(url).database))


@pytest.fixture
def any_server_db(db_url: str) -> Iterator[ServerDatabase]:
    """The sync server's database on SQLite and on a real PostgreSQL cluster."""
    database = ServerDatabase(db_url)
    yield database
    database.close()


@pytest.fixture
def live_server(server_db: ServerDatabase) -> Iterator[ThreadServer]:
    """The real sync server on loopback, in a thread, over ``server_db``."""
    server = ThreadServer(server_db.url).start()
    yield server
    server.stop()
