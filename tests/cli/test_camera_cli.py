from __future__ import annotations

import json

from sqlalchemy import select

from app.cli import main
from app.models import Camera, CameraTier, PolicyMode
from app.services.audit_log import read_events
from app.services.credentials import CameraCredentials, CredentialStore
from app.settings import Settings
from tests.conftest import ManualClock
from tests.factories import add_camera, add_owner, registry_sessions

TYPED = "rtsp://admin:p%25w%40d!:x@cam-17.example.invalid:554/Streaming/Channels/101"


def build(settings: Settings, clock: ManualClock) -> None:
    with registry_sessions(settings)() as session:
        add_owner(session)
        add_camera(session, "cam-1", mode=PolicyMode.CONTINUOUS, at=clock())
        add_camera(session, "cam-reg", mode=None, at=clock(), tier=CameraTier.REGISTERED)
        session.commit()


def run(settings: Settings, config, *args: str) -> int:
    return main(
        [
            "camera",
            "set-stream",
            *args,
            "--data-dir",
            str(settings.data_dir),
            "--config",
            str(config),
        ]
    )


def test_typed_credentials_go_to_the_keyring_and_are_shown_nowhere(
    settings: Settings, clock: ManualClock, tmp_path, capsys
):
    build(settings, clock)
    config = tmp_path / "settings.toml"
    sub = TYPED.replace("101", "102")
    assert run(settings, config, "cam-1", "--main", TYPED, "--sub", sub) == 0
    out = capsys.readouterr().out
    assert "p%25w" not in out and "p%w@d" not in out and "admin" not in out
    assert "rtsp://cam-17.example.invalid:554/Streaming/Channels/101" in out
    with registry_sessions(settings)() as session:
        camera = session.scalar(select(Camera).where(Camera.id == "cam-1"))
        assert camera is not None
        assert camera.main_stream_url == "rtsp://cam-17.example.invalid:554/Streaming/Channels/101"
        assert camera.sub_stream_url == "rtsp://cam-17.example.invalid:554/Streaming/Channels/102"
    stored = CredentialStore.for_settings(settings).get("cam-1")
    assert stored == CameraCredentials("admin", "p%w@d!:x")
    audit = json.dumps(list(read_events(settings.audit_db)))
    assert "camera_changed" in audit and "p%25w" not in audit and "p%w@d" not in audit


def test_refusals(settings: Settings, clock: ManualClock, tmp_path, capsys):
    build(settings, clock)
    config = tmp_path / "settings.toml"
    assert run(settings, config, "cam-reg", "--main", TYPED) == 2
    assert "registered only" in capsys.readouterr().err
    assert run(settings, config, "nope", "--main", TYPED) == 2
    assert "no camera" in capsys.readouterr().err
    other = TYPED.replace("admin:", "viewer:")
    assert run(settings, config, "cam-1", "--main", TYPED, "--sub", other) == 2
    assert "different credentials" in capsys.readouterr().err
    assert run(settings, config, "cam-1", "--main", "ftp://u:secret@host/x") == 2
    err = capsys.readouterr().err
    assert "unsupported stream URL scheme" in err and "secret" not in err
    assert CredentialStore.for_settings(settings).get("cam-1") is None
