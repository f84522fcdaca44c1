"""The evidence player: one file an owner sent, played from a private copy, frame by frame.

The evidence panel asks why the file is viewed (``PurposeDialog``, the incident by
default, or a case number) and fetches a copy in a background job (``copy_for_viewing``: audited
before the server is asked, checked against its SHA-256); the player then decodes the copy with
OpenCV on a thread of its own (``_FrameDecoder``), never on the UI thread, and paints each frame
as a ``QImage`` in ``paintEvent`` as the wall's tiles do. Space plays and pauses, → and ← (or
. and ,) step one frame, the slider seeks by time, Ctrl+S saves the frame shown as a snapshot
(``export_snapshot``: PNG, SHA-256, audited as an export with the purpose, the evidence id and
its SHA-256).

The copy lives only as long as the player: closing it (or an error that leaves nothing to play)
stops the decoder and removes the copy's folder; a finalizer removes it at the latest when the
player object goes away or the interpreter exits, and the panel sweeps away the folders a
console that was killed left behind.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, QRectF, QSize, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QColor, QImage, QKeySequence, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.models.audit_chain import DetailValue
from app.models.policy import Purpose
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.evidence_client import EvidenceCopy, EvidenceFile
from app.services.snapshot_export import ExportError, ExportReceipt, export_snapshot
from app.widgets import palette
from app.widgets.action_buttons import action_button, shortcut_action
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.status_line import StatusLine
from app.widgets.video_tile import letterbox

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]

PLAY_KEYS = "Space"
FORWARD_KEYS = ("Right", ".")
BACK_KEYS = ("Left", ",")
SNAPSHOT_KEYS = "Ctrl+S"
DEFAULT_RATE = 25.0  # frames per second when the file does not say
STOP_WAIT_MS = 5000
UNPLAYABLE_TEXT = (
    "{name} cannot be played: {why}. The copy was removed; the original stays in the vault "
    "untouched. Tell the administrator if other players cannot open it either."
)
PURPOSE_TEXT = (
    "Why is {name} viewed? The incident or case number is recorded in this workstation's audit "
    "log and in the file's custody log on the server."
)
EMPTY_PURPOSE_TEXT = "Enter an incident or case number, e.g. incident:2026-004512 or 24-1187."


def clock_text(seconds: float) -> str:
    """0:03.40, 12:05.00 (minutes, seconds, hundredths)."""
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:05.2f}"


@dataclass(frozen=True, slots=True)
class ClipFacts:
    """What the decoder found in the file."""

    frame_count: int
    rate: float  # frames per second
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.rate

    def frame_at(self, seconds: float) -> int:
        return min(self.frame_count - 1, max(0, int(seconds * self.rate + 1e-6)))


class _FrameDecoder(QObject):
    """OpenCV on the player's own thread: opens the copy, hands out frames by number."""

    opened = Signal(object)  # ClipFacts
    frame_ready = Signal(int, object)  # the frame's number (from 0) and its BGR image
    ended = Signal(int)  # no frame of this number: the end of the file
    failed = Signal(str)  # why the file cannot be played

    def __init__(self, path: Path, remove_copy: Callable[[], object]) -> None:
        super().__init__()
        self._path = path
        self._remove_copy = remove_copy
        self._capture: cv2.VideoCapture | None = None
        self._position = 0  # the number of the frame the next read returns
        self._facts: ClipFacts | None = None

    @Slot()
    def open(self) -> None:
        try:
            capture = cv2.VideoCapture(str(self._path), cv2.CAP_FFMPEG)
            if not capture.isOpened():
                capture.release()
                self.failed.emit("it is not a video this workstation can decode")
                return
            rate = capture.get(cv2.CAP_PROP_FPS)
            rate = rate if math.isfinite(rate) and 0 < rate < 1000 else DEFAULT_RATE
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            ok, first = capture.read()
            if not ok or first is None or count <= 0:
                capture.release()
                self.failed.emit("no picture could be decoded from it")
                return
        except cv2.error as exc:
            self.failed.emit(f"the decoder failed ({exc.err or exc})")
            return
        self._capture = capture
        self._position = 1
        height, width = first.shape[:2]
        self._facts = ClipFacts(count, rate, width, height)
        self.opened.emit(self._facts)
        self.frame_ready.emit(0, first)

    @Slot(int)
    def show(self, number: int) -> None:
        capture = self._capture
        if capture is None:
            return
        try:
            if number != self._position:
                capture.set(cv2.CAP_PROP_POS_FRAMES, number)
            ok, image = capture.read()
        except cv2.error as exc:
            self.failed.emit(f"the decoder failed at frame {number + 1} ({exc.err or exc})")
            return
        if not ok or image is None:
            self._position = -1  # unknown: seek before the next read
            self.ended.emit(number)
            return
        self._position = number + 1
        self.frame_ready.emit(number, image)

    @Slot()
    def stop(self) -> None:
        """Release the file, remove the copy and end the thread (the last thing it does)."""
        try:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
        finally:
            try:
                self._remove_copy()
            finally:
                thread = self.thread()
                if thread is not None:
                    thread.quit()


class FrameView(QWidget):
    """The frame shown, letterboxed on the video bars' colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evidenceFrame")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("The frame of the evidence file shown")
        self._image: QImage | None = None
        self._array: Image | None = None
        self.message = ""

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, 180)

    def set_frame(self, image: Image | None) -> None:
        if image is None:
            self._image = self._array = None
        else:
            height, width = image.shape[:2]
            self._image = QImage(
                image.data, width, height, image.strides[0], QImage.Format.Format_BGR888
            )
            self._array = image  # the QImage does not own the buffer; kept while it is painted
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(palette.VIDEO_BARS))
        if self._image is not None:
            target = letterbox(self._image.size(), self.rect())
            if target.size() != self._image.size():
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(target), self._image)
        elif self.message:
            painter.setPen(QColor(palette.VIDEO_TEXT))
            painter.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message,
            )
        painter.end()


@dataclass(frozen=True, slots=True)
class PurposeQuestion:
    """What a ``PurposeDialog`` asks and what its button does."""

    title: str
    explanation: str
    action: str
    action_tooltip: str


def viewing_question(evidence: EvidenceFile) -> PurposeQuestion:
    return PurposeQuestion(
        "Why is this footage viewed?",
        PURPOSE_TEXT.format(name=evidence.original_name),
        "Open",
        "Fetch the file from the vault and play it; the view is audited (Enter)",
    )


class PurposeDialog(QDialog):
    """Asks why evidence is used (``question``), the incident filled in; emits
    ``purpose_entered``."""

    purpose_entered = Signal(object)  # a Purpose

    def __init__(
        self, question: PurposeQuestion, default: Purpose, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("purposeDialog")
        self.setWindowTitle(question.title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        explanation = QLabel(question.explanation)
        explanation.setWordWrap(True)
        self.purpose_edit = QLineEdit(str(default))
        self.purpose_edit.setObjectName("viewingPurpose")
        self.purpose_edit.setAccessibleName("Purpose")
        self.purpose_edit.setToolTip(
            "incident:NUMBER for an incident, case:NUMBER or just the number for a case"
        )
        self.purpose_edit.selectAll()
        self.message = QLabel()
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        self.message.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        cancel = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        assert ok is not None and cancel is not None
        ok.setText(question.action)
        ok.setObjectName("primaryButton")
        ok.setToolTip(question.action_tooltip)
        cancel.setToolTip("Do nothing (Esc)")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        layout.addWidget(explanation)
        layout.addWidget(self.purpose_edit)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)

    def accept(self) -> None:
        purpose = Purpose.parse(self.purpose_edit.text())
        if purpose is None:
            self.message.setText(EMPTY_PURPOSE_TEXT)
            self.message.show()
            return
        super().accept()
        self.purpose_entered.emit(purpose)


def _remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class EvidencePlayer(QWidget):
    """A window playing one evidence file's private copy (``load``) until it is closed."""

    _open_wanted = Signal()
    _frame_wanted = Signal(int)
    _stop_wanted = Signal()
    snapshot_saved = Signal(object)  # an ExportReceipt
    closed = Signal()

    def __init__(
        self,
        evidence: EvidenceFile,
        purpose: Purpose,
        *,
        user: SignedInUser,
        audit: AuditLog,
        jobs: BackgroundJobs,
        export_dir: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("evidencePlayer")
        self.evidence = evidence
        self.purpose = purpose
        self._user = user
        self._audit = audit
        self._jobs = jobs
        self._export_dir = export_dir
        self.copy: EvidenceCopy | None = None
        self.facts: ClipFacts | None = None
        self.frame_number = -1  # the frame shown, from 0; -1 before the first
        self._image: Image | None = None
        self._thread: QThread | None = None
        self._decoder: _FrameDecoder | None = None
        self._cleanup: weakref.finalize[[Path], EvidencePlayer] | None = None
        self._in_flight = False
        self._wanted: int | None = None
        self._saving = False
        self.setWindowTitle(f"Evidence · {evidence.camera_name} · {evidence.original_name}")

        self.frame_view = FrameView()
        self.play_action = shortcut_action(self, "Play", PLAY_KEYS, self.toggle_play)
        self.back_action = shortcut_action(self, "Previous frame", BACK_KEYS[0], self.step_back)
        self.forward_action = shortcut_action(
            self, "Next frame", FORWARD_KEYS[0], self.step_forward
        )
        self.snapshot_action = shortcut_action(self, "Snapshot", SNAPSHOT_KEYS, self.snapshot)
        for action, keys in ((self.back_action, BACK_KEYS), (self.forward_action, FORWARD_KEYS)):
            action.setShortcuts([QKeySequence(key) for key in keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(f"{action.text()} ({' or '.join(keys)})")
        self.play_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.snapshot_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.snapshot_action.setToolTip(
            f"Save the frame shown as a PNG in the exports folder, with its SHA-256; audited "
            f"with the purpose ({SNAPSHOT_KEYS})"
        )
        self.play_action.setToolTip(f"Play or pause ({PLAY_KEYS})")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("evidenceScrubber")
        self.slider.setAccessibleName("Position in the file")
        self.slider.setToolTip("Drag to any moment of the file; the frame there is shown")
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._slider_moved)
        self.position_label = QLabel("")
        self.position_label.setObjectName("evidencePosition")
        self.facts_label = QLabel(
            f"{evidence.camera_name} · {evidence.original_name} · SHA-256 "
            f"{evidence.sha256[:16]}… · for {purpose}"
        )
        self.facts_label.setObjectName("mutedText")
        self.facts_label.setToolTip(
            f"{evidence.original_name} ({evidence.size:,} bytes)\nSHA-256 {evidence.sha256}\n"
            f"Evidence {evidence.id}, request {evidence.request_reference}\n"
            f"Viewed for {purpose}"
        )
        self.status_line = StatusLine(hide_when_empty=False)

        self.back_button = action_button(self.back_action)
        self.play_button = action_button(self.play_action)
        self.play_button.setObjectName("primaryButton")
        self.forward_button = action_button(self.forward_action)
        self.snapshot_button = action_button(self.snapshot_action)
        controls = QHBoxLayout()
        controls.addWidget(self.back_button)
        controls.addWidget(self.play_button)
        controls.addWidget(self.forward_button)
        controls.addWidget(self.position_label, 1)
        controls.addWidget(self.snapshot_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.frame_view, 1)
        layout.addWidget(self.slider)
        layout.addLayout(controls)
        layout.addWidget(self.facts_label)
        layout.addWidget(self.status_line)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self.frame_view.set_message(f"Fetching {evidence.original_name} from the vault…")
        self._update_controls()
        self.resize(900, 620)

    # ---- state ----------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def busy(self) -> bool:
        """A frame is being decoded or a snapshot saved."""
        return self._in_flight or self._saving

    @property
    def image(self) -> Image | None:
        """The frame shown (BGR), as decoded."""
        return self._image

    # ---- the copy -------------------------------------------------------------------------

    def load(self, copy: EvidenceCopy) -> None:
        """Play ``copy`` (the player removes it when closed)."""
        self.copy = copy
        self._cleanup = weakref.finalize(self, _remove_folder, copy.folder)
        self.frame_view.set_message(f"Opening {self.evidence.original_name}…")
        thread = QThread(self)
        thread.setObjectName("evidence-decoder")
        decoder = _FrameDecoder(copy.path, self._cleanup)
        decoder.moveToThread(thread)
        self._open_wanted.connect(decoder.open)
        self._frame_wanted.connect(decoder.show)
        self._stop_wanted.connect(decoder.stop)
        decoder.opened.connect(self._opened)
        decoder.frame_ready.connect(self._frame_ready)
        decoder.ended.connect(self._ended)
        decoder.failed.connect(self._failed)
        self._thread, self._decoder = thread, decoder
        thread.start()
        self._in_flight = True
        self._open_wanted.emit()

    def fetch_failed(self, text: str) -> None:
        """The copy could not be made: say why (the vault and the audit log say the rest)."""
        self.frame_view.set_message(text)
        self.status_line.say(text, error=True)

    def _opened(self, facts: ClipFacts) -> None:
        self.facts = facts
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, round(facts.duration_s * 1000) - 1))
        self.slider.setSingleStep(max(1, round(1000 / facts.rate)))
        self.slider.setPageStep(1000)
        self.slider.blockSignals(False)
        self._timer.setInterval(max(1, round(1000 / facts.rate)))
        self.status_line.say(
            f"{facts.width}×{facts.height}, {facts.rate:g} frames/s, "
            f"{facts.frame_count} frames, {clock_text(facts.duration_s)}"
        )

    def _frame_ready(self, number: int, image: Image) -> None:
        self._in_flight = False
        self._image = image
        self.frame_number = number
        self.frame_view.set_frame(image)
        self._show_position()
        wanted, self._wanted = self._wanted, None
        if wanted is not None and wanted != number:
            self._ask(wanted)
        self._update_controls()

    def _ended(self, number: int) -> None:
        self._in_flight = False
        self._timer.stop()
        if self.facts is not None and 0 <= number < self.facts.frame_count - 1:
            self.status_line.say(
                f"Frame {number + 1} could not be decoded; the file may be cut short"
            )
        self._update_controls()

    def _failed(self, why: str) -> None:
        self._in_flight = False
        self._timer.stop()
        text = UNPLAYABLE_TEXT.format(name=self.evidence.original_name, why=why)
        self.facts = None
        self._image = None
        self.frame_view.set_frame(None)
        self.frame_view.set_message(text)
        self.status_line.say(text, error=True)
        self._stop_decoder()
        self._update_controls()

    # ---- playing --------------------------------------------------------------------------

    def _ask(self, number: int) -> None:
        """Have the decoder show frame ``number`` (one request at a time, the latest wins)."""
        if self._decoder is None or self.facts is None:
            return
        if self._in_flight:
            self._wanted = number
            return
        self._in_flight = True
        self._frame_wanted.emit(number)

    def toggle_play(self) -> None:
        facts = self.facts
        if facts is None:
            return
        if self.playing:
            self._timer.stop()
        else:
            if self.frame_number >= facts.frame_count - 1:
                self._ask(0)
            self._timer.start()
        self._update_controls()

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self._update_controls()

    def _tick(self) -> None:
        facts = self.facts
        if facts is None:
            self._timer.stop()
            return
        if self._in_flight:
            return  # the decoder is behind: this tick is dropped
        if self.frame_number >= facts.frame_count - 1:
            self.pause()
            return
        self._ask(self.frame_number + 1)

    def step_forward(self) -> None:
        self.pause()
        if self.facts is not None and self.frame_number < self.facts.frame_count - 1:
            self._ask(self._target() + 1)

    def step_back(self) -> None:
        self.pause()
        if self.facts is not None and self._target() > 0:
            self._ask(self._target() - 1)

    def _target(self) -> int:
        """The frame being shown or about to be."""
        return self._wanted if self._wanted is not None else self.frame_number

    def seek(self, seconds: float) -> None:
        """Show the frame at ``seconds`` into the file."""
        if self.facts is not None:
            self._ask(self.facts.frame_at(seconds))

    def _slider_moved(self, value: int) -> None:
        self.seek(value / 1000)

    def _show_position(self) -> None:
        facts = self.facts
        if facts is None:
            self.position_label.setText("")
            return
        seconds = self.frame_number / facts.rate
        self.position_label.setText(
            f"{clock_text(seconds)} / {clock_text(facts.duration_s)} · frame "
            f"{self.frame_number + 1} of {facts.frame_count}"
        )
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(round(seconds * 1000))
            self.slider.blockSignals(False)

    # ---- snapshot -------------------------------------------------------------------------

    def snapshot(self) -> None:
        """Save the frame shown (off the UI thread), audited as an export."""
        image = self._image
        if image is None or self._saving or self.facts is None:
            return
        evidence, purpose = self.evidence, self.purpose
        number, seconds = self.frame_number, self.frame_number / self.facts.rate
        source: dict[str, DetailValue] = {
            "evidence_id": evidence.id,
            "evidence_sha256": evidence.sha256,
            "frame": number + 1,
            "at_ms": round(seconds * 1000),
        }
        actor, audit, export_dir = self._user.username, self._audit, self._export_dir
        frame = image.copy()

        def work() -> ExportReceipt:
            return export_snapshot(
                frame,
                camera_id=evidence.camera_id,
                camera_name=evidence.camera_name,
                purpose=str(purpose),
                actor=actor,
                export_dir=export_dir,
                audit=audit,
                source=source,
            )

        self._saving = True
        self._update_controls()
        self._jobs.submit(
            "Saving a snapshot of the evidence",
            work,
            self._saved,
            self._not_saved,
            owner=self,
        )

    def _saved(self, receipt: ExportReceipt) -> None:
        self._saving = False
        self.status_line.say(f"Snapshot saved: {receipt.path} (SHA-256 {receipt.sha256[:16]}…)")
        self.snapshot_saved.emit(receipt)
        self._update_controls()

    def _not_saved(self, error: Exception) -> None:
        self._saving = False
        if isinstance(error, AuditWriteError):
            text = (
                "The snapshot could not be recorded in the audit log, so it was not saved. "
                "Free disk space on this workstation or call the administrator."
            )
        elif isinstance(error, ExportError):
            text = f"The snapshot was not saved: {error}."
        else:
            text = f"The snapshot was not saved: {error}"
        self.status_line.say(text, error=True)
        self._update_controls()

    # ---- text and controls ----------------------------------------------------------------

    def _update_controls(self) -> None:
        ready = self.facts is not None
        self.play_action.setText("Pause" if self.playing else "Play")
        self.play_action.setToolTip(
            f"{'Pause' if self.playing else 'Play'} ({PLAY_KEYS})"
            if ready
            else "Nothing to play yet"
        )
        for action in (self.play_action, self.back_action, self.forward_action):
            action.setEnabled(ready)
        self.snapshot_action.setEnabled(ready and self._image is not None and not self._saving)
        self.slider.setEnabled(ready)

    # ---- closing --------------------------------------------------------------------------

    def _stop_decoder(self) -> None:
        """Stop the decoder's thread, which removes the copy (here if it did not)."""
        thread, decoder = self._thread, self._decoder  # alive until the thread has ended
        self._thread = self._decoder = None
        try:
            if thread is not None and decoder is not None:
                self._stop_wanted.emit()
                if not thread.wait(STOP_WAIT_MS):
                    log.error("the evidence decoder did not stop within %d ms", STOP_WAIT_MS)
        finally:
            if self._cleanup is not None and self._cleanup.alive:  # the decoder did not
                self._cleanup()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        with contextlib.suppress(RuntimeError):  # the window is going either way
            self._stop_decoder()
        super().closeEvent(event)
        self.closed.emit()
