"""The footage request panel on a real registry and audit log, e-mailing through a real SMTP
server on loopback: draft from geofence hits, send, record the owners' answers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.models import Owner
from app.models.audit_chain import AuditEventType
from app.services.credentials import CredentialStore
from app.services.geofence_search import GeofenceHit
from app.services.registry_rows import IncidentRow, read_camera_rows, read_incident_rows
from app.services.smtp_mailer import smtp_password_name
from app.settings import Settings, SmtpSettings
from app.widgets.footage_request_panel import (
    EMAIL_OFF_TEXT,
    NO_INCIDENT_TEXT,
    NOTE,
    REFERENCE,
    STATUS,
    FootageRequestDialog,
    FootageRequestPanel,
    local_text,
    tab_title,
)
from tests.cad_server import closed_port_url
from tests.smtp_server import SmtpServer
from tests.widgets.conftest import OPERATOR, audit_events

pytestmark = pytest.mark.usefixtures("themed")

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
ROUTINE = "2026-000101"  # received 40 minutes before the clock's now
EMERGENCY = "2026-000102"
OWNER_EMAIL, OWNER_PHONE = "maria@harbor-deli.example", "+1 312 555 0142"
MAIL_USER, MAIL_PASSWORD = "rtcc-mailer", "correct horse battery"
# The routine incident's geofence: two cameras to ask (registered; emergency-only on a routine
# call), one that may be opened live.
MAY_OPEN = {"cam-porch-4": False, "cam-bank-2": False, "cam-harbor-1": True}

PanelFactory = Callable[..., FootageRequestPanel]


def smtp_settings(settings: Settings, port: int, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "rtcc@harbor-city.example",
        "agency_name": "Harbor City Police RTCC",
        "timeout_s": 5,
    }
    return settings.model_copy(update={"smtp": SmtpSettings.model_validate(values | changes)})


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with contextlib.closing(SmtpServer(login=(MAIL_USER, MAIL_PASSWORD))) as server:
        yield server


def set_contact(sessions, *, email: str = "", phone: str = "") -> None:
    with sessions() as session:
        owner = session.get(Owner, "own-1")
        assert owner is not None
        owner.email, owner.phone = email, phone
        session.commit()


@pytest.fixture
def make_panel(qtbot, jobs, sessions, audit_log, settings, clock) -> PanelFactory:
    def make(panel_settings: Settings = settings) -> FootageRequestPanel:
        panel = FootageRequestPanel(
            jobs=jobs,
            sessions=sessions,
            audit=audit_log,
            user=OPERATOR,
            settings=panel_settings,
            credentials=CredentialStore.for_settings(panel_settings),
            clock=clock,
        )
        qtbot.addWidget(panel)
        panel.resize(1000, 520)
        # Shortcuts need an active window, as on a real desk.
        with qtbot.waitActive(panel):
            panel.show()
            panel.activateWindow()
        return panel

    return make


def incident(sessions, cad_number: str) -> IncidentRow:
    (row,) = [row for row in read_incident_rows(sessions) if row.cad_number == cad_number]
    return row


def hits(sessions, clock) -> list[GeofenceHit]:
    cameras = {row.camera_id: row for row in read_camera_rows(sessions, clock())}
    return [
        GeofenceHit(
            cameras[camera_id], 10.0 * number, 90.0, may_open, cameras[camera_id].policy_now
        )
        for number, (camera_id, may_open) in enumerate(MAY_OPEN.items(), start=1)
    ]


def show_incident(qtbot, panel: FootageRequestPanel, sessions, cad_number: str = ROUTINE) -> None:
    panel.set_incident(incident(sessions, cad_number))
    qtbot.waitUntil(lambda: not panel.busy)


def column(panel: FootageRequestPanel, number: int) -> list[str]:
    model = panel.model
    return [model.index(row, number).data() for row in range(model.rowCount())]


def open_dialog(panel: FootageRequestPanel, sessions, clock) -> FootageRequestDialog:
    dialog = panel.request_footage(hits(sessions, clock))
    assert dialog is not None and dialog.isVisible()
    return dialog


def draft_all(qtbot, panel: FootageRequestPanel, sessions, clock) -> list[str]:
    dialog = open_dialog(panel, sessions, clock)
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.count == 2 and not panel.busy)
    return column(panel, REFERENCE)


def active(qtbot, window: QWidget) -> None:
    """Wait until ``window`` has the keyboard (a dialog "shares" its parent's activation, so
    ``qtbot.waitActive`` can return before it really has it)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def footage_events(settings: Settings) -> list[tuple[str, str, str]]:
    return [
        (e["camera_id"], e["details"]["status"], e["outcome"])
        for e in audit_events(settings, AuditEventType.FOOTAGE_REQUEST)
    ]


def send(qtbot, panel: FootageRequestPanel) -> None:
    assert panel.send_action.isEnabled()
    panel.send_action.trigger()
    # One send at a time: the action is off until this one is done.
    assert panel.sending
    assert not panel.send_action.isEnabled() and not panel.send_button.isEnabled()
    panel.send_action.trigger()
    qtbot.waitUntil(lambda: not panel.sending, timeout=15_000)


# --- drafting --------------------------------------------------------------------------------


def test_drafting_from_geofence_hits_lists_the_drafted_rows(
    qtbot, make_panel: PanelFactory, sessions, clock, settings
):
    set_contact(sessions, email=OWNER_EMAIL)
    panel = make_panel()
    show_incident(qtbot, panel, sessions)
    assert panel.count == 0 and "No footage requests" in panel.summary.text()
    dialog = open_dialog(panel, sessions, clock)

    # Only the cameras that cannot be opened live are asked; the one that can is left out.
    listed = [dialog.camera_list.item(n).text() for n in range(dialog.camera_list.count())]
    assert [text.split(" · ")[0] for text in listed] == ["Camera cam-porch-4", "Camera cam-bank-2"]
    assert dialog.left_out_label.isVisible()
    assert dialog.left_out_label.text().startswith("1 camera is left out")
    assert dialog.chosen_camera_ids() == ("cam-porch-4", "cam-bank-2")
    # The window runs from a quarter of an hour before the call until now.
    received = incident(sessions, ROUTINE).received_at
    start, end = dialog.start_edit.dateTime(), dialog.end_edit.dateTime()
    assert start.toSecsSinceEpoch() == (received - timedelta(minutes=15)).timestamp()
    assert end.toSecsSinceEpoch() == clock().timestamp()

    qtbot.keyClicks(dialog.note_edit, "suspect fled east")
    with qtbot.waitSignal(panel.count_changed) as counted:
        qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    assert counted.args == [2]
    qtbot.waitUntil(lambda: not panel.busy)
    assert not dialog.isVisible() and panel.dialog is None
    assert column(panel, STATUS) == ["Drafted", "Drafted"]
    assert column(panel, NOTE) == ["suspect fled east"] * 2
    assert [row.camera_id for row in panel.rows] == ["cam-porch-4", "cam-bank-2"]
    assert [(row.window_start, row.window_end) for row in panel.rows] == [
        (received - timedelta(minutes=15), clock())
    ] * 2
    assert panel.tab_title == tab_title(2) == "Footage requests (2)"
    assert "Drafted 2 footage requests" in panel.status_line.text()
    # The new requests are selected, ready for the next step.
    assert [row.reference for row in panel.selected_requests()] == column(panel, REFERENCE)
    assert footage_events(settings) == [
        ("cam-porch-4", "drafted", "success"),
        ("cam-bank-2", "drafted", "success"),
    ]


def test_a_window_that_ends_before_it_starts_is_refused_in_the_dialog(
    qtbot, make_panel: PanelFactory, sessions, clock, settings
):
    set_contact(sessions, email=OWNER_EMAIL)
    panel = make_panel()
    show_incident(qtbot, panel, sessions)
    dialog = open_dialog(panel, sessions, clock)
    qtbot.keyClicks(dialog.note_edit, "white van")
    start = dialog.start_edit.dateTime()
    dialog.end_edit.setDateTime(start.addSecs(-3600))
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)

    assert dialog.isVisible() and dialog.error_label.isVisible()
    # Said in the local time the fields show.
    ends_at = datetime.fromtimestamp(start.addSecs(-3600).toSecsSinceEpoch(), UTC)
    assert f"The window ends ({local_text(ends_at)}) before it starts" in dialog.error_label.text()
    assert dialog.draft_button.isEnabled()
    # What was typed is all still there.
    assert dialog.note_edit.toPlainText() == "white van"
    assert dialog.start_edit.dateTime() == start
    assert dialog.chosen_camera_ids() == ("cam-porch-4", "cam-bank-2")
    assert panel.count == 0 and footage_events(settings) == []

    # Fixed, it drafts.
    dialog.end_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(clock().timestamp())))
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.count == 2 and not panel.busy)
    assert column(panel, NOTE) == ["white van"] * 2


def test_a_refused_draft_keeps_the_dialog_open_with_the_reason(
    qtbot, make_panel: PanelFactory, sessions, clock, settings
):
    panel = make_panel()
    show_incident(qtbot, panel, sessions)
    draft_all(qtbot, panel, sessions, clock)
    dialog = open_dialog(panel, sessions, clock)
    # Cameras with an open request are named as such and left unchecked.
    first = dialog.camera_list.item(0)
    assert "already requested (FR-1, drafted)" in first.text()
    assert dialog.chosen_camera_ids() == ()
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    assert "Check at least one camera" in dialog.error_label.text()

    first.setCheckState(Qt.CheckState.Checked)
    qtbot.keyClicks(dialog.note_edit, "second try")
    qtbot.mouseClick(dialog.draft_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.busy and dialog.error_label.isVisible())
    assert "already has a drafted request for this incident (FR-1)" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.note_edit.toPlainText() == "second try"
    assert panel.count == 2 and len(footage_events(settings)) == 2


def test_request_footage_needs_an_incident_and_a_camera_to_ask(
    qtbot, make_panel: PanelFactory, sessions, clock
):
    panel = make_panel()
    assert panel.title.text() == NO_INCIDENT_TEXT and not panel.request_action.isEnabled()
    with qtbot.waitSignal(panel.message) as said:
        assert panel.request_footage(hits(sessions, clock)) is None
    assert "Select an incident first" in said.args[0]

    show_incident(qtbot, panel, sessions)
    live_only = [hit for hit in hits(sessions, clock) if hit.may_open]
    with qtbot.waitSignal(panel.message) as said:
        assert panel.request_footage(live_only) is None
    assert "may be opened live now" in said.args[0]

    # The action asks the main window for the geofence list's selection.
    with qtbot.waitSignal(panel.request_wanted):
        panel.request_action.trigger()

    draft_all(qtbot, panel, sessions, clock)
    with qtbot.waitSignal(panel.count_changed) as counted:
        panel.set_incident(None)
    assert counted.args == [0] and panel.count == 0
    assert panel.summary.text() == NO_INCIDENT_TEXT

    # Another incident has its own list.
    show_incident(qtbot, panel, sessions, EMERGENCY)
    assert panel.count == 0
    show_incident(qtbot, panel, sessions, ROUTINE)
    assert panel.count == 2


# --- sending ---------------------------------------------------------------------------------


def test_sending_mails_the_owner_once_and_the_rows_become_sent(
    qtbot, make_panel: PanelFactory, sessions, clock, settings, smtp_server: SmtpServer
):
    set_contact(sessions, email=OWNER_EMAIL, phone=OWNER_PHONE)
    mail_settings = smtp_settings(settings, smtp_server.port, username=MAIL_USER)
    CredentialStore.for_settings(mail_settings).set_secret(
        smtp_password_name(mail_settings.smtp), MAIL_PASSWORD
    )
    panel = make_panel(mail_settings)
    messages: list[str] = []
    panel.message.connect(messages.append)
    show_incident(qtbot, panel, sessions)
    assert not panel.email_off_label.isVisible()
    assert not panel.send_action.isEnabled()  # nothing drafted yet
    references = draft_all(qtbot, panel, sessions, clock)

    send(qtbot, panel)

    (mail,) = smtp_server.mails()
    assert mail.rcpt_tos == [OWNER_EMAIL] and mail.login == MAIL_USER
    assert f"[{', '.join(references)}]" in mail.message["Subject"]
    assert column(panel, STATUS) == ["Sent", "Sent"]
    assert all(row.sent_at == clock() for row in panel.rows)
    assert column(panel, NOTE)[0].startswith("Waiting for an answer until")
    assert "Sent to Harbor Deli (2 cameras)." in panel.status_line.text()
    assert panel.status_line.objectName() == "mutedText"
    assert not panel.send_action.isEnabled()  # nothing left to send
    assert messages[-1] == f"Footage requests of {ROUTINE}: 1 e-mail sent"
    assert not any(OWNER_EMAIL in text or OWNER_PHONE in text for text in messages)
    assert [status for _, status, _ in footage_events(settings)] == [
        "drafted",
        "drafted",
        "sending",
        "sending",
        "sent",
        "sent",
    ]


def test_the_owners_answers_are_recorded_for_the_selected_rows(
    qtbot, make_panel: PanelFactory, sessions, clock, settings, smtp_server: SmtpServer
):
    set_contact(sessions, email=OWNER_EMAIL)
    panel = make_panel(smtp_settings(settings, smtp_server.port))
    show_incident(qtbot, panel, sessions)
    first, second = draft_all(qtbot, panel, sessions, clock)
    panel.select_references([first])
    assert not panel.fulfilled_action.isEnabled()  # drafted: the owner was never asked
    send(qtbot, panel)

    # The keyboard: the first row, then its shortcut.
    active(qtbot, panel)
    panel.view.clearSelection()
    panel.focus_table()
    assert [row.reference for row in panel.selected_requests()] == [first]
    assert panel.fulfilled_action.isEnabled()
    qtbot.keyClick(panel.view, Qt.Key.Key_F, CTRL_SHIFT)
    qtbot.waitUntil(lambda: column(panel, STATUS)[0] == "Fulfilled")
    assert "FR-1: marked fulfilled." in panel.status_line.text()
    assert not panel.fulfilled_action.isEnabled()  # answered once

    panel.select_references([second])
    qtbot.mouseClick(panel.declined_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: column(panel, STATUS) == ["Fulfilled", "Declined"])
    assert footage_events(settings)[-2:] == [
        ("cam-porch-4", "fulfilled", "success"),
        ("cam-bank-2", "declined", "success"),
    ]


def test_a_sent_request_without_an_answer_expires(
    qtbot, make_panel: PanelFactory, sessions, clock, settings, smtp_server: SmtpServer
):
    set_contact(sessions, email=OWNER_EMAIL)
    panel = make_panel(smtp_settings(settings, smtp_server.port))
    show_incident(qtbot, panel, sessions)
    draft_all(qtbot, panel, sessions, clock)
    send(qtbot, panel)
    clock.advance(days=settings.footage.expire_after_days, minutes=1)
    panel.refresh()
    qtbot.waitUntil(lambda: column(panel, STATUS) == ["Expired", "Expired"])
    assert "2 expired" in panel.summary.text()
    # A late answer is still recorded.
    panel.select_references(column(panel, REFERENCE))
    assert panel.declined_action.isEnabled()


def test_a_mail_server_that_is_down_leaves_the_requests_drafted_with_the_reason(
    qtbot, make_panel: PanelFactory, sessions, clock, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    set_contact(sessions, email=OWNER_EMAIL)
    port = urlsplit(closed_port_url()).port
    assert port is not None
    panel = make_panel(smtp_settings(settings, port))
    show_incident(qtbot, panel, sessions)
    draft_all(qtbot, panel, sessions, clock)

    send(qtbot, panel)

    status = panel.status_line.text()
    assert panel.status_line.objectName() == "errorText" and panel.status_line.isVisible()
    assert "E-mailed 0 owners; 1 not reached" in status
    assert f"127.0.0.1:{port} could not be reached" in status
    assert "The requests stay drafted." in status
    assert column(panel, STATUS) == ["Drafted · not sent"] * 2
    assert all(note.startswith("Not sent: the mail server") for note in column(panel, NOTE))
    assert panel.send_action.isEnabled()  # they can be sent again
    assert OWNER_EMAIL not in caplog.text and "Harbor Deli" not in caplog.text
    assert footage_events(settings)[-2:] == [
        ("cam-porch-4", "drafted", "failure"),
        ("cam-bank-2", "drafted", "failure"),
    ]


def test_a_missing_mail_password_is_said_and_nothing_is_sent(
    qtbot, make_panel: PanelFactory, sessions, clock, settings, smtp_server: SmtpServer
):
    set_contact(sessions, email=OWNER_EMAIL)
    panel = make_panel(smtp_settings(settings, smtp_server.port, username=MAIL_USER))
    show_incident(qtbot, panel, sessions)
    draft_all(qtbot, panel, sessions, clock)
    send(qtbot, panel)
    assert panel.status_line.objectName() == "errorText"
    assert panel.status_line.text() == (
        f"Nothing was sent: No password for the mail user {MAIL_USER} at 127.0.0.1 is in the "
        "keyring; store it there, then send again."
    )
    assert column(panel, STATUS) == ["Drafted", "Drafted"] and smtp_server.mails() == []
    assert panel.send_action.isEnabled()


def test_without_a_mail_server_sending_is_off_and_says_why(
    qtbot, make_panel: PanelFactory, sessions, clock, settings
):
    set_contact(sessions, email=OWNER_EMAIL)
    assert settings.smtp.host is None
    panel = make_panel()
    show_incident(qtbot, panel, sessions)
    draft_all(qtbot, panel, sessions, clock)
    assert panel.email_off_label.isVisible()
    assert panel.email_off_label.text() == EMAIL_OFF_TEXT
    assert not panel.send_action.isEnabled() and not panel.send_button.isEnabled()
    assert panel.send_button.toolTip() == EMAIL_OFF_TEXT
    assert "call the owners" in panel.status_line.text()
    panel.send_drafted()
    assert not panel.sending and column(panel, STATUS) == ["Drafted", "Drafted"]


def test_an_owner_without_an_e_mail_address_is_to_be_called(
    qtbot, make_panel: PanelFactory, sessions, clock, settings, smtp_server: SmtpServer, caplog
):
    caplog.set_level(logging.DEBUG)
    set_contact(sessions, phone=OWNER_PHONE)
    panel = make_panel(smtp_settings(settings, smtp_server.port))
    show_incident(qtbot, panel, sessions)
    draft_all(qtbot, panel, sessions, clock)
    assert column(panel, STATUS) == ["Drafted · no e-mail"] * 2
    assert (
        column(panel, NOTE)
        == [f"Cannot be e-mailed: Harbor Deli has no e-mail address: call {OWNER_PHONE} instead"]
        * 2
    )
    tooltip = panel.model.index(0, STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert f"call {OWNER_PHONE}" in tooltip
    # The current row's note in full, under the table (the column cuts it short).
    assert panel.details.isVisible()
    assert panel.details.text() == f"FR-1 · Camera cam-porch-4: {column(panel, NOTE)[0]}"
    assert not panel.send_action.isEnabled()
    assert smtp_server.mails() == []
    # The phone number is for the operator's screen, never for the log.
    assert OWNER_PHONE not in caplog.text


def test_the_request_window_works_from_the_keyboard(
    qtbot, make_panel: PanelFactory, sessions, clock
):
    panel = make_panel()
    show_incident(qtbot, panel, sessions)
    dialog = open_dialog(panel, sessions, clock)
    active(qtbot, dialog)
    assert dialog.camera_list.hasFocus()
    qtbot.keyClick(dialog.camera_list, Qt.Key.Key_Space)  # uncheck the first camera
    assert dialog.chosen_camera_ids() == ("cam-bank-2",)
    qtbot.keyClick(dialog.start_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.count == 1 and not panel.busy)
    assert [row.camera_id for row in panel.rows] == ["cam-bank-2"]

    dialog = open_dialog(panel, sessions, clock)
    active(qtbot, dialog)
    qtbot.keyClick(dialog.camera_list, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and panel.count == 1
