"""Labels of a panel's running text: its status line and its wrapped notes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


def wrapped_label(
    text: str, object_name: str, *, selectable: bool = False, parent: QWidget | None = None
) -> QLabel:
    """A label that wraps (a narrow dock on a laptop), styled by ``object_name`` in theme.qss."""
    label = QLabel(text, parent)
    label.setObjectName(object_name)
    label.setWordWrap(True)
    if selectable:  # so an address or an error can be copied
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class StatusLine(QLabel):
    """What a panel last did or why it could not: muted, or in the error style for a failure;
    selectable, wrapped, and (``hide_when_empty``) hidden while there is nothing to say."""

    def __init__(self, parent: QWidget | None = None, *, hide_when_empty: bool = True) -> None:
        super().__init__("", parent)
        self.setObjectName("mutedText")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._hide_when_empty = hide_when_empty
        if hide_when_empty:
            self.hide()

    def say(self, text: str, *, error: bool = False) -> None:
        name = "errorText" if error else "mutedText"
        if self.objectName() != name:
            self.setObjectName(name)
            self.style().unpolish(self)  # the style sheet's rule for the new name applies
            self.style().polish(self)
        self.setText(text)
        if self._hide_when_empty:
            self.setVisible(bool(text))
