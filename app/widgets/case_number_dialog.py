"""The small dialog that asks why a camera is opened when no incident is selected."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.models.policy import Purpose

EXPLANATION = (
    "No incident is selected. Enter the case number you are opening {camera} for: it is "
    "recorded in the audit log with this feed and the next ones you open without an incident."
)
EMPTY_CASE_TEXT = "Enter a case number, or cancel and select an incident first."


class CaseNumberDialog(QDialog):
    """Asks for a case number; emits ``case_entered`` with the purpose, never blocks the wall."""

    case_entered = Signal(object)  # a Purpose

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("caseNumberDialog")
        self.setWindowTitle("Why is this camera opened?")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.case_edit = QLineEdit()
        self.case_edit.setPlaceholderText("Case number, e.g. 24-1187")
        self.case_edit.setAccessibleName("Case number")
        self.message = QLabel()
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        self.message.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.open_button.setText("Open camera")
        self.open_button.setObjectName("primaryButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        layout.addWidget(self.explanation)
        layout.addWidget(self.case_edit)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def ask(self, camera_name: str) -> None:
        """Show the dialog (window-modal, without a nested event loop) for ``camera_name``."""
        self.explanation.setText(EXPLANATION.format(camera=camera_name))
        self.message.hide()
        self.case_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.case_edit.selectAll()
        self.open()

    def accept(self) -> None:
        purpose = Purpose.parse(self.case_edit.text())
        if purpose is None:
            self.message.setText(EMPTY_CASE_TEXT)
            self.message.show()
            self.case_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        super().accept()
        self.case_entered.emit(purpose)
