"""Wall windows on several monitors and saved views of the walls, end to end: a real gate,
audit log, registry and decode processes, clips on the tiles, and two offscreen monitors
(``tests/widgets/screens.json``: DP-1 primary 1920x1080, DP-2 2560x1440 to its right)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QLabel, QMessageBox

from app.models import SavedWall, WallViewDefinition
from app.models.audit_chain import AuditEventType
from app.services.accounts import SignedInUser
from app.services.wall_views import save_view, view_names
from app.widgets.main_window import LockReason, MainWindow
from app.widgets.video_tile import camera_mime
from app.widgets.wall_views_menu import NO_VIEWS_TEXT, TILE_COUNTS
from app.widgets.wall_window import (
    ARRANGEMENTS_KEY,
    LOCKED_WALL_TEXT,
    WallWindow,
    arrangement_key,
)
from app.widgets.window_menu import WindowMenu
from tests.widgets.conftest import OPERATOR, OPERATOR_PASSWORD, audit_events
from tests.widgets.test_video_wall import (
    INCIDENT,
    drop,
    feed_events,
    loaded,
    select_incident,
    wait_live,
)

pytestmark = pytest.mark.usefixtures("themed")

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
DENIED = "denied: registered camera: location and contact only, never a live feed"


@pytest.fixture(autouse=True)
def monitors(qapp) -> dict[str, QScreen]:
    """The two monitors of the test platform that tests/conftest.py sets."""
    screens = {screen.name(): screen for screen in QGuiApplication.screens()}
    assert set(screens) == {"DP-1", "DP-2"}, (
        "these tests need the two offscreen monitors of tests/widgets/screens.json; "
        f"QT_QPA_PLATFORM gave {sorted(screens)}"
    )
    assert QGuiApplication.primaryScreen() is screens["DP-1"]
    return screens


@pytest.fixture
def window(qtbot, make_window, clip_cameras) -> MainWindow:
    window: MainWindow = make_window()
    qtbot.waitUntil(lambda: loaded(window) and window.views_menu.names is not None)
    select_incident(window, INCIDENT)
    return window


def open_wall_window(qtbot, window: MainWindow, screen_name: str) -> WallWindow:
    """Choose Window › New wall window on › ``screen_name``, as the operator does."""
    menu = window.window_menu
    (action,) = [a for a in menu.new_window_menu.actions() if a.text().startswith(screen_name)]
    before = window.wall_windows.windows
    action.trigger()
    (wall_window,) = [w for w in window.wall_windows.windows if w not in before]
    qtbot.waitUntil(lambda: wall_window.isVisible() and wall_window.isFullScreen())
    return wall_window


def on_tile(tile, camera_id: str) -> bool:
    return tile.camera is not None and tile.camera.camera_id == camera_id


def status(window: MainWindow) -> str:
    return window.statusBar().currentMessage()


def saved_arrangements(window_state) -> dict[str, list[dict[str, str]]]:
    arrangements: dict[str, list[dict[str, str]]] = json.loads(window_state.value(ARRANGEMENTS_KEY))
    return arrangements


# ---- wall windows -----------------------------------------------------------------------------


def test_the_window_menu_opens_a_full_screen_wall_on_the_chosen_monitor(qtbot, window, monitors):
    menu: WindowMenu = window.window_menu
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Geofence", "&Window", "&Help"]
    assert [a.text() for a in menu.new_window_menu.actions()] == [
        "DP-1 — 1920×1080 (primary)",
        "DP-2 — 2560×1440",
    ]
    assert menu.window_actions == []
    assert not window.wall_windows.close_all_action.isEnabled()

    wall_window = open_wall_window(qtbot, window, "DP-2")
    assert wall_window.screen() is monitors["DP-2"]
    assert wall_window.geometry() == monitors["DP-2"].geometry()
    assert wall_window.windowTitle() == "Beacon wall — DP-2"
    assert wall_window.wall is not window.wall and wall_window.wall.layout_name == "2x2"
    assert all(tile.is_empty and tile.isVisible() for tile in wall_window.wall.tiles)
    assert [a.text() for a in menu.window_actions] == ["Wall on DP-2 · 2x2"]
    assert window.wall_windows.close_all_action.isEnabled()
    # The main window stays where it was, on the primary monitor.
    assert window.screen() is monitors["DP-1"] and not window.isFullScreen()

    new_actions = [
        *menu.actions(),
        *menu.new_window_menu.actions(),
        *window.views_menu.actions(),
    ]
    untipped = [
        a.text()
        for a in new_actions
        if not a.isSeparator() and a.toolTip().replace("&", "") == a.text().replace("&", "")
    ]
    assert untipped == [NO_VIEWS_TEXT], "every action of the Window menu has a tooltip"

    wall_window.wall.layout_actions[2].trigger()  # 3x3, as Ctrl+Shift+3 in that window
    assert [a.text() for a in menu.window_actions] == ["Wall on DP-2 · 3x3"]
    window.wall_windows.close_all_action.trigger()
    assert not wall_window.isVisible() and window.wall_windows.windows == []
    assert menu.window_actions == []


def test_a_wall_window_takes_camera_drops_and_closing_it_ends_its_leases(
    qtbot, window, settings, supervisor, gate
):
    wall_window = open_wall_window(qtbot, window, "DP-2")
    first, second = wall_window.wall.tiles[0], wall_window.wall.tiles[3]
    assert drop(first, camera_mime(["cam-clip-1"]))
    assert drop(second, camera_mime(["cam-clip-2"]))
    wait_live(qtbot, first)
    wait_live(qtbot, second)
    handles = [first.handle, second.handle]
    assert all(handle in supervisor.handles() for handle in handles)
    for camera_id in ("cam-clip-1", "cam-clip-2"):
        (allowed,) = feed_events(settings, AuditEventType.FEED_ALLOWED, camera_id)
        assert allowed["purpose"] == f"incident:{INCIDENT}"
    assert all(tile.is_empty for tile in window.wall.tiles), "the main wall is untouched"

    wall_window.close()
    assert first.is_empty and second.is_empty
    for camera_id in ("cam-clip-1", "cam-clip-2"):
        qtbot.waitUntil(
            lambda c=camera_id: bool(feed_events(settings, AuditEventType.FEED_CLOSED, c))
        )
        (closed,) = feed_events(settings, AuditEventType.FEED_CLOSED, camera_id)
        assert closed["reason"] == "wall_window_closed"
    qtbot.waitUntil(lambda: not any(handle in supervisor.handles() for handle in handles))
    assert gate.active_leases() == []
    assert window.wall_windows.windows == [] and window.window_menu.window_actions == []


def test_a_feed_still_opening_when_its_window_closes_is_ended_when_the_gate_answers(
    qtbot, window, settings, gate, supervisor
):
    wall_window = open_wall_window(qtbot, window, "DP-2")
    tile = wall_window.wall.tiles[0]
    assert drop(tile, camera_mime(["cam-clip-1"]))
    assert tile.status_text == "opening…"
    wall_window.close()
    assert tile.is_empty
    qtbot.waitUntil(lambda: bool(feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-1")))
    assert len(feed_events(settings, AuditEventType.FEED_ALLOWED, "cam-clip-1")) == 1
    qtbot.waitUntil(lambda: gate.active_leases() == [])
    qtbot.waitUntil(lambda: all(h.camera_id != "cam-clip-1" for h in supervisor.handles()))


def test_esc_and_f11_work_inside_a_wall_window(qtbot, window):
    wall_window = open_wall_window(qtbot, window, "DP-2")
    with qtbot.waitActive(wall_window):
        wall_window.activateWindow()
    wall = wall_window.wall
    tile = wall.tiles[1]
    assert drop(tile, camera_mime(["cam-clip-1"]))
    wait_live(qtbot, tile)
    qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert wall.maximised is tile
    tile.setFocus()
    qtbot.waitUntil(tile.hasFocus)
    qtbot.keyClick(tile, Qt.Key.Key_Escape)
    assert wall.maximised is None and wall_window.isFullScreen()

    qtbot.keyClick(tile, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not wall_window.isFullScreen() and wall_window.isMaximized())
    assert wall_window.screen().name() == "DP-2"
    qtbot.keyClick(tile, Qt.Key.Key_F11)
    qtbot.waitUntil(wall_window.isFullScreen)
    assert not window.isFullScreen() and not window.full_screen_action.isChecked()


def test_an_unplugged_monitor_moves_its_wall_window_to_the_primary_one(
    qtbot, qapp, window, monitors, window_state, supervisor
):
    wall_window = open_wall_window(qtbot, window, "DP-2")
    tile = wall_window.wall.tiles[0]
    assert drop(tile, camera_mime(["cam-clip-1"]))
    wait_live(qtbot, tile)
    handle = tile.handle
    both = arrangement_key(monitors.values())

    # The monitor cannot be unplugged here: Qt's signal is what the console reacts to.
    qapp.screenRemoved.emit(monitors["DP-2"])

    assert status(window) == "Monitor DP-2 was disconnected: its wall window moved to DP-1"
    qtbot.waitUntil(lambda: wall_window.isVisible() and wall_window.isMaximized())
    assert wall_window.screen() is monitors["DP-1"]
    assert monitors["DP-1"].geometry().contains(wall_window.geometry())
    assert not wall_window.isFullScreen() and wall_window.windowTitle() == "Beacon wall — DP-1"
    assert window.wall_windows.windows == [wall_window]
    assert tile.handle is handle and handle in supervisor.handles()
    frame = tile.frame_number
    qtbot.waitUntil(lambda: tile.frame_number > frame + 3, timeout=5000)

    arrangements = saved_arrangements(window_state)
    assert arrangements[both] == [{"screen": "DP-2", "layout": "2x2"}], "kept for DP-2's return"
    assert arrangements[arrangement_key([monitors["DP-1"]])] == [
        {"screen": "DP-1", "layout": "2x2"}
    ]


def test_wall_windows_come_back_at_the_next_sign_in_with_their_layouts_and_no_feeds(
    qtbot, make_window, window, settings, monitors
):
    on_dp2 = open_wall_window(qtbot, window, "DP-2")
    on_dp2.wall.layout_actions[2].trigger()  # 3x3
    on_dp1 = open_wall_window(qtbot, window, "DP-1")
    on_dp1.wall.set_layout("1x1")
    on_dp1.close()  # closed by the operator: not remembered
    on_dp1_again = open_wall_window(qtbot, window, "DP-1")
    on_dp1_again.wall.layout_actions[5].trigger()  # 1+5
    tile = on_dp2.wall.tiles[4]
    assert drop(tile, camera_mime(["cam-clip-3"]))
    wait_live(qtbot, tile)

    with qtbot.waitSignal(window.session_ended):
        window.sign_out()
    assert not on_dp2.isVisible() and not on_dp1_again.isVisible()
    qtbot.waitUntil(lambda: bool(feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-3")))
    (closed,) = feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-3")
    assert closed["reason"] == "wall_window_closed"

    again = make_window()
    restored = again.wall_windows.windows
    assert [(w.screen_name, w.wall.layout_name) for w in restored] == [
        ("DP-2", "3x3"),
        ("DP-1", "1+5"),
    ]
    qtbot.waitUntil(lambda: all(w.isVisible() and w.isFullScreen() for w in restored))
    assert [w.screen() for w in restored] == [monitors["DP-2"], monitors["DP-1"]]
    assert all(tile.is_empty for w in restored for tile in w.wall.tiles)
    qtbot.waitUntil(lambda: loaded(again))
    assert len(feed_events(settings, AuditEventType.FEED_ALLOWED, "cam-clip-3")) == 1, (
        "no feed is opened again silently"
    )


def test_locking_hides_every_wall_windows_video_and_pauses_it(qtbot, window):
    wall_window = open_wall_window(qtbot, window, "DP-2")
    tile = wall_window.wall.tiles[0]
    assert drop(tile, camera_mime(["cam-clip-1"]))
    wait_live(qtbot, tile)
    handle = tile.handle
    assert handle is not None

    with qtbot.waitActive(wall_window):
        wall_window.activateWindow()
    window.lock(LockReason.MANUAL)
    assert wall_window.locked and wall_window.isVisible()
    assert not wall_window.wall.isVisible() and not tile.isVisible()
    assert wall_window.locked_screen.isVisible()
    label = wall_window.locked_screen.findChild(QLabel)
    assert label is not None and label.text() == LOCKED_WALL_TEXT
    qtbot.waitUntil(lambda: handle.paused)
    assert not window.window_menu.menuAction().isEnabled()
    assert not window.views_menu.save_action.isEnabled()
    qtbot.keyClick(wall_window.locked_screen, Qt.Key.Key_1, CTRL_SHIFT)
    assert wall_window.wall.layout_name == "2x2", "a hidden wall takes no shortcuts"

    qtbot.keyClicks(window.lock_screen.password_edit, OPERATOR_PASSWORD)
    qtbot.keyClick(window.lock_screen.password_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.locked, timeout=10_000)
    assert not wall_window.locked and tile.isVisible()
    qtbot.waitUntil(lambda: not handle.paused)
    frame = tile.frame_number
    qtbot.waitUntil(lambda: tile.frame_number > frame, timeout=5000)
    assert window.window_menu.menuAction().isEnabled()
    qtbot.keyClick(tile, Qt.Key.Key_1, CTRL_SHIFT)
    assert wall_window.wall.layout_name == "1x1"


def test_the_new_shortcuts_are_listed_and_work(qtbot, window, monitors):
    listed = "\n".join(window.help_overlay.shortcuts_text())
    assert "Ctrl+Shift+V: Save view…" in listed
    assert "Ctrl+Shift+N: New wall window on the next free monitor" in listed

    qtbot.keyClick(window, Qt.Key.Key_N, CTRL_SHIFT)
    (wall_window,) = window.wall_windows.windows
    assert wall_window.screen_name == "DP-2", "the main window's monitor already has a wall"
    qtbot.waitUntil(wall_window.isFullScreen)
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL_SHIFT)
    assert len(window.wall_windows.windows) == 1
    assert status(window).startswith("Every monitor already shows a wall.")

    qtbot.keyClick(window, Qt.Key.Key_V, CTRL_SHIFT)
    dialog = window.views_menu.name_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    dialog.reject()


# ---- saved views ------------------------------------------------------------------------------


def save_through_the_dialog(qtbot, window: MainWindow, name: str) -> None:
    window.views_menu.save_action.trigger()
    dialog = window.views_menu.name_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    dialog.setTextValue(name)
    dialog.accept()


def restore_from_the_menu(window: MainWindow, name: str) -> None:
    (action,) = [a for a in window.views_menu.actions() if a.text() == name]
    action.trigger()


def test_a_saved_view_restores_every_wall_through_the_gate(qtbot, window, settings, monitors, gate):
    main_tile = window.wall.tiles[0]
    assert drop(main_tile, camera_mime(["cam-clip-1"]))
    wall_window = open_wall_window(qtbot, window, "DP-2")
    wall_window.wall.set_layout("1+5")
    big, denied = wall_window.wall.tiles[0], wall_window.wall.tiles[2]
    assert drop(big, camera_mime(["cam-clip-2"]))
    assert drop(denied, camera_mime(["cam-porch-4"]))
    wait_live(qtbot, main_tile)
    wait_live(qtbot, big)
    qtbot.waitUntil(lambda: denied.status_text == DENIED, timeout=5000)

    save_through_the_dialog(qtbot, window, "Harbor night")
    qtbot.waitUntil(lambda: window.views_menu.names == ["Harbor night"])
    assert status(window) == "View “Harbor night” saved: 2 walls, 3 cameras"

    # Another arrangement: the view's window gone, the main wall on another layout and camera.
    wall_window.close()
    window.wall.set_layout("3x3")
    assert drop(window.wall.tiles[0], camera_mime(["cam-clip-3"]))
    wait_live(qtbot, window.wall.tiles[0])
    qtbot.waitUntil(lambda: len(gate.active_leases()) == 1)
    for camera_id in ("cam-clip-1", "cam-clip-2", "cam-porch-4"):
        assert (
            len(feed_events(settings, AuditEventType.FEED_ALLOWED, camera_id))
            + len(feed_events(settings, AuditEventType.FEED_DENIED, camera_id))
            == 1
        )

    restore_from_the_menu(window, "Harbor night")
    qtbot.waitUntil(lambda: bool(window.wall_windows.windows), timeout=5000)
    (restored,) = window.wall_windows.windows
    assert restored is not wall_window and restored.screen_name == "DP-2"
    assert restored.wall.layout_name == "1+5" and window.wall.layout_name == "2x2"
    assert status(window) == "View “Harbor night” restored: 3 cameras asked of the policy gate"
    main_tile = window.wall.tiles[0]
    assert on_tile(main_tile, "cam-clip-1")
    wait_live(qtbot, main_tile)
    wait_live(qtbot, restored.wall.tiles[0])
    assert on_tile(restored.wall.tiles[0], "cam-clip-2")
    qtbot.waitUntil(lambda: restored.wall.tiles[2].status_text == DENIED, timeout=5000)
    assert all(tile.is_empty for tile in window.wall.tiles[1:])
    # Each restored camera was decided by the gate now, for the selected incident.
    for camera_id, event_type in (
        ("cam-clip-1", AuditEventType.FEED_ALLOWED),
        ("cam-clip-2", AuditEventType.FEED_ALLOWED),
        ("cam-porch-4", AuditEventType.FEED_DENIED),
    ):
        events = feed_events(settings, event_type, camera_id)
        assert len(events) == 2 and events[-1]["purpose"] == f"incident:{INCIDENT}"
    (closed,) = feed_events(settings, AuditEventType.FEED_CLOSED, "cam-clip-3")
    assert closed["reason"] == "replaced_on_wall"


def test_saving_over_an_existing_view_asks_first(qtbot, window, sessions):
    views = window.views_menu
    save_through_the_dialog(qtbot, window, "Harbor")
    qtbot.waitUntil(lambda: views.names == ["Harbor"])
    window.wall.set_layout("3x3")

    save_through_the_dialog(qtbot, window, " Harbor ")
    qtbot.waitUntil(lambda: views.replace_box is not None and views.replace_box.isVisible())
    box = views.replace_box
    assert box is not None
    assert "already have a view named “Harbor”" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert views.current_definition().walls[0].layout == "3x3"

    def stored_layout() -> str:
        from app.services.wall_views import load_view

        return load_view(sessions, "dana", "Harbor", tile_counts=TILE_COUNTS).walls[0].layout

    assert stored_layout() == "2x2"
    save_through_the_dialog(qtbot, window, "Harbor")
    qtbot.waitUntil(box.isVisible)
    with qtbot.waitSignal(views.names_changed):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert stored_layout() == "3x3"
    assert status(window) == "View “Harbor” saved: 1 wall, 0 cameras"
    assert views.names == ["Harbor"]


def test_views_belong_to_the_user_who_saved_them(qtbot, make_window, window, sessions):
    save_through_the_dialog(qtbot, window, "Dana's harbor")
    qtbot.waitUntil(lambda: window.views_menu.names == ["Dana's harbor"])
    window.close()

    lee = make_window(user=SignedInUser("lee", "Lee Park", OPERATOR.role))
    qtbot.waitUntil(lambda: lee.views_menu.names is not None and loaded(lee))
    assert lee.views_menu.names == []
    assert [a.text() for a in lee.views_menu.actions()] == [NO_VIEWS_TEXT]
    save_through_the_dialog(qtbot, lee, "Lee's bank")
    qtbot.waitUntil(lambda: lee.views_menu.names == ["Lee's bank"])
    assert view_names(sessions, "dana") == ["Dana's harbor"]


def test_a_damaged_view_is_reported_and_the_menu_keeps_working(
    qtbot, window, sessions, clock, settings
):
    from sqlalchemy import update

    from app.models import WallView

    good = WallViewDefinition(
        walls=(SavedWall(window=False, screen="DP-1", layout="1x1", cameras=("cam-clip-1",)),)
    )
    for name in ("Broken", "Fine", "Odd layout"):
        save_view(sessions, "dana", name, good, clock(), tile_counts=TILE_COUNTS)
    with sessions() as session:
        for name, text in (
            ("Broken", '{"walls": [{"window": false'),
            ("Odd layout", good.model_dump_json().replace('"1x1"', '"6x6"')),
        ):
            session.execute(update(WallView).where(WallView.name == name).values(definition=text))
        session.commit()
    window.views_menu.refresh()
    qtbot.waitUntil(lambda: window.views_menu.names == ["Broken", "Fine", "Odd layout"])

    restore_from_the_menu(window, "Broken")
    qtbot.waitUntil(lambda: "“Broken” cannot be restored" in status(window))
    assert "its saved definition is damaged" in status(window)
    assert "Delete it and save the walls again." in status(window)
    restore_from_the_menu(window, "Odd layout")
    qtbot.waitUntil(lambda: "“Odd layout” cannot be restored" in status(window))
    assert "the wall layout '6x6', which Beacon does not have" in status(window)
    assert window.wall.layout_name == "2x2" and window.wall_windows.windows == []
    assert audit_events(settings, AuditEventType.FEED_ALLOWED) == []

    restore_from_the_menu(window, "Fine")
    qtbot.waitUntil(lambda: window.wall.layout_name == "1x1")
    wait_live(qtbot, window.wall.tiles[0])
    assert [a.text() for a in window.views_menu.actions()] == ["Broken", "Fine", "Odd layout"]


def test_deleting_a_view(qtbot, window):
    views = window.views_menu
    for name in ("Harbor", "Bank"):
        save_through_the_dialog(qtbot, window, name)
        qtbot.waitUntil(lambda n=name: n in views.names)
    views.delete_action.trigger()
    dialog = views.delete_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.comboBoxItems() == ["Bank", "Harbor"]
    dialog.setTextValue("Harbor")
    dialog.accept()
    qtbot.waitUntil(lambda: views.names == ["Bank"])
    assert status(window) == "View “Harbor” deleted"
    assert [a.text() for a in views.actions()] == ["Bank"]


def test_a_view_on_a_missing_monitor_opens_on_the_primary_one(
    qtbot, window, sessions, clock, monitors
):
    away = WallViewDefinition(
        walls=(SavedWall(window=True, screen="HDMI-9", layout="1x1", cameras=("cam-clip-2",)),)
    )
    save_view(sessions, "dana", "Away", away, clock(), tile_counts=TILE_COUNTS)
    window.views_menu.refresh()
    qtbot.waitUntil(lambda: window.views_menu.names == ["Away"])
    restore_from_the_menu(window, "Away")
    qtbot.waitUntil(lambda: bool(window.wall_windows.windows))
    (wall_window,) = window.wall_windows.windows
    assert wall_window.screen_name == "DP-1"
    qtbot.waitUntil(lambda: wall_window.screen() is monitors["DP-1"])
    assert status(window) == (
        "View “Away” restored: 1 camera asked of the policy gate; "
        "monitor HDMI-9 is not connected, its wall opened on DP-1"
    )
    wait_live(qtbot, wall_window.wall.tiles[0])


def test_restoring_a_view_needs_the_incident_its_cameras_are_for(qtbot, window, settings):
    save_through_the_dialog(qtbot, window, "Empty")  # no cameras: restorable without a purpose
    qtbot.waitUntil(lambda: window.views_menu.names == ["Empty"])
    assert drop(window.wall.tiles[0], camera_mime(["cam-clip-1"]))
    wait_live(qtbot, window.wall.tiles[0])
    wall_window = open_wall_window(qtbot, window, "DP-2")
    assert drop(wall_window.wall.tiles[0], camera_mime(["cam-clip-2"]))
    wait_live(qtbot, wall_window.wall.tiles[0])
    save_through_the_dialog(qtbot, window, "Two walls")
    qtbot.waitUntil(lambda: "Two walls" in window.views_menu.names)
    window.wall_windows.close_all()

    window.incident_panel.view.clearSelection()
    restore_from_the_menu(window, "Two walls")
    qtbot.waitUntil(lambda: status(window).startswith("Select the incident"))
    assert window.wall_windows.windows == []
    assert len(feed_events(settings, AuditEventType.FEED_ALLOWED, "cam-clip-2")) == 1
    assert window.wall.case_dialog is None or not window.wall.case_dialog.isVisible()

    restore_from_the_menu(window, "Empty")
    qtbot.waitUntil(lambda: status(window).startswith("View “Empty” restored"))
    assert window.wall.tiles[0].is_empty
