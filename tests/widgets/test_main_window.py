from __future__ import annotations

import json

from keyring.backends.null import Keyring as NullKeyring
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QBrush, QDrag

from app.models.audit_chain import AuditEventType
from app.models.unit import Unit
from app.services.credentials import CredentialStore
from app.shell import demo_cad_poll
from app.widgets.incident_panel import ALERT, CAD, EMERGENCY_BADGE, PRIORITY, STATUS
from app.widgets.lock_screen import LOCKED_TEXT
from app.widgets.main_window import UNLOCK_REFUSED_TEXT, LockReason, SessionEnd
from app.widgets.video_tile import CAMERA_MIME
from app.widgets.video_wall import EMPTY_TILE_HINT
from tests.widgets.conftest import OPERATOR_PASSWORD, audit_events, with_security
from tests.widgets.test_video_wall import drop


def loaded(window) -> bool:
    return bool(window.camera_list.model.rowCount() and window.incident_panel.model.rowCount())


def cell(model, row: int, column: int, role=Qt.ItemDataRole.DisplayRole):
    return model.data(model.index(row, column), role)


def is_locked_away(window) -> bool:
    """The wall and both docks are out of sight and the lock screen is shown."""
    return (
        window.lock_screen.isVisible()
        and not window.wall.isVisible()
        and not any(dock.isVisible() for dock in window.docks)
    )


def unlock_with(qtbot, window, password: str) -> None:
    qtbot.keyClicks(window.lock_screen.password_edit, password)
    qtbot.keyClick(window.lock_screen.password_edit, Qt.Key.Key_Return)


# ---- what the window shows ---------------------------------------------------------------


def test_camera_list_shows_the_registry_cameras_with_their_policy_now(qtbot, make_window):
    window = make_window()
    qtbot.waitUntil(lambda: loaded(window))
    model = window.camera_list.model
    shown = {
        cell(model, row, 0): (cell(model, row, 2), cell(model, row, 3))
        for row in range(model.rowCount())
    }
    assert shown == {
        "cam-harbor-1": ("integrated", "continuous"),
        "cam-bank-2": ("integrated", "emergency only"),
        "cam-school-3": ("integrated", "scheduled, open now"),
        "cam-porch-4": ("registered", "no live feed"),
    }
    assert window.camera_list.count_label.text() == "4 cameras"


def test_camera_filter_and_sorting(qtbot, make_window):
    window = make_window()
    qtbot.waitUntil(lambda: loaded(window))
    cameras = window.camera_list
    assert cameras.visible_camera_ids() == sorted(cameras.visible_camera_ids())
    cameras.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert cameras.visible_camera_ids() == [
        "cam-school-3",
        "cam-porch-4",
        "cam-harbor-1",
        "cam-bank-2",
    ]
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert cameras.filter_edit.hasFocus()
    qtbot.keyClicks(cameras.filter_edit, "EMERGENCY")
    assert cameras.visible_camera_ids() == ["cam-bank-2"]
    assert cameras.count_label.text() == "1 of 4 cameras match the filter"


def test_incidents_newest_and_most_urgent_first_with_emergency_in_words(qtbot, make_window):
    window = make_window()
    qtbot.waitUntil(lambda: loaded(window))
    model = window.incident_panel.model
    order = [cell(model, row, CAD) for row in range(model.rowCount())]
    # P1 emergency, then the open P3, then the closed one at the bottom.
    assert order == ["2026-000102", "2026-000101", "2026-000100"]
    assert [cell(model, row, PRIORITY) for row in range(3)] == ["P1", "P3", "P3"]
    assert [cell(model, row, STATUS) for row in range(3)] == ["Dispatched", "Dispatched", "Closed"]
    # Emergency is said in text (a badge column), not by colour alone...
    assert cell(model, 0, ALERT) == EMERGENCY_BADGE
    assert cell(model, 1, ALERT) == ""
    assert cell(model, 2, ALERT) == ""
    # ...and also coloured, unlike the other rows.
    emergency_background = cell(model, 0, CAD, Qt.ItemDataRole.BackgroundRole)
    assert isinstance(emergency_background, QBrush)
    assert cell(model, 1, CAD, Qt.ItemDataRole.BackgroundRole) is None
    assert window.incident_panel.count_label.text() == "2 open incidents · 1 emergency"


def test_incident_selection_survives_a_refresh(qtbot, make_window, sessions, clock):
    from tests.factories import add_incident

    window = make_window(incident_interval_ms=50)
    qtbot.waitUntil(lambda: loaded(window))
    panel = window.incident_panel
    panel.view.selectRow(1)
    assert panel.selected_cad_number() == "2026-000101"
    with sessions() as session:
        add_incident(session, "2026-000103", clock(), emergency=True)
        session.commit()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4)
    assert panel.selected_cad_number() == "2026-000101"


def test_status_bar_shows_user_workstation_audit_and_insecure_keyring(
    qtbot, make_window, audit_log
):
    from app.models.audit_chain import AuditEventType as Event

    audit_log.record(Event.LOGIN, actor="dana")
    audit_log.record(Event.GEOFENCE_QUERY, actor="dana")
    window = make_window()
    qtbot.waitUntil(lambda: window.audit_label.text() == "Audit: 2 events · sync not configured")
    assert window.user_label.text() == "Signed in: Dana Cole · operator"
    assert window.workstation_label.text() == "Workstation: test-ws"
    assert window.insecure_label.isVisible()
    assert window.insecure_label.text() == "Credentials: demo file keyring (insecure)"


def test_no_insecure_warning_with_a_real_keyring(qtbot, make_window):
    # Any backend stands in for the OS keyring: only its being secure matters here.
    stand_in = NullKeyring()  # type: ignore[no-untyped-call]
    window = make_window(credentials=CredentialStore(stand_in, insecure=False))
    assert not window.insecure_label.isVisible()


def test_the_wall_is_a_grid_of_empty_tiles(qtbot, make_window):
    window = make_window()
    assert len(window.wall.tiles) == 4
    assert all(tile.isVisible() and tile.hint == EMPTY_TILE_HINT for tile in window.wall.tiles)
    positions = {(tile.x() > 10, tile.y() > 10) for tile in window.wall.tiles}
    assert len(positions) == 4  # 2 x 2, not a row or a column


def test_demo_cad_feed_brings_incidents_in_and_moves_the_units(
    qtbot, make_window, settings, clock, sessions
):
    with sessions() as session:
        session.add(
            Unit(id="1A11", kind="patrol", status="available", latitude=41.88,
                 longitude=-87.63, heading_deg=90.0, updated_at=clock())
        )  # fmt: skip
        session.commit()
    script = {
        "records": [
            {
                "offset_s": -60,
                "cad_number": "2026-004512",
                "incident_type": "Shots fired",
                "priority": 1,
                "latitude": 41.8812,
                "longitude": -87.6402,
                "address": "1200 W Harbor St",
                "status": "dispatched",
                "emergency": True,
            },
            {"offset_s": 30, "cad_number": "2026-004512", "status": "on_scene"},
        ]
    }
    (settings.data_dir / "cad_script.json").write_text(json.dumps(script))
    poll = demo_cad_poll(settings, clock)
    assert poll is not None
    window = make_window(cad_poll=poll)
    model = window.incident_panel.model
    qtbot.waitUntil(lambda: model.row_of("2026-004512") is not None, timeout=5000)
    row = model.row_of("2026-004512")
    assert cell(model, row, STATUS) == "Dispatched"
    assert cell(model, row, ALERT) == EMERGENCY_BADGE
    clock.advance(seconds=31)
    qtbot.waitUntil(
        lambda: cell(model, model.row_of("2026-004512"), STATUS) == "On scene", timeout=5000
    )

    def unit_longitude() -> float:
        with sessions() as session:
            unit = session.get(Unit, "1A11")
            assert unit is not None
            return float(unit.longitude)

    qtbot.waitUntil(lambda: unit_longitude() > -87.63)  # driven east: the demo's AVL


def test_no_demo_feed_without_a_script(settings):
    assert demo_cad_poll(settings) is None


def test_help_overlay_lists_every_shortcut(qtbot, make_window):
    window = make_window()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help_overlay.isVisible()
    listed = "\n".join(window.help_overlay.shortcuts_text())
    for keys in ("Ctrl+L", "Ctrl+Q", "Ctrl+F", "Ctrl+I", "F11", "Ctrl+1", "Ctrl+2", "F1", "?"):
        assert keys in listed, keys
    # Both halves of the two-column card are read, the panels' actions named for their panel.
    rows = window.help_overlay.shortcuts_text()
    assert len(rows) == len(window.shortcuts())
    assert "Ctrl+Shift+O: Geofence: open the nearest allowed" in rows
    assert "Ctrl+Shift+E: Footage requests: send drafted requests" in rows
    assert rows[-1] == "Esc: Close this list"
    qtbot.keyClick(window.help_overlay, Qt.Key.Key_Escape)
    assert not window.help_overlay.isVisible()


def test_ctrl_i_focuses_the_incidents(qtbot, make_window):
    window = make_window()
    qtbot.waitUntil(lambda: loaded(window))
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert window.incident_panel.view.hasFocus()
    assert window.incident_panel.selected_cad_number() == "2026-000102"


def test_window_layout_is_kept_between_sessions(qtbot, make_window):
    first = make_window()
    assert not first.has_saved_geometry
    first.incident_dock.hide()
    first.close()
    second = make_window()
    assert second.has_saved_geometry
    assert not second.incident_dock.isVisible()
    assert second.camera_dock.isVisible()


# ---- lock, unlock, re-authentication -----------------------------------------------------


def test_inactivity_locks_the_console_and_is_audited(qtbot, make_window, settings):
    window = make_window(settings=with_security(settings, inactivity_lock_minutes=0.01))
    assert window.wall.isVisible()
    qtbot.waitUntil(lambda: window.locked, timeout=5000)
    assert window.lock_reason is LockReason.INACTIVITY
    assert is_locked_away(window)
    assert window.lock_screen.title.text() == LOCKED_TEXT
    qtbot.waitUntil(lambda: audit_events(settings, AuditEventType.SESSION_LOCKED) != [])
    (event,) = audit_events(settings, AuditEventType.SESSION_LOCKED)
    assert (event["actor"], event["details"]) == ("dana", {"reason": "inactivity"})


def test_input_postpones_the_inactivity_lock(qtbot, make_window, monotonic):
    window = make_window(monotonic=monotonic)
    monotonic.advance(29 * 60)
    qtbot.wait(60)
    assert not window.locked
    qtbot.mouseMove(window.wall, window.wall.rect().center())
    qtbot.keyClick(window.camera_list.view, Qt.Key.Key_Down)
    monotonic.advance(2 * 60)
    qtbot.wait(60)
    assert not window.locked  # 31 minutes since start, but 2 since the last key
    monotonic.advance(29 * 60)
    qtbot.waitUntil(lambda: window.locked)
    assert window.lock_reason is LockReason.INACTIVITY


def test_ctrl_l_locks_at_once(qtbot, make_window, settings):
    window = make_window()
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.locked
    assert window.lock_reason is LockReason.MANUAL
    assert is_locked_away(window)
    assert window.lock_screen.password_edit.hasFocus()
    qtbot.waitUntil(lambda: audit_events(settings, AuditEventType.SESSION_LOCKED) != [])
    assert audit_events(settings, AuditEventType.SESSION_LOCKED)[0]["details"] == {
        "reason": "manual"
    }


def test_unlock_with_the_right_password_restores_the_layout(qtbot, make_window, settings):
    window = make_window()
    window.incident_dock.hide()  # the operator's own layout, to come back as it was
    window.lock(LockReason.MANUAL)
    assert window.filter_action.isEnabled() is False
    unlock_with(qtbot, window, OPERATOR_PASSWORD)
    assert window.lock_screen.unlock_button.text() == "Checking…"  # checked off the UI thread
    qtbot.waitUntil(lambda: not window.locked, timeout=10_000)
    assert window.wall.isVisible()
    assert window.camera_dock.isVisible()
    assert not window.incident_dock.isVisible()
    assert window.filter_action.isEnabled()
    unlocks = audit_events(settings, AuditEventType.SESSION_UNLOCKED)
    assert [(e["actor"], e["outcome"]) for e in unlocks] == [("dana", "success")]


def test_wrong_password_keeps_it_locked(qtbot, make_window, settings):
    window = make_window()
    window.lock(LockReason.MANUAL)
    unlock_with(qtbot, window, "guess-guess-guess")
    qtbot.waitUntil(
        lambda: window.lock_screen.message.text() == UNLOCK_REFUSED_TEXT, timeout=10_000
    )
    assert window.locked
    assert is_locked_away(window)
    assert window.lock_screen.password_edit.text() == ""
    unlocks = audit_events(settings, AuditEventType.SESSION_UNLOCKED)
    assert [(e["outcome"], e["reason"]) for e in unlocks] == [("failure", "bad_credentials")]


def test_reauthentication_lock_after_the_configured_hours(qtbot, make_window, monotonic, settings):
    window = make_window(monotonic=monotonic)
    monotonic.advance(12 * 3600 - 5)
    qtbot.wait(60)
    assert not window.locked or window.lock_reason is LockReason.INACTIVITY
    monotonic.advance(10)
    qtbot.waitUntil(lambda: window.lock_reason is LockReason.REAUTHENTICATION)
    assert window.lock_screen.title.text() == "Please sign in again (12-hour re-authentication)"
    assert is_locked_away(window)
    unlock_with(qtbot, window, OPERATOR_PASSWORD)
    qtbot.waitUntil(lambda: not window.locked, timeout=10_000)
    monotonic.advance(60)
    qtbot.wait(60)
    assert not window.locked  # signing in again restarted the 12 hours


def test_sign_out_from_the_lock_screen(qtbot, make_window, settings):
    window = make_window()
    window.lock(LockReason.MANUAL)
    with qtbot.waitSignal(window.session_ended) as ended:
        qtbot.mouseClick(window.lock_screen.sign_out_button, Qt.MouseButton.LeftButton)
    assert ended.args == [SessionEnd.SIGN_OUT.value]
    assert not window.isVisible()
    qtbot.waitUntil(lambda: audit_events(settings, AuditEventType.LOGOUT) != [])
    assert audit_events(settings, AuditEventType.LOGOUT)[0]["details"] == {"reason": "sign_out"}


# ---- a real CAD source ----------------------------------------------------------------------


def cad_record(cad_number: str, **overrides):
    values = {
        "cad_number": cad_number,
        "incident_type": "Shots fired",
        "priority": "P1",
        "latitude": 41.8812,
        "longitude": -87.6402,
        "address": "1200 W Harbor St",
        "received_at": "2026-11-18T15:29:00Z",
        "status": "dispatched",
        "emergency": True,
    }
    values.update(overrides)
    return values


def test_a_cad_server_feeds_the_panel_and_its_rejects_are_one_menu_away(qtbot, make_window, clock):
    from contextlib import closing

    from app.services.cad_adapters import HttpJsonCadAdapter
    from app.services.cad_intake import CadIntake
    from tests.cad_server import CadServer

    with closing(CadServer()) as server:
        server.answer([cad_record("2026-004600"), cad_record("2026-004601", priority="URGENT")])
        poll = CadIntake(HttpJsonCadAdapter(server.url, clock=clock))
        window = make_window(cad_poll=poll)
        panel = window.incident_panel
        qtbot.waitUntil(lambda: panel.model.row_of("2026-004600") is not None, timeout=5000)
        qtbot.waitUntil(lambda: panel.tabs.tabText(1) == "Rejected records (1)", timeout=5000)
        assert panel.cad_state_label.text().startswith("CAD live")
        window.incident_dock.hide()
        window.rejected_action.trigger()
        assert window.incident_dock.isVisible()
        assert panel.tabs.currentIndex() == 1
        qtbot.waitUntil(lambda: panel.rejected_model.rowCount() == 1, timeout=5000)
        assert "unknown priority code 'URGENT'" in panel.rejected_model.rows[0].reason
        server.answer("Internal Server Error", status=500)
        clock.advance(seconds=10)
        qtbot.waitUntil(
            lambda: panel.cad_state_label.text().startswith("CAD server error 500 since"),
            timeout=5000,
        )
        # The registry's incidents stay on screen while the source is down.
        assert panel.model.row_of("2026-000101") is not None


def test_rejected_records_are_out_of_reach_while_locked(qtbot, make_window):
    window = make_window()
    window.lock(LockReason.MANUAL)
    assert not window.rejected_action.isEnabled()
    window.rejected_action.trigger()
    assert not window.incident_dock.isVisible()


def test_the_cad_setting_picks_the_source(settings, tmp_path):
    from app.services.cad_adapters import (
        CadAdapter,
        EidoCadAdapter,
        FolderCadAdapter,
        HttpJsonCadAdapter,
    )
    from app.services.cad_intake import CadIntake
    from app.settings import CadSettings
    from app.shell import cad_poll_for

    def poll_for(**cad: object) -> CadAdapter:
        chosen = cad_poll_for(settings.model_copy(update={"cad": CadSettings.model_validate(cad)}))
        assert isinstance(chosen, CadIntake)
        return chosen.adapter

    assert cad_poll_for(settings) is None  # the demo script, and none in the data dir
    assert isinstance(poll_for(adapter="http", url="http://127.0.0.1:9/r"), HttpJsonCadAdapter)
    assert isinstance(poll_for(adapter="folder", folder=tmp_path), FolderCadAdapter)
    assert isinstance(poll_for(adapter="eido", folder=tmp_path), EidoCadAdapter)


# ---- the map dock ------------------------------------------------------------------------


def test_the_map_dock_draws_the_registry_and_opens_a_camera_through_the_gate(
    qtbot, make_window, settings
):
    window = make_window()
    camera_map = window.camera_map
    assert window.map_dock.isVisible() and window.map_dock.windowTitle() == "Map"
    qtbot.waitUntil(lambda: camera_map.camera_count == 4)
    # Units and open incidents come from the registry in the map's own background job.
    qtbot.waitUntil(lambda: len(camera_map.incident_layer.features) == 2)
    qtbot.waitUntil(lambda: loaded(window))
    window.incident_panel.focus_table()  # the most urgent incident: the purpose of the feed
    camera_map.select_camera("cam-porch-4")
    camera_map.setFocus()
    qtbot.keyClick(camera_map, Qt.Key.Key_Return)

    def denied() -> bool:
        events = audit_events(settings, AuditEventType.FEED_DENIED)
        return any(event["camera_id"] == "cam-porch-4" for event in events)

    qtbot.waitUntil(denied)  # a registered camera: the gate refused it, and said so

    # A camera dragged from the map onto a wall tile is opened there, through the gate.
    # The incidents are drawn over the cameras on that corner: I hides them.
    # Selecting the incident zoomed the map out to its geofence: zoom in on the camera.
    qtbot.keyClick(camera_map, Qt.Key.Key_I)
    camera_map.zoom_by(4.0)
    spot = camera_map.camera_screen_position("cam-harbor-1")
    assert spot is not None
    qtbot.mousePress(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=spot.toPoint())
    qtbot.mouseMove(camera_map.viewport(), spot.toPoint() + QPoint(30, 30))
    drag = camera_map.findChild(QDrag)
    assert drag is not None
    dragged = bytes(drag.mimeData().data(CAMERA_MIME).data()).decode()
    assert drop(window.wall.tiles[1], drag.mimeData())

    def opened() -> bool:
        events = audit_events(settings, AuditEventType.FEED_ALLOWED)
        events += audit_events(settings, AuditEventType.FEED_DENIED)
        return any(event["camera_id"] == dragged for event in events)

    qtbot.waitUntil(opened)
    assert ("Show or hide map", "Ctrl+3") in window.shortcuts()
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert not window.map_dock.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.map_dock.isVisible()
