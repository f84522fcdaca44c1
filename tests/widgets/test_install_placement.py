"""The install verifier's Placement tab: a live snapshot of the real RTSP test server or a clip,
privacy masks and their warning, the camera moved and turned on the map by mouse and keys with
the numbers following, and the whole verifier on a 1366x768 laptop screen."""

from __future__ import annotations

import socket

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from app.models.audit_chain import AuditEventType
from app.models.camera import Camera
from app.models.camera_placement import CameraPlacement
from app.widgets.install_placement import InstallPlacement
from app.widgets.install_verifier import InstallVerifier
from tests.factories import registry_sessions
from tests.rtsp.fixtures import (
    SECURE_PASSWORD,
    SECURE_USERNAME,
    RtspClips,
    RtspServer,
    StandardPaths,
)
from tests.widgets.conftest import add_feed_camera, audit_events
from tests.widgets.test_install_verifier import LAPTOP, open_verifier

# 60 % of the picture: a neighbour's house filling the left of the view.
NEIGHBOUR = [[0.0, 0.0], [0.6, 0.0], [0.6, 1.0], [0.0, 1.0]]
WINDOW = [[0.7, 0.1], [0.9, 0.1], [0.9, 0.3], [0.7, 0.3]]  # 4 %


@pytest.fixture
def verifier(qtbot, gate, audit_log, settings, clock, themed, jobs):
    yield from open_verifier(qtbot, gate, audit_log, settings, clock, jobs=jobs)


def snapshot_of(qtbot, panel: InstallVerifier, target: str) -> InstallPlacement:
    panel.target_edit.setText(target)
    qtbot.keyClick(panel, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    placement = panel.placement
    assert panel.tabs.currentWidget() is placement
    with qtbot.waitSignal(placement.snapshot_ready, timeout=30_000):
        qtbot.keyClick(panel, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
    return placement


def test_a_registry_cameras_snapshot_loads_its_placement_and_masks_and_warns_when_mostly_private(
    qtbot, verifier: InstallVerifier, sessions, clock, rtsp_server: RtspServer, settings
):
    add_feed_camera(sessions, clock, "cam-yard", rtsp_server.url(StandardPaths.MAIN))
    with sessions() as session:
        camera = session.get(Camera, "cam-yard")
        assert camera is not None
        camera.heading_deg, camera.fov_deg, camera.range_m = 120.0, 70.0, 25.0
        camera.privacy_masks = [NEIGHBOUR]
        session.commit()

    tab = snapshot_of(qtbot, verifier, "cam-yard")
    assert tab.editor.frame is not None and tab.editor.frame.shape == (1080, 1920, 3)
    assert tab.placement == CameraPlacement(41.88, -87.63, 120.0, 70.0, 25.0, [NEIGHBOUR])
    assert [tab.fields[name].text() for name in ("heading_deg", "fov_deg", "range_m")] == [
        "120",
        "70",
        "25.0",
    ]
    assert "its stored position and masks are loaded" in tab.status_label.text()
    assert tab.coverage_label.text() == "1 mask · 60% of the picture masked"
    assert tab.warning.isVisible() and not tab.warning_icon.pixmap().isNull()
    assert tab.warning_label.text().startswith("Most of this view is masked as private (60%")
    assert "Turn or move it towards the street" in tab.warning_label.text()
    opened = audit_events(settings, AuditEventType.FEED_ALLOWED)
    assert [(e["camera_id"], e["purpose"]) for e in opened] == [("cam-yard", "install:cam-yard")]

    tab.editor.selected = 0
    tab.editor.setFocus()
    qtbot.keyClick(tab.editor, Qt.Key.Key_Delete)
    tab.editor.set_masks([WINDOW])
    assert not tab.warning.isVisible()
    assert tab.coverage_label.text() == "1 mask · 4% of the picture masked"
    context = verifier.record_context()
    assert context.camera_id == "cam-yard"
    assert context.placement is not None and context.placement.privacy_masks == [WINDOW]
    assert context.masked_snapshot is not None
    assert context.masked_snapshot[int(0.2 * 1079), int(0.8 * 1919)].max() == 0
    assert context.masked_snapshot.shape == (1080, 1920, 3)
    unmasked = tab.editor.frame  # the picture itself is left as it came
    assert unmasked is not None and unmasked[150:300, 1400:1700].any()
    assert not context.masked_snapshot[150:300, 1400:1700].any()

    # A new snapshot of the same camera keeps what the technician drew.
    with qtbot.waitSignal(tab.snapshot_ready, timeout=30_000):
        tab.snapshot_button.click()
    assert tab.editor.masks == [WINDOW]


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"rtsp://127.0.0.1:{port}/gone"  # nothing listens there any more


def test_a_dead_stream_says_so_and_leaves_the_tab_usable(qtbot, verifier, dead_url: str):
    verifier.target_edit.setText(dead_url)
    verifier.show_tab(1)
    tab = verifier.placement
    with qtbot.waitSignal(verifier.message, timeout=20_000) as said:
        tab.snapshot_button.click()
    assert said.args[0].startswith(f"Placement snapshot: no snapshot from {dead_url}:")
    assert "Check that the camera is on and the address is right" in said.args[0]
    assert tab.status_label.text().startswith("No snapshot: no snapshot from")
    assert tab.editor.placeholder.startswith("No snapshot:")
    assert tab.editor.frame is None and tab.snapshot_button.isEnabled() and not tab.taking


def test_the_camera_is_placed_moved_and_turned_on_the_map_and_the_numbers_follow(
    qtbot, verifier: InstallVerifier, rtsp_clips: RtspClips
):
    tab = snapshot_of(qtbot, verifier, str(rtsp_clips.sub))
    assert tab.editor.frame is not None and tab.editor.frame.shape == (360, 640, 3)
    assert tab.placement is None  # a clip: no registry position
    viewport = tab.map.viewport()

    # A click places the camera where the technician clicked.
    middle = QPoint(viewport.width() // 2, viewport.height() // 2)
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=middle)
    placed = tab.placement
    assert placed is not None
    assert (placed.latitude, placed.longitude) == pytest.approx(
        tab.map.geo_position(QPointF(middle)), abs=1e-6
    )
    tab.map.centre_on(placed.latitude, placed.longitude, 18.5)

    # Dragging the square handle turns it: drawn east of the camera, it faces east.
    camera, handle, _reach = tab.map_editor.layer.positions(tab.map.map_frame())
    east = QPoint(round(camera.x() + 80), round(camera.y()))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=handle.toPoint())
    qtbot.mouseMove(viewport, east)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=east)
    assert tab.placement is not None and tab.placement.heading_deg == 90.0
    assert tab.fields["heading_deg"].text() == "90"

    # Dragging the camera moves it; the latitude and longitude follow.
    target = QPoint(round(camera.x() - 40), round(camera.y() + 30))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=camera.toPoint())
    qtbot.mouseMove(viewport, target)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=target)
    moved = tab.placement
    assert moved is not None
    latitude, longitude = tab.map.geo_position(QPointF(target))
    assert (moved.latitude, moved.longitude) == pytest.approx((latitude, longitude), abs=1e-6)
    assert moved.latitude < placed.latitude and moved.longitude < placed.longitude
    assert tab.fields["latitude"].text() == f"{moved.latitude:.6f}"
    assert tab.fields["longitude"].text() == f"{moved.longitude:.6f}"

    # Keys: ] turns, = widens, Right moves a metre east (Shift: ten).
    tab.map.setFocus()
    for key in (Qt.Key.Key_BracketRight, Qt.Key.Key_Equal, Qt.Key.Key_Right):
        qtbot.keyClick(tab.map, key)
    qtbot.keyClick(tab.map, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    keyed = tab.placement
    assert keyed is not None
    assert (keyed.heading_deg, keyed.fov_deg) == (95.0, 95.0)
    metres_east = (keyed.longitude - moved.longitude) * 111_320.0 * 0.7445  # cos(41.88°)
    metres_north = (keyed.latitude - moved.latitude) * 111_320.0
    assert metres_east == pytest.approx(1.0, abs=0.02)
    assert metres_north == pytest.approx(10.0, abs=0.05)
    assert tab.fields["heading_deg"].text() == "95" and tab.fields["fov_deg"].text() == "95"
    qtbot.keyClick(tab.map, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.ShiftModifier)
    assert tab.placement is not None and tab.placement.heading_deg == 94.0


def test_typed_numbers_move_the_map_and_wrong_ones_are_refused_with_a_message(
    qtbot, verifier: InstallVerifier
):
    verifier.show_tab(1)
    tab = verifier.placement
    heading = tab.fields["heading_deg"]
    qtbot.keyClicks(heading, "45")
    qtbot.keyClick(heading, Qt.Key.Key_Return)
    assert tab.placement is None and tab.fields_message.isVisible()
    assert tab.fields_message.text().startswith("Place the camera first")

    for name, text in (("latitude", "41.8801"), ("longitude", "-87.6302")):
        tab.fields[name].setFocus()
        tab.fields[name].clear()
        qtbot.keyClicks(tab.fields[name], text)
        qtbot.keyClick(tab.fields[name], Qt.Key.Key_Return)
    placed = tab.placement
    assert placed is not None and (placed.latitude, placed.longitude) == (41.8801, -87.6302)
    assert tab.map.centre == pytest.approx((41.8801, -87.6302), abs=1e-6)
    assert not tab.fields_message.isVisible()

    heading.setFocus()
    heading.selectAll()
    qtbot.keyClicks(heading, "270")
    qtbot.keyClick(heading, Qt.Key.Key_Return)
    assert tab.placement is not None and tab.placement.heading_deg == 270.0
    assert tab.map_editor.layer.placement is not None
    assert tab.map_editor.layer.placement[2] == 270.0  # the wedge turned with it

    for name, text, message in (
        ("heading_deg", "400", "Heading 400: must be from 0° to below 360°"),
        ("fov_deg", "0", "Field of view 0: must be from 1° to 360°"),
        ("range_m", "-5", "Range -5: must be more than 0 m and at most 2000 m"),
        ("latitude", "north", "Latitude 'north' is not a number"),
    ):
        edit = tab.fields[name]
        edit.setFocus()
        edit.selectAll()
        qtbot.keyClicks(edit, text)
        qtbot.keyClick(edit, Qt.Key.Key_Return)
        assert tab.fields_message.isVisible()
        assert tab.fields_message.text().startswith(message), tab.fields_message.text()
        assert tab.fields_message.text().endswith("The camera was not changed.")
        assert tab.placement is not None and tab.placement.heading_deg == 270.0
        assert (tab.placement.latitude, tab.placement.fov_deg) == (41.8801, 90.0)


CONTROLS = (QAbstractButton, QLabel, QLineEdit, QComboBox, QAbstractSpinBox)


def clipped_controls(panel: InstallVerifier) -> list[str]:
    """Visible controls of the shown tab outside the window or below their minimum size."""
    inside = QRect(0, 0, panel.width(), panel.height())
    problems = []
    for control in panel.findChildren(QWidget):
        if not control.isVisible() or control.window() is not panel:
            continue
        if isinstance(control.parentWidget(), QComboBox | QAbstractSpinBox):
            continue  # their own parts, sized by them
        name = control.objectName() or type(control).__name__
        if isinstance(control, QLabel):
            name += f" {control.text()[:30]!r}"
        box = QRect(control.mapTo(panel, QPoint(0, 0)), control.size())
        if not inside.contains(box):
            problems.append(f"{name} outside the window: {box}")
        elif isinstance(control, CONTROLS) and not isinstance(control, QLabel):
            hint = control.minimumSizeHint()
            if control.width() < hint.width() or control.height() < hint.height():
                problems.append(f"{name} {control.size()} smaller than {hint}")
        elif (
            isinstance(control, QLabel)
            and not control.wordWrap()
            and control.width() < control.minimumSizeHint().width()
        ):
            problems.append(f"{name} cut: {control.width()} < {control.minimumSizeHint()}")
    return problems


def tab_stops(panel: InstallVerifier) -> list[QWidget]:
    return [
        w
        for w in panel.tabs.currentWidget().findChildren(QWidget)
        if w.isVisible()
        and w.isEnabled()
        and w.focusPolicy() & Qt.FocusPolicy.TabFocus
        and w.focusProxy() is None
        and not isinstance(w.parentWidget(), QComboBox | QAbstractSpinBox)
        and w.parentWidget() is not None
        and type(w.parentWidget()).__name__ != "MapLegend"
    ]


def test_every_tab_fits_a_laptop_screen_and_tab_reaches_every_control(
    qtbot, verifier: InstallVerifier, rtsp_clips: RtspClips
):
    snapshot_of(qtbot, verifier, str(rtsp_clips.sub))
    verifier.placement.editor.set_masks([NEIGHBOUR])
    assert (verifier.width(), verifier.height()) == LAPTOP
    for index in range(verifier.tabs.count()):
        verifier.show_tab(index)
        qtbot.waitUntil(lambda index=index: verifier.tabs.currentIndex() == index)
        assert clipped_controls(verifier) == [], verifier.tabs.tabText(index)
        stops = tab_stops(verifier)
        assert stops, verifier.tabs.tabText(index)
        stops[0].setFocus()
        visited = []
        for _ in range(len(stops) + 3):
            visited.append(QApplication.focusWidget())
            qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        missing = [w.objectName() or type(w).__name__ for w in stops if w not in visited]
        assert missing == [], verifier.tabs.tabText(index)
    # Alt and the tab's letter, and Ctrl and its number, switch tabs.
    qtbot.keyClick(verifier, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    assert verifier.tabs.currentIndex() == 0
    qtbot.keyClick(verifier, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    assert verifier.tabs.currentIndex() == 1
    qtbot.keyClick(verifier, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert verifier.tabs.currentIndex() == 0


def test_the_snapshot_of_a_registry_camera_is_opened_through_the_gate_only(
    qtbot, verifier: InstallVerifier, settings
):
    sessions = registry_sessions(settings)
    with sessions() as session:
        assert session.get(Camera, "cam-nowhere") is None
    verifier.target_edit.setText("cam-nowhere")
    verifier.show_tab(1)
    with qtbot.waitSignal(verifier.message, timeout=10_000) as said:
        verifier.placement.snapshot_button.click()
    assert "no camera 'cam-nowhere' in the registry" in said.args[0]


def test_a_registry_camera_streaming_a_file_gives_its_first_picture(
    qtbot, verifier: InstallVerifier, clip_cameras: list[str]
):
    tab = snapshot_of(qtbot, verifier, clip_cameras[0])
    assert tab.editor.frame is not None and tab.editor.frame.shape == (360, 640, 3)
    assert tab.camera_id == clip_cameras[0]
    assert tab.placement is not None and tab.placement.privacy_masks == []


def test_the_record_tab_saves_the_check_with_the_placement_and_masked_snapshot(
    qtbot, verifier: InstallVerifier, clip_cameras: list[str]
):
    camera_id = clip_cameras[0]
    verifier.target_edit.setText(camera_id)
    verifier.stream_box.setCurrentIndex(1)  # main only: the clip cameras have no sub
    verifier.duration_box.setValue(1)
    with qtbot.waitSignal(verifier.report_ready, timeout=30_000):
        qtbot.keyClick(verifier.target_edit, Qt.Key.Key_Return)
    tab = snapshot_of(qtbot, verifier, camera_id)
    tab.editor.set_masks([WINDOW])
    form = verifier.record_page
    assert form is not None
    qtbot.keyClick(verifier, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert verifier.tabs.currentWidget() is form
    assert form.save_button.isEnabled(), form.save_button.toolTip()
    with qtbot.waitSignal(form.saved, timeout=20_000) as saved:
        form.save_button.click()
    record = saved.args[0]
    assert record.camera_id == camera_id
    assert record.placement["privacy_masks"] == [WINDOW]
    assert (record.placement["latitude"], record.placement["longitude"]) == (41.88, -87.63)
    assert len(record.snapshots) == 1 and record.snapshots[0].width == 640


def test_a_snapshot_of_another_camera_is_not_saved_with_the_check(
    qtbot, verifier: InstallVerifier, clip_cameras: list[str]
):
    verifier.target_edit.setText(clip_cameras[0])
    verifier.stream_box.setCurrentIndex(1)
    verifier.duration_box.setValue(1)
    with qtbot.waitSignal(verifier.report_ready, timeout=30_000):
        qtbot.keyClick(verifier.target_edit, Qt.Key.Key_Return)
    snapshot_of(qtbot, verifier, clip_cameras[1])
    context = verifier.record_context()
    assert context.camera_id == clip_cameras[0]
    assert context.placement is None and context.masked_snapshot is None
    assert verifier.record_page is not None and not verifier.record_page.save_button.isEnabled()


def test_a_stream_asking_for_a_password_takes_the_typed_one_and_shows_it_nowhere(
    qtbot, verifier: InstallVerifier, rtsp_server: RtspServer, settings
):
    url = rtsp_server.url(StandardPaths.SECURE)
    verifier.username_edit.setText(SECURE_USERNAME)
    verifier.password_edit.setText("Wr0ng-guess!")
    verifier.target_edit.setText(url)
    verifier.show_tab(1)
    tab = verifier.placement
    with qtbot.waitSignal(verifier.message, timeout=20_000) as said:
        tab.snapshot_button.click()
    assert "Run the check first" in said.args[0]
    assert "Wr0ng-guess!" not in said.args[0] + tab.status_label.text()

    verifier.password_edit.setText(SECURE_PASSWORD)
    with qtbot.waitSignal(tab.snapshot_ready, timeout=30_000):
        tab.snapshot_button.click()
    assert tab.editor.frame is not None and tab.editor.frame.shape == (360, 640, 3)
    assert tab.status_label.text().startswith(f"Snapshot of {url}, 640x360.")
    checked = audit_events(settings, AuditEventType.STREAM_CHECKED)
    assert [e["subject"] for e in checked] == [url, url]
    shown = " ".join([said.args[0], tab.status_label.text(), *(str(e) for e in checked)])
    assert SECURE_PASSWORD not in shown and "p%25w" not in shown
