"""The Record tab of the install verifier: the field technician saves the install check with the
camera, as an install record, and prints the owner's report.

The verifier gives the form what the technician has (``set_context``: the finished check
report, the camera, the placement set on the Placement tab and its masked snapshot of the main
stream); the form shows the verdict and the snapshot, takes the technician's notes and saves
the record (``app.services.install_records``: audited, the camera's install state and placement
updated, queued for the sync server). Save is disabled until there is something to save, and
its tooltip says what is missing. A record is never changed once saved: a new check (a new
context) makes a new record.

After a save the form follows the record's sync state ("saved, waiting for the server", then
"sent to the server at 14:02"), read every few seconds while it waits, and "Save PDF report…"
writes the owner's report of it (``app.widgets.install_report``).

Saving, reading the state and writing the report run in background jobs: the UI thread does
no I/O. Keyboard: Ctrl+Return saves, Ctrl+P saves the PDF report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from app.models.camera import PrivacyMask
from app.models.camera_placement import CameraPlacement
from app.models.install_record import MAX_NOTES_LENGTH, InstallRecordSyncState, InstallVerdict
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.clock import Clock, utc_now
from app.services.install_check import InstallCheckReport
from app.services.install_record_sync import InstallRecordSyncSource
from app.services.install_records import (
    InstallRecordError,
    SavedInstallRecord,
    Snapshot,
    read_install_record,
    save_install_record,
)
from app.video.decode_process import apply_privacy_masks
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.install_report import VERDICT_WORDS, write_install_report

THUMBNAIL_SIZE = (320, 180)
SYNC_POLL_MS = 3000  # how often a saved record's sync state is read while it waits
SAVE_TIP = (
    "Save the check, the masked snapshot, the placement and your notes with the camera: "
    "audited, and sent to the sync server when it can be reached (Ctrl+Return)"
)
REPORT_TIP = "Write the owner's install report of the saved record as a PDF (Ctrl+P)"


@dataclass(frozen=True, slots=True)
class _Context:
    report: InstallCheckReport | None
    camera_id: str | None
    placement: CameraPlacement | None
    snapshot: npt.NDArray[np.uint8] | None


NO_CONTEXT = _Context(None, None, None, None)


def missing_reason(context: _Context) -> str | None:
    """Why this context cannot be saved yet (None: it can), in words for the technician."""
    report = context.report
    if report is None:
        return "Run the install check first: a record saves its result"
    if not report.streams or report.stopped_reason is not None:
        return "The check did not run to the end: run it again, then save"
    if context.camera_id is None:
        return "Check a registry camera (by its id): a record is saved with its camera"
    if context.placement is None:
        return "Set the camera's position, heading and masks on the Placement tab first"
    if context.snapshot is None:
        return "Take a snapshot of the main stream on the Placement tab first"
    return None


def sync_text(record: SavedInstallRecord) -> str:
    if record.sync_state is InstallRecordSyncState.SENT and record.sent_at is not None:
        return f"Sent to the server at {record.sent_at.astimezone():%H:%M}."
    text = "Saved, waiting for the server."
    if record.last_error:
        text += f" Last try: {record.last_error}"
    return text


def thumbnail(image: npt.NDArray[np.uint8], masks: list[PrivacyMask]) -> QPixmap:
    """The snapshot (BGR) with ``masks`` blacked out, as the record keeps it, scaled into
    THUMBNAIL_SIZE (a copy: the array is not changed)."""
    height, width = image.shape[:2]
    bgr = np.ascontiguousarray(image[:, :, :3]).copy()
    apply_privacy_masks(cv2, bgr, masks)
    picture = QImage(bgr.data, width, height, bgr.strides[0], QImage.Format.Format_BGR888)
    return QPixmap.fromImage(picture.copy()).scaled(
        *THUMBNAIL_SIZE,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


class InstallRecordForm(QWidget):
    """The Record tab (see the module's docstring)."""

    saved = Signal(object)  # SavedInstallRecord
    report_written = Signal(object)  # Path
    message = Signal(str)  # for the status bar

    def __init__(
        self,
        *,
        sessions: Callable[[], Session],
        audit: AuditLog,
        jobs: BackgroundJobs,
        user: SignedInUser,
        workstation: str,
        sync: InstallRecordSyncSource | None = None,
        export_dir: Path | None = None,
        clock: Clock = utc_now,
        parent: QWidget | None = None,
    ) -> None:
        """``sync``: the install record sync, nudged to send a record at once after its save
        (without it the record goes at the sync's next look); ``export_dir``: where "Save PDF
        report…" proposes to write."""
        super().__init__(parent)
        self.setObjectName("installRecordForm")
        self._sessions = sessions
        self._audit = audit
        self._jobs = jobs
        self._user = user
        self._workstation = workstation
        self._sync = sync
        self._export_dir = export_dir or Path.home()
        self._clock = clock
        self._context = NO_CONTEXT
        self._saving = False
        self.record: SavedInstallRecord | None = None

        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("installRecordVerdict")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setToolTip("The install check's verdict, as the record will keep it")
        self.snapshot_label = QLabel("No snapshot yet.")
        self.snapshot_label.setObjectName("installRecordSnapshot")
        self.snapshot_label.setFixedSize(*THUMBNAIL_SIZE)
        self.snapshot_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.snapshot_label.setToolTip(
            "The snapshot of the main stream the record keeps, privacy masks blacked out"
        )
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setObjectName("installRecordNotes")
        self.notes_edit.setPlaceholderText("Mounting, cabling, what the owner was told…")
        self.notes_edit.setAccessibleName("Technician's notes")
        self.notes_edit.setToolTip(
            f"Your notes on the install, kept with the record and printed in the owner's "
            f"report (at most {MAX_NOTES_LENGTH} characters); Tab moves on"
        )
        self.notes_edit.setTabChangesFocus(True)
        self.notes_edit.setMaximumHeight(self.fontMetrics().height() * 6)
        self.notes_edit.textChanged.connect(self._update)
        self.notes_count = QLabel()
        self.notes_count.setObjectName("installRecordNotesCount")
        self.notes_count.setToolTip(f"Characters in the notes, of at most {MAX_NOTES_LENGTH}")
        notes_label = QLabel("&Notes:")
        notes_label.setBuddy(self.notes_edit)

        self.save_button = QPushButton("&Save install record")
        self.save_button.setObjectName("saveInstallRecord")
        self.save_button.clicked.connect(self.save_record)
        self.report_button = QPushButton("Save PDF &report…")
        self.report_button.setObjectName("saveInstallReport")
        self.report_button.clicked.connect(self.ask_report_path)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.report_button)
        buttons.addStretch(1)
        for keys, slot in (
            (QKeySequence("Ctrl+Return"), self.save_record),
            (QKeySequence("Ctrl+Enter"), self.save_record),
            (QKeySequence("Ctrl+P"), self.ask_report_path),
        ):
            shortcut = QShortcut(keys, self, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

        self.sync_label = QLabel("Not saved yet.")
        self.sync_label.setObjectName("installRecordSync")
        self.sync_label.setWordWrap(True)
        self.sync_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sync_label.setToolTip(
            "Where the saved record is: on this workstation waiting for the sync server, or "
            "sent to it"
        )
        self.error_label = QLabel()
        self.error_label.setObjectName("installRecordError")
        self.error_label.setWordWrap(True)
        self.error_label.setToolTip("Why the last save or report did not work, and what to do")

        top = QHBoxLayout()
        top.addWidget(self.snapshot_label)
        side = QVBoxLayout()
        side.addWidget(self.verdict_label)
        side.addStretch(1)
        top.addLayout(side, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(notes_label)
        layout.addWidget(self.notes_edit)
        layout.addWidget(self.notes_count, 0, Qt.AlignmentFlag.AlignRight)
        layout.addLayout(buttons)
        layout.addWidget(self.sync_label)
        layout.addWidget(self.error_label)
        layout.addStretch(1)

        self._poll = QTimer(self)
        self._poll.setInterval(SYNC_POLL_MS)
        self._poll.timeout.connect(self.refresh_sync_state)
        self.set_context()

    # ---- what the verifier gives ----------------------------------------------------------

    def set_context(
        self,
        *,
        report: InstallCheckReport | None = None,
        camera_id: str | None = None,
        placement: CameraPlacement | None = None,
        snapshot: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        """What the technician has now; call it whenever any of it changes.

        ``report``: the finished install check; ``camera_id``: the registry camera checked;
        ``placement``: what the Placement tab holds; ``snapshot``: its picture of the main
        stream (BGR, height x width x 3; masked or not: the record masks it with the
        placement's masks either way). None where there is none yet. A context with another
        report than the saved record's starts a new record (the notes are kept).
        """
        saved_report = self._context.report if self.record is not None else None
        self._context = _Context(report, camera_id, placement, snapshot)
        if saved_report is not None and report is not saved_report:
            self.record = None
            self._poll.stop()
            self.sync_label.setText("Not saved yet.")
        self.error_label.clear()
        if report is None:
            self.verdict_label.setText("No install check yet.")
        else:
            word, meaning = VERDICT_WORDS[InstallVerdict(report.verdict.value)]
            camera = f" of camera {camera_id}" if camera_id else ""
            self.verdict_label.setText(f"Verdict{camera}: {word}: {meaning}")
        if snapshot is None:
            self.snapshot_label.setPixmap(QPixmap())
            self.snapshot_label.setText("No snapshot yet.")
        else:
            masks = placement.privacy_masks if placement is not None else []
            self.snapshot_label.setPixmap(thumbnail(snapshot, masks))
        self._update()

    # ---- saving -----------------------------------------------------------------------------

    def _notes(self) -> str:
        return self.notes_edit.toPlainText().strip()

    def _update(self) -> None:
        length = len(self._notes())
        too_long = length > MAX_NOTES_LENGTH
        self.notes_count.setText(
            f"{length} / {MAX_NOTES_LENGTH} characters" + (": too long" if too_long else "")
        )
        reason = missing_reason(self._context)
        if self._saving:
            reason = "Saving…"
        elif self.record is not None:
            reason = (
                f"This check is saved (record {self.record.record_id}); run another check to "
                "make a new record"
            )
        elif reason is None and too_long:
            reason = f"The notes are too long: keep them to {MAX_NOTES_LENGTH} characters"
        self.save_button.setEnabled(reason is None)
        self.save_button.setToolTip(SAVE_TIP if reason is None else reason)
        can_report = self.record is not None
        self.report_button.setEnabled(can_report)
        self.report_button.setToolTip(
            REPORT_TIP if can_report else "Save the install record first: the report prints it"
        )

    def save_record(self) -> None:
        """Save the record in a background job (nothing happens while Save is disabled)."""
        if not self.save_button.isEnabled():
            return
        context = self._context
        assert context.report is not None and context.camera_id is not None
        assert context.placement is not None and context.snapshot is not None
        report, camera_id, placement = context.report, context.camera_id, context.placement
        snapshot = Snapshot(context.snapshot.copy())
        notes, now = self._notes(), self._clock()
        sessions, audit, user, workstation = (
            self._sessions,
            self._audit,
            self._user,
            self._workstation,
        )

        def work() -> SavedInstallRecord:
            return save_install_record(
                sessions,
                audit,
                camera_id=camera_id,
                technician=user,
                workstation=workstation,
                report=report,
                placement=placement,
                snapshots=[snapshot],
                notes=notes,
                now=now,
            )

        self._saving = True
        self.error_label.clear()
        self._update()
        self._jobs.submit(
            "Saving the install record", work, self._saved, self._save_failed, owner=self
        )

    def _saved(self, record: SavedInstallRecord) -> None:
        self._saving = False
        self.record = record
        self.notes_edit.clear()
        self._show_sync(record)
        self._update()
        if self._sync is not None:
            self._sync.nudge()
        self.message.emit(f"Install record of {record.camera_name} saved ({record.verdict})")
        self.saved.emit(record)

    def _save_failed(self, error: Exception) -> None:
        self._saving = False
        self._update()
        if isinstance(error, InstallRecordError | AuditWriteError):
            self.error_label.setText(f"Not saved: {error}")
        else:
            self.error_label.setText(
                f"Not saved: {error}. Nothing was changed; try again, or note the results by "
                "hand and tell the administrator."
            )

    # ---- the saved record's sync state ------------------------------------------------------

    def _show_sync(self, record: SavedInstallRecord) -> None:
        self.sync_label.setText(sync_text(record))
        if record.sync_state is InstallRecordSyncState.QUEUED:
            if not self._poll.isActive():
                self._poll.start()
        else:
            self._poll.stop()

    def refresh_sync_state(self) -> None:
        """Read the saved record's sync state again (in a job)."""
        record = self.record
        if record is None:
            self._poll.stop()
            return
        sessions, record_id = self._sessions, record.record_id

        def shown(fresh: SavedInstallRecord) -> None:
            if self.record is not None and self.record.record_id == fresh.record_id:
                self.record = fresh
                self._show_sync(fresh)

        self._jobs.submit(
            "Reading the install record's sync state",
            lambda: read_install_record(sessions, record_id),
            shown,
            owner=self,
        )

    # ---- the owner's report -----------------------------------------------------------------

    def ask_report_path(self) -> None:
        record = self.record
        if record is None:
            return
        name = f"install-{record.camera_id}-{record.created_at.astimezone():%Y%m%d-%H%M}.pdf"
        path, _chosen = QFileDialog.getSaveFileName(
            self, "Save the install report", str(self._export_dir / name), "PDF (*.pdf)"
        )
        if path:
            self.export_report(Path(path))

    def export_report(self, path: Path) -> None:
        """Write the saved record's PDF report to ``path`` in a job, audited as an export."""
        record = self.record
        if record is None:
            return
        if path.suffix.lower() != ".pdf":
            self.error_label.setText(f"{path.name}: the report is a PDF; name it ….pdf")
            return
        audit, actor = self._audit, self._user.username

        def done(digest: str) -> None:
            self.error_label.clear()
            self.message.emit(f"Install report saved: {path} (SHA-256 {digest[:16]}…)")
            self.report_written.emit(path)

        def failed(error: Exception) -> None:
            if isinstance(error, AuditWriteError):
                self.error_label.setText(
                    "The report was not saved: it could not be recorded in the audit log."
                )
            else:
                self.error_label.setText(f"The report was not saved: {error}")

        self._jobs.submit(
            "Writing the install report",
            lambda: write_install_report(path, record, audit=audit, actor=actor),
            done,
            failed,
            owner=self,
        )
