"""The geofence workflow in the real console: select an incident, see the cameras around it,
shape the geofence on the map, open the nearest allowed feeds through the gate."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt

from app.models.audit_chain import AuditEventType
from app.models.camera import Camera
from app.models.geofence import GeofenceCircle, GeofencePolygon
from app.settings import MapSettings
from app.widgets.geofence_editor import DrawMode
from app.widgets.geofence_panel import CAMERA, DIRECTION, DISTANCE, OPEN_NOW, TIER, WHY
from app.widgets.main_window import MainWindow
from app.widgets.map_layers import radius_handle
from app.widgets.video_tile import CAMERA_MIME
from tests.factories import metres_east
from tests.widgets.conftest import audit_events
from tests.widgets.test_video_wall import loaded, select_incident, wait_live

pytestmark = pytest.mark.usefixtures("themed")

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
INCIDENT_AT = (41.88, -87.63)  # where the registry fixture puts its incidents
EMERGENCY = "2026-000102"
ROUTINE = "2026-000101"
# (east, north) metres from the incidents.
PLACES = {
    "cam-porch-4": (10, 0),  # registered: the nearest, and never opened
    "cam-clip-1": (0, 40),
    "cam-bank-2": (-70, 0),  # emergency only
    "cam-clip-2": (0, -90),
    "cam-school-3": (120, 120),  # scheduled, open now
    "cam-clip-3": (0, 220),
    "cam-harbor-1": (450, 0),  # outside the default 250 m
}


@pytest.fixture
def geofence_window(qtbot, make_window, settings, sessions, clip_cameras) -> MainWindow:
    with sessions() as session:
        for camera_id, (east, north) in PLACES.items():
            camera = session.get(Camera, camera_id)
            assert camera is not None
            camera.latitude, camera.longitude = metres_east(*INCIDENT_AT, east, north)
        session.commit()
    roomy = settings.model_copy(update={"map": MapSettings(default_radius_m=250)})
    window: MainWindow = make_window(settings=roomy)
    qtbot.waitUntil(lambda: loaded(window))
    qtbot.waitUntil(lambda: window.camera_map.camera_count == len(PLACES))
    return window


def drawing(window: MainWindow) -> DrawMode:
    return window.camera_map.geofence_editor.mode


def listed(window: MainWindow, column: int = CAMERA) -> list[str]:
    model = window.geofence_panel.model
    return [model.index(row, column).data() for row in range(model.rowCount())]


def searched(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.geofence_panel.searching)
    qtbot.waitUntil(lambda: window.geofence_panel.result is not None)


def geofence_queries(settings) -> list[dict[str, Any]]:
    return audit_events(settings, AuditEventType.GEOFENCE_QUERY)


def test_selecting_an_incident_lists_the_cameras_around_it_nearest_first(
    qtbot, geofence_window: MainWindow, settings
):
    window = geofence_window
    select_incident(window, EMERGENCY)
    searched(qtbot, window)
    panel, camera_map = window.geofence_panel, window.camera_map
    assert window.geofence_dock.isVisible()
    assert camera_map.geofence == GeofenceCircle(*INCIDENT_AT, 250)
    latitude, longitude = camera_map.centre
    assert latitude == pytest.approx(INCIDENT_AT[0], abs=1e-6)
    assert longitude == pytest.approx(INCIDENT_AT[1], abs=1e-6)
    assert listed(window) == [
        "Camera cam-porch-4",
        "Camera cam-clip-1",
        "Camera cam-bank-2",
        "Camera cam-clip-2",
        "Camera cam-school-3",
        "Camera cam-clip-3",
    ]
    assert listed(window, DISTANCE)[:2] == ["10 m", "40 m"]
    assert listed(window, DIRECTION)[:4] == ["E 90°", "N 0°", "W 270°", "S 180°"]
    assert listed(window, TIER)[:2] == ["registered", "integrated"]
    assert listed(window, OPEN_NOW) == ["✗ no", *["✓ yes"] * 5]
    assert "location and contact only" in listed(window, WHY)[0]
    assert EMERGENCY in panel.title.text() and "250 m" in panel.title.text()
    assert panel.summary.text().startswith("6 cameras · 5 may open now · 1 by request")
    # The list is a drag source for the wall, as the camera list is.
    model = panel.model
    dragged = model.mimeData([model.index(1, CAMERA), model.index(3, DISTANCE)])
    assert bytes(dragged.data(CAMERA_MIME).data()).decode() == "cam-clip-1\ncam-clip-2"
    (query,) = geofence_queries(settings)
    assert query["purpose"] == f"incident:{EMERGENCY}"
    assert query["details"]["radius_m"] == 250 and query["details"]["results"] == 6

    # A routine call: the emergency-only camera may not be opened for it, and says why.
    select_incident(window, ROUTINE)
    qtbot.waitUntil(lambda: len(geofence_queries(settings)) == 2)
    searched(qtbot, window)
    qtbot.waitUntil(lambda: listed(window, OPEN_NOW)[2] == "✗ no")
    assert listed(window, WHY)[2] == "emergency-only camera and this incident is not an emergency"


def test_the_radius_follows_the_box_and_the_maps_handle(
    qtbot, geofence_window: MainWindow, settings
):
    window = geofence_window
    select_incident(window, EMERGENCY)
    searched(qtbot, window)
    panel, camera_map = window.geofence_panel, window.camera_map
    panel.radius_box.setValue(500)
    qtbot.waitUntil(lambda: len(listed(window)) == 7)
    assert camera_map.geofence == GeofenceCircle(*INCIDENT_AT, 500)
    assert listed(window)[-1] == "Camera cam-harbor-1"

    # Drag the circle's handle in to about 100 m.
    camera_map.show_geofence(camera_map.geofence)
    handle = radius_handle(camera_map.geofence, camera_map.map_frame())
    target = camera_map.screen_position(*metres_east(*INCIDENT_AT, 100))
    viewport = camera_map.viewport()
    assert camera_map.geofence_editor.hovering_handle(handle)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=handle.toPoint())
    qtbot.mouseMove(viewport, target.toPoint())
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=target.toPoint())
    fence = camera_map.geofence
    assert isinstance(fence, GeofenceCircle)
    assert fence.radius_m == pytest.approx(100, rel=0.05)
    assert (fence.latitude, fence.longitude) == INCIDENT_AT  # the centre stays put
    qtbot.waitUntil(lambda: len(listed(window)) == 4)
    assert panel.radius_box.value() == round(fence.radius_m)
    last = geofence_queries(settings)[-1]
    assert last["details"]["radius_m"] == round(fence.radius_m)
    assert last["details"]["results"] == 4


def press_release(qtbot, camera_map, point: QPointF) -> None:
    qtbot.mouseClick(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=point.toPoint())


def test_a_polygon_drawn_on_the_map_is_searched(qtbot, geofence_window: MainWindow, settings):
    window = geofence_window
    select_incident(window, EMERGENCY)
    searched(qtbot, window)
    camera_map = window.camera_map
    before = len(geofence_queries(settings))
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL_SHIFT)
    assert drawing(window) is DrawMode.POLYGON
    assert camera_map.hint.isVisible() and "corner" in camera_map.hint.text()
    # A box north of the incidents holding clip-1 (40 m N) and clip-3 (220 m N).
    corners = [(-30, 20), (30, 20), (30, 240), (-30, 240)]
    points = [camera_map.screen_position(*metres_east(*INCIDENT_AT, e, n)) for e, n in corners]
    for point in points:
        press_release(qtbot, camera_map, point)
    press_release(qtbot, camera_map, points[-1])  # a doubled click adds no corner
    qtbot.keyClick(camera_map, Qt.Key.Key_Backspace)  # take the last one back...
    press_release(qtbot, camera_map, points[-1])  # ...and put it again
    qtbot.keyClick(camera_map, Qt.Key.Key_Return)
    assert drawing(window) is DrawMode.NONE
    assert not camera_map.hint.isVisible()
    fence = camera_map.geofence
    assert isinstance(fence, GeofencePolygon) and len(fence.points) == 4
    qtbot.waitUntil(lambda: listed(window) == ["Camera cam-clip-1", "Camera cam-clip-3"])
    assert not window.geofence_panel.radius_box.isEnabled()
    assert "4-corner polygon" in window.geofence_panel.title.text()
    queries = geofence_queries(settings)
    assert len(queries) == before + 1 and queries[-1]["details"]["shape"] == "polygon"

    # A bow tie: refused with the reason, nothing listed, nothing audited.
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL_SHIFT)
    for index in (0, 2, 1, 3):
        press_release(qtbot, camera_map, points[index])
    qtbot.mouseDClick(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=points[3].toPoint())
    qtbot.waitUntil(lambda: "crosses itself" in window.geofence_panel.summary.text())
    assert listed(window) == []
    assert len(geofence_queries(settings)) == before + 1

    # Esc leaves a drawing without changing the geofence.
    bow_tie = camera_map.geofence
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL_SHIFT)
    press_release(qtbot, camera_map, points[0])
    qtbot.keyClick(camera_map, Qt.Key.Key_Escape)
    assert drawing(window) is DrawMode.NONE
    assert camera_map.geofence_layer.draft_corners == []
    assert camera_map.geofence == bow_tie


def test_a_circle_is_drawn_by_dragging_out_its_radius(qtbot, geofence_window: MainWindow, settings):
    window = geofence_window
    select_incident(window, EMERGENCY)
    searched(qtbot, window)
    camera_map = window.camera_map
    qtbot.keyClick(window, Qt.Key.Key_C, CTRL_SHIFT)
    assert drawing(window) is DrawMode.CIRCLE
    centre = camera_map.screen_position(*metres_east(*INCIDENT_AT, 120, 120))
    edge = camera_map.screen_position(*metres_east(*INCIDENT_AT, 120 + 60, 120))
    viewport = camera_map.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=centre.toPoint())
    qtbot.mouseMove(viewport, edge.toPoint())
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=edge.toPoint())
    fence = camera_map.geofence
    assert isinstance(fence, GeofenceCircle) and fence.radius_m == pytest.approx(60, rel=0.08)
    qtbot.waitUntil(lambda: listed(window) == ["Camera cam-school-3"])
    assert window.geofence_panel.radius_box.value() == round(fence.radius_m)
    # Back to the incident's default circle in one action.
    window.geofence_panel.reset_action.trigger()
    assert camera_map.geofence == GeofenceCircle(*INCIDENT_AT, 250)
    qtbot.waitUntil(lambda: len(listed(window)) == 6)


def test_the_nearest_allowed_feeds_open_on_the_wall_for_the_incident(
    qtbot, geofence_window: MainWindow, settings
):
    window = geofence_window
    window.wall.set_layout("1x1")
    select_incident(window, EMERGENCY)
    searched(qtbot, window)
    window.geofence_panel.open_count_box.setValue(2)
    qtbot.keyClick(window, Qt.Key.Key_O, CTRL_SHIFT)
    # The registered porch camera is nearest but is skipped; one tile was not enough, so the
    # wall grew to the smallest grid holding both.
    assert window.wall.layout_name == "2x2"
    shown = [tile.camera.camera_id for tile in window.wall.tiles if tile.camera is not None]
    assert shown == ["cam-clip-1", "cam-bank-2"]
    wait_live(qtbot, window.wall.tiles[0])
    qtbot.waitUntil(lambda: len(audit_events(settings, AuditEventType.FEED_ALLOWED)) == 2)
    allowed = audit_events(settings, AuditEventType.FEED_ALLOWED)
    assert {event["camera_id"] for event in allowed} == {"cam-clip-1", "cam-bank-2"}
    assert {event["purpose"] for event in allowed} == {f"incident:{EMERGENCY}"}
    assert audit_events(settings, AuditEventType.FEED_DENIED) == []

    # Again: the two nearest allowed are on the wall already; nothing opens twice.
    qtbot.keyClick(window, Qt.Key.Key_O, CTRL_SHIFT)
    shown = [tile.camera.camera_id for tile in window.wall.tiles if tile.camera is not None]
    assert shown == ["cam-clip-1", "cam-bank-2"]
    assert "already on the wall" in window.statusBar().currentMessage()


def test_an_unopenable_camera_says_why_instead_of_opening(
    qtbot, geofence_window: MainWindow, settings
):
    window = geofence_window
    select_incident(window, EMERGENCY)
    searched(qtbot, window)
    panel = window.geofence_panel
    panel.focus_table()
    assert window.camera_map.selected_camera_id == "cam-porch-4"  # highlighted on the map
    qtbot.keyClick(panel.view, Qt.Key.Key_Return)
    assert "cannot be opened now" in window.statusBar().currentMessage()
    assert all(tile.is_empty for tile in window.wall.tiles)
    assert audit_events(settings, AuditEventType.FEED_DENIED) == []


def test_footage_is_requested_for_the_geofences_cameras_that_cannot_be_opened(
    qtbot, geofence_window: MainWindow, settings
):
    window = geofence_window
    select_incident(window, ROUTINE)  # the emergency-only bank camera is closed to it
    searched(qtbot, window)
    footage = window.footage_panel
    assert footage.incident is not None and footage.incident.cad_number == ROUTINE
    # Nothing selected in the list: every camera of the geofence that cannot be opened.
    qtbot.keyClick(window, Qt.Key.Key_R, CTRL_SHIFT)
    dialog = footage.dialog
    assert dialog is not None and dialog.isVisible()
    assert set(dialog.chosen_camera_ids()) == {"cam-porch-4", "cam-bank-2"}
    dialog.accept()
    qtbot.waitUntil(lambda: footage.count == 2)
    assert window.footage_dock.windowTitle() == "Footage requests (2)"
    drafted = [
        event
        for event in audit_events(settings, AuditEventType.FOOTAGE_REQUEST)
        if event["details"].get("status") == "drafted"
    ]
    assert {event["camera_id"] for event in drafted} == {"cam-porch-4", "cam-bank-2"}
    # Another incident: its own (no) requests.
    select_incident(window, EMERGENCY)
    qtbot.waitUntil(lambda: footage.count == 0)
    assert window.footage_dock.windowTitle() == "Footage requests"
