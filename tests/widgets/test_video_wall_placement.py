"""Each feed's wall and tile go into its audit events, so a supervisor's replay can put every
camera back where the operator saw it: the main wall and a wall window on another monitor."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.models.audit_chain import AuditEventType
from app.widgets.video_tile import camera_mime
from app.widgets.video_wall import MAIN_WALL
from tests.widgets.test_video_wall import drop, feed_events, wait_live
from tests.widgets.test_wall_windows import monitors, open_wall_window, window

pytestmark = pytest.mark.usefixtures("themed", "monitors")
__all__ = ["monitors", "window"]  # fixtures shared with the wall window tests


def placement(event: dict[str, object]) -> tuple[object, object]:
    details = event["details"]
    assert isinstance(details, dict)
    return details.get("wall"), details.get("tile")


def test_the_main_walls_tile_is_recorded_with_the_open_and_the_close(
    qtbot, window, settings, supervisor
):
    tile = window.wall.tiles[2]
    assert drop(tile, camera_mime(["cam-clip-1"]))
    wait_live(qtbot, tile)
    (allowed,) = feed_events(settings, AuditEventType.FEED_ALLOWED, "cam-clip-1")
    assert placement(allowed) == (MAIN_WALL, 3)
    assert tile.handle is not None and tile.handle.lease.placement.tile == 3

    tile.setFocus()
    qtbot.keyClick(tile, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: bool(feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-1")))
    (closed,) = feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-1")
    assert placement(closed) == (MAIN_WALL, 3)
    assert closed["details"]["incident"] == allowed["details"]["incident"]


def test_a_denied_feed_records_the_tile_it_was_refused_for(qtbot, window, settings):
    tile = window.wall.tiles[1]
    assert drop(tile, camera_mime(["cam-porch-4"]))
    qtbot.waitUntil(lambda: bool(feed_events(settings, AuditEventType.FEED_DENIED, "cam-porch-4")))
    (denied,) = feed_events(settings, AuditEventType.FEED_DENIED, "cam-porch-4")
    assert placement(denied) == (MAIN_WALL, 2)


def test_a_wall_windows_feeds_are_recorded_on_its_monitor(qtbot, window, settings):
    wall_window = open_wall_window(qtbot, window, "DP-2")
    tile = wall_window.wall.tiles[3]
    assert drop(tile, camera_mime(["cam-clip-2"]))
    wait_live(qtbot, tile)
    (allowed,) = feed_events(settings, AuditEventType.FEED_ALLOWED, "cam-clip-2")
    assert placement(allowed) == ("wall on DP-2", 4)
    wall_window.close()
    qtbot.waitUntil(lambda: bool(feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-2")))
    (closed,) = feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-2")
    assert placement(closed) == ("wall on DP-2", 4)
