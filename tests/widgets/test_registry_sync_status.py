"""The status bar's registry label shows the registry sync's state, read without blocking; in
the console, a revocation on the sync server ends the signed-in session's feed."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt

from app.models import Purpose
from app.services.registry_sync import RegistrySync, RegistrySyncPhase, RegistrySyncState
from app.shell import ConsoleShell
from tests.registry_admin import RegistryAdmin, registry_document, server_latest
from tests.widgets.conftest import OPERATOR, OPERATOR_PASSWORD


class FixedState:
    """A registry sync stand-in whose state the test sets."""

    def __init__(self, state: RegistrySyncState) -> None:
        self.current = state

    def state(self) -> RegistrySyncState:
        return self.current


def test_the_registry_label_follows_the_registry_sync(qtbot, make_window):
    source = FixedState(RegistrySyncState(RegistrySyncPhase.CURRENT, 123))
    window = make_window(registry_sync=source)
    assert window.registry_label.isVisible()
    qtbot.waitUntil(lambda: window.registry_label.text() == "registry v123")

    source.current = RegistrySyncState(
        RegistrySyncPhase.UNREACHABLE, 123, reason="server unreachable", detail="connection refused"
    )
    qtbot.waitUntil(lambda: window.registry_label.text() == "registry: server unreachable")
    assert window.registry_label.toolTip() == "connection refused"

    source.current = RegistrySyncState(
        RegistrySyncPhase.CURRENT,
        130,
        skipped=1,
        detail="skipped change 129 (camera cam-9): latitude: 95.2 is outside -90..90",
    )
    qtbot.waitUntil(lambda: window.registry_label.text() == "registry v130, 1 change skipped")
    assert window.registry_label.toolTip().startswith("skipped change 129 (camera cam-9)")
    # The audit label is the audit sync's alone.
    assert "registry" not in window.audit_label.text()


def test_no_registry_sync_no_label(qtbot, make_window):
    window = make_window()
    assert not window.registry_label.isVisible()


def test_the_console_shows_the_registry_sync_and_a_revocation_ends_its_feed(
    qtbot, settings, audit_log, sessions, tmp_path, server_db, live_server
):
    admin = RegistryAdmin.issued(server_db, live_server.url)
    admin.import_registry(registry_document("cam-harbor-1"))
    token = server_db.register(settings.workstation)
    latest = server_latest(live_server.url, token)
    registry_sync = RegistrySync(
        sessions=sessions,
        audit=audit_log,
        server_url=live_server.url,
        workstation_id=settings.workstation,
        token=lambda: token,
        poll_s=0.1,
    )
    shell = ConsoleShell(
        settings,
        audit=audit_log,
        sessions=sessions,
        window_state=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
        registry_sync=registry_sync,
    )
    try:
        registry_sync.start()
        shell.start()
        dialog = shell.login_dialog
        assert dialog is not None
        qtbot.keyClicks(dialog.username_edit, "dana")
        qtbot.keyClicks(dialog.password_edit, OPERATOR_PASSWORD)
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: shell.window is not None, timeout=10_000)
        window, gate = shell.window, shell.gate
        assert window is not None and gate is not None
        qtbot.waitUntil(lambda: window.registry_label.text() == f"registry v{latest}")

        lease = gate.open_feed("cam-harbor-1", OPERATOR, Purpose.parse("incident:2026-000101"))
        admin.put_policy("cam-harbor-1", "revoked")
        qtbot.waitUntil(lambda: lease.ended, timeout=10_000)
        assert lease.end_reason == "policy_revoked"
        qtbot.waitUntil(lambda: window.registry_label.text() == f"registry v{latest + 1}")
    finally:
        registry_sync.stop()
        shell.shutdown()
        admin.close()
