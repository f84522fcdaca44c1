"""The supervisor's session replay on the real widget: a shift written through the real policy
gate and audit log, replayed from the local log and from the real sync server's copy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence

from app.models import Role
from app.models.audit_chain import AuditEventType
from app.models.session_replay import EventMark
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, read_events
from app.services.audit_replay_sources import LocalLogSource, ReplaySource, ServerCopySource
from app.settings import Settings
from app.widgets import palette
from app.widgets.audit_replay import AuditReplay, clock_time
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.main_window import LockReason
from server.models import TokenRole
from server.tokens import issue_token
from tests.replay_session import INCIDENT, ScriptedShift, script_shift
from tests.services.test_audit_replay_sources import synced, tamper
from tests.widgets.conftest import OPERATOR, audit_events

SUPERVISOR = SignedInUser("sam", "Sam Reyes", Role.SUPERVISOR)
LOCAL = "This workstation's audit log"


@pytest.fixture
def open_replay(qtbot, jobs: BackgroundJobs, audit_log: AuditLog, settings: Settings, themed):
    def make(sources: Sequence[tuple[str, ReplaySource]] | None = None) -> AuditReplay:
        replay = AuditReplay(
            jobs=jobs,
            audit=audit_log,
            user=SUPERVISOR,
            sources=sources or [(LOCAL, LocalLogSource(settings.audit_db))],
            export_dir=settings.exports_dir,
        )
        qtbot.addWidget(replay)
        replay.resize(1500, 950)
        with qtbot.waitActive(replay):
            replay.show()
            replay.activateWindow()
        return replay

    return make


def open_first_session(qtbot, replay: AuditReplay) -> None:
    qtbot.waitUntil(lambda: len(replay.sessions) == 1, timeout=10_000)
    replay.select_session(0)
    qtbot.waitUntil(lambda: replay.replay is not None, timeout=10_000)


@pytest.fixture
def shift(settings, audit_log, clock) -> ScriptedShift:
    return script_shift(settings, audit_log, clock)


def current_event(replay: AuditReplay):
    assert replay.replay is not None and replay.state is not None
    return replay.replay.events[replay.state.event_index]


def selected_row(replay: AuditReplay) -> int:
    (row,) = {index.row() for index in replay.event_table.selectionModel().selectedRows()}
    return row


def tick_colours(replay: AuditReplay, moment: datetime) -> set[str]:
    """The tick colours painted within two pixels of ``moment`` on the timeline."""
    image = replay.timeline.grab().toImage()
    x = round(replay.timeline.x_of(moment))
    y = replay.timeline.height() // 3  # above the plain events' short ticks
    painted = {image.pixelColor(x + dx, y).name() for dx in range(-2, 3)}
    return painted & {palette.EMERGENCY, palette.WARNING, palette.ACCENT}


def test_scrubbing_shows_each_tiles_camera_and_incident_and_the_current_event(
    qtbot, open_replay, shift, settings
):
    replay = open_replay()
    open_first_session(qtbot, replay)
    (session,) = replay.sessions
    assert (session.actor, session.ended_by) == ("dana", "logout")
    assert replay.tile_grid.walls == {"main wall": 2}  # tiles 1 to 3 fit a 2x2 grid

    replay.seek(shift.signed_in)
    assert replay.tile_grid.text_of("main wall", 1) == "Tile 1\n—"
    assert tick_colours(replay, shift.denied) == {palette.EMERGENCY}
    assert tick_colours(replay, shift.revoked) == {palette.WARNING}
    assert tick_colours(replay, shift.exported) == {palette.ACCENT}

    replay.seek(shift.both_open)
    north = replay.tile_grid.text_of("main wall", 1)
    east = replay.tile_grid.text_of("main wall", 2)
    assert "Camera cam-north (cam-north)" in north and f"incident {INCIDENT}" in north
    assert "Camera cam-east" in east and f"incident {INCIDENT}" in east
    assert replay.tile_grid.text_of("main wall", 3) == "Tile 3\n—"  # denied: never shown
    event = current_event(replay)
    assert (event.event_type, event.camera_id) == ("feed_allowed", "cam-east")
    assert selected_row(replay) == replay.state.event_index
    assert replay.focus_label.text() == f"Incident in focus: {INCIDENT}"
    assert "radius 250 m" in replay.geofence_label.text()

    replay.seek(shift.denied)
    refused = replay.tile_grid.text_of("main wall", 3)
    assert refused == (
        f"Tile 3\ndenied: Camera cam-reg\nregistered_only at {clock_time(shift.denied)}"
    )

    replay.seek(shift.revoked)
    assert replay.tile_grid.text_of("main wall", 2) == "Tile 2\n—"
    assert "Camera cam-north" in replay.tile_grid.text_of("main wall", 1)
    assert current_event(replay).reason == "policy_revoked"

    replay.seek(shift.locked + timedelta(minutes=1))
    assert "LOCKED" in replay.position_label.text()

    replay.seek(shift.signed_out)
    assert replay.tile_grid.text_of("main wall", 1) == "Tile 1\n—"

    assert replay.chain_label.text().startswith("Chain verification: Hash chain intact")
    assert replay.chain_label.objectName() == "mutedText"
    (read,) = audit_events(settings, AuditEventType.AUDIT_READ)
    assert read["actor"] == SUPERVISOR.username
    assert read["details"]["session_actor"] == "dana"
    assert read["details"]["source"] == "local"
    assert read["details"]["first_seq"] == session.first_seq


def test_clicking_the_timeline_and_the_event_list_moves_the_replay(qtbot, open_replay, shift):
    replay = open_replay()
    open_first_session(qtbot, replay)
    middle = shift.both_open + (shift.denied - shift.both_open) / 2
    x = round(replay.timeline.x_of(middle))
    qtbot.mouseClick(replay.timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, 20))
    assert replay.moment is not None
    assert shift.both_open <= replay.moment < shift.denied
    assert [feed.camera_id for feed in replay.state.feeds] == ["cam-north", "cam-east"]

    row = next(
        index for index, event in enumerate(replay.replay.events) if event.event_type == "export"
    )
    rect = replay.event_table.visualRect(replay.event_model.index(row, 2))
    qtbot.mouseClick(replay.event_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert replay.state.event_index == row
    assert replay.moment == shift.exported


def test_play_at_16x_advances_the_replay_clock_sixteen_times_faster_than_real_time(
    qtbot, open_replay, shift
):
    replay = open_replay()
    open_first_session(qtbot, replay)
    replay.set_speed(16)
    assert replay.speed_box.currentText() == "16x"
    start = replay.replay.start
    started = time.monotonic()
    qtbot.keyClick(replay, Qt.Key.Key_Space)
    assert replay.playing
    # 31 s of the session (the geofence search is 30 s in) within 5 s: faster than 4x.
    qtbot.waitUntil(lambda: replay.moment >= start + timedelta(seconds=31), timeout=5000)
    real_s = time.monotonic() - started
    qtbot.keyClick(replay, Qt.Key.Key_Space)
    replayed_s = (replay.moment - start).total_seconds()
    assert replayed_s <= real_s * 16 + 1  # and never faster than 16x
    assert current_event(replay).event_type == "geofence_query"
    assert "radius 250 m" in replay.geofence_label.text()
    assert not replay.playing

    replay.seek(start)
    replay.set_speed(1)
    started = time.monotonic()
    replay.play()
    qtbot.waitUntil(lambda: replay.moment > start, timeout=5000)
    qtbot.wait(200)
    real_s = time.monotonic() - started
    replay.pause()
    assert 0 < (replay.moment - start).total_seconds() <= real_s + 0.1


def test_play_stops_at_the_end_of_the_session(qtbot, open_replay, shift):
    replay = open_replay()
    open_first_session(qtbot, replay)
    replay.seek(shift.signed_out - timedelta(seconds=1))
    replay.set_speed(16)
    replay.play()
    qtbot.waitUntil(lambda: not replay.playing, timeout=5000)
    assert replay.moment == shift.signed_out
    assert current_event(replay).event_type == "logout"


def test_keys_jump_to_denials_revocations_and_exports(qtbot, open_replay, shift):
    replay = open_replay()
    open_first_session(qtbot, replay)
    qtbot.keyClick(replay, Qt.Key.Key_D)
    denied = current_event(replay)
    assert (denied.event_type, denied.camera_id) == ("feed_denied", "cam-reg")
    assert replay.moment == shift.denied
    assert selected_row(replay) == replay.state.event_index

    qtbot.keyClick(replay, Qt.Key.Key_R)
    assert current_event(replay).mark is EventMark.REVOCATION
    qtbot.keyClick(replay, Qt.Key.Key_E)
    assert current_event(replay).event_type == "export"
    assert replay.moment == shift.exported

    with qtbot.waitSignal(replay.message) as said:
        qtbot.keyClick(replay, Qt.Key.Key_D)
    assert said.args == ["No denial after this moment."]
    qtbot.keyClick(replay, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    assert current_event(replay).event_type == "feed_denied"


def test_the_report_holds_the_session_and_the_chain_verification(
    qtbot, open_replay, shift, settings, tmp_path
):
    logged = len(list(read_events(settings.audit_db)))
    replay = open_replay()
    open_first_session(qtbot, replay)
    path = tmp_path / "reports" / "shift.html"
    with qtbot.waitSignal(replay.report_written, timeout=10_000):
        replay.export_report(path)
    report = path.read_text(encoding="utf-8")
    events = replay.replay.events
    assert f"Hash chain intact: all {logged} events of the local log verify" in report
    assert f"This session&#x27;s events ({events[0].seq} to {events[-1].seq}) are all" in report
    assert "Camera cam-north" in report and "main wall, tile 1" in report
    assert "policy_revoked" in report and "closed_by_operator" in report
    assert "Denials (1)" in report and "Revocations (1)" in report and "Exports (1)" in report
    assert str(shift.export_path) in report
    (exported,) = audit_events(settings, AuditEventType.AUDIT_EXPORT)
    assert exported["details"]["path"] == str(path)
    assert exported["details"]["chain"] == "intact"
    assert exported["details"]["session_actor"] == "dana"
    assert not list(path.parent.glob(".*partial"))

    pdf = tmp_path / "reports" / "shift.pdf"
    with qtbot.waitSignal(replay.report_written, timeout=10_000):
        replay.export_report(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert len(audit_events(settings, AuditEventType.AUDIT_EXPORT)) == 2


def test_a_report_of_a_tampered_log_shows_the_broken_chain(
    qtbot, open_replay, shift, settings, tmp_path
):
    allowed = [
        event["seq"]
        for event in audit_events(settings, AuditEventType.FEED_ALLOWED)
        if event["camera_id"] == "cam-east"
    ]
    tamper(settings.audit_db, allowed[0], "Camera somewhere else")
    replay = open_replay()
    open_first_session(qtbot, replay)
    path = tmp_path / "tampered.html"
    with qtbot.waitSignal(replay.report_written, timeout=10_000):
        replay.export_report(path)
    report = path.read_text(encoding="utf-8")
    assert f"Hash chain BROKEN at event {allowed[0]}" in replay.chain_label.text()
    assert replay.chain_label.objectName() == "errorText"
    assert f"Hash chain BROKEN at event {allowed[0]}" in report
    assert f"reach the break at event {allowed[0]}" in report
    assert "Hash chain intact" not in report
    (exported,) = audit_events(settings, AuditEventType.AUDIT_EXPORT)
    assert exported["details"]["chain"] == "not verified"


def test_a_report_needs_a_pdf_or_html_name(qtbot, open_replay, shift, tmp_path):
    replay = open_replay()
    open_first_session(qtbot, replay)
    replay.export_report(tmp_path / "report.docx")
    assert replay.error_label.text() == "report.docx: a report is a .pdf or an .html file"
    assert not (tmp_path / "report.docx").exists()


def test_a_missing_log_is_shown_as_an_error(qtbot, open_replay, tmp_path):
    replay = open_replay([(LOCAL, LocalLogSource(tmp_path / "gone.sqlite3"))])
    qtbot.waitUntil(lambda: replay.error_label.isVisible(), timeout=5000)
    assert "no such audit log" in replay.error_label.text()


def test_the_server_copy_replays_the_same_shift(
    qtbot, open_replay, shift, settings, audit_log, live_server, server_db, tmp_path
):
    synced(settings, audit_log, live_server, server_db.register("test-ws"))
    with server_db.sessions.begin() as session:
        token = issue_token(
            session, TokenRole.SUPERVISOR, datetime.now(UTC), timedelta(days=1)
        ).secret
    server = ServerCopySource(live_server.url, lambda: token)
    replay = open_replay([(LOCAL, LocalLogSource(settings.audit_db)), ("Server", server)])
    qtbot.waitUntil(lambda: len(replay.sessions) == 1, timeout=10_000)
    replay.source_box.setCurrentIndex(1)
    assert replay.source_kind == "server"
    open_first_session(qtbot, replay)
    replay.seek(shift.both_open)
    assert "Camera cam-east" in replay.tile_grid.text_of("main wall", 2)
    path = tmp_path / "server.html"
    with qtbot.waitSignal(replay.report_written, timeout=10_000):
        replay.export_report(path)
    report = path.read_text(encoding="utf-8")
    assert "Server copy verified" in report
    assert live_server.url in report
    assert token not in report
    (read,) = audit_events(settings, AuditEventType.AUDIT_READ)
    assert read["details"]["source"] == "server"


def test_only_supervisors_and_administrators_have_the_replay(make_window, qtbot):
    operator_window = make_window(user=OPERATOR)
    assert operator_window.replay_action is None
    menus = [action.text() for action in operator_window.menuBar().actions()]
    assert "&Audit" not in menus
    assert operator_window.open_replay() is None
    qtbot.keyClick(
        operator_window,
        Qt.Key.Key_A,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert operator_window.audit_replay is None
    assert not any("Replay" in label for label, _keys in operator_window.shortcuts())
    operator_window.close()

    supervisor_window = make_window(user=SUPERVISOR)
    action = supervisor_window.replay_action
    assert action is not None
    assert action.shortcut() == QKeySequence("Ctrl+Shift+A")
    assert "&Audit" in [action.text() for action in supervisor_window.menuBar().actions()]
    assert ("Replay a session…", "Ctrl+Shift+A") in supervisor_window.shortcuts()
    qtbot.keyClick(
        supervisor_window,
        Qt.Key.Key_A,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(
        lambda: (
            supervisor_window.audit_replay is not None
            and supervisor_window.audit_replay.isVisible()
        )
    )
    supervisor_window.lock(LockReason.MANUAL)
    assert not supervisor_window.audit_replay.isVisible()  # hidden with the rest of the console
    assert not action.isEnabled()
    assert supervisor_window.open_replay() is None
    supervisor_window.close()
