"""Help in the console itself: every control says what it does when the pointer rests on it."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QScrollBar,
    QTabBar,
    QWidget,
)

from app.models import Role
from app.services.accounts import SignedInUser
from app.widgets.login_dialog import LoginDialog
from app.widgets.main_window import LockReason

CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractSlider)


def is_qt_part(control: QWidget) -> bool:
    """Parts Qt adds itself: a scroll bar, a tab bar's scroll arrows, a line edit's clear button."""
    parent = control.parent()
    return (
        isinstance(control, QScrollBar)
        or control.objectName().startswith("qt_")
        or isinstance(parent, QTabBar)
        or (isinstance(parent, QLineEdit) and isinstance(control, QAbstractButton))
    )


def controls_without_tooltip(root: QWidget) -> list[str]:
    missing = []
    for kind in CONTROLS:
        for control in root.findChildren(kind):
            if is_qt_part(control) or control.toolTip():
                continue
            text = control.text() if isinstance(control, QAbstractButton | QLineEdit) else ""
            missing.append(
                f"{type(control).__name__} {control.objectName() or '(no name)'} {text!r} "
                f"in {type(control.parent()).__name__}"
            )
    return missing


def test_every_control_of_the_console_and_its_wall_has_a_tooltip(qtbot, make_window):
    window = make_window()
    window.lock(LockReason.MANUAL)
    wall_windows = [window.wall_windows.open_on(window.screen())]

    missing = controls_without_tooltip(window)
    for wall_window in wall_windows:
        missing += controls_without_tooltip(wall_window)

    assert missing == []


def test_the_supervisors_console_has_a_tooltip_on_every_control(qtbot, make_window):
    window = make_window(user=SignedInUser("luis", "Luis Ortega", Role.SUPERVISOR))

    assert controls_without_tooltip(window) == []


def test_the_sign_in_dialog_has_a_tooltip_on_every_control(qtbot, sessions, audit_log, jobs):
    dialog = LoginDialog(sessions, audit_log, jobs, workstation="ws-test")
    qtbot.addWidget(dialog)

    assert controls_without_tooltip(dialog) == []
