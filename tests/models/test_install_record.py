"""The install record tables: revision 0006 upgrades a registry of 0005 and matches the model."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import sessionmaker

from app.models import Base, Camera, InstallState
from app.services.sqlite_store import REGISTRY, create_sqlite_engine, open_database
from tests.install_records import CAMERA, save


def test_a_registry_at_0005_is_upgraded_with_its_cameras_kept(tmp_path, audit_log, clock):
    path = tmp_path / "registry.sqlite"
    config = Config()
    config.set_main_option("script_location", str(REGISTRY.script_location))
    engine = create_sqlite_engine(path)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        for statement in (
            "INSERT INTO owners (id, name, kind, contact_name, email, phone, time_zone) "
            "VALUES ('own-1', 'Harbor Deli', 'BUSINESS', '', '', '', 'America/Chicago')",
            "INSERT INTO cameras (id, owner_id, name, tier, latitude, longitude, heading_deg, "
            f"fov_deg, range_m, address, privacy_masks, install_state) VALUES ('{CAMERA}', "
            "'own-1', 'Door', 'INTEGRATED', 41.88, -87.63, 0, 90, 40, '', '[]', 'UNVERIFIED')",
        ):
            connection.execute(text(statement))
        connection.commit()
        assert "install_records" not in inspect(connection).get_table_names()
    engine.dispose()

    upgraded = open_database(path, REGISTRY)
    with upgraded.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0006"
        )
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    sessions = sessionmaker(upgraded, expire_on_commit=False)
    save(sessions, audit_log, clock)
    with sessions() as session:
        camera = session.get(Camera, CAMERA)
        assert camera is not None
        assert camera.name == "Door" and camera.install_state is InstallState.VERIFIED
    upgraded.dispose()


def test_the_downgrade_removes_the_tables_and_triggers(tmp_path):
    path = tmp_path / "registry.sqlite"
    open_database(path, REGISTRY).dispose()
    config = Config()
    config.set_main_option("script_location", str(REGISTRY.script_location))
    engine = create_sqlite_engine(path)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
        connection.commit()
        names = {row[0] for row in connection.execute(text("SELECT name FROM sqlite_master"))}
    engine.dispose()
    assert not {name for name in names if "install" in name}
