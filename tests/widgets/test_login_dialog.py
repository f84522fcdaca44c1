from __future__ import annotations

from PySide6.QtCore import Qt

from app.models.audit_chain import AuditEventType
from app.services.accounts import SignedInUser
from app.widgets.login_dialog import NOT_RECORDED, LoginDialog
from tests.widgets.conftest import OPERATOR_PASSWORD, audit_events

WRONG = "That user name and password do not match an active account."


def make_dialog(qtbot, sessions, audit_log, jobs) -> LoginDialog:
    dialog = LoginDialog(sessions, audit_log, jobs, workstation="test-ws")
    qtbot.addWidget(dialog)
    with qtbot.waitExposed(dialog):
        dialog.show()
    return dialog


def type_credentials(qtbot, dialog: LoginDialog, username: str, password: str) -> None:
    qtbot.keyClicks(dialog.username_edit, username)
    qtbot.keyClicks(dialog.password_edit, password)


def test_sign_in_runs_off_the_ui_thread_and_is_audited(qtbot, sessions, audit_log, jobs, settings):
    dialog = make_dialog(qtbot, sessions, audit_log, jobs)
    type_credentials(qtbot, dialog, "dana", OPERATOR_PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as signal:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        # The click returned before the password was checked: the check is a background job.
        assert dialog.busy
        assert dialog.sign_in_button.text() == "Checking…"
    user = signal.args[0]
    assert isinstance(user, SignedInUser)
    assert (user.username, user.display_name, user.role.value) == ("dana", "Dana Cole", "operator")
    assert dialog.result() == LoginDialog.DialogCode.Accepted
    logins = audit_events(settings, AuditEventType.LOGIN)
    assert [(e["actor"], e["outcome"], e["workstation"]) for e in logins] == [
        ("dana", "success", "test-ws")
    ]


def test_wrong_password_keeps_the_dialog_open_and_is_audited(
    qtbot, sessions, audit_log, jobs, settings
):
    dialog = make_dialog(qtbot, sessions, audit_log, jobs)
    type_credentials(qtbot, dialog, "dana", "not-the-password")
    qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.message.text() == WRONG, timeout=10_000)
    assert dialog.isVisible()
    assert dialog.user is None
    assert not dialog.busy
    assert dialog.password_edit.text() == ""
    assert dialog.username_edit.text() == "dana"
    failures = audit_events(settings, AuditEventType.LOGIN_FAILED)
    assert [(e["actor"], e["outcome"], e["reason"]) for e in failures] == [
        ("dana", "failure", "bad_credentials")
    ]
    assert audit_events(settings, AuditEventType.LOGIN) == []


def test_unknown_user_gets_the_same_answer(qtbot, sessions, audit_log, jobs):
    dialog = make_dialog(qtbot, sessions, audit_log, jobs)
    type_credentials(qtbot, dialog, "nobody", OPERATOR_PASSWORD)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.message.text() == WRONG, timeout=10_000)
    assert dialog.isVisible()


def test_empty_fields_are_not_sent(qtbot, sessions, audit_log, jobs):
    dialog = make_dialog(qtbot, sessions, audit_log, jobs)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text() == "Enter your user name and password."
    assert jobs.idle
    assert audit_log.head.seq == 0


def test_sign_in_that_cannot_be_audited_does_not_happen(qtbot, sessions, audit_log, jobs):
    dialog = make_dialog(qtbot, sessions, audit_log, jobs)
    audit_log.close()  # every later write fails: AuditWriteError
    type_credentials(qtbot, dialog, "dana", OPERATOR_PASSWORD)
    with qtbot.assertNotEmitted(dialog.signed_in, wait=0):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.message.text() == NOT_RECORDED, timeout=10_000)
    assert dialog.isVisible()
    assert dialog.user is None
