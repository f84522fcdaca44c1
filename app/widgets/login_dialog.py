"""The sign-in dialog: user name and password, checked off the UI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from app.services.accounts import SignedInUser, SignInError, sign_in
from app.services.audit_log import AuditLog, AuditWriteError
from app.widgets.background_jobs import BackgroundJobs

log = logging.getLogger(__name__)

NOT_RECORDED = (
    "Your sign-in could not be recorded in the audit log, so it did not happen. "
    "Free disk space on this workstation or call the administrator."
)


def _sign_in_job(
    sessions: Callable[[], Session], audit: AuditLog, username: str, password: str
) -> SignedInUser:
    with sessions() as session:
        return sign_in(session, audit, username, password)


class LoginDialog(QDialog):
    """Asks for a user name and password; emits ``signed_in`` once the sign-in is audited."""

    signed_in = Signal(object)  # SignedInUser

    def __init__(
        self,
        sessions: Callable[[], Session],
        audit: AuditLog,
        jobs: BackgroundJobs,
        *,
        workstation: str,
        username: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self._audit = audit
        self._jobs = jobs
        self.user: SignedInUser | None = None
        self.setObjectName("loginDialog")
        self.setWindowTitle("Beacon: sign in")
        self.setModal(True)

        title = QLabel("Beacon")
        title.setObjectName("loginTitle")
        subtitle = QLabel(f"Real-time crime center console · {workstation}")
        subtitle.setObjectName("mutedText")

        self.username_edit = QLineEdit(username)
        self.username_edit.setObjectName("usernameEdit")
        self.username_edit.setPlaceholderText("user name")
        self.username_edit.setAccessibleName("User name")
        self.username_edit.setToolTip("Your Beacon user name (not your Windows or e-mail login)")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("passwordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("password")
        self.password_edit.setAccessibleName("Password")
        self.password_edit.setToolTip("Your Beacon password; the sign-in is recorded either way")

        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("primaryButton")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.setToolTip("Sign in and open the console (Enter)")
        self.sign_in_button.clicked.connect(self._submit)
        self.username_edit.returnPressed.connect(self.password_edit.setFocus)
        self.password_edit.returnPressed.connect(self._submit)

        self.message = QLabel("")
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAccessibleName("Sign-in message")

        form = QFormLayout()
        form.addRow("User name", self.username_edit)
        form.addRow("Password", self.password_edit)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(14)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.sign_in_button)
        self.setMinimumWidth(440)
        (self.password_edit if username else self.username_edit).setFocus()

    @property
    def busy(self) -> bool:
        return not self.sign_in_button.isEnabled()

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.username_edit, self.password_edit, self.sign_in_button):
            widget.setEnabled(not busy)
        self.sign_in_button.setText("Checking…" if busy else "Sign in")

    def _show_message(self, text: str) -> None:
        self.message.setText(text)

    def _submit(self) -> None:
        if self.busy:
            return
        username = self.username_edit.text().strip()
        password = self.password_edit.text()
        if not username or not password:
            self._show_message("Enter your user name and password.")
            return
        self._show_message("")
        self._set_busy(True)
        sessions, audit = self._sessions, self._audit
        self._jobs.submit(
            "Sign-in",
            lambda: _sign_in_job(sessions, audit, username, password),
            self._on_signed_in,
            self._on_failed,
            owner=self,
        )

    def _on_signed_in(self, user: SignedInUser) -> None:
        self.user = user
        self.password_edit.clear()
        self._set_busy(False)
        self.signed_in.emit(user)
        self.accept()

    def _on_failed(self, error: Exception) -> None:
        self._set_busy(False)
        self.password_edit.clear()
        if isinstance(error, SignInError):
            self._show_message(str(error))
        elif isinstance(error, AuditWriteError):
            self._show_message(NOT_RECORDED)
        else:
            self._show_message(
                f"Sign-in could not be checked: {error}. Try again, or call the administrator "
                "if it keeps happening."
            )
        self.password_edit.setFocus()
