"""The lock screen that hides the wall and the docks until the same user signs in again."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LOCKED_TEXT = "Locked — sign in to continue"


def reauth_text(hours: float) -> str:
    return f"Please sign in again ({hours:g}-hour re-authentication)"


class LockScreen(QWidget):
    """ "Locked — sign in to continue": a password field for the signed-in user, or sign out."""

    unlock_requested = Signal(str)  # the password typed
    sign_out_requested = Signal()

    def __init__(self, display_name: str, username: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

        card = QFrame()
        card.setObjectName("lockCard")
        self.title = QLabel(LOCKED_TEXT)
        self.title.setObjectName("lockTitle")
        self.title.setWordWrap(True)
        who = QLabel(f"Signed in as {display_name} ({username})")
        who.setObjectName("mutedText")

        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("lockPasswordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText(f"password for {username}")
        self.password_edit.setAccessibleName("Password")
        self.password_edit.setToolTip(f"The password of {username}, to resume this session")
        self.password_edit.returnPressed.connect(self._submit)

        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setObjectName("primaryButton")
        self.unlock_button.setToolTip("Resume the session where it was (Enter)")
        self.unlock_button.clicked.connect(self._submit)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setToolTip("End this session so another user can sign in")
        self.sign_out_button.clicked.connect(self.sign_out_requested)

        self.message = QLabel("")
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.sign_out_button)
        buttons.addStretch(1)
        buttons.addWidget(self.unlock_button)

        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(32, 28, 32, 28)
        card_layout.setSpacing(14)
        card_layout.addWidget(self.title)
        card_layout.addWidget(who)
        card_layout.addWidget(self.password_edit)
        card_layout.addWidget(self.message)
        card_layout.addLayout(buttons)
        card.setFixedWidth(520)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def prepare(self, title: str) -> None:
        """Show ``title`` with an empty password field that has the keyboard focus."""
        self.title.setText(title)
        self.message.setText("")
        self.password_edit.clear()
        self.set_busy(False)
        self.password_edit.setFocus()

    def set_busy(self, busy: bool) -> None:
        for widget in (self.password_edit, self.unlock_button, self.sign_out_button):
            widget.setEnabled(not busy)
        self.unlock_button.setText("Checking…" if busy else "Unlock")

    def show_error(self, text: str) -> None:
        self.set_busy(False)
        self.password_edit.clear()
        self.message.setText(text)
        self.password_edit.setFocus()

    def _submit(self) -> None:
        if not self.unlock_button.isEnabled():
            return
        password = self.password_edit.text()
        if not password:
            self.message.setText("Enter your password to unlock.")
            return
        self.message.setText("")
        self.set_busy(True)
        self.unlock_requested.emit(password)
