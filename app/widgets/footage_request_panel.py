"""The footage request panel: the selected incident's requests to camera owners for recorded
video, and the actions that move them along.

The operator selects cameras in the geofence list that cannot be opened live (registered ones,
integrated ones outside their owner's policy) and asks for a footage request
(``request_footage``): a small window lists the cameras, a time window in local time (by default
from a quarter of an hour before the call came in until now) and an internal note, and drafts
one request per camera. "Send drafted requests" e-mails them, one message per owner, through the
mail server of ``[smtp]``; "Owner provided footage" and "Owner declined" record the owner's
answer. Every change is audited by ``app.services.footage_requests``; each step runs in a
background job with its own session, and the mail server, the e-mail template file and the
keyring (the mail password) are only touched there.

What a send did for each owner is shown under the table in the operator's words; those words may
name the owner and, for an owner without an e-mail address, a phone number to call. They stay on
this screen: the status bar message and the log name neither.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import QDateTime, QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from app.models.footage_request import OPEN_STATUSES, FootageRequestStatus
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.clock import Clock
from app.services.credentials import CredentialStore
from app.services.footage_requests import (
    EMAIL_TEMPLATE_FILE,
    MAX_NOTE_LENGTH,
    EmailTemplate,
    FootageRequestError,
    FootageRequestRow,
    OwnerSendResult,
    check_window,
    draft_requests,
    expire_requests,
    read_request_rows,
    record_answer,
    send_requests,
)
from app.services.geofence_search import GeofenceHit
from app.services.registry_rows import IncidentRow
from app.services.smtp_mailer import MailDeliveryError, SmtpMailer
from app.services.upload_links import server_upload_links
from app.settings import FootageSettings, Settings
from app.widgets import palette
from app.widgets.action_buttons import action_button, shortcut_action
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.resources import resources_dir
from app.widgets.row_table_model import ModelIndex, RowTableModel, row_table_view
from app.widgets.status_line import StatusLine, wrapped_label

SessionFactory = Callable[[], Session]

# The status comes second, so a narrow dock still shows it.
COLUMNS = ("Reference", "Status", "Camera", "Owner", "Window (local time)", "Sent", "Note / error")
REFERENCE, STATUS, CAMERA, OWNER, WINDOW, SENT, NOTE = range(len(COLUMNS))
STATUS_TEXT = {
    FootageRequestStatus.DRAFTED: "Drafted",
    FootageRequestStatus.SENT: "Sent",
    FootageRequestStatus.FULFILLED: "Fulfilled",
    FootageRequestStatus.DECLINED: "Declined",
    FootageRequestStatus.EXPIRED: "Expired",
}
_ANSWERED = frozenset({FootageRequestStatus.FULFILLED, FootageRequestStatus.DECLINED})
LEAD_TIME = timedelta(minutes=15)  # the default window starts this long before the call
TAB_TITLE = "Footage requests"
NO_INCIDENT_TEXT = "Select an incident to see its footage requests."
NO_REQUESTS_TEXT = (
    "No footage requests for this incident yet. Select cameras in the geofence list that cannot "
    "be opened live and press {keys}."
)
EMAIL_OFF_TEXT = "E-mail is not configured: set [smtp] host in the settings, or call the owners"
NOT_RECORDED_TEXT = (
    "could not be recorded in the audit log, so nothing was changed. Free disk space on this "
    "workstation or call the administrator."
)
REQUEST_KEYS = "Ctrl+Shift+R"
SEND_KEYS = "Ctrl+Shift+E"
FULFILLED_KEYS = "Ctrl+Shift+F"
DECLINED_KEYS = "Ctrl+Shift+D"
REFRESH_KEYS = "F5"
EDIT_FORMAT = "ddd yyyy-MM-dd HH:mm"
# Requesting and sending work from anywhere (the request is asked for from the geofence list);
# the answers and refresh act on this table, so only while it has focus.
ON_TABLE = Qt.ShortcutContext.WidgetWithChildrenShortcut


def tab_title(count: int) -> str:
    """The tab's title: "Footage requests (3)", or no number when there are none."""
    return f"{TAB_TITLE} ({count})" if count else TAB_TITLE


def incident_title(what: str, incident: IncidentRow) -> str:
    """A panel's title for what it shows of ``incident``: "Evidence of 2026-004512 · …"."""
    return (
        f"{what} of {incident.cad_number} · {incident.incident_type} · "
        f"{incident.address or 'no address'}"
    )


def sentence(error: Exception | str) -> str:
    """A service's message ("the window ends …") as a sentence for the screen."""
    text = str(error).strip()
    if not text:
        return "Something went wrong; see the log."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def local_text(moment: datetime, *, seconds: bool = False) -> str:
    return moment.astimezone().strftime("%b %d %H:%M:%S" if seconds else "%b %d %H:%M")


def window_text(start: datetime, end: datetime) -> str:
    """ "Nov 18 08:35–09:30" in local time; both dates when the window crosses midnight."""
    first, last = start.astimezone(), end.astimezone()
    if first.date() == last.date():
        return f"{first:%b %d %H:%M}–{last:%H:%M}"
    return f"{first:%b %d %H:%M} – {last:%b %d %H:%M}"


def note_text(row: FootageRequestRow) -> str:
    """What the operator most needs to know about a request, in one line."""
    if row.cannot_send_reason:
        return f"Cannot be e-mailed: {row.cannot_send_reason}"
    if row.status is FootageRequestStatus.DRAFTED and row.last_error:
        return f"Not sent: {row.last_error}"
    if row.status is FootageRequestStatus.SENT and row.expires_at is not None:
        waiting = f"Waiting for an answer until {local_text(row.expires_at)}"
        return f"{waiting} · {row.note}" if row.note else waiting
    if row.status in _ANSWERED and row.answer_note:
        return row.answer_note
    return row.note


def request_tooltip(row: FootageRequestRow) -> str:
    lines = [
        f"{row.reference} · {STATUS_TEXT[row.status]}",
        f"{row.camera_name} ({row.camera_id})"
        + (f", {row.camera_address}" if row.camera_address else ""),
        f"Owner: {row.owner_name}",
        f"Window: {local_text(row.window_start, seconds=True)} to "
        f"{local_text(row.window_end, seconds=True)} (local time)",
        f"Drafted by {row.requested_by} on {local_text(row.created_at)}",
    ]
    if row.sent_at is not None:
        lines.append(f"Sent on {local_text(row.sent_at)}")
    if row.expires_at is not None and row.status is FootageRequestStatus.SENT:
        lines.append(f"Waiting for an answer until {local_text(row.expires_at)}")
    if row.answered_at is not None:
        lines.append(f"Answered on {local_text(row.answered_at)}")
    if row.cannot_send_reason:
        lines.append(f"Cannot be e-mailed: {row.cannot_send_reason}")
    elif row.last_error and row.status is FootageRequestStatus.DRAFTED:
        lines.append(f"Last attempt failed: {row.last_error}")
    if row.note:
        lines.append(f"Note: {row.note}")
    if row.answer_note:
        lines.append(f"Answer: {row.answer_note}")
    return "\n".join(lines)


class FootageRequestModel(RowTableModel[FootageRequestRow]):
    """An incident's footage requests, oldest first."""

    COLUMNS = COLUMNS

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell_text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return request_tooltip(row)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column in (STATUS, NOTE) and _needs_attention(row):
                return QBrush(QColor(palette.WARNING))  # read now: the theme may change
            if row.status in _ANSWERED:
                return QBrush(QColor(palette.TEXT_MUTED))
        return None


def _needs_attention(row: FootageRequestRow) -> bool:
    drafted = row.status is FootageRequestStatus.DRAFTED
    return drafted and bool(row.cannot_send_reason or row.last_error)


def _cell_text(row: FootageRequestRow, column: int) -> str:
    if column == REFERENCE:
        return row.reference
    if column == CAMERA:
        return row.camera_name
    if column == OWNER:
        return row.owner_name
    if column == WINDOW:
        return window_text(row.window_start, row.window_end)
    if column == STATUS:
        text = STATUS_TEXT[row.status]
        if row.status is FootageRequestStatus.DRAFTED and row.cannot_send_reason:
            return f"{text} · no e-mail"
        if row.status is FootageRequestStatus.DRAFTED and row.last_error:
            return f"{text} · not sent"
        return text
    if column == SENT:
        return local_text(row.sent_at) if row.sent_at is not None else ""
    return note_text(row)


@dataclass(frozen=True, slots=True)
class DraftForm:
    """What the request window asks to draft (times timezone-aware)."""

    camera_ids: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    note: str


def _to_qt(moment: datetime) -> QDateTime:
    return QDateTime.fromSecsSinceEpoch(int(moment.timestamp()))


def _from_qt(moment: QDateTime) -> datetime:
    return datetime.fromtimestamp(moment.toSecsSinceEpoch(), UTC)


def _minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _minute_ceiling(moment: datetime) -> datetime:
    floor = _minute_floor(moment)
    return floor if floor == moment else floor + timedelta(minutes=1)


class FootageRequestDialog(QDialog):
    """The cameras to ask, the time window and a note; "Draft requests" hands them to the
    panel (``draft_wanted``), which closes this window once they are drafted or shows here why
    not, keeping what was typed."""

    draft_wanted = Signal(object)  # a DraftForm

    def __init__(
        self,
        incident: IncidentRow,
        hits: Sequence[GeofenceHit],
        left_out: int,
        open_requests: dict[str, str],
        *,
        clock: Clock,
        footage: FootageSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("footageRequestDialog")
        self.setWindowTitle(f"Request footage · {incident.cad_number}")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self._clock = clock
        self._footage = footage
        self.incident = incident

        heading = QLabel(
            f"Ask the owners of these cameras for their recordings of {incident.cad_number} "
            f"({incident.incident_type}, {incident.address or 'no address'}). Each owner gets "
            "one e-mail for all of their cameras when the drafted requests are sent."
        )
        heading.setWordWrap(True)
        self.camera_list = QListWidget()
        self.camera_list.setObjectName("footageCameras")
        self.camera_list.setAccessibleName("Cameras to request footage from")
        for hit in hits:
            camera = hit.camera
            text = f"{camera.name} · {camera.tier.value} · {camera.owner_name}"
            already = open_requests.get(camera.camera_id)
            if already:
                text += f" · already requested ({already})"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, camera.camera_id)
            item.setToolTip(f"{text}\n{camera.camera_id}: {hit.why}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if already else Qt.CheckState.Checked)
            self.camera_list.addItem(item)
        # Every camera on one line, cut short with its full text in the tooltip; up to six
        # lines without scrolling (measured once the theme has styled the list).
        self.camera_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.camera_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.camera_list.ensurePolished()
        rows = max(1, min(len(hits), 6))
        row_height = max(self.camera_list.sizeHintForRow(0), self.fontMetrics().height() + 8)
        frame = 2 * self.camera_list.frameWidth() + 8
        self.camera_list.setFixedHeight(rows * row_height + frame)
        self.left_out_label = QLabel(left_out_text(left_out))
        self.left_out_label.setObjectName("mutedText")
        self.left_out_label.setWordWrap(True)
        self.left_out_label.setVisible(left_out > 0)

        now = clock()
        self.start_edit = self._time_edit("Start of the window, local time")
        self.start_edit.setDateTime(_to_qt(_minute_floor(incident.received_at - LEAD_TIME)))
        self.end_edit = self._time_edit("End of the window, local time")
        self.end_edit.setDateTime(_to_qt(_minute_ceiling(now)))
        zone = now.astimezone().tzname() or "local time"
        window_hint = QLabel(
            f"Times in {zone}. A window that ends after now is cut to now; at most "
            f"{footage.max_window_hours:g} hours."
        )
        window_hint.setObjectName("mutedText")
        window_hint.setWordWrap(True)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setObjectName("footageNote")
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setPlaceholderText("Internal note (not e-mailed), e.g. suspect fled east")
        self.note_edit.setAccessibleName("Internal note")
        self.note_edit.setFixedHeight(self.note_edit.fontMetrics().lineSpacing() * 3 + 20)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.addRow("&From", self.start_edit)
        form.addRow("&Until", self.end_edit)  # "&To" is drawn wider than measured, cut off
        form.addRow("", window_hint)
        form.addRow("&Note", self.note_edit)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        self.draft_button = ok
        self.draft_button.setText("Draft requests")
        self.draft_button.setObjectName("primaryButton")
        self.draft_button.setToolTip("Draft one request per checked camera (Enter)")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(self.camera_list)
        layout.addWidget(self.left_out_label)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self.setMinimumWidth(640)
        self.camera_list.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.camera_list.count():
            self.camera_list.setCurrentRow(0)
        self._busy = False

    def _time_edit(self, name: str) -> QDateTimeEdit:
        edit = QDateTimeEdit()
        edit.setDisplayFormat(EDIT_FORMAT)
        edit.setCalendarPopup(True)
        edit.setAccessibleName(name)
        return edit

    @property
    def busy(self) -> bool:
        return self._busy

    def chosen_camera_ids(self) -> tuple[str, ...]:
        chosen = []
        for number in range(self.camera_list.count()):
            item = self.camera_list.item(number)
            if item.checkState() is Qt.CheckState.Checked:
                chosen.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return tuple(chosen)

    def form(self) -> DraftForm:
        return DraftForm(
            self.chosen_camera_ids(),
            _from_qt(self.start_edit.dateTime()),
            _from_qt(self.end_edit.dateTime()),
            self.note_edit.toPlainText().strip(),
        )

    def accept(self) -> None:
        """Check what can be checked here, then ask the panel to draft; stays open."""
        if self._busy:
            return
        form = self.form()
        if not form.camera_ids:
            self.show_error("Check at least one camera to request footage from.")
            self.camera_list.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        if form.window_end <= form.window_start:  # said in the local time shown above
            self.show_error(
                f"The window ends ({local_text(form.window_end)}) before it starts "
                f"({local_text(form.window_start)}): give a start before the end."
            )
            self.end_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        try:  # a pure check of the times, the same the drafting job makes again
            check_window(
                form.window_start,
                form.window_end,
                self._clock(),
                timedelta(hours=self._footage.max_window_hours),
            )
        except FootageRequestError as error:
            self.show_error(sentence(error))
            self.start_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        if len(form.note) > MAX_NOTE_LENGTH:
            self.show_error(
                f"The note has {len(form.note)} characters; keep it to {MAX_NOTE_LENGTH}."
            )
            self.note_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.error_label.hide()
        self.set_busy(True)
        self.draft_wanted.emit(form)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.draft_button.setEnabled(not busy)
        self.draft_button.setText("Drafting…" if busy else "Draft requests")

    def show_error(self, text: str) -> None:
        """Say why nothing was drafted; everything typed stays as it was."""
        self.set_busy(False)
        self.error_label.setText(text)
        self.error_label.show()
        if not self.isVisible():
            self.show()
        self.raise_()
        self.activateWindow()


def left_out_text(count: int) -> str:
    if count == 0:
        return ""
    noun = "camera is" if count == 1 else "cameras are"
    return f"{count} {noun} left out: they may be opened live now, no request needed."


class FootageRequestPanel(QWidget):
    """The selected incident's footage requests and the actions on them.

    The main window feeds it the selected incident (``set_incident``) and, when the operator
    asks for a request (``request_wanted``, or its own action), the geofence list's selected
    cameras (``request_footage``); it titles the tab from ``count_changed`` (``tab_title``)
    and shows ``message`` in the status bar.
    """

    message = Signal(str)  # for the status bar; never an owner's contact details
    count_changed = Signal(int)  # how many requests the incident has
    request_wanted = Signal()  # the request action: answer with request_footage(hits)

    def __init__(
        self,
        *,
        jobs: BackgroundJobs,
        sessions: SessionFactory,
        audit: AuditLog,
        user: SignedInUser,
        settings: Settings,
        credentials: CredentialStore,
        clock: Clock,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("footageRequestPanel")
        self._jobs = jobs
        self._sessions = sessions
        self._audit = audit
        self._user = user
        self._settings = settings
        self._credentials = credentials
        self._clock = clock
        self._incident: IncidentRow | None = None
        self._reads = itertools.count(1)
        self._latest_read = 0
        self._sending = False
        self._answering = False
        self._loaded = False
        self.dialog: FootageRequestDialog | None = None

        self.title = QLabel(NO_INCIDENT_TEXT)
        self.title.setObjectName("footageTitle")
        self.title.setWordWrap(True)
        self.email_off_label = QLabel(EMAIL_OFF_TEXT)
        self.email_off_label.setObjectName("footageEmailOff")
        self.email_off_label.setWordWrap(True)
        self.email_off_label.setVisible(not self.email_configured)

        self.request_action = shortcut_action(
            self, "Request footage…", REQUEST_KEYS, self.request_wanted.emit
        )
        self.request_action.setToolTip(
            f"Request footage from the cameras selected in the geofence list ({REQUEST_KEYS})"
        )
        self.send_action = shortcut_action(
            self, "Send drafted requests", SEND_KEYS, self.send_drafted
        )
        self.fulfilled_action = shortcut_action(
            self, "Owner provided footage", FULFILLED_KEYS, self.mark_fulfilled, ON_TABLE
        )
        self.declined_action = shortcut_action(
            self, "Owner declined", DECLINED_KEYS, self.mark_declined, ON_TABLE
        )
        self.refresh_action = shortcut_action(self, "Refresh", REFRESH_KEYS, self.refresh, ON_TABLE)
        self.refresh_action.setToolTip(
            f"Read the incident's requests again; overdue ones become expired ({REFRESH_KEYS})"
        )

        self.model = FootageRequestModel()
        self.view = row_table_view(
            self.model, "footageRequestTable", "Footage requests of the selected incident"
        )
        self.view.selectionModel().selectionChanged.connect(self._update_controls)
        self.view.selectionModel().currentRowChanged.connect(self._update_details)

        # The current request's note or error in full (the table's column cuts it short):
        # whom to call, why a send failed.
        self.details = wrapped_label("", "footageDetails", selectable=True)
        self.details.hide()

        self.summary = wrapped_label(NO_INCIDENT_TEXT, "mutedText")
        self.status_line = StatusLine()

        top_row = QHBoxLayout()
        self.request_button = action_button(self.request_action)
        self.send_button = action_button(self.send_action)
        self.send_button.setObjectName("primaryButton")
        top_row.addWidget(self.request_button)
        top_row.addWidget(self.send_button)
        top_row.addStretch(1)
        self.refresh_button = action_button(self.refresh_action)
        top_row.addWidget(self.refresh_button)
        answer_row = QHBoxLayout()
        answer_label = QLabel("Owner's answer to the selected requests:")
        answer_label.setObjectName("mutedText")
        answer_label.setWordWrap(True)  # the left column is narrow on a laptop screen
        answer_row.addWidget(answer_label)
        self.fulfilled_button = action_button(self.fulfilled_action)
        self.declined_button = action_button(self.declined_action)
        answer_row.addWidget(self.fulfilled_button)
        answer_row.addWidget(self.declined_button)
        answer_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.email_off_label)
        layout.addLayout(top_row)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.summary)
        layout.addLayout(answer_row)
        layout.addWidget(self.status_line)
        self._update_controls()

    def sizeHint(self) -> QSize:
        return QSize(660, 420)

    # ---- state ----------------------------------------------------------------------------

    @property
    def incident(self) -> IncidentRow | None:
        return self._incident

    @property
    def rows(self) -> Sequence[FootageRequestRow]:
        return self.model.rows

    @property
    def count(self) -> int:
        return self.model.rowCount()

    @property
    def tab_title(self) -> str:
        return tab_title(self.count)

    @property
    def loading(self) -> bool:
        """A read of the incident's requests is on its way."""
        return self._latest_read != 0

    @property
    def sending(self) -> bool:
        return self._sending

    @property
    def answering(self) -> bool:
        return self._answering

    @property
    def busy(self) -> bool:
        drafting = self.dialog is not None and self.dialog.busy
        return self.loading or self._sending or self._answering or drafting

    @property
    def email_configured(self) -> bool:
        return self._settings.smtp.host is not None

    def selected_requests(self) -> list[FootageRequestRow]:
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.model.rows[row] for row in rows]

    def select_references(self, references: Sequence[str]) -> None:
        """Select these requests in the table (the keyboard does the same with the arrows)."""
        wanted = set(references)
        selection = self.view.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        first = None
        for number, row in enumerate(self.model.rows):
            if row.reference in wanted:
                index = self.model.index(number, 0)
                selection.select(index, flags)
                first = first or index
        if first is not None:
            selection.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)

    def _update_details(self, *_: object) -> None:
        current = self.view.selectionModel().currentIndex()
        row = self.model.rows[current.row()] if current.isValid() else None
        text = note_text(row) if row is not None else ""
        if row is not None and text:
            text = f"{row.reference} · {row.camera_name}: {text}"
        self.details.setText(text)
        self.details.setVisible(bool(text))

    def focus_table(self) -> None:
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if not self.view.selectionModel().selectedRows() and self.model.rowCount():
            self.view.selectRow(0)

    # ---- the incident ---------------------------------------------------------------------

    def set_incident(self, incident: IncidentRow | None) -> None:
        """Show this incident's requests (read in a job, overdue ones expired first); None
        shows the empty state. The same incident again (its status changed) is not re-read."""
        previous, self._incident = self._incident, incident
        self._update_title()
        if incident is None:
            self._latest_read = 0
            self._loaded = False
            self._show_rows([])
            self.status_line.say("")
            self.summary.setText(NO_INCIDENT_TEXT)
            self._update_controls()
            return
        if previous is not None and previous.cad_number == incident.cad_number:
            return
        self._loaded = False
        self._show_rows([])
        self.status_line.say("")
        self.refresh()

    def refresh(self) -> None:
        incident = self._incident
        if incident is None:
            return
        read = next(self._reads)
        self._latest_read = read
        cad_number = incident.cad_number
        sessions, audit, actor, clock = (
            self._sessions,
            self._audit,
            self._user.username,
            self._clock,
        )

        def work() -> list[FootageRequestRow]:
            expire_requests(sessions, audit, actor, clock())
            return read_request_rows(sessions, cad_number)

        self.summary.setText("Reading the footage requests…")
        self._update_controls()
        self._jobs.submit(
            "Reading the footage requests",
            work,
            lambda rows: self._read(read, cad_number, rows),
            lambda error: self._read_failed(read, error),
            owner=self,
        )

    def _read(self, read: int, cad_number: str, rows: list[FootageRequestRow]) -> None:
        if read != self._latest_read:
            return
        self._latest_read = 0
        self._apply_rows(cad_number, rows)

    def _read_failed(self, read: int, error: Exception) -> None:
        if read != self._latest_read:
            return
        self._latest_read = 0
        if isinstance(error, AuditWriteError):
            self.status_line.say(f"Expiring overdue requests {NOT_RECORDED_TEXT}", error=True)
        else:
            self.status_line.say(f"The footage requests could not be read: {error}", error=True)
        self._update_summary()
        self._update_controls()

    def _apply_rows(self, cad_number: str, rows: Sequence[FootageRequestRow]) -> None:
        """Show rows read for ``cad_number``, unless another incident was selected since."""
        if self._incident is None or self._incident.cad_number != cad_number:
            return
        self._loaded = True
        self._show_rows(rows)
        self._update_summary()
        self._update_controls()

    def _show_rows(self, rows: Sequence[FootageRequestRow]) -> None:
        kept = {row.request_id for row in self.selected_requests()}
        before = self.model.rowCount()
        first = before == 0
        self.model.replace_rows(rows)
        if first and rows:
            self.view.resizeColumnsToContents()
        selection = self.view.selectionModel()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for number, row in enumerate(self.model.rows):
            if row.request_id in kept:
                selection.select(self.model.index(number, 0), flags)
        current = self.view.selectionModel().currentIndex()
        if not current.isValid() and kept:
            for number, row in enumerate(self.model.rows):
                if row.request_id in kept:
                    current = self.model.index(number, 0)
                    break
        if current.isValid():
            selection.setCurrentIndex(current, QItemSelectionModel.SelectionFlag.NoUpdate)
        self._update_details()
        if self.model.rowCount() != before:
            self.count_changed.emit(self.model.rowCount())

    # ---- drafting -------------------------------------------------------------------------

    def request_footage(self, hits: Sequence[GeofenceHit]) -> FootageRequestDialog | None:
        """Open the request window for those of ``hits`` that need a footage request; None
        (and a message saying why) when there is no incident or no such camera."""
        incident = self._incident
        if incident is None:
            self.message.emit("Select an incident first: footage is requested for an incident.")
            return None
        if not hits:
            self.message.emit(
                "Select the cameras to request footage from in the geofence list first."
            )
            return None
        needed = [hit for hit in hits if hit.needs_footage_request]
        left_out = len(hits) - len(needed)
        if not needed:
            noun = "camera" if len(hits) == 1 else "cameras"
            self.message.emit(
                f"The selected {noun} may be opened live now: no footage request needed."
            )
            return None
        open_requests = {
            row.camera_id: f"{row.reference}, {STATUS_TEXT[row.status].lower()}"
            for row in self.model.rows
            if row.status in OPEN_STATUSES
        }
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        dialog = FootageRequestDialog(
            incident,
            needed,
            left_out,
            open_requests,
            clock=self._clock,
            footage=self._settings.footage,
            parent=self,
        )
        dialog.draft_wanted.connect(lambda form: self._draft(dialog, form))
        self.dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _draft(self, dialog: FootageRequestDialog, form: DraftForm) -> None:
        cad_number = dialog.incident.cad_number
        sessions, audit, user, clock = self._sessions, self._audit, self._user, self._clock
        footage = self._settings.footage

        def work() -> tuple[list[FootageRequestRow], list[FootageRequestRow]]:
            drafted = draft_requests(
                sessions,
                audit,
                user,
                cad_number,
                form.camera_ids,
                form.window_start,
                form.window_end,
                clock(),
                footage=footage,
                note=form.note,
            )
            return drafted, read_request_rows(sessions, cad_number)

        self._update_controls()
        self._jobs.submit(
            "Drafting footage requests",
            work,
            lambda result: self._drafted(dialog, cad_number, *result),
            lambda error: self._draft_failed(dialog, error),
            owner=self,
        )

    def _drafted(
        self,
        dialog: FootageRequestDialog,
        cad_number: str,
        drafted: list[FootageRequestRow],
        rows: list[FootageRequestRow],
    ) -> None:
        if self.dialog is dialog:
            self.dialog = None
        if shiboken6.isValid(dialog):
            dialog.set_busy(False)
            dialog.close()
            dialog.deleteLater()
        self._apply_rows(cad_number, rows)
        references = ", ".join(row.reference for row in drafted)
        noun = "request" if len(drafted) == 1 else "requests"
        then = (
            f"send with {SEND_KEYS}"
            if self.email_configured
            else "e-mail is not configured, so call the owners"
        )
        self.status_line.say(f"Drafted {len(drafted)} footage {noun} ({references}): {then}.")
        self.message.emit(f"Drafted {len(drafted)} footage {noun} for {cad_number}.")
        self.select_references([row.reference for row in drafted])
        self._update_controls()

    def _draft_failed(self, dialog: FootageRequestDialog, error: Exception) -> None:
        if isinstance(error, AuditWriteError):
            text = f"The requests {NOT_RECORDED_TEXT}"
        elif isinstance(error, FootageRequestError):
            text = sentence(error)
        else:
            text = f"Drafting failed: {error}"
        if shiboken6.isValid(dialog):
            dialog.show_error(text)
        else:  # replaced by a newer request window meanwhile
            self.status_line.say(f"Nothing was drafted: {text}", error=True)
        self._update_controls()

    # ---- sending --------------------------------------------------------------------------

    def send_drafted(self) -> None:
        """E-mail all drafted requests of the incident, one job at a time."""
        incident = self._incident
        if incident is None or self._sending or not self.email_configured:
            return
        cad_number = incident.cad_number
        sessions, audit, user, clock = self._sessions, self._audit, self._user, self._clock
        settings, credentials = self._settings, self._credentials
        smtp, footage = settings.smtp, settings.footage
        template_path = footage.email_template or resources_dir() / EMAIL_TEMPLATE_FILE

        def work() -> tuple[list[OwnerSendResult], list[FootageRequestRow]]:
            try:
                template = EmailTemplate.load(template_path)
                mailer = SmtpMailer.for_settings(smtp, credentials)
                uploads = server_upload_links(settings, credentials)
                try:
                    results = send_requests(
                        sessions,
                        audit,
                        mailer,
                        template,
                        user,
                        cad_number,
                        clock(),
                        footage=footage,
                        uploads=uploads,
                    )
                finally:
                    if uploads is not None:
                        uploads.close()
            except (FootageRequestError, MailDeliveryError) as error:
                raise _SendFailed(
                    sentence(error), read_request_rows(sessions, cad_number)
                ) from None
            return results, read_request_rows(sessions, cad_number)

        self._sending = True
        drafted = sum(row.status is FootageRequestStatus.DRAFTED for row in self.model.rows)
        noun = "request" if drafted == 1 else "requests"
        self.status_line.say(f"Sending {drafted} drafted {noun}…")
        self._update_controls()
        self._jobs.submit(
            "Sending footage requests",
            work,
            lambda result: self._sent(cad_number, *result),
            lambda error: self._send_failed(cad_number, error),
            owner=self,
        )

    def _sent(
        self, cad_number: str, results: list[OwnerSendResult], rows: list[FootageRequestRow]
    ) -> None:
        self._sending = False
        self._apply_rows(cad_number, rows)
        sent = [result for result in results if result.sent]
        failed = [result for result in results if not result.sent]
        if not results:
            self.status_line.say("No drafted requests to send.")
            self._update_controls()
            return
        head = f"E-mailed {len(sent)} owner{'s' if len(sent) != 1 else ''}"
        if failed:
            head += f"; {len(failed)} not reached"
        lines = [f"{head}:"]
        lines += [f"• {sentence(result.message)}" for result in sent + failed]
        self.status_line.say("\n".join(lines), error=bool(failed))
        summary = f"Footage requests of {cad_number}: {len(sent)} e-mail"
        summary += "s sent" if len(sent) != 1 else " sent"
        if failed:
            summary += f", {len(failed)} owner{'s' if len(failed) != 1 else ''} not reached "
            summary += f"(see the {TAB_TITLE.lower()} tab)"
        self.message.emit(summary)
        self._update_controls()

    def _send_failed(self, cad_number: str, error: Exception) -> None:
        self._sending = False
        if isinstance(error, _SendFailed):
            self._apply_rows(cad_number, error.rows)
            text = f"Nothing was sent: {error.text}"
        elif isinstance(error, AuditWriteError):
            text = f"The sending {NOT_RECORDED_TEXT}"
        else:
            text = f"Sending failed: {error}"
        self.status_line.say(text, error=True)
        self.message.emit(f"Footage requests of {cad_number} were not sent.")
        self._update_controls()

    # ---- answers --------------------------------------------------------------------------

    def mark_fulfilled(self) -> None:
        self.record_owner_answer(FootageRequestStatus.FULFILLED)

    def mark_declined(self) -> None:
        self.record_owner_answer(FootageRequestStatus.DECLINED)

    def record_owner_answer(self, answer: FootageRequestStatus) -> None:
        """Record the owner's answer to the selected sent or expired requests."""
        incident = self._incident
        if incident is None or self._answering:
            return
        selected = self.selected_requests()
        chosen = [(row.request_id, row.reference) for row in selected if row.can_answer]
        skipped = [row for row in selected if not row.can_answer]
        if not chosen:
            self.message.emit("Select a sent or expired request to record the owner's answer.")
            return
        cad_number = incident.cad_number
        sessions, audit, user, clock = self._sessions, self._audit, self._user, self._clock

        def work() -> tuple[list[str], list[str], list[FootageRequestRow]]:
            done, errors = [], []
            for request_id, reference in chosen:
                try:
                    record_answer(sessions, audit, user, request_id, answer, clock())
                except FootageRequestError as error:
                    errors.append(sentence(error))
                else:
                    done.append(reference)
            return done, errors, read_request_rows(sessions, cad_number)

        self._answering = True
        self._update_controls()
        self._jobs.submit(
            "Recording the owner's answer",
            work,
            lambda result: self._answered(cad_number, answer, skipped, *result),
            self._answer_failed,
            owner=self,
        )

    def _answered(
        self,
        cad_number: str,
        answer: FootageRequestStatus,
        skipped: list[FootageRequestRow],
        done: list[str],
        errors: list[str],
        rows: list[FootageRequestRow],
    ) -> None:
        self._answering = False
        self._apply_rows(cad_number, rows)
        parts = []
        if done:
            parts.append(f"{', '.join(done)}: marked {STATUS_TEXT[answer].lower()}.")
        parts += [
            f"{row.reference} is {row.status}: only sent or expired requests are answered."
            for row in skipped
        ]
        parts += errors
        self.status_line.say(" ".join(parts), error=bool(errors or skipped))
        if done:
            self.message.emit(f"{', '.join(done)} marked {STATUS_TEXT[answer].lower()}.")
        self._update_controls()

    def _answer_failed(self, error: Exception) -> None:
        self._answering = False
        if isinstance(error, AuditWriteError):
            self.status_line.say(f"The answer {NOT_RECORDED_TEXT}", error=True)
        else:
            self.status_line.say(f"The answer could not be recorded: {error}", error=True)
        self._update_controls()

    # ---- text and controls ----------------------------------------------------------------

    def _update_title(self) -> None:
        incident = self._incident
        if incident is None:
            self.title.setText(NO_INCIDENT_TEXT)
            return
        self.title.setText(incident_title("Footage requests", incident))

    def _update_summary(self) -> None:
        if self._incident is None:
            self.summary.setText(NO_INCIDENT_TEXT)
            return
        rows = self.model.rows
        if not rows:
            self.summary.setText(NO_REQUESTS_TEXT.format(keys=REQUEST_KEYS) if self._loaded else "")
            return
        counts: dict[FootageRequestStatus, int] = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        parts = [
            f"{counts[status]} {STATUS_TEXT[status].lower()}"
            for status in FootageRequestStatus
            if status in counts
        ]
        noun = "request" if len(rows) == 1 else "requests"
        self.summary.setText(f"{len(rows)} {noun}: {', '.join(parts)}")

    def _update_controls(self) -> None:
        incident = self._incident is not None
        rows = self.model.rows
        self.request_action.setEnabled(incident)
        self.refresh_action.setEnabled(incident and not self.loading)
        sendable = any(row.can_send for row in rows)
        if not self.email_configured:
            self.send_action.setEnabled(False)
            self.send_action.setToolTip(EMAIL_OFF_TEXT)
        else:
            self.send_action.setEnabled(incident and sendable and not self._sending)
            if self._sending:
                tip = "Sending…"
            elif sendable:
                tip = f"E-mail the drafted requests, one message per owner ({SEND_KEYS})"
            else:
                tip = f"No drafted request can be e-mailed ({SEND_KEYS})"
            self.send_action.setToolTip(tip)
        answerable = any(row.can_answer for row in self.selected_requests())
        for action in (self.fulfilled_action, self.declined_action):
            action.setEnabled(answerable and not self._answering)


class _SendFailed(Exception):
    """A send that failed as a whole (template, password, a refused batch), with the rows as
    they are after it, so the table shows what is kept drafted."""

    def __init__(self, text: str, rows: list[FootageRequestRow]) -> None:
        super().__init__(text)
        self.text = text
        self.rows = rows
