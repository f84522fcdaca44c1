"""What the operator sees when part of the console fails unexpectedly, and the hooks that see it.

PySide6 hands an exception raised in a slot or an event handler to ``sys.excepthook`` and carries
on; a worker thread's goes to ``threading.excepthook``. ``CrashGuard`` installs both for the
console's lifetime: each such exception is logged with its trace (to the console's log file) and
shown in one non-modal ``CrashDialog`` that says, in plain words, what happened, that the wall,
the open feeds and the audit log are not affected, what to do, and where the details are. Repeats
while it is open are counted in it. KeyboardInterrupt and SystemExit go to the hooks that were
there before, as without the guard.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.models.stream_url import redact_url

log = logging.getLogger(__name__)

HEADLINE = "Something in Beacon went wrong"
NOT_AFFECTED = "The video wall, the open feeds and the audit log are not affected."
WHAT_TO_DO = (
    "Carry on with your work. If this happens again, save your work, restart Beacon and tell "
    "your administrator."
)


class CrashDialog(QDialog):
    """One dialog for unexpected errors; a repeat while it is open adds to its count."""

    def __init__(self, log_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("Beacon: unexpected error")
        self.setModal(False)
        self.count = 0
        self.details = ""
        headline = QLabel(HEADLINE)
        headline.setObjectName("errorText")
        self.what_label = QLabel()
        self.what_label.setWordWrap(True)
        self.what_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        not_affected = QLabel(NOT_AFFECTED)
        not_affected.setWordWrap(True)
        what_to_do = QLabel(WHAT_TO_DO)
        what_to_do.setWordWrap(True)
        self.count_label = QLabel()
        self.count_label.setObjectName("mutedText")
        self.count_label.hide()
        self.log_label = QLabel(f"The details are in the log file: {log_path}")
        self.log_label.setObjectName("mutedText")
        self.log_label.setWordWrap(True)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setToolTip("Copy the error's technical details for your administrator")
        self.copy_button.clicked.connect(self.copy_details)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setObjectName("primaryButton")
        self.close_button.setToolTip("Close this message and carry on")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(10)
        for widget in (
            headline,
            self.what_label,
            not_affected,
            what_to_do,
            self.count_label,
            self.log_label,
        ):
            layout.addWidget(widget)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def show_error(self, summary: str, details: str) -> None:
        """Show ``summary``, or count it when the dialog is already open."""
        if self.isVisible():
            self.count += 1
            self.details += "\n" + details
            self.count_label.setText(f"This has now happened {self.count} times.")
            self.count_label.show()
            self.what_label.setText(f"A part of the console failed unexpectedly: {summary}")
            return
        self.count = 1
        self.details = details
        self.count_label.hide()
        self.what_label.setText(f"A part of the console failed unexpectedly: {summary}")
        self.show()
        self.raise_()

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details)


class CrashGuard(QObject):
    """Installs ``sys.excepthook`` and ``threading.excepthook`` until ``uninstall``."""

    _reported = Signal(str, str)  # summary, trace: from any thread to the UI thread

    def __init__(self, log_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.dialog: CrashDialog | None = None
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self._installed = False
        # Queued even on the UI thread: the dialog never opens inside the failing handler.
        self._reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self._hook
        threading.excepthook = self._thread_hook
        self._installed = True

    def uninstall(self) -> None:
        """Put the previous hooks back and close the dialog."""
        if not self._installed:
            return
        self._installed = False
        sys.excepthook = self._previous_hook
        threading.excepthook = self._previous_thread_hook
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def _hook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        trace: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt | SystemExit):
            self._previous_hook(exc_type, exc, trace)
            return
        self.report(exc_type, exc, trace, "on the console")

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, KeyboardInterrupt | SystemExit):
            self._previous_thread_hook(args)
            return
        name = args.thread.name if args.thread is not None else "a worker thread"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, f"in thread {name}")

    def report(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        trace: TracebackType | None,
        where: str,
    ) -> None:
        """Log the trace and show (or count) it in the dialog; safe from any thread."""
        log.critical("unexpected error %s", where, exc_info=(exc_type, exc, trace))
        details = redact_url("".join(traceback.format_exception(exc_type, exc, trace)))
        summary = redact_url(f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__)
        self._reported.emit(summary, details)

    def _show(self, summary: str, details: str) -> None:
        if not self._installed:
            return
        if self.dialog is None:
            self.dialog = CrashDialog(self.log_path)
        self.dialog.show_error(summary, details)
