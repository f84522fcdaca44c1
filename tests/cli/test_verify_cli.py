"""``beacon verify`` end to end, in-process, against the real RTSP test server and clips."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from app.cli import main
from app.models import Role
from app.services.accounts import create_user
from app.services.audit_log import read_events
from app.services.credentials import CredentialStore
from app.settings import Settings
from tests.conftest import ManualClock
from tests.factories import add_camera, add_owner, registry_sessions
from tests.onvif_device import (
    MALFORMED_REPLY,
    OnvifDeviceSimulator,
    SimulatedCamera,
    SimulatedProfile,
)
from tests.rtsp.fixtures import SECURE_PASSWORD, RtspClips, RtspServer, StandardPaths

TECH_PASSWORD = "install-2026-nov"
JSON_KEYS = {
    "codec",
    "width",
    "height",
    "fps_measured",
    "fps_declared",
    "bitrate_kbps",
    "keyframe_interval_s",
    "time_to_first_frame_ms",
    "verdict",
}


def verify(data_options: list[str], *args: str) -> int:
    return main(["verify", *args, *data_options])


def test_an_owners_clip_as_json(data_options, rtsp_clips: RtspClips, capsys):
    assert verify(data_options, str(rtsp_clips.main), "--json", "--duration", "5") == 0

    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "pass" and report["kind"] == "file"
    main_stream = report["streams"]["main"]
    assert set(main_stream) >= JSON_KEYS
    assert (main_stream["width"], main_stream["height"]) == (1920, 1080)
    assert main_stream["fps_measured"] == pytest.approx(15, abs=0.1)
    assert main_stream["keyframe_interval_s"] == pytest.approx(1.0, abs=0.01)
    assert 3000 < main_stream["bitrate_kbps"] < 6000  # about 4 Mbit/s, as encoded
    assert main_stream["frames"] == 76  # 5 s of its own time from frame 0: 0 to 5.0 s


def test_a_failing_stream_prints_the_table_with_both_rates_and_exits_1(
    data_options, rtsp_server: RtspServer, capsys
):
    url = rtsp_server.url(StandardPaths.DECLARES_30_DELIVERS_12)
    assert verify(data_options, url, "--duration", "3") == 1

    captured = capsys.readouterr()
    assert captured.out.startswith(f"url {url}: FAIL")
    frame_rate = next(line for line in captured.out.splitlines() if line.startswith("frame rate"))
    assert "of 30 fps declared" in frame_rate and "FAIL" in frame_rate
    assert "pass ≥ 90 %" in frame_rate
    assert "checking main for 3 s" in captured.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["rtsp:/x"], "is not a stream URL (no host)"),
        (["http://"], "is not a stream URL (no host)"),
        (["/no/such/clip.mp4"], "no such file: /no/such/clip.mp4"),
        (["§garbage§"], "no camera '§garbage§' in the registry"),
        (["rtsp://cam.example.invalid/live", "--stream", "sub"], "--stream sub needs a camera"),
    ],
)
def test_what_cannot_be_checked_exits_2_with_a_message(data_options, arguments, message, capsys):
    assert verify(data_options, *arguments) == 2
    assert message in capsys.readouterr().err


def test_a_duration_that_is_not_one_is_a_usage_error(data_options, capsys):
    with pytest.raises(SystemExit) as exit_:
        verify(data_options, "cam-1", "--duration", "-5")
    assert exit_.value.code == 2
    assert "more than 0" in capsys.readouterr().err


def test_a_wrong_password_in_the_url_exits_2_and_appears_nowhere(
    data_options, settings: Settings, rtsp_server: RtspServer, capsys
):
    guess = "Gu3ss-me-n0t"
    url = rtsp_server.url_with_credentials(StandardPaths.SECURE, password=guess)
    assert verify(data_options, url, "--duration", "2") == 2

    captured = capsys.readouterr()
    assert "wrong user name or password; nothing was stored" in captured.err
    clean = rtsp_server.url(StandardPaths.SECURE)
    assert clean in captured.err
    assert CredentialStore.for_settings(settings).get(f"stream:{clean}") is None
    # Everything the workstation wrote: the audit log and its WAL, the registry, the keyring.
    on_disk = b"".join(path.read_bytes() for path in settings.data_dir.rglob("*") if path.is_file())
    for secret in (guess, SECURE_PASSWORD):
        assert secret not in captured.out + captured.err
        assert secret.encode() not in on_disk
    (event,) = [e for e in read_events(settings.audit_db) if e["event_type"] == "stream_checked"]
    assert event["subject"] == clean


@pytest.fixture
def registry_camera(settings: Settings, clock: ManualClock, rtsp_server: RtspServer) -> str:
    with registry_sessions(settings)() as session:
        add_owner(session)
        camera = add_camera(
            session, "cam-7", mode=None, at=clock(), url=rtsp_server.url(StandardPaths.MAIN)
        )
        camera.sub_stream_url = rtsp_server.url(StandardPaths.SUB)
        create_user(session, "tech1", "Priya Tech", Role.FIELD_TECH, TECH_PASSWORD, clock)
        session.commit()
    return "cam-7"


def test_a_registry_camera_is_checked_by_a_signed_in_technician_through_the_gate(
    data_options, settings: Settings, registry_camera: str, monkeypatch, capsys
):
    assert verify(data_options, registry_camera) == 2
    assert "sign in as a field technician with --as USERNAME" in capsys.readouterr().err

    prompts: list[str] = []

    def type_password(prompt: str) -> str:
        prompts.append(prompt)
        return TECH_PASSWORD

    monkeypatch.setattr("app.cli.verify.getpass.getpass", type_password)
    code = verify(data_options, registry_camera, "--as", "tech1", "--duration", "2")

    out = capsys.readouterr().out
    assert code == 0, out
    assert prompts == ["Beacon password of tech1: "]
    assert out.startswith("camera cam-7: PASS")
    assert "main stream rtsp://" in out and "sub stream rtsp://" in out
    assert "1920x1080" in out and "640x360" in out
    types = [(e["event_type"], e["actor"]) for e in read_events(settings.audit_db)]
    assert types[-3:] == [
        ("login", "tech1"),
        ("feed_allowed", "tech1"),
        ("feed_closed", "tech1"),
    ]


def test_a_wrong_beacon_password_stops_before_any_feed_opens(
    data_options, settings: Settings, registry_camera: str, monkeypatch, capsys
):
    monkeypatch.setattr("app.cli.verify.getpass.getpass", lambda _prompt: "not-it-at-all")
    assert verify(data_options, registry_camera, "--as", "tech1") == 2
    assert "do not match an active account" in capsys.readouterr().err
    types = [e["event_type"] for e in read_events(settings.audit_db)]
    assert "login_failed" in types and "feed_allowed" not in types


def test_the_help_names_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    out = capsys.readouterr().out
    assert "0 pass, 1 warn or fail, 2 could not run" in " ".join(out.split())
    assert "--discover: 0 devices found, 1 none answered, 2 no probe sent" in " ".join(out.split())


@pytest.fixture
def onvif_device() -> Iterator[OnvifDeviceSimulator]:
    camera = SimulatedCamera(
        profiles=[SimulatedProfile("main", "MainStream", 1920, 1080, "rtsp://cam.invalid/main")],
        extra_replies=[MALFORMED_REPLY],
    )
    with OnvifDeviceSimulator(camera) as device:
        yield device


def probe_address(device: OnvifDeviceSimulator) -> str:
    host, port = device.discovery_target
    return f"{host}:{port}"


def test_discover_lists_the_camera_that_answered_and_the_reply_it_refused(
    data_options, onvif_device: OnvifDeviceSimulator, capsys
):
    where = probe_address(onvif_device)
    assert verify(data_options, "--discover", "--timeout", "1", "--probe-address", where) == 0

    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "1 ONVIF device found; 1 bad reply refused"
    assert lines[2].split() == ["name", "hardware", "location", "device", "service"]
    assert lines[3].startswith("Front Door") and lines[3].endswith(onvif_device.service_url)
    assert "SimCam 4K" in lines[3] and "Main Street" in lines[3]
    assert f"probing {where} for 1 s" in captured.err
    assert "not well-formed XML" in captured.err


def test_discover_as_json(data_options, onvif_device: OnvifDeviceSimulator, capsys):
    where = probe_address(onvif_device)
    code = verify(data_options, "--discover", "--json", "--timeout", "1", "--probe-address", where)
    assert code == 0

    found = json.loads(capsys.readouterr().out)
    (device,) = found["devices"]
    assert device["address"] == onvif_device.camera.endpoint
    assert device["xaddrs"] == [onvif_device.service_url]
    assert (device["name"], device["hardware"]) == ("Front Door", "SimCam 4K")
    assert found["probe_address"] == where and len(found["refused"]) == 1


def test_discover_with_nobody_answering_exits_1_and_says_so(data_options, capsys):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        where = f"127.0.0.1:{silent.getsockname()[1]}"
        assert verify(data_options, "--discover", "--timeout", "0.3", "--probe-address", where) == 1
    assert capsys.readouterr().out.startswith(f"no ONVIF device answered at {where} within 0.3 s")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--discover", "cam-1"], "give it no CAMERA_ID, URL or FILE"),
        ([], "name a camera id, a stream URL or a video file to check, or --discover"),
        (["--discover", "--probe-address", "cam.invalid"], "could not send the discovery probe"),
    ],
)
def test_discover_that_cannot_run_exits_2(data_options, arguments, message, capsys):
    assert verify(data_options, *arguments) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--timeout", "0"], "the discovery timeout must be more than 0"),
        (["--probe-address", "cam.invalid:port"], "is not HOST or HOST:PORT"),
    ],
)
def test_discover_options_that_are_not_ones_are_usage_errors(
    data_options, arguments, message, capsys
):
    with pytest.raises(SystemExit) as exit_:
        verify(data_options, "--discover", *arguments)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
