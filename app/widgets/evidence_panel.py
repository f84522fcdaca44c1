"""The evidence panel: what owners sent for the selected incident, from the evidence server's
vault, with who viewed it here; and the footage requests still waiting or declined, with why.

It follows the incident selected in the incident panel, as the footage request panel does, and
reads the server again on F5 and every ``REFRESH_MS`` while it is shown. Each read is a
background job: the list from the server (``EvidenceClient.incident_evidence``), the owners'
answers on the upload page recorded on this workstation's requests (``record_server_answers``,
``answers_recorded`` tells the footage request panel), and who opened each file here (from the
audit log). No server configured, or the server down: the panel says so and what to do, keeps
the last list, and the console runs on.

Enter (or a double-click) on a file asks why it is viewed (the incident by default) and opens
it in an ``EvidencePlayer``; the copy is fetched in a job, audited first, checked against its
SHA-256, and removed when the player closes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from sqlalchemy.orm import Session

from app.evidence.agency_key import short_fingerprint
from app.models.policy import Purpose, PurposeKind
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.case_export import CaseExportError, CasePackageExport, export_for_workstation
from app.services.clock import Clock
from app.services.credentials import CredentialStore
from app.services.evidence_client import (
    NO_SERVER_TEXT,
    EvidenceCopy,
    EvidenceError,
    EvidenceFile,
    EvidenceUnavailable,
    IncidentEvidence,
    ServerFootageRequest,
    ServerRequestStatus,
    Viewing,
    copy_for_viewing,
    evidence_client,
    record_server_answers,
    remove_leftover_copies,
    viewers,
)
from app.services.registry_rows import IncidentRow
from app.settings import Settings
from app.widgets import palette
from app.widgets.action_buttons import action_button, shortcut_action
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.evidence_player import PLAY_KEYS as PLAYER_PLAY_KEYS
from app.widgets.evidence_player import SNAPSHOT_KEYS as PLAYER_SNAPSHOT_KEYS
from app.widgets.evidence_player import (
    EvidencePlayer,
    PurposeDialog,
    PurposeQuestion,
    clock_text,
    viewing_question,
)
from app.widgets.footage_request_panel import (
    incident_title,
    local_text,
    sentence,
    window_text,
)
from app.widgets.row_table_model import ModelIndex, RowTableModel, row_table_view
from app.widgets.status_line import StatusLine, wrapped_label

SessionFactory = Callable[[], Session]

TAB_TITLE = "Evidence"
# The status comes second, so a narrow dock still shows it.
COLUMNS = ("Camera", "Status", "File", "Received", "Length", "Picture", "Size")
CAMERA, STATUS, FILE, RECEIVED, LENGTH, PICTURE, SIZE = range(len(COLUMNS))
REFRESH_MS = 30_000
REFRESH_KEYS = "F5"
PLAY_KEYS = "Enter or double-click"
EXPORT_KEYS = "Ctrl+Shift+X"
EXPORT_QUESTION = PurposeQuestion(
    "Why does this evidence leave the agency?",
    "The case package holds every file received for the incident, its chain of custody and the "
    "agency's signature; the purpose (a case number, a court's request) is recorded in this "
    "workstation's audit log and in each file's custody log on the server.",
    "Export…",
    "Choose where to save the signed case package; the export is audited (Enter)",
)
NO_INCIDENT_TEXT = "Select an incident to see the footage its camera owners sent."
NOTHING_YET_TEXT = (
    "Nothing received for this incident yet. Owners answer the footage requests (Ctrl+5) "
    "through the link in their e-mail; what they send appears here."
)
ON_TABLE = Qt.ShortcutContext.WidgetWithChildrenShortcut
# The help overlay's rows for the list and the player (their keys act in those widgets only).
EVIDENCE_SHORTCUTS = (
    ("Evidence: play the selected file (asks why; audited)", f"{PLAY_KEYS} (evidence list)"),
    ("Evidence: export the incident's signed case package (audited)", EXPORT_KEYS),
    (
        "Evidence player: play or pause, previous or next frame, save the frame (audited)",
        f"{PLAYER_PLAY_KEYS}, ← → or , ., {PLAYER_SNAPSHOT_KEYS}",
    ),
)


def tab_title(count: int) -> str:
    return f"{TAB_TITLE} ({count})" if count else TAB_TITLE


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One line of the panel: a file an owner sent, or a request that brought none (yet)."""

    camera_name: str
    camera_id: str
    file: EvidenceFile | None
    request: ServerFootageRequest | None
    viewings: tuple[Viewing, ...] = ()

    @property
    def playable(self) -> bool:
        return self.file is not None and self.file.deleted_at is None

    @property
    def status(self) -> str:
        if self.file is not None:
            if self.file.deleted_at is not None:
                return f"deleted {local_text(self.file.deleted_at)}"
            if self.viewings:
                names = ", ".join(dict.fromkeys(viewing.viewer for viewing in self.viewings))
                return f"viewed by {names}"
            return "received"
        request = self.request
        assert request is not None
        if request.status == ServerRequestStatus.DECLINED:
            return f"declined: {request.decline_reason or 'no reason given'}"
        if request.status == ServerRequestStatus.EXPIRED:
            return "expired without an answer"
        if request.status == ServerRequestStatus.FULFILLED:
            return "answered, no file"
        return f"requested, waiting until {local_text(request.expires_at)}"


def evidence_rows(listed: IncidentEvidence, viewed: dict[str, list[Viewing]]) -> list[EvidenceRow]:
    """Files first (oldest first), then the requests that brought no file."""
    rows = [
        EvidenceRow(item.camera_name, item.camera_id, item, None, tuple(viewed.get(item.id, ())))
        for item in listed.evidence
    ]
    with_files = {item.request_reference for item in listed.evidence}
    rows += [
        EvidenceRow(request.camera_name, request.camera_id, None, request)
        for request in listed.requests
        if request.reference not in with_files
    ]
    return rows


def _cell_text(row: EvidenceRow, column: int) -> str:
    item = row.file
    if column == CAMERA:
        return row.camera_name
    if column == STATUS:
        return row.status
    if item is None:
        request = row.request
        if column == FILE and request is not None:
            return f"{request.reference} · {window_text(request.window_start, request.window_end)}"
        return ""
    if column == FILE:
        return item.original_name
    if column == RECEIVED:
        return local_text(item.received_at)
    if column == LENGTH:
        return clock_text(item.duration_s) if item.duration_s is not None else "?"
    if column == PICTURE:
        return f"{item.width}×{item.height} {item.codec}"
    return size_text(item.size)


def _tooltip(row: EvidenceRow) -> str:
    item = row.file
    if item is None:
        request = row.request
        assert request is not None
        return "\n".join(
            [
                f"{request.reference} · {row.camera_name} ({row.camera_id})",
                f"Window: {window_text(request.window_start, request.window_end)} (local time)",
                f"Status on the evidence server: {row.status}",
            ]
        )
    lines = [
        f"{item.original_name} from {row.camera_name} ({row.camera_id})",
        f"Received {local_text(item.received_at, seconds=True)} for {item.request_reference}",
        f"{item.container}, {item.codec}, {item.width}×{item.height}, {item.size:,} bytes",
        f"SHA-256 {item.sha256}",
    ]
    lines += [
        f"Viewed by {viewing.viewer} on {local_text(viewing.time)} for {viewing.purpose}"
        for viewing in row.viewings
    ]
    if row.playable:
        lines.append("Enter or double-click to play it (the view is audited)")
    return "\n".join(lines)


class EvidenceModel(RowTableModel[EvidenceRow]):
    COLUMNS = COLUMNS

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell_text(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(row)
        if role == Qt.ItemDataRole.ForegroundRole and not row.playable:
            declined = row.request is not None and row.request.status == "declined"
            if declined and index.column() == STATUS:
                return QBrush(QColor(palette.WARNING))  # read now: the theme may change
            return QBrush(QColor(palette.TEXT_MUTED))
        return None


@dataclass(frozen=True, slots=True)
class _Read:
    listed: IncidentEvidence
    viewed: dict[str, list[Viewing]]
    answered: list[str]  # the requests whose answers were recorded here by this read


class EvidencePanel(QWidget):
    """The selected incident's evidence; plays a file in an ``EvidencePlayer``."""

    message = Signal(str)  # for the status bar
    count_changed = Signal(int)  # how many files the incident has
    answers_recorded = Signal(str)  # a CAD number whose requests the owners answered

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
        temp_root: Path | None = None,
        refresh_ms: int = REFRESH_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("evidencePanel")
        self._jobs = jobs
        self._sessions = sessions
        self._audit = audit
        self._user = user
        self._settings = settings
        self._credentials = credentials
        self._clock = clock
        self._temp_root = temp_root
        self._incident: IncidentRow | None = None
        self._reads = itertools.count(1)
        self._latest_read = 0
        self._read_at: datetime | None = None
        self.players: list[EvidencePlayer] = []
        self.purpose_dialog: PurposeDialog | None = None
        self._exporting = False
        self._read_failure_shown = False  # the status line says a read failed

        self.title = QLabel(NO_INCIDENT_TEXT)
        self.title.setObjectName("evidenceTitle")
        self.title.setWordWrap(True)
        self.server_line = QLabel(f"{NO_SERVER_TEXT}.")
        self.server_line.setObjectName("errorText")
        self.server_line.setWordWrap(True)
        self.server_line.setVisible(not self.server_configured)
        self.refresh_action = shortcut_action(self, "Refresh", REFRESH_KEYS, self.refresh, ON_TABLE)
        self.refresh_action.setToolTip(
            f"Read the incident's evidence from the evidence server again ({REFRESH_KEYS})"
        )
        self.play_action = shortcut_action(self, "Play…", None, self.play_selected)
        self.play_action.setToolTip(
            f"Play the selected file; you are asked why, and the view is audited ({PLAY_KEYS})"
        )
        self.export_action = shortcut_action(
            self, "Export case package…", EXPORT_KEYS, self.export_package, ON_TABLE
        )
        self.export_action.setToolTip(
            "Save the incident's received files as a case package signed with the agency's key, "
            f"with their chain of custody, for a prosecutor or a court ({EXPORT_KEYS})"
        )
        self.model = EvidenceModel()
        self.view = row_table_view(
            self.model, "evidenceTable", "Evidence owners sent for the selected incident"
        )
        self.view.setSelectionMode(self.view.SelectionMode.SingleSelection)
        self.view.activated.connect(lambda _index: self.play_selected())
        self.view.selectionModel().selectionChanged.connect(self._update_controls)
        self.view.selectionModel().selectionChanged.connect(self._update_details)
        # The selected line's status in full (a decline reason is cut short in its column).
        self.details = wrapped_label("", "evidenceDetails", selectable=True)
        self.details.hide()
        self.summary = wrapped_label(NO_INCIDENT_TEXT, "mutedText")
        self.status_line = StatusLine()

        buttons = QHBoxLayout()
        self.play_button = action_button(self.play_action)
        self.play_button.setObjectName("primaryButton")
        self.refresh_button = action_button(self.refresh_action)
        self.export_button = action_button(self.export_action)
        buttons.addWidget(self.play_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.server_line)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.summary)
        layout.addWidget(self.status_line)

        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self._refresh_if_shown)
        self._timer.start()
        self._update_controls()
        root = temp_root
        self._jobs.submit(
            "Removing evidence copies left by an earlier console",
            lambda: remove_leftover_copies(root),
            lambda _count: None,
            owner=self,
        )

    def sizeHint(self) -> QSize:
        return QSize(660, 420)

    # ---- state ----------------------------------------------------------------------------

    @property
    def server_configured(self) -> bool:
        return self._settings.sync.server_url is not None

    @property
    def incident(self) -> IncidentRow | None:
        return self._incident

    @property
    def rows(self) -> Sequence[EvidenceRow]:
        return self.model.rows

    @property
    def count(self) -> int:
        return sum(row.file is not None for row in self.model.rows)

    @property
    def tab_title(self) -> str:
        return tab_title(self.count)

    @property
    def loading(self) -> bool:
        return self._latest_read != 0

    def selected_row(self) -> EvidenceRow | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _update_details(self, *_: object) -> None:
        row = self.selected_row()
        text = ""
        if row is not None and row.file is not None:
            text = f"{row.camera_name} · {row.file.original_name}: {row.status}"
        elif row is not None and row.request is not None:
            text = f"{row.request.reference} · {row.camera_name}: {row.status}"
        self.details.setText(text)
        self.details.setVisible(bool(text))

    def select_file(self, evidence_id: str) -> None:
        for number, row in enumerate(self.model.rows):
            if row.file is not None and row.file.id == evidence_id:
                self.view.selectRow(number)
                return

    # ---- the incident ---------------------------------------------------------------------

    def set_incident(self, incident: IncidentRow | None) -> None:
        """Show this incident's evidence (read in a job); None shows the empty state."""
        previous, self._incident = self._incident, incident
        if (
            incident is not None
            and previous is not None
            and previous.cad_number == incident.cad_number
        ):
            return
        self._latest_read = 0
        self._read_at = None
        self._show_rows([])
        self.status_line.say("")
        self._update_title()
        if incident is None:
            self.summary.setText(NO_INCIDENT_TEXT)
            self._update_controls()
            return
        self.refresh()

    def _refresh_if_shown(self) -> None:
        if self.isVisible() and not self.loading:
            self.refresh()

    def refresh(self) -> None:
        incident = self._incident
        if incident is None:
            return
        if not self.server_configured:
            self.summary.setText("")
            self._update_controls()
            return
        read = next(self._reads)
        self._latest_read = read
        cad_number = incident.cad_number
        settings, credentials, audit, user = (
            self._settings,
            self._credentials,
            self._audit,
            self._user,
        )
        sessions, clock = self._sessions, self._clock

        def work() -> _Read:
            client = evidence_client(settings, credentials, audit, user)
            if client is None:
                raise EvidenceError(NO_SERVER_TEXT)
            try:
                listed = client.incident_evidence(cad_number)
            finally:
                client.close()
            answered = record_server_answers(
                sessions, audit, user, settings.sync_workstation_id, listed, clock()
            )
            return _Read(listed, viewers(settings.audit_db, listed.evidence), answered)

        if not self.model.rowCount():
            self.summary.setText("Reading the evidence from the evidence server…")
        self._update_controls()
        self._jobs.submit(
            "Reading the incident's evidence",
            work,
            lambda result: self._read(read, cad_number, result),
            lambda error: self._read_failed(read, error),
            owner=self,
        )

    def _read(self, read: int, cad_number: str, result: _Read) -> None:
        if read != self._latest_read:
            return
        self._latest_read = 0
        if self._incident is None or self._incident.cad_number != cad_number:
            return
        self._read_at = self._clock()
        self._show_rows(evidence_rows(result.listed, result.viewed))
        if self._read_failure_shown:  # read again: the failure is over; other news stays
            self.status_line.say("")
            self._read_failure_shown = False
        if result.answered:
            self.answers_recorded.emit(cad_number)
            self.message.emit(
                f"Owners answered on the upload page: {', '.join(result.answered)} recorded."
            )
        self._update_summary()
        self._update_controls()

    def _read_failed(self, read: int, error: Exception) -> None:
        if read != self._latest_read:
            return
        self._latest_read = 0
        kept = (
            f" The list shows what was read at {local_text(self._read_at)}."
            if self._read_at is not None
            else ""
        )
        if isinstance(error, EvidenceUnavailable):
            text = f"{sentence(error)}{kept}"
        elif isinstance(error, AuditWriteError):
            text = (
                "The owners' answers could not be recorded in the audit log, so they were not "
                "recorded. Free disk space on this workstation or call the administrator."
            )
        else:
            text = f"The evidence could not be read: {sentence(error)}{kept}"
        self.status_line.say(text, error=True)
        self._read_failure_shown = True
        self._update_summary()
        self._update_controls()

    def _show_rows(self, rows: Sequence[EvidenceRow]) -> None:
        selected = self.selected_row()
        kept = selected.file.id if selected is not None and selected.file is not None else None
        first = self.model.rowCount() == 0
        self.model.replace_rows(rows)
        if first and rows:
            self.view.resizeColumnsToContents()
        if kept is not None:
            self.select_file(kept)
        self._update_details()
        self.count_changed.emit(self.count)

    # ---- playing --------------------------------------------------------------------------

    def play_selected(self) -> None:
        """Ask why the selected file is viewed, then fetch and play it."""
        row = self.selected_row()
        incident = self._incident
        if row is None or row.file is None or not row.playable or incident is None:
            self.message.emit("Select a received file to play it.")
            return
        dialog = PurposeDialog(
            viewing_question(row.file), Purpose(PurposeKind.INCIDENT, incident.cad_number), self
        )
        evidence = row.file
        dialog.purpose_entered.connect(lambda purpose: self.play(evidence, purpose))
        dialog.finished.connect(dialog.deleteLater)
        self.purpose_dialog = dialog
        dialog.open()

    def play(self, evidence: EvidenceFile, purpose: Purpose) -> EvidencePlayer:
        """Open a player for ``evidence``, fetching its copy for ``purpose`` in a job."""
        player = EvidencePlayer(
            evidence,
            purpose,
            user=self._user,
            audit=self._audit,
            jobs=self._jobs,
            export_dir=self._settings.exports_dir,
            parent=self,
        )
        self.players.append(player)
        player.closed.connect(lambda: self._player_closed(player))
        player.show()
        settings, credentials, audit, user = (
            self._settings,
            self._credentials,
            self._audit,
            self._user,
        )
        root = self._temp_root

        def work() -> EvidenceCopy:
            client = evidence_client(settings, credentials, audit, user)
            if client is None:
                raise EvidenceError(NO_SERVER_TEXT)
            try:
                return copy_for_viewing(client, evidence, purpose, root)
            finally:
                client.close()

        self._jobs.submit(
            "Fetching evidence from the vault",
            work,
            lambda copy: self._fetched(player, copy),
            lambda error: self._not_fetched(player, error),
            owner=player,
        )
        return player

    def _fetched(self, player: EvidencePlayer, copy: EvidenceCopy) -> None:
        if player not in self.players:  # closed while the copy was on its way
            self._jobs.submit("Removing an evidence copy", copy.remove, lambda _none: None)
            return
        player.load(copy)
        self.refresh()  # "viewed by" now names this viewer

    def _not_fetched(self, player: EvidencePlayer, error: Exception) -> None:
        if isinstance(error, AuditWriteError):
            text = (
                "The view could not be recorded in the audit log, so the file was not fetched. "
                "Free disk space on this workstation or call the administrator."
            )
        else:
            text = sentence(error)
        player.fetch_failed(text)

    # ---- exporting ------------------------------------------------------------------------

    def export_package(self) -> None:
        """Ask why the incident's evidence leaves the agency, then where to save its package."""
        incident = self._incident
        if incident is None or not self.export_action.isEnabled():
            self.message.emit("Select an incident with received footage to export it.")
            return
        cad_number = incident.cad_number
        dialog = PurposeDialog(EXPORT_QUESTION, Purpose(PurposeKind.INCIDENT, cad_number), self)
        dialog.purpose_entered.connect(lambda purpose: self._choose_package(cad_number, purpose))
        dialog.finished.connect(dialog.deleteLater)
        self.purpose_dialog = dialog
        dialog.open()

    def _choose_package(self, cad_number: str, purpose: Purpose) -> None:
        self.purpose_dialog = None
        name = f"case-{cad_number}-{self._clock().astimezone():%Y%m%d-%H%M}.zip"
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save the case package",
            str(self._settings.exports_dir / name),
            "Case package (*.zip)",
        )
        if path:
            self.export_to(cad_number, purpose, Path(path))

    def export_to(self, cad_number: str, purpose: Purpose, path: Path) -> None:
        """Export ``cad_number``'s signed case package into ``path`` in a background job."""
        settings, credentials, audit = self._settings, self._credentials, self._audit
        actor = self._user.username

        def work() -> CasePackageExport:
            return export_for_workstation(
                settings, credentials, audit, actor, cad_number, str(purpose), path
            )

        self._exporting = True
        self._update_controls()
        self.status_line.say(f"Exporting the case package of {cad_number}…")
        self._jobs.submit(
            "Exporting a case package", work, self._exported, self._not_exported, owner=self
        )

    def _exported(self, exported: CasePackageExport) -> None:
        self._exporting = False
        clips = exported.clip_count
        text = (
            f"Case package saved: {exported.path} ({clips} file{'s' * (clips != 1)}, intact, "
            f"signed by the agency key {short_fingerprint(exported.key.fingerprint)})."
        )
        if exported.newly_pinned:
            text += (
                f" The agency key {exported.key.fingerprint} is pinned now (the first export "
                "here): compare it with the fingerprint your agency published."
            )
        self.status_line.say(text)
        self.message.emit(f"Case package saved: {exported.path}")
        self.refresh()  # the custody log has the export now

    def _not_exported(self, error: Exception) -> None:
        self._exporting = False
        if isinstance(error, CaseExportError):
            text = f"The case package was not exported: {sentence(error)}"
        else:
            text = f"The case package was not exported: {error}"
        self.status_line.say(text, error=True)
        self._update_controls()

    def _player_closed(self, player: EvidencePlayer) -> None:
        if player in self.players:
            self.players.remove(player)
            player.deleteLater()

    def close_players(self) -> None:
        """Close every player (the console locks: footage is as private as the wall)."""
        for player in list(self.players):
            player.close()

    # ---- text and controls ----------------------------------------------------------------

    def _update_title(self) -> None:
        incident = self._incident
        if incident is None:
            self.title.setText(NO_INCIDENT_TEXT)
            return
        self.title.setText(incident_title("Evidence", incident))

    def _update_summary(self) -> None:
        if self._incident is None:
            self.summary.setText(NO_INCIDENT_TEXT)
            return
        if not self.server_configured:
            self.summary.setText("")
            return
        rows = self.model.rows
        if not rows:
            self.summary.setText(NOTHING_YET_TEXT if self._read_at is not None else "")
            return
        files = self.count
        waiting = sum(
            row.request is not None and row.request.status == ServerRequestStatus.OPEN
            for row in rows
        )
        declined = sum(
            row.request is not None and row.request.status == ServerRequestStatus.DECLINED
            for row in rows
        )
        parts = [f"{files} file{'s' if files != 1 else ''} received"]
        if waiting:
            parts.append(f"{waiting} request{'s' if waiting != 1 else ''} waiting")
        if declined:
            parts.append(f"{declined} declined")
        when = f" · read {local_text(self._read_at)}" if self._read_at is not None else ""
        self.summary.setText(", ".join(parts) + when)

    def _update_controls(self) -> None:
        configured = self.server_configured and self._incident is not None
        self.refresh_action.setEnabled(configured and not self.loading)
        row = self.selected_row()
        self.play_action.setEnabled(configured and row is not None and row.playable)
        received = any(listed.playable for listed in self.model.rows)
        self.export_action.setEnabled(configured and received and not self._exporting)
