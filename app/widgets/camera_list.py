"""The camera list: every camera in the registry, filterable and sortable.

A camera is put on the video wall by dragging its row onto a tile (the drag carries the camera's
id as ``CAMERA_MIME``), or with Enter or a double-click, which opens it on the first free tile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services.registry_rows import CameraRow, PolicyNow
from app.widgets import palette
from app.widgets.map_layers import camera_icon
from app.widgets.row_table_model import ModelIndex, Row, RowTableModel, row_table_view
from app.widgets.video_tile import CAMERA_MIME, camera_mime

COLUMNS = ("ID", "Name", "Tier", "Policy now", "Address")
NAME_COLUMN, MAX_NAME_WIDTH = 1, 260  # long names elide; the tooltip has them whole
POLICY_COLUMN = COLUMNS.index("Policy now")  # in words, beside the map's symbol of the state
ICON_PX = 14
ICON_RATIO = 2.0  # symbols drawn at twice their size are sharp on 1x, 1.5x and 2x screens


class CameraDragModel(RowTableModel[Row]):
    """A table whose rows are cameras: dragging rows onto the wall carries their ids
    (``CAMERA_MIME``): one opens on the tile it is dropped on, several tour it."""

    def camera_id_of(self, row: Row) -> str:
        raise NotImplementedError

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid():
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def mimeTypes(self) -> list[str]:
        return [CAMERA_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = dict.fromkeys(index.row() for index in indexes if index.isValid())
        return camera_mime([self.camera_id_of(self._rows[row]) for row in rows])

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


def _cells(row: CameraRow) -> tuple[str, str, str, str, str]:
    return (row.camera_id, row.name, row.tier.value, row.policy_now, row.address)


class CameraTableModel(CameraDragModel[CameraRow]):
    """Camera rows as read from the registry, filtered and sorted here rather than by a
    QSortFilterProxyModel: a proxy asks ``data()`` through Python for every comparison, which
    froze the UI thread for 6-7 s over 100,000 cameras; keys and lower-cased texts made once
    per read sort and filter them in well under 100 ms."""

    COLUMNS = COLUMNS

    def __init__(self) -> None:
        super().__init__()
        self._all: list[CameraRow] = []
        self._haystacks: list[str] = []
        self._filter = ""
        self._sort_column = 0
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._icons: dict[tuple[PolicyNow, str], QPixmap] = {}  # by state and theme

    @property
    def all_rows(self) -> Sequence[CameraRow]:
        """Every camera of the last read, whatever the filter."""
        return tuple(self._all)

    def camera_id_of(self, row: CameraRow) -> str:
        return row.camera_id

    def set_rows(self, rows: Sequence[CameraRow]) -> None:
        rows = list(rows)
        if rows == self._all:
            return
        self._all = rows
        self._haystacks = ["\t".join(_cells(row)).casefold() for row in rows]
        self._arrange()

    def set_filter(self, text: str) -> None:
        """Show the cameras with ``text`` in any column (case-insensitive)."""
        if text.casefold() != self._filter:
            self._filter = text.casefold()
            self._arrange()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        self._arrange()

    def _arrange(self) -> None:
        needle = self._filter
        shown = (
            [row for row, hay in zip(self._all, self._haystacks, strict=True) if needle in hay]
            if needle
            else list(self._all)
        )
        column = self._sort_column
        shown.sort(key=lambda row: (_cells(row)[column].casefold(), row.camera_id))
        if self._sort_order is Qt.SortOrder.DescendingOrder:
            shown.reverse()
        self.replace_rows(shown)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return _cells(self._rows[index.row()])[index.column()]
        if role == Qt.ItemDataRole.DecorationRole and index.column() == POLICY_COLUMN:
            key = (self._rows[index.row()].policy_state, palette.current().name)
            if key not in self._icons:
                self._icons[key] = camera_icon(key[0], ICON_PX, ICON_RATIO)
            return self._icons[key]
        return None


class CameraList(QWidget):
    """A filter box over a sortable table of the registry's cameras; a drag source for the wall."""

    camera_activated = Signal(str)  # a camera id: Enter or double-click on its row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cameraList")
        self.model = CameraTableModel()
        self._selected_before_reset: list[str] = []

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("cameraFilter")
        self.filter_edit.setPlaceholderText("Filter cameras: id, name, tier, policy, address")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter cameras")
        self.filter_edit.setToolTip(
            "Show only the cameras whose id, name, tier, policy or address contain this text"
        )
        self.filter_edit.textChanged.connect(self.model.set_filter)

        # Several cameras (Ctrl/Shift-click) make a tour when dragged onto a tile or Ctrl+T.
        self.view = row_table_view(self.model, "cameraTable", "Cameras", drag_source=True)
        # After setModel: the selection model clears itself on a reset, then this restores.
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.activated.connect(self._activated)

        self.count_label = QLabel("Loading cameras…")
        self.count_label.setObjectName("mutedText")
        self.model.modelReset.connect(self._update_count)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)

    def sizeHint(self) -> QSize:
        # The dock's first width: id, name, tier and policy readable without scrolling.
        return QSize(660, 700)

    def set_cameras(self, rows: Sequence[CameraRow]) -> None:
        first_load = not self.model.rows
        self.model.set_rows(rows)
        if first_load and rows:
            self.view.resizeColumnsToContents()
            if self.view.columnWidth(NAME_COLUMN) > MAX_NAME_WIDTH:
                self.view.setColumnWidth(NAME_COLUMN, MAX_NAME_WIDTH)
        self._update_count()

    def visible_camera_ids(self) -> list[str]:
        """The ids in the order the table shows them (after filtering and sorting)."""
        return [row.camera_id for row in self.model.rows]

    def selected_camera_ids(self) -> list[str]:
        """The selected cameras, in the order the table shows them."""
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.model.rows[row].camera_id for row in rows]

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.camera_activated.emit(self.model.rows[index.row()].camera_id)

    def _remember_selection(self) -> None:
        self._selected_before_reset = self.selected_camera_ids()

    def _restore_selection(self) -> None:
        """A refresh, a filter or a sort keeps the operator's selection (of rows still shown)."""
        wanted = set(self._selected_before_reset)
        if not wanted:
            return
        selection = QItemSelection()
        for number, row in enumerate(self.model.rows):
            if row.camera_id in wanted:
                selection.select(self.model.index(number, 0), self.model.index(number, 0))
        self.view.selectionModel().select(
            selection,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _update_count(self) -> None:
        total, shown = len(self.model.all_rows), self.model.rowCount()
        if total == shown:
            self.count_label.setText(f"{total} cameras")
        else:
            self.count_label.setText(f"{shown} of {total} cameras match the filter")
