"""The incident panel: calls for service from CAD, most urgent and newest first.

Two tabs. "Calls for service": filters (status, type, priority) and a search (CAD number or
address) over a live table; incidents that arrived since the last refresh are marked NEW for a
while (and, when the setting is on, a short alert sound plays); emergencies carry a badge and an
icon as well as their colour; under the table, the earlier calls at the selected incident's
address. "Rejected records": what the CAD adapter could not use, with the reason (the
quarantine), read in a background job. The footer says how the CAD source is doing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from app.models.address import address_key
from app.models.incident import IncidentStatus
from app.services.address_history import earlier_calls
from app.services.cad_intake import CadPollReport
from app.services.cad_quarantine import RejectedRecordRow, read_rejected_records
from app.services.clock import Clock, utc_now
from app.services.registry_rows import IncidentRow, triage_order
from app.widgets import palette
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.resources import icon_path
from app.widgets.row_table_model import ModelIndex, RowTableModel

SessionFactory = Callable[[], Session]

COLUMNS = ("Alert", "CAD number", "Received", "Pri", "Type", "Address", "History", "Status")
ALERT, CAD, RECEIVED, PRIORITY, TYPE, ADDRESS, HISTORY, STATUS = range(len(COLUMNS))
EMERGENCY_BADGE = "EMERGENCY"
NEW_BADGE = "NEW"
NEW_HIGHLIGHT_S = 90.0  # how long an incident that just arrived stays marked NEW
STATUS_TEXT = {
    IncidentStatus.PENDING: "Pending",
    IncidentStatus.DISPATCHED: "Dispatched",
    IncidentStatus.ON_SCENE: "On scene",
    IncidentStatus.CLOSED: "Closed",
}
_STATUS_ORDER = {status: number for number, status in enumerate(IncidentStatus)}
OPEN = "open"  # the status filter's "every status but closed"
StatusChoice = IncidentStatus | Literal["open"] | None
ALL_TYPES = "All types"
INCIDENTS_TAB = "Calls for service"
REJECTED_TAB = "Rejected records"
SELECT_FOR_HISTORY = "Select an incident to see the earlier calls at its address."

SortKey = Callable[[IncidentRow], Any]
_SORT_KEYS: dict[int, SortKey] = {
    ALERT: lambda row: row.emergency,
    CAD: lambda row: row.cad_number,
    RECEIVED: lambda row: row.received_at,
    PRIORITY: lambda row: row.priority,
    TYPE: lambda row: row.incident_type.casefold(),
    ADDRESS: lambda row: row.address.casefold(),
    HISTORY: lambda row: row.earlier_calls,
    STATUS: lambda row: _STATUS_ORDER[row.status],
}


def received_text(received_at: datetime, now: datetime) -> str:
    """Local time; the date only when it is not today (local)."""
    local, today = received_at.astimezone(), now.astimezone().date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    return local.strftime("%b %d %H:%M")


def history_text(count: int) -> str:
    return f"{count} earlier" if count else ""


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """What the operator narrowed the table to; the default shows every incident."""

    search: str = ""  # part of a CAD number or of an address
    status: StatusChoice = None
    incident_type: str | None = None
    max_priority: int | None = None  # P1 up to this one
    _search_key: str = field(init=False, default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_search_key", address_key(self.search))

    @property
    def active(self) -> bool:
        return bool(
            self.search.strip()
            or self.status is not None
            or self.incident_type is not None
            or self.max_priority is not None
        )

    def matches(self, row: IncidentRow) -> bool:
        if self.status == OPEN and row.status is IncidentStatus.CLOSED:
            return False
        if isinstance(self.status, IncidentStatus) and row.status is not self.status:
            return False
        if self.incident_type is not None and row.incident_type != self.incident_type:
            return False
        if self.max_priority is not None and row.priority > self.max_priority:
            return False
        needle = self.search.strip().casefold()
        if not needle:
            return True
        return (
            needle in row.cad_number.casefold()
            or needle in row.address.casefold()
            or (bool(self._search_key) and self._search_key in address_key(row.address))
        )


class IncidentTableModel(RowTableModel[IncidentRow]):
    """Incident rows, filtered; column -1 (the default) sorts by triage order (``triage_order``)."""

    COLUMNS = COLUMNS

    def __init__(self, clock: Clock = utc_now) -> None:
        super().__init__()
        self._clock = clock
        self._all: list[IncidentRow] = []
        self._filter = IncidentFilter()
        self._new_until: dict[str, datetime] = {}
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._bold = QFont()
        self._bold.setBold(True)
        self._emergency_icon = QIcon(str(icon_path("emergency.svg")))

    @property
    def all_rows(self) -> Sequence[IncidentRow]:
        return tuple(self._all)

    @property
    def incident_filter(self) -> IncidentFilter:
        return self._filter

    def set_rows(self, rows: Sequence[IncidentRow]) -> bool:
        """Show ``rows``; False when they are what is shown already."""
        ordered = self._sorted(rows)
        if ordered == self._all:
            return False
        self.beginResetModel()
        self._all = ordered
        self._rows = [row for row in ordered if self._filter.matches(row)]
        self.endResetModel()
        return True

    def set_filter(self, incident_filter: IncidentFilter) -> None:
        if incident_filter == self._filter:
            return
        self.beginResetModel()
        self._filter = incident_filter
        self._rows = [row for row in self._all if incident_filter.matches(row)]
        self.endResetModel()

    def row_of(self, cad_number: str) -> int | None:
        for number, row in enumerate(self._rows):
            if row.cad_number == cad_number:
                return number
        return None

    # ---- new-incident highlight ----------------------------------------------------------

    def mark_new(self, cad_numbers: set[str], until: datetime) -> None:
        for cad_number in cad_numbers:
            self._new_until[cad_number] = until
        self._repaint(cad_numbers)

    def is_new(self, row: IncidentRow) -> bool:
        until = self._new_until.get(row.cad_number)
        return until is not None and self._clock() < until

    def expire_new(self) -> bool:
        """Unmark what has been new long enough; True while something is still marked."""
        now = self._clock()
        expired = {cad for cad, until in self._new_until.items() if until <= now}
        for cad in expired:
            del self._new_until[cad]
        self._repaint(expired)
        return bool(self._new_until)

    def _repaint(self, cad_numbers: set[str]) -> None:
        for number, row in enumerate(self._rows):
            if row.cad_number in cad_numbers:
                self.dataChanged.emit(self.index(number, 0), self.index(number, len(COLUMNS) - 1))

    # ---- sorting -------------------------------------------------------------------------

    def _sorted(self, rows: Sequence[IncidentRow]) -> list[IncidentRow]:
        ordered = sorted(rows, key=triage_order)
        if self._sort_column in _SORT_KEYS:
            ordered.sort(
                key=_SORT_KEYS[self._sort_column],
                reverse=self._sort_order is Qt.SortOrder.DescendingOrder,
            )
        return ordered

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        # The selection follows its incident, not its row number.
        before = self.persistentIndexList()
        cads = [self._rows[index.row()].cad_number if index.isValid() else "" for index in before]
        self._all = self._sorted(self._all)
        self._rows = [row for row in self._all if self._filter.matches(row)]
        after = []
        for index, cad in zip(before, cads, strict=True):
            row = self.row_of(cad) if cad else None
            after.append(self.index(row, index.column()) if row is not None else QModelIndex())
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    # ---- Qt model --------------------------------------------------------------------------

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            if section == PRIORITY:
                return "Priority: P1 is the most urgent"
            if section == HISTORY:
                return "Earlier calls at the same address"
        return super().headerData(section, orientation, role)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        new = self.is_new(row)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column, new)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column, new)
        if role == Qt.ItemDataRole.DecorationRole and column == ALERT and row.emergency:
            return self._emergency_icon
        # Colours are read when painted, so a theme switched while the console runs shows.
        if role == Qt.ItemDataRole.BackgroundRole:
            if row.emergency:
                return QBrush(QColor(palette.EMERGENCY_ROW))
            if new:
                return QBrush(QColor(palette.NEW_ROW))
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.emergency:
                return QBrush(
                    QColor(palette.EMERGENCY if column == ALERT else palette.EMERGENCY_ROW_TEXT)
                )
            if new and column == ALERT:
                return QBrush(QColor(palette.NEW_BADGE))
            if row.status is IncidentStatus.CLOSED:
                return QBrush(QColor(palette.CLOSED_ROW_TEXT))
        if role == Qt.ItemDataRole.FontRole and (row.emergency or new):
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (PRIORITY, RECEIVED, HISTORY):
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _tooltip(self, row: IncidentRow, column: int, new: bool) -> str:
        if column == RECEIVED:
            return row.received_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        if column == ALERT and row.emergency:
            return "Emergency incident: emergency-only cameras may be opened for it"
        if column == ALERT and new:
            return "Arrived from CAD a moment ago"
        if column == HISTORY and row.earlier_calls:
            return (
                f"{row.earlier_calls} earlier calls at this address; "
                "select the incident to list them"
            )
        return self._text(row, column, new)

    def _text(self, row: IncidentRow, column: int, new: bool) -> str:
        if column == ALERT:
            badges = [EMERGENCY_BADGE] if row.emergency else []
            return " · ".join([*badges, NEW_BADGE] if new else badges)
        if column == CAD:
            return row.cad_number
        if column == RECEIVED:
            return received_text(row.received_at, self._clock())
        if column == PRIORITY:
            return f"P{row.priority}"
        if column == TYPE:
            return row.incident_type
        if column == ADDRESS:
            return row.address
        if column == HISTORY:
            return history_text(row.earlier_calls)
        return STATUS_TEXT[row.status]


REJECTED_COLUMNS = ("Last seen", "Source", "Where", "Reason", "Record")
LAST_SEEN, SOURCE, ORIGIN, REASON, RECORD = range(len(REJECTED_COLUMNS))
RECORD_EXCERPT = 160  # characters of the raw record in its cell; the tooltip shows more
RECORD_TOOLTIP = 2000


class RejectedRecordsModel(RowTableModel[RejectedRecordRow]):
    """Quarantined CAD records, newest first."""

    COLUMNS = REJECTED_COLUMNS

    def __init__(self, clock: Clock = utc_now) -> None:
        super().__init__()
        self._clock = clock

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == LAST_SEEN:
                return received_text(row.last_seen_at, self._clock())
            if column == SOURCE:
                return row.source
            if column == ORIGIN:
                return row.origin
            if column == REASON:
                return row.reason
            return " ".join(row.raw_text[:RECORD_EXCERPT].split())
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == LAST_SEEN:
                first = row.received_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
                times = "once" if row.seen_count == 1 else f"{row.seen_count} times"
                return f"First received {first}; received {times}"
            if column == RECORD:
                shown = row.raw_text[:RECORD_TOOLTIP]
                more = " (cut)" if row.raw_size > len(shown) else ""
                return f"{row.raw_size} bytes as received{more}:\n{shown}"
            return self.data(index, Qt.ItemDataRole.DisplayRole)
        return None


class IncidentPanel(QWidget):
    """Calls for service and rejected CAD records; keeps the selection across refreshes."""

    # The selected incident (None: none), when the selection changes to another incident or
    # the selected one changes (moved, upgraded to an emergency, closed); refreshes that
    # change nothing say nothing.
    incident_selected = Signal(object)

    def __init__(
        self,
        jobs: BackgroundJobs,
        sessions: SessionFactory,
        clock: Clock = utc_now,
        *,
        sound: bool = False,
        alert_sound: Callable[[], None] = QApplication.beep,
        highlight_s: float = NEW_HIGHLIGHT_S,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("incidentPanel")
        self._jobs = jobs
        self._sessions = sessions
        self._clock = clock
        self._sound = sound
        self._alert_sound = alert_sound
        self._highlight = timedelta(seconds=highlight_s)
        self._known: set[str] | None = None  # CAD numbers seen; None before the first load
        self._selected_cad: str | None = None
        self._announced: IncidentRow | None = None
        self._rejected_total: int | None = None
        self._rejected_loading = False

        self.model = IncidentTableModel(clock)
        self.view = self._incident_table()
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.view.selectionModel().selectionChanged.connect(self._show_history)

        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("incidentSearch")
        self.search_edit.setPlaceholderText("Search CAD number or address")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search incidents by CAD number or address")
        self.search_edit.setToolTip("Show only the incidents whose CAD number or address has this")
        self.status_filter = self._combo(
            "Filter by status",
            [("All statuses", None), ("Open", OPEN)]
            + [(text, status) for status, text in STATUS_TEXT.items()],
        )
        self.type_filter = self._combo("Filter by type", [(ALL_TYPES, None)])
        self.priority_filter = self._combo(
            "Filter by priority",
            [("All priorities", None), ("P1 only", 1)]
            + [(f"P1–P{number}", number) for number in (2, 3, 4)],
        )
        self.clear_filters_button = QPushButton("Clear")
        self.clear_filters_button.setToolTip("Show every incident again")
        self.clear_filters_button.clicked.connect(self.clear_filters)
        self.clear_filters_button.setEnabled(False)  # nothing to clear yet
        self.search_edit.textChanged.connect(self._filters_changed)
        for combo in (self.status_filter, self.type_filter, self.priority_filter):
            combo.currentIndexChanged.connect(self._filters_changed)

        self.history_title = QLabel(SELECT_FOR_HISTORY)
        self.history_title.setObjectName("historyTitle")
        self.history_title.setWordWrap(True)  # never wider than the dock: laptops
        self.history_list = QListWidget()
        self.history_list.setObjectName("incidentHistory")
        self.history_list.setAccessibleName("Earlier calls at the selected incident's address")
        self.history_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.history_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.rejected_model = RejectedRecordsModel(clock)
        self.rejected_view = self._rejected_table()
        self.rejected_hint = QLabel(
            "Records the CAD source sent that Beacon could not use, with the reason. Nothing "
            "here reached the incident list: fix the record at the source and send it again."
        )
        self.rejected_hint.setObjectName("mutedText")
        self.rejected_hint.setWordWrap(True)
        self.rejected_count_label = QLabel("")
        self.rejected_count_label.setObjectName("mutedText")
        self.refresh_rejected_button = QPushButton("Refresh")
        self.refresh_rejected_button.setToolTip("Read the rejected CAD records again")
        self.refresh_rejected_button.clicked.connect(self.load_rejected_records)

        self.count_label = QLabel("Loading incidents…")
        self.count_label.setObjectName("mutedText")
        self.cad_state_label = QLabel("")
        self.cad_state_label.setObjectName("cadState")
        self.cad_state_label.setProperty("healthy", True)

        self._highlight_timer = QTimer(self)
        self._highlight_timer.setInterval(1000)
        self._highlight_timer.timeout.connect(self._expire_highlights)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("incidentTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.tabBar().setDrawBase(False)
        self.tabs.addTab(self._incidents_page(), INCIDENTS_TAB)
        self.tabs.addTab(self._rejected_page(), REJECTED_TAB)
        self.tabs.currentChanged.connect(self._tab_changed)
        footer = QHBoxLayout()
        footer.addWidget(self.count_label)
        footer.addStretch(1)
        footer.addWidget(self.cad_state_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(footer)

    # ---- building ------------------------------------------------------------------------

    def _incident_table(self) -> QTableView:
        view = QTableView()
        view.setObjectName("incidentTable")
        view.setModel(self.model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setWordWrap(False)
        view.verticalHeader().hide()
        view.setAccessibleName("Incidents")
        header = view.horizontalHeader()
        header.setSortIndicatorClearable(True)  # a third click returns to the triage order
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        view.setSortingEnabled(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for column in (ALERT, CAD, RECEIVED, PRIORITY, HISTORY, STATUS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TYPE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(ADDRESS, QHeaderView.ResizeMode.Stretch)
        return view

    def _rejected_table(self) -> QTableView:
        view = QTableView()
        view.setObjectName("rejectedTable")
        view.setModel(self.rejected_model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setWordWrap(True)  # the reason is what the operator came for: never cut it
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long source keeps both ends
        view.verticalHeader().hide()
        view.setAccessibleName("Rejected CAD records")
        header = view.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for column in (LAST_SEEN, ORIGIN):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for column, width in ((SOURCE, 220), (RECORD, 300)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        header.setSectionResizeMode(REASON, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(lambda *_: view.resizeRowsToContents())
        return view

    def _combo(self, name: str, choices: Sequence[tuple[str, object]]) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        combo.setToolTip(name)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for text, value in choices:
            combo.addItem(text, value)
        return combo

    def _incidents_page(self) -> QWidget:
        filters = QHBoxLayout()
        filters.setSpacing(6)
        filters.addWidget(self.search_edit, 2)
        for widget in (
            self.status_filter,
            self.type_filter,
            self.priority_filter,
            self.clear_filters_button,
        ):
            filters.addWidget(widget)
        history = QWidget()
        history_layout = QVBoxLayout(history)
        history_layout.setContentsMargins(0, 4, 0, 0)
        history_layout.setSpacing(4)
        history_layout.addWidget(self.history_title)
        history_layout.addWidget(self.history_list, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(history)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(True)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        return page

    def _rejected_page(self) -> QWidget:
        bar = QHBoxLayout()
        bar.addWidget(self.rejected_count_label)
        bar.addStretch(1)
        bar.addWidget(self.refresh_rejected_button)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.rejected_hint)
        layout.addWidget(self.rejected_view, 1)
        layout.addLayout(bar)
        return page

    def sizeHint(self) -> QSize:
        # The dock's first height: about ten incidents and the history under the wall.
        return QSize(1100, 400)

    # ---- incidents -----------------------------------------------------------------------

    def set_incidents(self, rows: Sequence[IncidentRow]) -> None:
        first_load = self._known is None
        arrived = {row.cad_number for row in rows} - (self._known or set())
        self._known = (self._known or set()) | arrived
        if not self.model.set_rows(rows) and not first_load:
            return  # the refresh brought nothing new: keep the history list as it is
        if first_load and rows:
            self.view.resizeColumnToContents(TYPE)
        if arrived and not first_load:
            self.model.mark_new(arrived, self._clock() + self._highlight)
            self._highlight_timer.start()
            if self._sound:
                self._alert_sound()
        self._update_type_choices(rows)
        self._update_count()
        self._show_history()

    def _update_count(self) -> None:
        rows = self.model.all_rows
        open_rows = [row for row in rows if row.status is not IncidentStatus.CLOSED]
        emergencies = sum(row.emergency for row in open_rows)
        text = f"{len(open_rows)} open incidents"
        if emergencies:
            text += f" · {emergencies} emergency"
        if self.model.incident_filter.active:
            text += f" · showing {self.model.rowCount()} of {len(rows)}"
        self.count_label.setText(text)

    def _expire_highlights(self) -> None:
        if not self.model.expire_new():
            self._highlight_timer.stop()

    def selected_cad_number(self) -> str | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.rows[rows[0].row()].cad_number

    def focus_table(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if self.view.selectionModel().selectedRows() or self.model.rowCount() == 0:
            return
        self.view.selectRow(0)

    def _remember_selection(self) -> None:
        self._selected_cad = self.selected_cad_number()

    def _restore_selection(self) -> None:
        if self._selected_cad is None:
            return
        row = self.model.row_of(self._selected_cad)
        if row is not None:
            self.view.selectionModel().select(
                self.model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )

    # ---- filters -------------------------------------------------------------------------

    def set_filter(self, incident_filter: IncidentFilter) -> None:
        """Show the filter in the controls and apply it (as the operator choosing it would)."""
        for combo, value in (
            (self.status_filter, incident_filter.status),
            (self.priority_filter, incident_filter.max_priority),
        ):
            combo.setCurrentIndex(max(combo.findData(value), 0))
        if incident_filter.incident_type is not None:
            self._ensure_type_choice(incident_filter.incident_type)
        type_index = self.type_filter.findData(incident_filter.incident_type)
        self.type_filter.setCurrentIndex(max(type_index, 0))
        self.search_edit.setText(incident_filter.search)
        self._filters_changed()

    def clear_filters(self) -> None:
        self.set_filter(IncidentFilter())

    def _filters_changed(self) -> None:
        status = self.status_filter.currentData()  # Qt hands enum values back as plain text
        self.model.set_filter(
            IncidentFilter(
                search=self.search_edit.text(),
                status=status if status in (None, OPEN) else IncidentStatus(status),
                incident_type=self.type_filter.currentData(),
                max_priority=self.priority_filter.currentData(),
            )
        )
        self.clear_filters_button.setEnabled(self.model.incident_filter.active)
        self._update_count()
        self._show_history()

    def _update_type_choices(self, rows: Sequence[IncidentRow]) -> None:
        for incident_type in sorted({row.incident_type for row in rows}, key=str.casefold):
            self._ensure_type_choice(incident_type)

    def _ensure_type_choice(self, incident_type: str) -> None:
        """Types are only added: a chosen type stays chosen when its last call closes."""
        if self.type_filter.findData(incident_type) >= 0:
            return
        position = 1
        while position < self.type_filter.count() and (
            self.type_filter.itemText(position).casefold() < incident_type.casefold()
        ):
            position += 1
        self.type_filter.blockSignals(True)
        self.type_filter.insertItem(position, incident_type, incident_type)
        self.type_filter.blockSignals(False)

    # ---- history -------------------------------------------------------------------------

    def selected_incident(self) -> IncidentRow | None:
        cad_number = self.selected_cad_number()
        return next((row for row in self.model.all_rows if row.cad_number == cad_number), None)

    def _announce_selection(self, selected: IncidentRow | None) -> None:
        if selected != self._announced:
            self._announced = selected
            self.incident_selected.emit(selected)

    def _show_history(self) -> None:
        selected = self.selected_incident()
        self._announce_selection(selected)
        self.history_list.clear()
        if selected is None:
            self.history_title.setText(SELECT_FOR_HISTORY)
            return
        if not address_key(selected.address):
            self.history_title.setText(f"{selected.cad_number} has no address to look up.")
            return
        earlier = earlier_calls(self.model.all_rows, selected)
        if not earlier:
            self.history_title.setText(f"No earlier calls at {selected.address}.")
            return
        calls = "call" if len(earlier) == 1 else "calls"
        self.history_title.setText(f"{len(earlier)} earlier {calls} at {selected.address}:")
        now = self._clock()
        for row in earlier:
            badge = f"{EMERGENCY_BADGE} · " if row.emergency else ""
            self.history_list.addItem(
                f"{received_text(row.received_at, now)}  ·  {row.cad_number}  ·  "
                f"{badge}P{row.priority} {row.incident_type}  ·  {STATUS_TEXT[row.status]}"
            )

    # ---- the CAD source and its rejected records ------------------------------------------

    def set_cad_report(self, report: CadPollReport) -> None:
        state = report.source_state
        self.cad_state_label.setText(state.text)
        if self.cad_state_label.property("healthy") != state.healthy:
            self.cad_state_label.setProperty("healthy", state.healthy)
            self.cad_state_label.style().unpolish(self.cad_state_label)
            self.cad_state_label.style().polish(self.cad_state_label)
        changed = report.rejected_total != self._rejected_total
        self._rejected_total = report.rejected_total
        total = report.rejected_total
        self.tabs.setTabText(1, f"{REJECTED_TAB} ({total})" if total else REJECTED_TAB)
        if changed and self.tabs.currentIndex() == 1:
            self.load_rejected_records()

    def show_rejected_records(self) -> None:
        if self.tabs.currentIndex() == 1:
            self.load_rejected_records()
        else:
            self.tabs.setCurrentIndex(1)  # loads them
        self.rejected_view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def load_rejected_records(self) -> None:
        if self._rejected_loading:
            return
        self._rejected_loading = True
        sessions = self._sessions
        self._jobs.submit(
            "Reading the rejected CAD records",
            lambda: read_rejected_records(sessions),
            self._rejected_loaded,
            self._rejected_failed,
            owner=self,
        )

    def _tab_changed(self, index: int) -> None:
        if index == 1:
            self.load_rejected_records()

    def _rejected_loaded(self, rows: list[RejectedRecordRow]) -> None:
        self._rejected_loading = False
        self.rejected_model.replace_rows(rows)
        self.rejected_view.resizeRowsToContents()
        if rows:
            noun = "record" if len(rows) == 1 else "records"
            self.rejected_count_label.setText(f"{len(rows)} rejected {noun}, newest first")
        else:
            self.rejected_count_label.setText("No rejected records: CAD sent nothing unusable.")

    def _rejected_failed(self, error: Exception) -> None:
        self._rejected_loading = False
        self.rejected_count_label.setText(f"The rejected records could not be read: {error}")
