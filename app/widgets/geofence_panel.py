"""The geofence panel: every camera inside the geofence, nearest first, with how far and which
way it is, its tier, and whether it may be opened now for the incident at hand.

Selecting an incident puts the default circle around it; the operator changes the radius here
or by dragging the circle's handle on the map, or draws a circle or polygon of their own, and
opens the nearest allowed feeds with one action (each through the policy gate, for the
incident). Every search runs in a background job and is recorded in the audit log before its
answer is shown; the newest search wins when the operator is quicker than the disk.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.models.geo_index import MAX_RADIUS_M
from app.models.geofence import Geofence, GeofenceCircle
from app.models.policy import Purpose
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.geofence_search import (
    CameraCatalog,
    GeofenceHit,
    GeofenceResult,
    compass_text,
    distance_text,
    fence_text,
    incident_purpose,
    run_geofence_search,
)
from app.services.registry_rows import IncidentRow, PolicyNow
from app.widgets import palette
from app.widgets.action_buttons import action_button, shortcut_action
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.camera_list import CameraDragModel
from app.widgets.geofence_editor import MIN_RADIUS_M, DrawMode
from app.widgets.map_layers import camera_icon
from app.widgets.row_table_model import ModelIndex, row_table_view

COLUMNS = ("Camera", "Distance", "Direction", "Tier", "Open now", "Why")
CAMERA, DISTANCE, DIRECTION, TIER, OPEN_NOW, WHY = range(len(COLUMNS))
DEFAULT_OPEN_COUNT = 4
MAX_OPEN_COUNT = 25  # the largest wall layout
NO_FENCE_TEXT = "Select an incident, or draw a circle or polygon on the map."
NOT_RECORDED_TEXT = (
    "This search could not be recorded in the audit log, so its cameras are not shown. "
    "Free disk space on this workstation or call the administrator."
)
ICON_PX = 14


class GeofenceHitModel(CameraDragModel[GeofenceHit]):
    """The cameras of one search, nearest first; a drag source for the wall."""

    COLUMNS = COLUMNS

    def __init__(self) -> None:
        super().__init__()
        self._icons: dict[tuple[PolicyNow, str], QPixmap] = {}  # by state and theme
        self._ratio = 1.0

    def set_ratio(self, ratio: float) -> None:
        """The screen's device pixel ratio, for sharp state icons."""
        if ratio != self._ratio:
            self._ratio = ratio
            self._icons.clear()

    def camera_id_of(self, row: GeofenceHit) -> str:
        return row.camera.camera_id

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        hit = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell_text(hit, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == CAMERA:
                return f"{hit.camera.name} · {hit.camera.camera_id}\n{hit.camera.address}"
            return _cell_text(hit, column)
        if role == Qt.ItemDataRole.DecorationRole and column == CAMERA:
            key = (hit.camera.policy_state, palette.current().name)
            if key not in self._icons:
                self._icons[key] = camera_icon(key[0], ICON_PX, self._ratio)
            return self._icons[key]
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == OPEN_NOW and hit.may_open:
                return QBrush(QColor(palette.MAP_LIVE_ALLOWED))  # read now: the theme may change
            return None if hit.may_open else QBrush(QColor(palette.TEXT_MUTED))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == DISTANCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _cell_text(hit: GeofenceHit, column: int) -> str:
    if column == CAMERA:
        return hit.camera.name
    if column == DISTANCE:
        return distance_text(hit.distance_m)
    if column == DIRECTION:
        return compass_text(hit.bearing_deg)
    if column == TIER:
        return hit.camera.tier.value
    if column == OPEN_NOW:
        return "✓ yes" if hit.may_open else "✗ no"
    return hit.why


class GeofencePanel(QWidget):
    """The cameras in the geofence; the controls to shape it and to open its allowed feeds."""

    fence_changed = Signal(object)  # a Geofence set here (radius box, reset): for the map
    draw_requested = Signal(str)  # a DrawMode value: the operator wants to draw on the map
    camera_selected = Signal(str)  # a camera id: highlight it on the map
    camera_activated = Signal(str)  # Enter or double-click on an allowed camera
    open_requested = Signal(object, object)  # camera ids, Purpose | None
    message = Signal(str)  # for the status bar

    def __init__(
        self,
        jobs: BackgroundJobs,
        audit: AuditLog,
        user: SignedInUser,
        *,
        default_radius_m: float,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("geofencePanel")
        self._jobs = jobs
        self._audit = audit
        self._user = user
        self._default_radius_m = default_radius_m
        self._catalog: CameraCatalog | None = None
        self._incident: IncidentRow | None = None
        self._fence: Geofence | None = None
        self._result: GeofenceResult | None = None
        self._searches = itertools.count(1)
        self._latest = 0
        self._waiting_for_catalog = False

        self.title = QLabel(NO_FENCE_TEXT)
        self.title.setObjectName("geofenceTitle")
        self.title.setWordWrap(True)

        self.radius_box = QSpinBox()
        self.radius_box.setObjectName("geofenceRadius")
        self.radius_box.setRange(round(MIN_RADIUS_M), round(MAX_RADIUS_M))
        self.radius_box.setSingleStep(50)
        self.radius_box.setSuffix(" m")
        self.radius_box.setValue(round(default_radius_m))
        self.radius_box.setKeyboardTracking(False)  # search on Enter or an arrow, not per digit
        self.radius_box.setAccessibleName("Geofence radius in metres")
        self.radius_box.setToolTip("The circle's radius; or drag its square handle on the map")
        self.radius_box.valueChanged.connect(self._radius_chosen)
        radius_label = QLabel("Radius")
        radius_label.setBuddy(self.radius_box)

        self.circle_action = shortcut_action(
            self, "Draw a circle", "Ctrl+Shift+C", lambda: self.draw_requested.emit(DrawMode.CIRCLE)
        )
        self.polygon_action = shortcut_action(
            self,
            "Draw a polygon",
            "Ctrl+Shift+G",
            lambda: self.draw_requested.emit(DrawMode.POLYGON),
        )
        self.reset_action = shortcut_action(
            self, "Around the incident", None, self.reset_to_incident
        )
        self.reset_action.setToolTip("The default circle around the selected incident again")
        self.refresh_action = shortcut_action(self, "Search again", None, self.search_again)
        self.refresh_action.setToolTip("Search this geofence again: policies change over time")

        self.open_count_box = QSpinBox()
        self.open_count_box.setObjectName("geofenceOpenCount")
        self.open_count_box.setRange(1, MAX_OPEN_COUNT)
        self.open_count_box.setValue(DEFAULT_OPEN_COUNT)
        self.open_count_box.setAccessibleName("How many of the nearest allowed cameras to open")
        self.open_count_box.setToolTip("How many of the nearest allowed cameras to open")
        self.open_action = shortcut_action(
            self, "Open the nearest allowed", "Ctrl+Shift+O", self.open_nearest_allowed
        )

        self.model = GeofenceHitModel()
        self.view = row_table_view(
            self.model, "geofenceTable", "Cameras in the geofence, nearest first", drag_source=True
        )
        self.view.activated.connect(self._activated)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)

        self.summary = QLabel("")
        self.summary.setObjectName("mutedText")
        self.summary.setWordWrap(True)

        shape_row = QHBoxLayout()
        shape_row.addWidget(radius_label)
        shape_row.addWidget(self.radius_box)
        shape_row.addStretch(1)
        shape_row.addWidget(action_button(self.refresh_action))
        # The drawing buttons on a row of their own: one row of all five does not fit the left
        # column of a 1366-pixel laptop screen (tests/widgets/test_readability.py).
        draw_row = QHBoxLayout()
        for action in (self.circle_action, self.polygon_action, self.reset_action):
            draw_row.addWidget(action_button(action))
        draw_row.addStretch(1)
        open_row = QHBoxLayout()
        self.open_button = action_button(self.open_action)
        self.open_button.setObjectName("primaryButton")
        open_row.addWidget(self.open_button)
        open_row.addWidget(self.open_count_box)
        open_row.addStretch(1)
        self._open_row = open_row
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addLayout(shape_row)
        layout.addLayout(draw_row)
        # At least three rows of cameras however short the dock (a 768-line laptop screen).
        self.view.setMinimumHeight(self.view.verticalHeader().defaultSectionSize() * 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(open_row)
        layout.addWidget(self.summary)  # under the buttons: beside them it ran to four lines
        self._update_controls()

    def add_action_button(self, action: QAction) -> None:
        """A button for another panel's action on the list (footage requests), beside "open"."""
        self._open_row.insertWidget(2, action_button(action))

    def sizeHint(self) -> QSize:
        return QSize(660, 420)

    # ---- state ----------------------------------------------------------------------------

    @property
    def fence(self) -> Geofence | None:
        return self._fence

    @property
    def incident(self) -> IncidentRow | None:
        return self._incident

    @property
    def result(self) -> GeofenceResult | None:
        """The last search shown."""
        return self._result

    @property
    def searching(self) -> bool:
        return self._latest != 0

    def set_catalog(self, catalog: CameraCatalog) -> None:
        """The cameras as last read; a search that waited for them runs now."""
        self._catalog = catalog
        if self._waiting_for_catalog:
            self._waiting_for_catalog = False
            self._search()

    def set_incident(self, incident: IncidentRow | None) -> Geofence | None:
        """Follow the selected incident: a new incident, or one that moved, gets the default
        circle around it (returned, for the map to show); one whose emergency or status changed
        is searched again, since emergency-only cameras depend on them."""
        previous, self._incident = self._incident, incident
        if incident is None:
            if previous is not None:
                self._update_title()
                self._search()  # judged for a case now, not for the incident
            return None
        if previous is None or (
            (previous.cad_number, previous.latitude, previous.longitude)
            != (incident.cad_number, incident.latitude, incident.longitude)
        ):
            return self.reset_to_incident()
        if (previous.emergency, previous.status) != (incident.emergency, incident.status):
            self._search()
        return None

    def reset_to_incident(self) -> Geofence | None:
        incident = self._incident
        if incident is None:
            return None
        fence = GeofenceCircle(incident.latitude, incident.longitude, self._default_radius_m)
        self.set_fence(fence)
        self.fence_changed.emit(fence)
        return fence

    def set_fence(self, fence: Geofence) -> None:
        """Search this geofence (drawn on the map, or set here)."""
        self._fence = fence
        if isinstance(fence, GeofenceCircle):
            self.radius_box.blockSignals(True)
            self.radius_box.setValue(round(fence.radius_m))
            self.radius_box.blockSignals(False)
        self._update_title()
        self._search()

    def search_again(self) -> None:
        self._search()

    def _radius_chosen(self, radius_m: int) -> None:
        fence = self._fence
        if not isinstance(fence, GeofenceCircle) or radius_m == round(fence.radius_m):
            return
        changed = replace(fence, radius_m=float(radius_m))
        self.set_fence(changed)
        self.fence_changed.emit(changed)

    # ---- searching ------------------------------------------------------------------------

    def _search(self) -> None:
        fence = self._fence
        self._update_controls()
        if fence is None:
            return
        if self._catalog is None:
            self._waiting_for_catalog = True
            self.summary.setText("Reading the cameras…")
            return
        search = next(self._searches)
        self._latest = search
        catalog, incident, user, audit = self._catalog, self._incident, self._user, self._audit
        self.summary.setObjectName("mutedText")
        self.summary.setText("Searching…")
        self._jobs.submit(
            "Searching the geofence",
            lambda: run_geofence_search(catalog, fence, incident=incident, actor=user, audit=audit),
            lambda result: self._searched(search, result),
            lambda error: self._search_failed(search, error),
            owner=self,
        )

    def _searched(self, search: int, result: GeofenceResult) -> None:
        if search != self._latest:
            return  # a newer shape was asked for meanwhile
        self._latest = 0
        self._result = result
        self.model.set_ratio(self.devicePixelRatioF())
        first = self.model.rowCount() == 0
        self.model.replace_rows(result.hits)
        if first and result.hits:
            self.view.resizeColumnsToContents()
        self._restyle_summary("mutedText")
        self.summary.setText(summary_text(result))
        self._update_controls()

    def _search_failed(self, search: int, error: Exception) -> None:
        if search != self._latest:
            return
        self._latest = 0
        self._result = None
        self.model.replace_rows([])
        self._restyle_summary("errorText")
        if isinstance(error, AuditWriteError):
            self.summary.setText(NOT_RECORDED_TEXT)
        elif isinstance(error, ValueError):  # GeofenceError: the shape, in the operator's words
            self.summary.setText(f"{error}.")
        else:
            self.summary.setText(f"The search failed: {error}")
        self._update_controls()

    def _restyle_summary(self, name: str) -> None:
        if self.summary.objectName() != name:
            self.summary.setObjectName(name)
            self.summary.style().unpolish(self.summary)
            self.summary.style().polish(self.summary)

    # ---- opening --------------------------------------------------------------------------

    def purpose(self) -> Purpose | None:
        """What feeds from this list are opened for: the incident (None: the wall asks)."""
        return incident_purpose(self._incident) if self._incident is not None else None

    def open_nearest_allowed(self) -> None:
        result = self._result
        if result is None or not result.nearest_allowed:
            self.message.emit("No camera in this geofence may be opened now.")
            return
        chosen = result.nearest_allowed[: self.open_count_box.value()]
        self.open_requested.emit(chosen, self.purpose())

    def selected_hits(self) -> list[GeofenceHit]:
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.model.rows[row] for row in rows]

    def _activated(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        hit = self.model.rows[index.row()]
        if hit.may_open:
            self.camera_activated.emit(hit.camera.camera_id)
        else:
            self.message.emit(f"{hit.camera.name} cannot be opened now: {hit.why}.")

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.camera_selected.emit(self.model.rows[current.row()].camera.camera_id)

    def focus_table(self) -> None:
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if not self.view.selectionModel().selectedRows() and self.model.rowCount():
            self.view.selectRow(0)

    # ---- text -----------------------------------------------------------------------------

    def _update_title(self) -> None:
        fence, incident = self._fence, self._incident
        if fence is None:
            self.title.setText(NO_FENCE_TEXT)
            return
        where = fence_text(fence)
        if incident is None:
            self.title.setText(f"Cameras {where} · no incident selected: feeds need a case number")
            return
        badge = "EMERGENCY · " if incident.emergency else ""
        self.title.setText(
            f"Cameras {where} of {incident.cad_number} · {badge}P{incident.priority} "
            f"{incident.incident_type} · {incident.address or 'no address'}"
        )

    def _update_controls(self) -> None:
        circle = isinstance(self._fence, GeofenceCircle)
        self.radius_box.setEnabled(circle)
        self.reset_action.setEnabled(self._incident is not None)
        self.refresh_action.setEnabled(self._fence is not None)
        allowed = self._result is not None and bool(self._result.nearest_allowed)
        self.open_action.setEnabled(allowed)
        self.open_count_box.setEnabled(allowed)


def summary_text(result: GeofenceResult) -> str:
    listed = len(result.hits)
    allowed = result.allowed_count
    if result.total == 0:
        return "No cameras in this geofence."
    noun = "camera" if result.total == 1 else "cameras"
    text = f"{result.total:,} {noun} · {allowed} may open now · {listed - allowed} by request"
    if listed < result.total:
        text += f" · the nearest {listed:,} listed: draw a smaller geofence to see the rest"
    when = result.searched_at.astimezone().strftime("%H:%M:%S")
    return f"{text} · as of {when}"
