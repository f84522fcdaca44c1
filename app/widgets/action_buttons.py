"""Panel actions: a QAction with its shortcut named in its tooltip, and a push button that
mirrors it (text, tooltip, enabled), so the button, the menu and the key are one command."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QPushButton, QWidget


def shortcut_action(
    owner: QWidget,
    text: str,
    keys: str | None,
    slot: Callable[[], object],
    context: Qt.ShortcutContext = Qt.ShortcutContext.ApplicationShortcut,
) -> QAction:
    action = QAction(text, owner)
    if keys is not None:
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(context)
        action.setToolTip(f"{text} ({keys})")
    action.triggered.connect(lambda _checked=False: slot())  # the slot takes no ``checked``
    owner.addAction(action)
    return action


def action_button(action: QAction) -> QPushButton:
    button = QPushButton(action.text())
    button.setToolTip(action.toolTip())
    button.clicked.connect(action.trigger)
    action.enabledChanged.connect(button.setEnabled)
    action.changed.connect(lambda: button.setToolTip(action.toolTip()))
    button.setEnabled(action.isEnabled())
    return button
