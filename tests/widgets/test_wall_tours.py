"""Tile recall, camera tours, stream health and the tile's menu: every camera shown goes
through the gate."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMenu

from app.models.audit_chain import AuditEventType
from app.settings import WallSettings
from app.widgets.main_window import MainWindow
from app.widgets.video_tile import VideoTile, camera_mime
from tests.widgets.conftest import add_feed_camera, make_clip
from tests.widgets.test_video_wall import (
    INCIDENT,
    drop,
    feed_events,
    loaded,
    select_incident,
    wait_live,
)

pytestmark = pytest.mark.usefixtures("themed")

DENIED = "denied: registered camera: location and contact only, never a live feed"


def touring_window(qtbot, make_window, settings) -> MainWindow:
    quick = settings.model_copy(update={"wall": WallSettings(tour_interval_s=1)})
    window: MainWindow = make_window(settings=quick)
    qtbot.waitUntil(lambda: loaded(window))
    select_incident(window, INCIDENT)
    return window


def on_tile(tile: VideoTile, camera_id: str) -> bool:
    return tile.camera is not None and tile.camera.camera_id == camera_id


def test_backspace_recalls_the_tiles_previous_camera(qtbot, make_window, settings, clip_cameras):
    window = touring_window(qtbot, make_window, settings)
    tile = window.wall.tiles[0]
    assert not tile.recent_cameras
    assert drop(tile, camera_mime(["cam-clip-1"]))
    wait_live(qtbot, tile)
    assert drop(tile, camera_mime(["cam-clip-2"]))
    wait_live(qtbot, tile)
    assert [camera.camera_id for camera in tile.recent_cameras] == ["cam-clip-1"]

    tile.setFocus()
    qtbot.waitUntil(tile.hasFocus)
    qtbot.keyClick(tile, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: on_tile(tile, "cam-clip-1"))
    wait_live(qtbot, tile)
    assert [camera.camera_id for camera in tile.recent_cameras] == ["cam-clip-2"]
    # Recalled, the camera is asked of the gate again: a second allowed open, audited.
    qtbot.waitUntil(
        lambda: len(feed_events(settings, AuditEventType.FEED_ALLOWED, "cam-clip-1")) == 2
    )
    (closed,) = feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-1")
    assert closed["reason"] == "replaced_on_wall"

    window.wall.close_tile(tile)
    assert tile.is_empty
    assert [camera.camera_id for camera in tile.recent_cameras] == ["cam-clip-1", "cam-clip-2"]
    menu = window.wall.tile_menu(tile)
    (recall,) = [action.menu() for action in menu.actions() if isinstance(action.menu(), QMenu)]
    assert isinstance(recall, QMenu) and recall.title() == "Recall"
    assert [action.text() for action in recall.actions()] == [
        "Camera cam-clip-1",
        "Camera cam-clip-2",
    ]
    recall.actions()[1].trigger()
    qtbot.waitUntil(lambda: on_tile(tile, "cam-clip-2"))
    wait_live(qtbot, tile)


def test_a_tile_with_nothing_to_recall_says_so(qtbot, make_window, settings, clip_cameras):
    window = touring_window(qtbot, make_window, settings)
    tile = window.wall.tiles[1]
    window.wall.recall(tile)
    assert tile.is_empty
    assert "no earlier camera" in window.statusBar().currentMessage()


def test_several_cameras_dropped_on_a_tile_tour_it_each_step_through_the_gate(
    qtbot, make_window, settings, clip_cameras
):
    window = touring_window(qtbot, make_window, settings)
    wall = window.wall
    tile = wall.tiles[0]
    assert drop(tile, camera_mime(["cam-clip-1", "cam-porch-4", "cam-clip-2"]))
    assert wall.tour_of(tile) is not None
    assert "Touring 3 cameras on tile 1" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: on_tile(tile, "cam-clip-1") and tile.tour_text == "tour 1/3")
    # The registered camera is refused on its step, and the tour goes on past it.
    qtbot.waitUntil(lambda: tile.status_text == DENIED, timeout=5000)
    assert tile.tour_text == "tour 2/3"
    qtbot.waitUntil(lambda: on_tile(tile, "cam-clip-2") and tile.has_picture, timeout=5000)
    qtbot.waitUntil(lambda: on_tile(tile, "cam-clip-1") and tile.tour_text == "tour 1/3")

    assert feed_events(settings, AuditEventType.FEED_DENIED, "cam-porch-4") != []
    assert feed_events(settings, AuditEventType.FEED_ALLOWED, "cam-clip-2") != []
    closed = feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-1")
    assert closed and closed[0]["reason"] == "tour_step"
    assert all(e["purpose"] == f"incident:{INCIDENT}" for e in closed)

    # The operator dropping a camera takes the tile back: the tour ends, the camera stays.
    assert drop(tile, camera_mime(["cam-clip-3"]))
    assert wall.tours == [] and tile.tour_text == ""
    wait_live(qtbot, tile)
    assert on_tile(tile, "cam-clip-3")


def test_a_wall_tour_shows_the_cameras_page_by_page(
    qtbot, make_window, settings, sessions, clock, tmp_path, clip_cameras
):
    clip = make_clip(tmp_path / "more.mp4", 320, 180)
    for camera_id in ("cam-more-4", "cam-more-5", "cam-more-6"):
        add_feed_camera(sessions, clock, camera_id, clip.as_uri())
    window = touring_window(qtbot, make_window, settings)
    wall = window.wall
    wall.set_layout("2x2")
    cameras = [*clip_cameras, "cam-more-4", "cam-more-5", "cam-more-6"]
    wall.start_tour(wall.tiles, cameras)
    first, second = cameras[:4], cameras[4:]
    qtbot.waitUntil(
        lambda: all(on_tile(t, c) for t, c in zip(wall.tiles, first, strict=True)), timeout=5000
    )
    assert {tile.tour_text for tile in wall.tiles} == {"tour 1/2"}
    qtbot.waitUntil(lambda: on_tile(wall.tiles[0], second[0]), timeout=5000)
    assert on_tile(wall.tiles[1], second[1])
    assert wall.tiles[2].is_empty and wall.tiles[3].is_empty, "the last page is short"
    assert {tile.tour_text for tile in wall.tiles} == {"tour 2/2"}

    wall.stop_tour(wall.tiles[3])
    assert wall.tours == [] and {tile.tour_text for tile in wall.tiles} == {""}


def test_a_hidden_wall_opens_no_camera_for_its_tour(qtbot, make_window, settings, clip_cameras):
    window = touring_window(qtbot, make_window, settings)
    wall = window.wall
    wall.start_tour([wall.tiles[0]], clip_cameras)
    (tour,) = wall.tours
    qtbot.waitUntil(lambda: on_tile(wall.tiles[0], "cam-clip-1"))
    step = tour.step
    wall.hide()  # as when the console locks: the lock screen takes the wall's place
    wall._tour_step(tour)
    assert tour.step == step and on_tile(wall.tiles[0], "cam-clip-1")


def test_ctrl_t_tours_the_cameras_selected_in_the_list(qtbot, make_window, settings, clip_cameras):
    window = touring_window(qtbot, make_window, settings)
    view, model = window.camera_list.view, window.camera_list.model
    chosen = {"cam-clip-2", "cam-clip-3"}
    for row in range(model.rowCount()):
        if model.index(row, 0).data() in chosen:
            view.selectionModel().select(
                model.index(row, 0),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
            )
    assert set(window.camera_list.selected_camera_ids()) == chosen
    dragged = VideoTile.dragged_camera_ids(model.mimeData(view.selectionModel().selectedIndexes()))
    assert set(dragged) == chosen, "a drag of the selection carries every camera"

    tile = window.wall.tiles[2]
    tile.setFocus()
    qtbot.waitUntil(tile.hasFocus)
    qtbot.keyClick(tile, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    tour = window.wall.tour_of(tile)
    assert tour is not None and set(tour.cameras) == chosen and tour.tiles == [tile]

    window.wall.close_tile(tile)
    assert window.wall.tours == [] and tile.is_empty


def test_a_tour_needs_two_cameras(qtbot, make_window, settings, clip_cameras):
    window = touring_window(qtbot, make_window, settings)
    window.wall.start_tour([window.wall.tiles[0]], ["cam-clip-1", "cam-clip-1"])
    assert window.wall.tours == []
    assert "two or more cameras" in window.statusBar().currentMessage()


def test_h_shows_the_focused_tiles_stream_health(qtbot, make_window, settings, clip_cameras):
    window = touring_window(qtbot, make_window, settings)
    tile = window.wall.tiles[0]
    assert drop(tile, camera_mime(["cam-clip-1"]))
    wait_live(qtbot, tile)
    tile.setFocus()
    qtbot.waitUntil(tile.hasFocus)
    qtbot.keyClick(tile, Qt.Key.Key_H)
    assert tile.health_visible and not window.wall.tiles[1].health_visible
    (health,) = [a for a in window.wall.tile_menu(tile).actions() if a.text() == "Stream health"]
    assert health.isChecked()
    qtbot.waitUntil(lambda: dict(tile.health_lines())["frame rate"].split()[0] != "—")
    qtbot.keyClick(tile, Qt.Key.Key_H)
    assert not tile.health_visible
