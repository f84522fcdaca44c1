"""The install check engine against the real RTSP test server, hostile loopback peers and the
test clips: what it measures, how it judges, and what it puts on record."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from app.models import AuditEventType, PolicyMode, Role
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, read_events
from app.services.credentials import CameraCredentials, CredentialStore
from app.services.install_check import (
    CheckStatus,
    InstallCheck,
    InstallCheckError,
    InstallCheckReport,
    Target,
    parse_target,
)
from app.services.policy_gate import PolicyGate
from app.settings import Settings
from tests.conftest import ManualClock
from tests.factories import add_camera, add_owner, registry_sessions, set_policy
from tests.rtsp.fixtures import (
    SECURE_PASSWORD,
    SECURE_USERNAME,
    DroppingProxy,
    HttpInsteadOfRtsp,
    RtspClips,
    RtspServer,
    StandardPaths,
)

TECH = SignedInUser("tech1", "Priya Tech", Role.FIELD_TECH)
OPERATOR = SignedInUser("ops1", "Dana Ops", Role.OPERATOR)
SHORT_RUN_S = 3.0


@dataclass
class Bench:
    check: InstallCheck
    gate: PolicyGate
    settings: Settings
    credentials: CredentialStore
    asked: list[str]
    answers: list[CameraCredentials | None]

    def events(self) -> list[dict[str, object]]:
        return list(read_events(self.settings.audit_db))


@pytest.fixture
def bench(
    settings: Settings, audit_log: AuditLog, clock: ManualClock, rtsp_server: RtspServer
) -> Iterator[Bench]:
    sessions = registry_sessions(settings)
    with sessions() as session:
        add_owner(session)
        healthy = add_camera(
            session, "cam-1", mode=None, at=clock(), url=rtsp_server.url(StandardPaths.MAIN)
        )
        healthy.sub_stream_url = rtsp_server.url(StandardPaths.SUB)
        add_camera(
            session,
            "cam-secure",
            mode=PolicyMode.CONTINUOUS,
            at=clock(),
            url=rtsp_server.url(StandardPaths.SECURE),
        )
        session.commit()
    credentials = CredentialStore.for_settings(settings)
    gate = PolicyGate(sessions, audit_log, credentials, clock, check_interval_s=0.1)
    asked: list[str] = []
    answers: list[CameraCredentials | None] = []

    def ask(prompt: str) -> CameraCredentials | None:
        asked.append(prompt)
        return answers.pop(0) if answers else None

    check = InstallCheck(gate, audit_log, lambda: credentials, clock, ask_credentials=ask)
    yield Bench(check, gate, settings, credentials, asked, answers)
    gate.stop()


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        pause.wait(0.02)


def checks_of(report: InstallCheckReport, stream: str = "main") -> dict[str, CheckStatus]:
    found = next(s for s in report.streams if s.measurement.stream == stream)
    return {check.name: check.status for check in found.checks}


def test_a_healthy_camera_passes_on_both_streams_and_the_check_is_a_feed_open_on_record(
    bench: Bench,
):
    report = bench.check.run(Target("camera", "cam-1"), TECH, duration_s=SHORT_RUN_S)

    data = report.to_dict()
    assert data["verdict"] == "pass", json.dumps(data, indent=1)
    main, sub = data["streams"]["main"], data["streams"]["sub"]
    assert (main["codec"], main["width"], main["height"]) == ("h264", 1920, 1080)
    assert (sub["width"], sub["height"]) == (640, 360)
    for stream in (main, sub):
        assert stream["profile"] == "High"
        assert stream["fps_declared"] == 15
        assert stream["fps_measured"] == pytest.approx(15, rel=0.1)
        assert stream["keyframe_interval_s"] == pytest.approx(1.0, abs=0.07)  # -g 15 at 15 fps
        assert 0 < stream["time_to_first_frame_ms"] < 2000
        assert stream["disconnects"] == 0 and stream["timestamp_jumps"] == 0
    assert main["bitrate_kbps"] > 5 * sub["bitrate_kbps"] > 0
    assert json.loads(json.dumps(data)) == data  # what an install record will store

    feed_events = [e for e in bench.events() if str(e["event_type"]).startswith("feed_")]
    assert [(e["event_type"], e["purpose"]) for e in feed_events] == [
        ("feed_allowed", "install:cam-1"),
        ("feed_closed", "install:cam-1"),
    ]
    assert feed_events[0]["reason"] == "allowed_install_verification"
    assert feed_events[1]["reason"] == "install_check_finished"
    assert bench.gate.active_leases() == []


def test_only_a_field_technician_may_check_a_registry_camera(bench: Bench):
    with pytest.raises(InstallCheckError, match="install verification is for field technicians"):
        bench.check.run(Target("camera", "cam-secure"), OPERATOR, duration_s=SHORT_RUN_S)
    assert bench.events()[-1]["event_type"] == AuditEventType.FEED_DENIED
    with pytest.raises(InstallCheckError, match="no camera 'cam-x' in the registry"):
        bench.check.run(Target("camera", "cam-x"), TECH, duration_s=SHORT_RUN_S)


def test_a_revoked_policy_ends_the_check_mid_run(bench: Bench, clock: ManualClock):
    reports: list[InstallCheckReport] = []
    worker = threading.Thread(
        target=lambda: reports.append(
            bench.check.run(Target("camera", "cam-1"), TECH, streams=("main",), duration_s=60)
        )
    )
    worker.start()
    wait_until(lambda: bench.gate.active_leases() != [], timeout_s=10)
    with registry_sessions(bench.settings)() as session:
        set_policy(session, "cam-1", PolicyMode.REVOKED, clock())
        session.commit()
    bench.gate.check_leases()
    worker.join(15)
    assert not worker.is_alive()
    (report,) = reports
    assert report.stopped_reason == "the lease ended: policy_revoked"
    # Revoked before the first frame or after it: either way a failed check says it stopped.
    stopped = [c for c in report.streams[0].checks if c.value.startswith("stopped ")]
    assert [c.status for c in stopped] == [CheckStatus.FAIL]
    assert report.streams[0].measurement.measured_s < 20


def test_declared_30_delivered_12_fails_the_frame_rate_check_showing_both(
    bench: Bench, rtsp_server: RtspServer
):
    url = rtsp_server.url(StandardPaths.DECLARES_30_DELIVERS_12)
    report = bench.check.run(Target("url", url), "os:tech", duration_s=4)

    main = report.to_dict()["streams"]["main"]
    assert main["fps_declared"] == 30 and main["fps_declared_from"] == "sps"
    assert main["fps_measured"] == pytest.approx(12, abs=0.6)
    assert main["dropped_frames"] == 0  # its own cadence is steady: the rate check says it
    frame_rate = next(check for check in main["checks"] if check["name"] == "frame rate")
    assert frame_rate["status"] == "fail"
    assert "30 fps declared" in frame_rate["value"] and frame_rate["value"].startswith("1")
    assert "90 %" in frame_rate["threshold"]
    assert report.verdict is CheckStatus.FAIL


def test_no_key_frame_for_20_s_fails_the_key_frame_check(bench: Bench, rtsp_server: RtspServer):
    url = rtsp_server.url(StandardPaths.KEYFRAME_EVERY_20S)
    report = bench.check.run(Target("url", url), "os:tech", duration_s=6)

    main = report.streams[0].measurement
    assert main.keyframes == 1 and main.keyframe_interval_at_least
    assert main.keyframe_interval_s is not None and main.keyframe_interval_s >= 5.5
    assert checks_of(report)["key frame interval"] is CheckStatus.FAIL
    assert checks_of(report)["frame rate"] is CheckStatus.PASS


def test_a_camera_that_drops_the_connection_every_few_seconds_is_reported_with_counts(
    bench: Bench, rtsp_server: RtspServer
):
    with DroppingProxy(rtsp_server.port, cut_after_s=2.0) as proxy:
        report = bench.check.run(Target("url", proxy.url(StandardPaths.SUB)), "os:t", duration_s=7)
        cuts = proxy.connections_cut

    main = report.streams[0].measurement
    assert main.error is None
    assert main.disconnects is not None and main.disconnects >= 2
    assert cuts >= main.disconnects  # each reconnect's probe is cut too once it is over
    assert checks_of(report)["disconnects"] is CheckStatus.FAIL
    assert main.fps_measured is not None and main.frames > 30  # it kept measuring in between


def test_a_host_answering_http_on_the_rtsp_port_fails_to_connect_with_the_reason(bench: Bench):
    with HttpInsteadOfRtsp() as peer:
        report = bench.check.run(Target("url", peer.url()), "os:tech", duration_s=SHORT_RUN_S)
        http = bench.check.run(
            Target("url", f"http://127.0.0.1:{peer.port}/video"), "os:tech", duration_s=1
        )
    connect = report.streams[0].checks
    assert [(c.name, c.status) for c in connect] == [("connect", CheckStatus.FAIL)]
    assert "not an RTSP server" in connect[0].value
    assert report.verdict is CheckStatus.FAIL
    assert http.streams[0].checks[0].value == "no video stream could be opened at this address"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("rtsp:/x", "no host"),
        ("rtsp://", "no host"),
        ("ftp://camera.example.invalid/x", "not a stream URL"),
        ("/nonexistent/clip.mp4", "no such file"),
        ("owner clip.mp4", "no such file"),
        ("   ", "name a camera id"),
    ],
)
def test_what_is_not_a_stream_url_or_a_file_is_refused_with_what_to_write(typed, message):
    with pytest.raises(InstallCheckError, match=message):
        parse_target(typed)


def test_what_parses(tmp_path, rtsp_clips: RtspClips):
    assert parse_target("cam-17") == Target("camera", "cam-17")
    assert parse_target("rtsp://cam.example.invalid/live").kind == "url"
    assert parse_target(str(rtsp_clips.sub)) == Target("file", str(rtsp_clips.sub))
    assert parse_target(f"file://{rtsp_clips.sub}") == Target("file", str(rtsp_clips.sub))
    with pytest.raises(InstallCheckError, match="not a file"):
        parse_target(str(tmp_path))
    secret = parse_target("rtsp://admin:hunter2@cam.example.invalid/live")
    assert "hunter2" not in repr(secret)


@pytest.mark.parametrize("before", [None, "rtsp_transport;udp"])
def test_a_check_leaves_the_processs_ffmpeg_options_as_they_were(
    bench: Bench, rtsp_clips: RtspClips, monkeypatch, before
):
    # The console's other opens in this process must not inherit the check's protocol list.
    if before is None:
        monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    else:
        monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", before)

    report = bench.check.run(Target("file", str(rtsp_clips.sub)), "os:tech", duration_s=1)

    assert report.streams[0].measurement.frames > 0
    assert os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS") == before


def test_an_owners_clip_is_checked_on_its_own_timestamps(bench: Bench, rtsp_clips: RtspClips):
    report = bench.check.run(Target("file", str(rtsp_clips.h265)), "os:tech", duration_s=60)

    main = report.streams[0].measurement
    assert (main.codec, main.profile, main.width, main.height) == ("h265", "Main", 1920, 1080)
    assert main.fps_measured == pytest.approx(15, abs=0.1)
    assert main.frames == 150  # the whole 10 s clip: read at decode speed, not in real time
    assert main.keyframe_interval_s == pytest.approx(1.0, abs=0.01)
    assert main.late_frames is None and main.disconnects is None  # not for a file
    assert report.verdict is CheckStatus.PASS
    (event,) = [e for e in bench.events() if e["event_type"] == "stream_checked"]
    assert event["subject"] == str(rtsp_clips.h265) and event["actor"] == "os:tech"


def test_a_wrong_password_stores_nothing_and_a_right_one_is_kept_and_shown_nowhere(
    bench: Bench, rtsp_server: RtspServer, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InstallCheckError, match="wants a user name and password"):
        bench.check.run(Target("camera", "cam-secure"), TECH, duration_s=SHORT_RUN_S)
    bench.asked.clear()
    wrong = CameraCredentials(SECURE_USERNAME, "not-the-password")
    bench.answers.append(wrong)
    with pytest.raises(InstallCheckError, match="wrong user name or password; nothing was stored"):
        bench.check.run(Target("camera", "cam-secure"), TECH, duration_s=SHORT_RUN_S)
    assert bench.credentials.get("cam-secure") is None
    assert len(bench.asked) == 1 and "cam-secure wants a user name and password" in bench.asked[0]

    bench.answers.append(CameraCredentials(SECURE_USERNAME, SECURE_PASSWORD))
    report = bench.check.run(Target("camera", "cam-secure"), TECH, duration_s=SHORT_RUN_S)
    assert report.streams[0].measurement.error is None
    assert bench.credentials.get("cam-secure") == CameraCredentials(
        SECURE_USERNAME, SECURE_PASSWORD
    )
    bench.check.run(Target("camera", "cam-secure"), TECH, duration_s=1)
    assert len(bench.asked) == 2  # the third run found them in the keyring

    shown = json.dumps(report.to_dict()) + json.dumps(bench.events()) + caplog.text
    shown += "".join(capfd.readouterr())
    for secret in (SECURE_PASSWORD, "p%25w", "not-the-password"):
        assert secret not in shown


def test_credentials_typed_into_a_url_are_used_and_kept_under_the_url(
    bench: Bench, rtsp_server: RtspServer
):
    typed = rtsp_server.url_with_credentials(StandardPaths.SECURE)
    report = bench.check.run(Target("url", typed), "os:tech", duration_s=SHORT_RUN_S)

    assert report.streams[0].measurement.error is None
    clean = rtsp_server.url(StandardPaths.SECURE)
    assert report.address == clean
    assert bench.credentials.get(f"stream:{clean}") == CameraCredentials(
        SECURE_USERNAME, SECURE_PASSWORD
    )
    assert bench.asked == []
    wrong = rtsp_server.url_with_credentials(StandardPaths.SECURE, password="guess")
    with pytest.raises(InstallCheckError, match="wrong user name or password"):
        bench.check.run(Target("url", wrong), "os:tech", duration_s=SHORT_RUN_S)
    assert bench.credentials.get(f"stream:{clean}") == CameraCredentials(
        SECURE_USERNAME, SECURE_PASSWORD
    )
