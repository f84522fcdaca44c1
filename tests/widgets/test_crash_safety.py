"""Crash safety on the real console: an unexpected exception in one panel is logged and shown
while the wall, its leases and the audit log carry on; after an unclean end the walls come back
and the feeds are asked of the policy gate again, only when the operator says so."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.models import PolicyMode
from app.models.audit_chain import AuditEventType
from app.services.wall_session import OpenFeed, WallSession, WallSessionStore, WallState
from app.shell import ConsoleLog, ConsoleShell, run_console
from app.widgets.crash_dialog import NOT_AFFECTED, WHAT_TO_DO, CrashDialog, CrashGuard
from app.widgets.main_window import LockReason, MainWindow
from app.widgets.wall_recovery import reopen_question
from app.widgets.wall_views_menu import TILE_COUNTS
from tests.factories import set_policy
from tests.widgets.conftest import OPERATOR_PASSWORD, audit_events
from tests.widgets.test_video_wall import INCIDENT, loaded, select_incident, wait_live

pytestmark = pytest.mark.usefixtures("themed")

SECRET = "night-shift-secret"
BROKEN = f"incident panel broke while reading rtsp://admin:{SECRET}@cam.invalid/stream"


@contextmanager
def crash_guard(data_dir: Path) -> Iterator[CrashGuard]:
    """The console's log file and crash guard, as ``run_console`` installs them.

    Entered inside the test body: pytest-qt and pytest put their own hooks in place per test
    phase, and the guard must replace (and then restore) the ones of the test's call.
    """
    console_log = ConsoleLog(data_dir)
    guard = CrashGuard(console_log.path)
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
        console_log.close()


def shown_crash_dialogs() -> list[CrashDialog]:
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, CrashDialog) and w.isVisible()
    ]


def log_text(guard: CrashGuard) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return guard.log_path.read_text(encoding="utf-8")


def store_for(settings, clock) -> WallSessionStore:
    return WallSessionStore(settings.data_dir, "dana", clock, TILE_COUNTS)


def stored(store: WallSessionStore) -> WallSession:
    session = store.read()
    assert session is not None
    return session


def feed_events(settings, event_type: AuditEventType, camera_id: str) -> list[dict[str, Any]]:
    return [e for e in audit_events(settings, event_type) if e["camera_id"] == camera_id]


def test_a_failing_panel_is_shown_and_logged_while_the_wall_its_lease_and_the_audit_go_on(
    qtbot, make_window, clip_cameras, settings, gate, monkeypatch
):
    window: MainWindow = make_window(incident_interval_ms=100)
    qtbot.waitUntil(lambda: loaded(window))
    select_incident(window, INCIDENT)
    tile = window.wall.tiles[0]
    window.wall.open_camera(tile, clip_cameras[0])
    wait_live(qtbot, tile)
    assert tile.handle is not None
    lease = tile.handle.lease

    with crash_guard(settings.data_dir) as guard:

        def broken_panel(_rows: object) -> None:
            raise RuntimeError(BROKEN)

        # The incident panel's slot, called from its refresh timer's job, now raises each time.
        monkeypatch.setattr(window.incident_panel, "set_incidents", broken_panel)
        qtbot.waitUntil(lambda: guard.dialog is not None and guard.dialog.isVisible())
        dialog = guard.dialog
        assert dialog is not None and not dialog.isModal()
        assert str(guard.log_path) in dialog.log_label.text()
        assert guard.log_path == settings.data_dir / "logs" / "beacon.log"
        assert "RuntimeError" in dialog.what_label.text()
        texts = [label.text() for label in dialog.findChildren(type(dialog.log_label))]
        assert NOT_AFFECTED in texts and WHAT_TO_DO in texts

        # The timer keeps calling the broken slot: one dialog, counting.
        qtbot.waitUntil(lambda: dialog.count >= 3, timeout=5000)
        assert shown_crash_dialogs() == [dialog]
        assert dialog.count_label.text() == (f"This has now happened {dialog.count} times.")

        text = log_text(guard)
        assert "Traceback (most recent call last)" in text
        assert "in broken_panel" in text
        assert "rtsp://***@cam.invalid/stream" in text
        assert SECRET not in text and SECRET not in dialog.details
        assert "in broken_panel" in dialog.details

        # The wall still paints new frames, the lease is still granted.
        first = tile.frame_number
        qtbot.waitUntil(lambda: tile.frame_number >= first + 5, timeout=5000)
        assert tile.status_text == "live"
        assert lease in gate.active_leases() and not lease.ended

        # The audit log still takes events from the console.
        window.lock(LockReason.MANUAL)
        qtbot.waitUntil(lambda: audit_events(settings, AuditEventType.SESSION_LOCKED) != [])

        dialog.copy_details()
        assert "in broken_panel" in QApplication.clipboard().text()
        qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
        assert not dialog.isVisible()


def test_a_worker_thread_failure_is_logged_with_its_thread_and_shown(qtbot, settings):
    with crash_guard(settings.data_dir) as guard:

        def decode_step() -> None:
            raise ValueError("a worker's step failed")

        worker = threading.Thread(target=decode_step, name="decode-cam-7")
        worker.start()
        worker.join(timeout=5)
        qtbot.waitUntil(lambda: guard.dialog is not None and guard.dialog.isVisible())
        assert guard.dialog is not None
        assert "a worker's step failed" in guard.dialog.what_label.text()
        text = log_text(guard)
        assert "unexpected error in thread decode-cam-7" in text
        assert "in decode_step" in text


def test_interrupts_go_to_the_previous_hooks_which_come_back_afterwards(qtbot, settings):
    seen: list[type[BaseException]] = []
    before_sys, before_thread = sys.excepthook, threading.excepthook

    def previous(kind: type[BaseException], _error: BaseException, _trace: object) -> None:
        seen.append(kind)

    sys.excepthook = previous
    try:
        with crash_guard(settings.data_dir) as guard:
            assert sys.excepthook is not previous
            sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
            sys.excepthook(SystemExit, SystemExit(0), None)
            assert seen == [KeyboardInterrupt, SystemExit]
            assert guard.dialog is None
        assert sys.excepthook is previous
        assert threading.excepthook is before_thread
    finally:
        sys.excepthook = before_sys


# ---- restart after an unclean end ---------------------------------------------------------


def answer(window: MainWindow, qtbot, button: QMessageBox.StandardButton) -> QMessageBox:
    recovery = window.wall_recovery
    assert recovery is not None
    qtbot.waitUntil(lambda: recovery.question is not None and recovery.question.isVisible())
    question = recovery.question
    assert question is not None
    qtbot.mouseClick(question.button(button), Qt.MouseButton.LeftButton)
    return question


def saved_feeds(store: WallSessionStore) -> list[OpenFeed]:
    session = store.read()
    return [] if session is None else [feed for wall in session.walls for feed in wall.feeds]


def test_after_an_unclean_end_the_layout_returns_and_yes_asks_the_gate_again(
    qtbot, make_window, clip_cameras, settings, gate, clock
):
    store = store_for(settings, clock)
    first: MainWindow = make_window(wall_session=store)
    qtbot.waitUntil(lambda: loaded(first))
    select_incident(first, INCIDENT)
    first.wall.set_layout("3x3")
    # Kept as it changes: the layout first, then (below) the feed once the gate granted it.
    qtbot.waitUntil(lambda: [w.layout for w in stored(store).walls] == ["3x3"])
    assert saved_feeds(store) == []
    tile = first.wall.tiles[4]
    first.wall.open_camera(tile, clip_cameras[1])
    wait_live(qtbot, tile)
    qtbot.waitUntil(lambda: saved_feeds(store) != [])
    assert saved_feeds(store) == [
        OpenFeed(tile=5, camera_id=clip_cameras[1], purpose=f"incident:{INCIDENT}")
    ]
    # The console dies: no clean end is recorded, and the process takes its leases with it.
    first.close()
    for lease in gate.active_leases():
        gate.close(lease, "console_closed")
    allowed_before = feed_events(settings, AuditEventType.FEED_ALLOWED, clip_cameras[1])
    assert len(allowed_before) == 1
    at = clock().astimezone().strftime("%H:%M")
    clock.advance(minutes=3)

    second: MainWindow = make_window(wall_session=store_for(settings, clock))
    recovery = second.wall_recovery
    assert recovery is not None
    qtbot.waitUntil(lambda: recovery.question is not None and recovery.question.isVisible())
    assert second.wall.layout_name == "3x3"  # restored before the question
    assert all(t.is_empty for t in second.wall.tiles)  # nothing opened without an answer
    expected = (
        f"Beacon closed unexpectedly at {at} with 1 feed open. Open them again? Each is asked "
        "of the policy gate again, for the purpose it had."
    )
    assert recovery.question is not None and recovery.question.text() == expected
    assert second.incident_panel.selected_cad_number() is None

    answer(second, qtbot, QMessageBox.StandardButton.Yes)
    restored = second.wall.tiles[4]
    wait_live(qtbot, restored)
    allowed = feed_events(settings, AuditEventType.FEED_ALLOWED, clip_cameras[1])
    assert len(allowed) == 2
    assert allowed[-1]["seq"] > allowed_before[0]["seq"]
    assert allowed[-1]["purpose"] == f"incident:{INCIDENT}"  # the purpose it had, not a guess
    assert restored.handle is not None and restored.handle.lease in gate.active_leases()
    # Kept again for the next restart, as this session's.
    qtbot.waitUntil(lambda: stored(store).updated_at == clock())
    assert not stored(store).ended_cleanly
    assert saved_feeds(store) == [
        OpenFeed(tile=5, camera_id=clip_cameras[1], purpose=f"incident:{INCIDENT}")
    ]


def unclean_session(settings, clock, camera_id: str) -> None:
    """The walls file as a crash leaves it: saved during the session, never ended cleanly."""
    feed = OpenFeed(tile=2, camera_id=camera_id, purpose=f"incident:{INCIDENT}")
    assert store_for(settings, clock).save((WallState(layout="1+5", feeds=(feed,)),))


def test_no_leaves_the_tiles_empty_and_asks_the_gate_nothing(
    qtbot, make_window, clip_cameras, settings, clock
):
    unclean_session(settings, clock, clip_cameras[0])
    store = store_for(settings, clock)
    window: MainWindow = make_window(wall_session=store)
    answer(window, qtbot, QMessageBox.StandardButton.No)
    # The answer is kept: the layout stays, the feed is no longer offered.
    qtbot.waitUntil(lambda: store.read() is not None and saved_feeds(store) == [])
    session = store.read()
    assert session is not None and not session.ended_cleanly
    assert [wall.layout for wall in session.walls] == ["1+5"]
    assert window.wall.layout_name == "1+5"
    assert all(tile.is_empty for tile in window.wall.tiles)
    for event_type in (AuditEventType.FEED_ALLOWED, AuditEventType.FEED_DENIED):
        assert feed_events(settings, event_type, clip_cameras[0]) == []


def test_the_question_waits_behind_the_lock_and_comes_back_on_unlock(
    qtbot, make_window, clip_cameras, settings, clock
):
    unclean_session(settings, clock, clip_cameras[0])
    window: MainWindow = make_window(wall_session=store_for(settings, clock))
    recovery = window.wall_recovery
    assert recovery is not None
    qtbot.waitUntil(lambda: recovery.question is not None and recovery.question.isVisible())
    question = recovery.question
    assert question is not None
    window.lock(LockReason.MANUAL)
    assert not question.isVisible()
    window.lock_screen.unlock_requested.emit(OPERATOR_PASSWORD)
    qtbot.waitUntil(lambda: not window.locked)
    assert question.isVisible()
    answer(window, qtbot, QMessageBox.StandardButton.Yes)
    wait_live(qtbot, window.wall.tiles[1])


def test_a_camera_revoked_since_is_denied_on_restore_and_says_why(
    qtbot, make_window, clip_cameras, settings, sessions, clock
):
    unclean_session(settings, clock, clip_cameras[2])
    with sessions() as session:
        set_policy(session, clip_cameras[2], PolicyMode.REVOKED, clock())
        session.commit()
    window: MainWindow = make_window(wall_session=store_for(settings, clock))
    answer(window, qtbot, QMessageBox.StandardButton.Yes)
    qtbot.waitUntil(
        lambda: feed_events(settings, AuditEventType.FEED_DENIED, clip_cameras[2]) != []
    )
    (denied,) = feed_events(settings, AuditEventType.FEED_DENIED, clip_cameras[2])
    assert denied["purpose"] == f"incident:{INCIDENT}"
    tile = window.wall.tiles[1]
    qtbot.waitUntil(lambda: tile.status_text.startswith("denied"))
    assert "revoked" in tile.status_text
    assert tile.handle is None
    assert feed_events(settings, AuditEventType.FEED_ALLOWED, clip_cameras[2]) == []


def test_a_clean_end_keeps_the_layout_but_offers_no_feeds(settings, clock):
    store = store_for(settings, clock)
    feed = OpenFeed(tile=1, camera_id="cam-harbor-1", purpose="case:24-1187")
    assert store.save((WallState(layout="3x3", feeds=(feed,)),))
    assert store.unclean_end() is not None
    store.end_cleanly()
    assert not store.save((WallState(layout="2x2", feeds=(feed,)),))  # a late write is dropped
    session = store.read()
    assert session is not None and session.ended_cleanly
    assert [(w.layout, w.feeds) for w in session.walls] == [("3x3", ())]
    assert store_for(settings, clock).unclean_end() is None


def test_the_question_names_the_local_time_and_feed_count(settings, clock):
    feeds = tuple(OpenFeed(tile=n, camera_id=f"cam-{n}", purpose="incident:1") for n in (1, 2, 3))
    store = store_for(settings, clock)
    store.save((WallState(layout="3x3", feeds=feeds),))
    previous = store.unclean_end()
    assert previous is not None
    assert f"at {clock().astimezone():%H:%M} with 3 feeds open" in reopen_question(previous)


# ---- the console's lifetime ---------------------------------------------------------------


def test_the_console_logs_to_its_file_and_guards_only_while_it_runs(qtbot, settings, tmp_path):
    before_sys, before_thread = sys.excepthook, threading.excepthook
    root_level = logging.getLogger().level
    seen: dict[str, object] = {}

    def started(shell: ConsoleShell) -> None:
        seen["hooks"] = (sys.excepthook, threading.excepthook)
        dialog = shell.login_dialog
        assert dialog is not None
        QTimer.singleShot(0, dialog.reject)  # cancelling the sign-in quits the console

    state = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    assert run_console(settings, window_state=state, on_started=started) == 0
    hooks = seen["hooks"]
    assert isinstance(hooks, tuple)
    assert hooks[0] is not before_sys and hooks[1] is not before_thread
    assert (sys.excepthook, threading.excepthook) == (before_sys, before_thread)
    assert logging.getLogger().level == root_level
    text = (settings.data_dir / "logs" / "beacon.log").read_text(encoding="utf-8")
    assert f"this log: {settings.data_dir / 'logs' / 'beacon.log'}" in text
    assert "Beacon ended" in text


def sign_in(qtbot, shell: ConsoleShell) -> MainWindow:
    dialog = shell.login_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.username_edit, "dana")
    qtbot.keyClicks(dialog.password_edit, OPERATOR_PASSWORD)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shell.window is not None and shell.window.isVisible(), timeout=10_000)
    assert shell.window is not None
    return shell.window


def test_a_sign_out_is_a_clean_end_and_the_next_sign_in_asks_nothing(
    qtbot, settings, audit_log, sessions, clock, tmp_path
):
    walls = store_for(settings, clock)
    shell = ConsoleShell(
        settings,
        audit=audit_log,
        sessions=sessions,
        clock=clock,
        window_state=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
    )
    try:
        shell.start()
        window = sign_in(qtbot, shell)
        # Signed in: the session is on record as running (what a crash would leave).
        qtbot.waitUntil(lambda: walls.unclean_end() is not None)
        window.wall.set_layout("3x3")
        qtbot.waitUntil(lambda: [w.layout for w in stored(walls).walls] == ["3x3"])
        assert not stored(walls).ended_cleanly
        window.sign_out()
        qtbot.waitUntil(lambda: stored(walls).ended_cleanly)
        assert stored(walls).walls == (WallState(layout="3x3"),)

        again = sign_in(qtbot, shell)
        qtbot.waitUntil(lambda: walls.unclean_end() is not None)  # read, then running again
        assert again.wall_recovery is not None and again.wall_recovery.question is None
        assert again.wall.layout_name == "2x2"  # after a clean end the console starts as usual
    finally:
        shell.shutdown()
    assert stored(walls).ended_cleanly  # quit: clean too
