"""The incident panel: calls for service from the registry, most urgent and newest first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, QSize, Qt
from PySide6.QtCore import QPersistentModelIndex as PersistentIndex
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.models.incident import IncidentStatus
from app.services.clock import Clock, utc_now
from app.services.registry_rows import IncidentRow, triage_order
from app.widgets import palette

ModelIndex = QModelIndex | PersistentIndex

COLUMNS = ("Alert", "CAD number", "Received", "Pri", "Type", "Address", "Status")
ALERT, CAD, RECEIVED, PRIORITY, TYPE, ADDRESS, STATUS = range(len(COLUMNS))
EMERGENCY_BADGE = "EMERGENCY"
STATUS_TEXT = {
    IncidentStatus.PENDING: "Pending",
    IncidentStatus.DISPATCHED: "Dispatched",
    IncidentStatus.ON_SCENE: "On scene",
    IncidentStatus.CLOSED: "Closed",
}
_STATUS_ORDER = {status: number for number, status in enumerate(IncidentStatus)}

SortKey = Callable[[IncidentRow], Any]
_SORT_KEYS: dict[int, SortKey] = {
    ALERT: lambda row: row.emergency,
    CAD: lambda row: row.cad_number,
    RECEIVED: lambda row: row.received_at,
    PRIORITY: lambda row: row.priority,
    TYPE: lambda row: row.incident_type.casefold(),
    ADDRESS: lambda row: row.address.casefold(),
    STATUS: lambda row: _STATUS_ORDER[row.status],
}


def received_text(received_at: datetime, now: datetime) -> str:
    """Local time; the date only when it is not today (local)."""
    local, today = received_at.astimezone(), now.astimezone().date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    return local.strftime("%b %d %H:%M")


class IncidentTableModel(QAbstractTableModel):
    """Incident rows; column -1 (the default) sorts by triage order (``triage_order``)."""

    def __init__(self, clock: Clock = utc_now) -> None:
        super().__init__()
        self._clock = clock
        self._rows: list[IncidentRow] = []
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._emergency_font = QFont()
        self._emergency_font.setBold(True)
        self._emergency_background = QBrush(QColor(palette.EMERGENCY_ROW))
        self._emergency_text = QBrush(QColor(palette.EMERGENCY_ROW_TEXT))
        self._badge_text = QBrush(QColor(palette.EMERGENCY))
        self._closed_text = QBrush(QColor(palette.CLOSED_ROW_TEXT))

    @property
    def rows(self) -> Sequence[IncidentRow]:
        return tuple(self._rows)

    def set_rows(self, rows: Sequence[IncidentRow]) -> None:
        ordered = self._sorted(rows)
        if ordered == self._rows:
            return
        self.beginResetModel()
        self._rows = ordered
        self.endResetModel()

    def row_of(self, cad_number: str) -> int | None:
        for number, row in enumerate(self._rows):
            if row.cad_number == cad_number:
                return number
        return None

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
        self._rows = self._sorted(self._rows)
        self.layoutChanged.emit()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is not Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == PRIORITY:
            return "Priority: P1 is the most urgent"
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == RECEIVED:
                return row.received_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
            if column == ALERT and row.emergency:
                return "Emergency incident: emergency-only cameras may be opened for it"
            return self._text(row, column)
        if role == Qt.ItemDataRole.BackgroundRole and row.emergency:
            return self._emergency_background
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.emergency:
                return self._badge_text if column == ALERT else self._emergency_text
            if row.status is IncidentStatus.CLOSED:
                return self._closed_text
        if role == Qt.ItemDataRole.FontRole and row.emergency:
            return self._emergency_font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (PRIORITY, RECEIVED):
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _text(self, row: IncidentRow, column: int) -> str:
        if column == ALERT:
            return EMERGENCY_BADGE if row.emergency else ""
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
        return STATUS_TEXT[row.status]


class IncidentPanel(QWidget):
    """A table of incidents; keeps the operator's selection across refreshes."""

    def __init__(self, clock: Clock = utc_now, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("incidentPanel")
        self.model = IncidentTableModel(clock)
        self.view = QTableView()
        self.view.setObjectName("incidentTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.setAccessibleName("Incidents")
        header = self.view.horizontalHeader()
        header.setSortIndicatorClearable(True)  # a third click returns to the triage order
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        for column in (ALERT, CAD, RECEIVED, PRIORITY, STATUS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TYPE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(ADDRESS, QHeaderView.ResizeMode.Stretch)

        self.count_label = QLabel("Loading incidents…")
        self.count_label.setObjectName("mutedText")
        self._selected_cad: str | None = None
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)

    def sizeHint(self) -> QSize:
        # The dock's first height: about ten incidents under the wall.
        return QSize(1100, 330)

    def set_incidents(self, rows: Sequence[IncidentRow]) -> None:
        first_load = not self.model.rows
        self.model.set_rows(rows)
        if first_load and rows:
            self.view.resizeColumnToContents(TYPE)
        open_rows = [row for row in rows if row.status is not IncidentStatus.CLOSED]
        emergencies = sum(row.emergency for row in open_rows)
        text = f"{len(open_rows)} open incidents"
        if emergencies:
            text += f" · {emergencies} emergency"
        self.count_label.setText(text)

    def selected_cad_number(self) -> str | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.rows[rows[0].row()].cad_number

    def focus_table(self) -> None:
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
