from __future__ import annotations

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from app.models.audit_chain import AuditEventType
from app.shell import ConsoleShell, run_console
from app.widgets.main_window import MainWindow
from tests.widgets.conftest import OPERATOR_PASSWORD, audit_events, with_security


class Reports:
    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []

    def __call__(self, title: str, message: str) -> None:
        self.shown.append((title, message))


def shown_windows() -> list[MainWindow]:
    # Windows of earlier tests may await deletion; what matters is that none is on screen.
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
    ]


@pytest.fixture
def plaintext_keyring(monkeypatch):
    """What this machine's keyring falls back to without an OS keyring (made certain here)."""
    monkeypatch.setattr(keyring, "get_keyring", PlaintextKeyring)


def test_refuses_a_plaintext_keyring_unless_configured(
    qtbot, settings, tmp_path, plaintext_keyring
):
    reports = Reports()
    state = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    code = run_console(
        with_security(settings, keyring_backend="system"), report_error=reports, window_state=state
    )
    assert code == 2
    ((title, message),) = reports.shown
    assert title == "Beacon cannot protect camera passwords"
    assert "no OS keyring is available" in message
    assert 'keyring_backend = "file"' in message
    assert shown_windows() == []
    assert not settings.audit_db.exists()  # refused before anything was opened


def test_refuses_an_unusable_audit_log(qtbot, settings):
    settings.audit_db.write_bytes(b"this is not a database at all")
    reports = Reports()
    assert run_console(settings, report_error=reports) == 2
    ((title, message),) = reports.shown
    assert title == "Beacon cannot record what happens"
    assert "not a Beacon database" in message
    assert shown_windows() == []


def test_refuses_a_damaged_registry(qtbot, settings):
    settings.registry_db.write_bytes(b"garbage garbage garbage garbage")
    reports = Reports()
    assert run_console(settings, report_error=reports) == 2
    ((title, message),) = reports.shown
    assert title == "Beacon cannot open the camera registry"
    assert "beacon.sqlite is not a Beacon database" in message
    assert shown_windows() == []


def test_sign_in_opens_the_console_and_sign_out_returns_to_sign_in(
    qtbot, settings, audit_log, sessions, tmp_path
):
    shell = ConsoleShell(
        settings,
        audit=audit_log,
        sessions=sessions,
        window_state=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
    )
    try:
        shell.start()
        dialog = shell.login_dialog
        assert dialog is not None and dialog.isVisible()
        qtbot.keyClicks(dialog.username_edit, "dana")
        qtbot.keyClicks(dialog.password_edit, OPERATOR_PASSWORD)
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: shell.window is not None and shell.window.isVisible(), timeout=10_000
        )
        window = shell.window
        assert window is not None
        assert window.user.username == "dana"
        assert shell.login_dialog is None
        window.sign_out()
        qtbot.waitUntil(lambda: shell.login_dialog is not None and shell.login_dialog.isVisible())
        assert shell.window is None
        qtbot.waitUntil(lambda: audit_events(settings, AuditEventType.LOGOUT) != [])
        assert [e["event_type"] for e in audit_events(settings, AuditEventType.LOGIN)] == ["login"]
    finally:
        shell.shutdown()
