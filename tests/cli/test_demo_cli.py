from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cli import main
from app.models import Camera, Owner
from app.services.audit_log import read_events
from tests.factories import add_owner, registry_sessions


def beacon(settings, *args: str) -> int:
    config = settings.data_dir.parent / "settings.toml"
    return main(["--config", str(config), *args])


def camera_count(settings) -> int:
    with registry_sessions(settings)() as session:
        return session.scalar(select(func.count()).select_from(Camera)) or 0


def test_init_builds_the_city_and_audits_it(settings, capsys):
    assert beacon(settings, "demo", "init", "--data-dir", str(settings.data_dir)) == 0
    out = capsys.readouterr().out
    assert "500 cameras" in out
    assert camera_count(settings) == 500
    assert (settings.data_dir / "cad_script.json").is_file()
    assert (settings.data_dir / "settings.toml").is_file()
    assert len(list((settings.data_dir / "clips").glob("*.mp4"))) >= 12
    (event,) = list(read_events(settings.audit_db))
    assert event["event_type"] == "registry_import"
    assert event["details"]["source"] == "demo_city"
    assert event["details"]["cameras"] == 500


def test_init_refuses_an_existing_registry_without_force(settings, capsys):
    with registry_sessions(settings)() as session, session.begin():
        add_owner(session, "own-mine")
    code = beacon(settings, "demo", "init", "--data-dir", str(settings.data_dir))
    assert code == 1
    err = capsys.readouterr().err
    assert "already has a registry" in err and "--force" in err
    with registry_sessions(settings)() as session:
        assert [o.id for o in session.scalars(select(Owner))] == ["own-mine"]
    assert not (settings.data_dir / "clips").exists()


@pytest.mark.slow
def test_init_with_force_replaces_the_registry_and_keeps_the_audit_log(settings, capsys):
    with registry_sessions(settings)() as session, session.begin():
        add_owner(session, "own-mine")
    args = ("demo", "init", "--data-dir", str(settings.data_dir), "--force")
    assert beacon(settings, *args) == 0
    with registry_sessions(settings)() as session:
        assert session.get(Owner, "own-mine") is None
    assert camera_count(settings) == 500
    assert beacon(settings, *args) == 0
    events = list(read_events(settings.audit_db))
    assert [e["event_type"] for e in events] == ["registry_import", "registry_import"]


def test_ensure_builds_once_then_does_nothing(settings, capsys):
    args = ("demo", "ensure", "--data-dir", str(settings.data_dir))
    assert beacon(settings, *args) == 0
    assert "500 cameras" in capsys.readouterr().out
    registry: Path = settings.registry_db
    before = registry.stat().st_mtime_ns
    assert beacon(settings, *args) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert registry.stat().st_mtime_ns == before
    assert len(list(read_events(settings.audit_db))) == 1


def test_demo_needs_an_explicit_data_dir(settings, capsys):
    assert beacon(settings, "demo", "ensure") == 2
    assert "--data-dir" in capsys.readouterr().err
