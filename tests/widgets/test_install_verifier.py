"""The InstallVerifier panel: the install check engine run from the console, by keyboard, off
the UI thread, against the real RTSP test server and clips."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QWidget

from app.models import Role
from app.models.audit_chain import AuditEventType
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.credentials import CredentialStore
from app.services.install_check import AskCredentials, CheckStatus, InstallCheck
from app.services.install_snapshot import PlacementSnapshots
from app.services.policy_gate import PolicyGate
from app.settings import Settings
from app.widgets import palette
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.install_record_form import InstallRecordForm
from app.widgets.install_verifier import CheckTableModel, InstallVerifier
from tests.conftest import ManualClock
from tests.factories import registry_sessions
from tests.onvif_device import OnvifDeviceSimulator, SimulatedCamera, SimulatedProfile
from tests.rtsp.fixtures import (
    SECURE_PASSWORD,
    SECURE_USERNAME,
    RtspClips,
    RtspServer,
    StandardPaths,
)
from tests.widgets.conftest import add_feed_camera, audit_events
from tests.widgets.test_help import controls_without_tooltip

TECH = SignedInUser("priya", "Priya Tech", Role.FIELD_TECH)
LAPTOP = (1366, 768)


@pytest.fixture
def verifier(qtbot, gate: PolicyGate, audit_log: AuditLog, settings: Settings, clock, themed, jobs):
    yield from open_verifier(qtbot, gate, audit_log, settings, clock, jobs=jobs)


def open_verifier(
    qtbot,
    gate: PolicyGate,
    audit_log: AuditLog,
    settings: Settings,
    clock,
    discovery_target: tuple[str, int] = ("127.0.0.1", 9),
    jobs: BackgroundJobs | None = None,
) -> Iterator[InstallVerifier]:
    """The panel at laptop size; with ``jobs``, with its Record tab too."""
    credentials = CredentialStore.for_settings(settings)
    ui_thread = threading.current_thread()
    ran_on: list[threading.Thread] = []

    class RecordingCheck(InstallCheck):
        def run(self, *args, **kwargs):
            ran_on.append(threading.current_thread())
            return super().run(*args, **kwargs)

    def make_check(ask: AskCredentials) -> InstallCheck:
        return RecordingCheck(gate, audit_log, lambda: credentials, clock, ask_credentials=ask)

    panel = InstallVerifier(
        make_check=make_check,
        user=TECH,
        snapshots=PlacementSnapshots(
            gate, audit_log, lambda: credentials, registry_sessions(settings)
        ),
        discovery_target=discovery_target,
        discovery_timeout_s=1,
    )
    qtbot.addWidget(panel)
    if jobs is not None:
        panel.set_record_page(
            InstallRecordForm(
                sessions=registry_sessions(settings),
                audit=audit_log,
                jobs=jobs,
                user=TECH,
                workstation=settings.workstation,
                export_dir=settings.exports_dir,
                clock=clock,
            )
        )
    panel.resize(*LAPTOP)
    with qtbot.waitActive(panel):
        panel.show()
        panel.activateWindow()
    yield panel
    panel.shutdown()
    assert ui_thread not in ran_on  # the engine never ran on the UI thread


def type_and_run(qtbot, panel: InstallVerifier, target: str, seconds: int) -> None:
    panel.target_edit.setFocus()
    qtbot.keyClicks(panel.target_edit, target)
    panel.duration_box.setValue(seconds)
    qtbot.keyClick(panel.target_edit, Qt.Key.Key_Return)


def results(panel: InstallVerifier) -> dict[tuple[str, str], str]:
    model = panel.model
    return {
        (model.index(row, 0).data(), model.index(row, 1).data()): model.index(row, 3).data()
        for row in range(model.rowCount())
    }


def test_a_registry_camera_checked_by_keyboard_fills_the_table_with_coloured_results(
    qtbot,
    verifier: InstallVerifier,
    sessions,
    clock: ManualClock,
    rtsp_server: RtspServer,
    settings,
):
    add_feed_camera(
        sessions,
        clock,
        "cam-new",
        rtsp_server.url(StandardPaths.MAIN),
        rtsp_server.url(StandardPaths.DECLARES_30_DELIVERS_12),
    )
    type_and_run(qtbot, verifier, "cam-new", 3)
    assert verifier.running and not verifier.run_button.isEnabled()

    with qtbot.waitSignal(verifier.report_ready, timeout=30_000):
        pass
    shown = results(verifier)
    assert shown[("main", "frame rate")] == "PASS"
    assert shown[("sub", "frame rate")] == "FAIL"  # declares 30, delivers 12
    assert verifier.status_label.text() == "camera cam-new: FAIL"
    model = verifier.model
    for row in range(model.rowCount()):
        status = CheckStatus(model.index(row, 3).data().lower())
        brush = model.index(row, CheckTableModel.RESULT_COLUMN).data(Qt.ItemDataRole.ForegroundRole)
        expected = {"pass": palette.CHECK_PASS, "warn": palette.CHECK_WARN}
        assert brush.color().name() == expected.get(status.value, palette.CHECK_FAIL)
    allowed = audit_events(settings, AuditEventType.FEED_ALLOWED)
    assert [(e["camera_id"], e["purpose"], e["actor"]) for e in allowed] == [
        ("cam-new", "install:cam-new", "priya")
    ]
    assert verifier.run_button.isEnabled() and not verifier.running


def test_escape_cancels_a_running_check_and_the_report_says_so(
    qtbot, verifier: InstallVerifier, rtsp_server: RtspServer
):
    type_and_run(qtbot, verifier, rtsp_server.url(StandardPaths.SUB), 600)
    qtbot.waitUntil(lambda: verifier.running, timeout=2000)
    with qtbot.waitSignal(verifier.report_ready, timeout=20_000) as done:
        qtbot.keyClick(verifier, Qt.Key.Key_Escape)
    report = done.args[0]
    assert report.stopped_reason == "cancelled"
    # Before the first frame or after it: either way a failed check says it stopped.
    stopped = [c for c in report.streams[0].checks if c.value.startswith("stopped ")]
    assert [c.status for c in stopped] == [CheckStatus.FAIL]
    assert report.streams[0].measurement.measured_s < 15
    assert "(stopped: cancelled)" in verifier.status_label.text()


def test_input_that_cannot_be_checked_says_why_and_leaves_the_panel_usable(
    qtbot, verifier: InstallVerifier
):
    with qtbot.waitSignal(verifier.message, timeout=10_000) as said:
        type_and_run(qtbot, verifier, "rtsp:/x", 5)
    assert "is not a stream URL (no host)" in said.args[0]
    assert verifier.status_label.text().startswith("The check could not run:")
    assert verifier.model.rowCount() == 0
    assert verifier.run_button.isEnabled() and verifier.target_edit.isEnabled()


def test_an_owners_clip_passes_and_every_control_fits_a_laptop_screen(
    qtbot, verifier: InstallVerifier, rtsp_clips: RtspClips
):
    type_and_run(qtbot, verifier, str(rtsp_clips.main), 5)
    with qtbot.waitSignal(verifier.report_ready, timeout=20_000):
        pass
    assert verifier.status_label.text() == f"file {rtsp_clips.main}: PASS"
    assert set(results(verifier).values()) == {"PASS"}

    assert (verifier.width(), verifier.height()) == LAPTOP
    inside = QRect(0, 0, *LAPTOP)
    for control in verifier.findChildren(QWidget):
        if control.isVisible() and control.parent() is verifier.check_page:
            corner = control.mapTo(verifier, control.rect().bottomRight())
            assert inside.contains(corner), control.objectName() or type(control).__name__
            assert control.width() >= control.minimumSizeHint().width()
    header = verifier.table.horizontalHeader()
    assert sum(header.sectionSize(c) for c in range(4)) < verifier.table.viewport().width()


def test_only_a_field_technician_has_the_install_menu(make_window):
    operator_window = make_window()
    assert operator_window.install_action is None
    assert operator_window.open_install_verifier() is None
    tech_window = make_window(user=TECH)
    assert tech_window.install_action is not None
    assert "Ctrl+Shift+I" in tech_window.install_action.shortcut().toString()
    panel = tech_window.open_install_verifier()
    assert isinstance(panel, InstallVerifier) and panel.isVisible()
    assert tech_window.open_install_verifier() is panel
    labels = [label for label, _keys in tech_window.shortcuts()]
    assert "Check a camera install…" in labels


def test_the_cameras_password_typed_in_the_panel_is_kept_in_the_keyring_and_shown_nowhere(
    qtbot, verifier: InstallVerifier, sessions, clock, rtsp_server: RtspServer, settings
):
    add_feed_camera(sessions, clock, "cam-locked", rtsp_server.url(StandardPaths.SECURE))
    verifier.username_edit.setText(SECURE_USERNAME)
    verifier.password_edit.setText(SECURE_PASSWORD)
    verifier.stream_box.setCurrentIndex(1)  # main only
    type_and_run(qtbot, verifier, "cam-locked", 2)
    with qtbot.waitSignal(verifier.report_ready, timeout=30_000) as done:
        pass

    assert done.args[0].streams[0].measurement.error is None
    stored = CredentialStore.for_settings(settings).get("cam-locked")
    assert stored is not None and stored.password == SECURE_PASSWORD
    shown = verifier.status_label.text() + " ".join(
        str(verifier.model.index(row, column).data())
        for row in range(verifier.model.rowCount())
        for column in range(5)
    )
    assert SECURE_PASSWORD not in shown and "p%25w" not in shown


@pytest.fixture
def onvif_camera(rtsp_server: RtspServer) -> Iterator[OnvifDeviceSimulator]:
    camera = SimulatedCamera(
        profiles=[
            SimulatedProfile("main", "MainStream", 1920, 1080, rtsp_server.url(StandardPaths.MAIN)),
            SimulatedProfile("sub", "SubStream", 640, 360, rtsp_server.url(StandardPaths.SUB)),
        ]
    )
    with OnvifDeviceSimulator(camera) as device:
        yield device


@pytest.fixture
def discovering_verifier(
    qtbot, gate, audit_log, settings, clock, themed, onvif_camera: OnvifDeviceSimulator
):
    yield from open_verifier(
        qtbot, gate, audit_log, settings, clock, discovery_target=onvif_camera.discovery_target
    )


def discover_by_keyboard(qtbot, panel: InstallVerifier) -> None:
    with qtbot.waitSignal(panel.devices_found, timeout=10_000):
        qtbot.keyClick(panel, Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)


def test_a_discovered_camera_prefills_its_main_stream_which_then_passes_the_check(
    qtbot, discovering_verifier: InstallVerifier, onvif_camera: OnvifDeviceSimulator, settings
):
    panel = discovering_verifier
    assert controls_without_tooltip(panel) == []
    discover_by_keyboard(qtbot, panel)
    assert panel.device_list.count() == 1
    label = panel.device_list.item(0).text()
    assert label == f"Front Door · SimCam 4K (127.0.0.1:{onvif_camera.http_port})"
    assert panel.status_label.text() == "1 ONVIF device found"
    assert panel.device_list.hasFocus() and panel.read_button.isEnabled()

    camera = onvif_camera.camera
    panel.username_edit.setText(camera.username)
    panel.password_edit.setText(camera.password)
    panel.device_list.setFocus()
    with qtbot.waitSignal(panel.streams_read, timeout=10_000):
        qtbot.keyClick(panel.device_list, Qt.Key.Key_Return)
    main_uri, sub_uri = (profile.rtsp_uri for profile in camera.profiles)
    assert panel.target_edit.text() == main_uri
    assert panel.sub_stream_label.text() == f"{sub_uri} (640x360 H264, profile SubStream)"
    assert panel.status_label.text().startswith(f"Main stream {main_uri} (1920x1080 H264")
    assert panel.target_edit.hasFocus()

    panel.duration_box.setValue(2)
    with qtbot.waitSignal(panel.report_ready, timeout=30_000) as done:
        qtbot.keyClick(panel.target_edit, Qt.Key.Key_Return)
    report = done.args[0]
    assert report.address == main_uri and report.streams[0].measurement.height == 1080
    assert panel.status_label.text() == f"url {main_uri}: PASS"
    assert camera.password not in panel.status_label.text() + panel.sub_stream_label.text()


def test_a_wrong_camera_password_asks_again_and_stores_nothing(
    qtbot, discovering_verifier: InstallVerifier, onvif_camera: OnvifDeviceSimulator, settings
):
    panel = discovering_verifier
    discover_by_keyboard(qtbot, panel)
    guess = "Wr0ng-guess!"
    panel.username_edit.setText("admin")
    panel.password_edit.setText(guess)
    with qtbot.waitSignal(panel.message, timeout=10_000) as said:
        panel.read_button.click()

    assert "refused the user name and password" in said.args[0]
    assert "Type the camera's user name and password above" in panel.status_label.text()
    assert panel.username_edit.hasFocus()
    assert panel.target_edit.text() == "" and onvif_camera.camera.authenticated_calls == []
    assert guess not in said.args[0] + panel.status_label.text()
    written = b"".join(p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file())
    assert guess.encode() not in written
    assert panel.discover_button.isEnabled() and panel.run_button.isEnabled()


@pytest.fixture
def silent_target() -> Iterator[tuple[str, int]]:
    # A bound UDP socket that reads nothing: the probe arrives and no camera answers.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        yield "127.0.0.1", silent.getsockname()[1]


@pytest.fixture
def silent_verifier(qtbot, gate, audit_log, settings, clock, themed, silent_target):
    yield from open_verifier(qtbot, gate, audit_log, settings, clock, silent_target)


def test_discovery_with_no_camera_answering_says_so_and_leaves_nothing_to_choose(
    qtbot, silent_verifier: InstallVerifier, silent_target: tuple[str, int]
):
    panel = silent_verifier
    discover_by_keyboard(qtbot, panel)
    host, port = silent_target
    assert panel.device_list.count() == 0 and not panel.read_button.isEnabled()
    assert panel.status_label.text().startswith(
        f"no ONVIF device answered at {host}:{port} within 1 s"
    )
    assert panel.discover_button.isEnabled() and panel.run_button.isEnabled()
