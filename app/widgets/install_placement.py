"""The install verifier's Placement tab: where the camera is, where it looks, and what of its
picture must never be shown.

Take snapshot (Alt+T) decodes one picture of the camera's main stream on the verifier's worker
thread (:mod:`app.services.install_snapshot`: the check's connect path, through the policy gate
for a registry camera); the privacy masks are drawn on it (:mod:`app.widgets.privacy_mask_editor`)
and the share of the picture they cover is shown (Ctrl+M previews the picture as the wall
shows it), with a warning above
``MOSTLY_PRIVATE_SHARE``. A registry camera's stored position, heading, field of view, range and
masks are loaded with its first snapshot.

The map (the console's ``CameraMap``, showing only this camera) draws the field of view as the
console draws every camera's. The technician drags the camera to move it and the square handle
at the end of its heading to turn it; with the map focused, the arrow keys move the camera (a
metre; with Shift ten), [ and ] turn it, - and = narrow and widen its field of view, Page Up and
Page Down zoom, Home centres it. A click on the map places a camera that has no position yet.
The numbers beside the map follow every change, and a number typed there moves the map; a value
outside its limits is refused with a message saying what to type.

What the technician set is ``placement`` (a Qt-free ``CameraPlacement``) and
``masked_snapshot()`` (the picture as the wall shows it): what the Record tab saves. Nothing
here writes to the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.models.camera import PrivacyMask
from app.models.camera_placement import (
    PLACEMENT_FIELDS,
    CameraPlacement,
    PlacementError,
    parse_placement_field,
)
from app.models.privacy_coverage import MOSTLY_PRIVATE_SHARE, masked_share, mostly_private
from app.models.stream_url import redact_url
from app.models.web_mercator import scale_factor
from app.services.basemap import open_basemap, read_street_geojson
from app.services.demo_city import STREETS_GEOJSON
from app.services.install_snapshot import PlacementSnapshot
from app.settings import Settings
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.camera_map import TILE_CACHE_DIR, CameraMap
from app.widgets.map_layers import PlacementLayer
from app.widgets.privacy_mask_editor import PrivacyMaskEditor
from app.widgets.resources import resources_dir

Frame = npt.NDArray[np.uint8]
# Takes a snapshot of what the Check tab names (on a worker thread).
SnapshotTaker = Callable[[], PlacementSnapshot]

PLACEMENT_ZOOM = 18.5  # a street and its frontages: a 40 m field of view fills a good part
HANDLE_REACH_PX = 12.0
CAMERA_REACH_PX = 14.0
NUDGE_M, NUDGE_FAR_M = 1.0, 10.0
TURN_DEG, TURN_FINE_DEG = 5.0, 1.0
FOV_STEP_DEG = 5.0
FIELD_DECIMALS = {"latitude": 6, "longitude": 6, "heading_deg": 0, "fov_deg": 0, "range_m": 1}
MAP_HINT = (
    "Drag the camera to move it, the square to turn it · arrows move it, [ ] turn, - = field of "
    "view, Page Up/Down zoom"
)
NO_POSITION_HINT = "No position yet: click the map where the camera is, or type its latitude"


def mostly_private_text(share: float) -> str:
    return (
        f"Most of this view is masked as private ({share:.0%}, more than "
        f"{MOSTLY_PRIVATE_SHARE:.0%}): the camera watches private property more than the public "
        "space it was integrated for. Turn or move it towards the street and take a new "
        "snapshot, or ask the owner whether this camera should be shared at all."
    )


def placement_map(settings: Settings, jobs: BackgroundJobs) -> CameraMap:
    """A map for placing one camera, on the console's basemap (see ``console_map``)."""
    streets = resources_dir() / STREETS_GEOJSON
    basemap = settings.basemap
    cache_dir = settings.data_dir / TILE_CACHE_DIR
    return CameraMap(
        jobs,
        open_basemap=lambda: open_basemap(basemap, cache_dir=cache_dir, streets=streets),
        fallback_streets=lambda: read_street_geojson(streets),
    )


_POINTER_EVENTS = frozenset(
    {QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease}
)


class PlacementEditor(QObject):
    """Moves and turns the placed camera on the map: the map's pointer and keys come here
    first (an event filter), and what this does not use goes on to the map."""

    moved = Signal(object)  # CameraPlacement, on every step of a drag or key
    finished = Signal(object)  # CameraPlacement, when a drag ends

    def __init__(self, camera_map: CameraMap) -> None:
        super().__init__(camera_map)
        self._map = camera_map
        self.layer = PlacementLayer()
        self.layer.setZValue(100)  # above every layer of the map
        camera_map.view_box.addItem(self.layer, ignoreBounds=True)
        self.placement: CameraPlacement | None = None
        self._dragging: str | None = None  # "camera" or "heading"
        self._press: QPointF | None = None
        self._viewport = camera_map.viewport()
        self._viewport.installEventFilter(self)
        camera_map.installEventFilter(self)

    def set_placement(self, placement: CameraPlacement | None) -> None:
        self.placement = placement
        self.layer.set_placement(
            None
            if placement is None
            else (
                placement.latitude,
                placement.longitude,
                placement.heading_deg,
                placement.fov_deg,
                placement.range_m,
            )
        )

    def grab_at(self, point: QPointF) -> str | None:
        """What a press at ``point`` takes hold of: "heading", "camera" or nothing."""
        shown = self.layer.positions(self._map.map_frame())
        if shown is None:
            return None
        camera, handle, _reach = shown
        if _distance(point, handle) <= HANDLE_REACH_PX:
            return "heading"
        if _distance(point, camera) <= CAMERA_REACH_PX:
            return "camera"
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Only the event types used here are looked at: others also arrive while the map is
        # being destroyed, when it must not be called.
        kind = event.type()
        if kind == QEvent.Type.KeyPress:
            return watched is self._map and isinstance(event, QKeyEvent) and self._key(event)
        if kind not in _POINTER_EVENTS or watched is not self._viewport:
            return False
        assert isinstance(event, QMouseEvent)
        point = event.position()
        left = event.button() == Qt.MouseButton.LeftButton
        if kind == QEvent.Type.MouseButtonPress and left:
            self._press = point
            self._dragging = self.grab_at(point)
            return self._dragging is not None
        if kind == QEvent.Type.MouseMove and self._dragging is not None:
            self._drag_to(point)
            return True
        if kind == QEvent.Type.MouseButtonRelease and left:
            press, self._press = self._press, None
            if self._dragging is not None:
                self._drag_to(point)
                self._dragging = None
                if self.placement is not None:
                    self.finished.emit(self.placement)
                return True
            if self.placement is None and press is not None:
                moved = (point - press).manhattanLength()
                if moved < QApplication.startDragDistance():
                    self._place_new(*self._map.geo_position(point))
        return False

    def _drag_to(self, point: QPointF) -> None:
        placement = self.placement
        if placement is None:
            return
        if self._dragging == "camera":
            latitude, longitude = self._map.geo_position(point)
            self._move(placement.moved(latitude=latitude, longitude=longitude))
            return
        camera = self._map.screen_position(placement.latitude, placement.longitude)
        dx, dy = point.x() - camera.x(), point.y() - camera.y()
        if math.hypot(dx, dy) < 2:
            return
        heading = math.degrees(math.atan2(dx, -dy))  # compass: 0 up, clockwise
        self._move(placement.moved(heading_deg=round(heading)))

    def _key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self._map.zoom_by(1.0 if key == Qt.Key.Key_PageUp else -1.0)
            return True
        placement = self.placement
        if placement is None:
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._place_new(*self._map.centre)
                return True
            return False
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        step_m = NUDGE_FAR_M if shift else NUDGE_M
        nudges = {
            Qt.Key.Key_Left: (0.0, -step_m),
            Qt.Key.Key_Right: (0.0, step_m),
            Qt.Key.Key_Up: (step_m, 0.0),
            Qt.Key.Key_Down: (-step_m, 0.0),
        }
        turn = TURN_FINE_DEG if shift else TURN_DEG
        changed: CameraPlacement | None = None
        if key in nudges:
            north_m, east_m = nudges[Qt.Key(key)]
            changed = _nudged(placement, north_m, east_m)
        elif key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight):
            sign = -1 if key == Qt.Key.Key_BracketLeft else 1
            changed = placement.moved(heading_deg=placement.heading_deg + sign * turn)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Equal, Qt.Key.Key_Plus):
            sign = -1 if key == Qt.Key.Key_Minus else 1
            fov = min(max(placement.fov_deg + sign * FOV_STEP_DEG, 1.0), 360.0)
            changed = placement.moved(fov_deg=fov)
        elif key == Qt.Key.Key_Home:
            self._map.centre_on(placement.latitude, placement.longitude)
            return True
        if changed is None:
            return False
        self._move(changed)
        self.finished.emit(changed)
        return True

    def _place_new(self, latitude: float, longitude: float) -> None:
        placement = CameraPlacement(latitude, longitude)  # the registry's defaults for the rest
        self._move(placement)
        self.finished.emit(placement)

    def _move(self, placement: CameraPlacement) -> None:
        self.set_placement(placement)
        self.moved.emit(placement)


class InstallPlacement(QWidget):
    """The Placement tab (see the module's docstring)."""

    placement_changed = Signal(object)  # CameraPlacement | None
    snapshot_ready = Signal(object)  # PlacementSnapshot
    message = Signal(str)

    def __init__(
        self,
        jobs: BackgroundJobs,
        take_snapshot: Callable[[], SnapshotTaker],
        camera_map: CameraMap,
        parent: QWidget | None = None,
    ) -> None:
        """``take_snapshot``: called on the UI thread when the technician asks for a snapshot,
        it reads what to open (the Check tab's fields) and returns the work to run off it."""
        super().__init__(parent)
        self.setObjectName("installPlacement")
        self._jobs = jobs
        self._take_snapshot = take_snapshot
        self._taking = False
        self._camera_id: str | None = None
        self._address: str | None = None
        self.share = 0.0

        self.snapshot_button = QPushButton("&Take snapshot")
        self.snapshot_button.setToolTip(
            "Decode one picture of the camera named on the Check tab (its main stream) to draw "
            "privacy masks on"
        )
        self.snapshot_button.clicked.connect(self.take_snapshot)
        self.status_label = QLabel("Take a snapshot of the camera to draw its privacy masks.")
        self.status_label.setObjectName("placementStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.snapshot_button)
        top.addWidget(self.status_label, 1)

        self.editor = PrivacyMaskEditor()
        self.editor.masks_changed.connect(self._masks_changed)
        self.editor.draft_changed.connect(self._draft_changed)
        self.preview_box = QCheckBox("Preview &masked")
        self.preview_box.setToolTip(
            "Show the snapshot exactly as the wall will show it: every mask blacked out"
        )
        self.preview_box.toggled.connect(self.editor.set_preview_masked)
        self.delete_button = QPushButton("Delete m&ask")
        self.delete_button.setToolTip("Remove the selected mask (click it, or Page Down; Delete)")
        self.delete_button.clicked.connect(self.editor.remove_selected)
        self.clear_button = QPushButton("C&lear masks")
        self.clear_button.setToolTip("Remove every mask of this camera")
        self.clear_button.clicked.connect(lambda: self.editor.set_masks([]))
        self.coverage_label = QLabel()
        self.coverage_label.setObjectName("maskCoverage")
        self.coverage_label.setToolTip(
            "The share of the picture the masks black out (where masks overlap, counted once)"
        )
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.preview_box)
        mask_row.addWidget(self.delete_button)
        mask_row.addWidget(self.clear_button)
        mask_row.addStretch(1)

        self.warning_icon = QLabel()
        size = self.fontMetrics().height() * 2
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.warning_icon.setPixmap(icon.pixmap(size, size))
        self.warning_icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.warning_label = QLabel()
        self.warning_label.setObjectName("mostlyPrivateWarning")
        self.warning_label.setWordWrap(True)
        self.warning = QWidget()
        self.warning.setObjectName("mostlyPrivate")
        warning_row = QHBoxLayout(self.warning)
        warning_row.setContentsMargins(0, 0, 0, 0)
        warning_row.addWidget(self.warning_icon)
        warning_row.addWidget(self.warning_label, 1)
        self.warning.hide()

        picture = QWidget()
        picture_column = QVBoxLayout(picture)
        picture_column.setContentsMargins(0, 0, 0, 0)
        picture_column.addWidget(self.editor, 1)
        picture_column.addLayout(mask_row)
        picture_column.addWidget(self.coverage_label)
        picture_column.addWidget(self.warning)

        self.map = camera_map
        self.map.setToolTip(MAP_HINT)
        self.map.setAccessibleName("Map of the camera's position and field of view")
        self.map.legend.hide()  # its layers and symbols are the console's, not this camera's
        self.map.status_label.hide()
        self.map.setMinimumSize(240, 160)
        self.map_editor = PlacementEditor(camera_map)
        self.map_editor.moved.connect(self._show_numbers)
        self.map_editor.finished.connect(self._placement_set)
        self.map_hint = QLabel(NO_POSITION_HINT)
        self.map_hint.setObjectName("placementHint")
        self.map_hint.setWordWrap(True)

        self.fields: dict[str, QLineEdit] = {}
        numbers = QGridLayout()
        for index, (name, spec) in enumerate(PLACEMENT_FIELDS.items()):
            edit = QLineEdit()
            edit.setObjectName(f"placement_{name}")
            edit.setAccessibleName(spec.label)
            edit.setToolTip(f"{spec.label}, {spec.limits_text()}; Enter applies it")
            edit.editingFinished.connect(lambda name=name: self._typed(name))
            self.fields[name] = edit
            label = QLabel(f"{spec.label}{' (' + spec.unit.strip() + ')' if spec.unit else ''}:")
            label.setBuddy(edit)
            row, column = divmod(index, 2)
            numbers.addWidget(label, row, column * 2)
            numbers.addWidget(edit, row, column * 2 + 1)
        self.fields_message = QLabel()
        self.fields_message.setObjectName("placementFieldsMessage")
        self.fields_message.setWordWrap(True)
        self.fields_message.hide()

        place = QWidget()
        place_column = QVBoxLayout(place)
        place_column.setContentsMargins(8, 0, 0, 0)
        place_column.addWidget(self.map, 1)
        place_column.addWidget(self.map_hint)
        place_column.addLayout(numbers)
        place_column.addWidget(self.fields_message)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(picture)
        self.splitter.addWidget(place)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        QShortcut(QKeySequence("Ctrl+M"), self, self.preview_box.toggle)
        self.setTabOrder(self.snapshot_button, self.editor)
        self.setTabOrder(self.editor, self.preview_box)
        self.setTabOrder(self.preview_box, self.delete_button)
        self.setTabOrder(self.delete_button, self.clear_button)
        self.setTabOrder(self.clear_button, self.map)
        previous: QWidget = self.map
        for edit in self.fields.values():
            self.setTabOrder(previous, edit)
            previous = edit
        self._show_numbers(None)
        self._masks_changed([])

    # ---- what the technician set -----------------------------------------------------------

    @property
    def placement(self) -> CameraPlacement | None:
        """Position, heading, field of view, range and masks; None until a position is set."""
        placed = self.map_editor.placement
        if placed is None:
            return None
        return placed.moved(privacy_masks=self.editor.masks)

    @property
    def camera_id(self) -> str | None:
        return self._camera_id

    def masked_snapshot(self) -> Frame | None:
        """The snapshot as the wall shows it (BGR), or None before one was taken."""
        return self.editor.masked_frame()

    def set_placement(self, placement: CameraPlacement | None) -> None:
        """Show this placement (a registry camera's, or none) on the map, in the numbers and as
        the masks; the map centres on it."""
        self.map_editor.set_placement(placement)
        self.editor.set_masks(placement.privacy_masks if placement is not None else [])
        if placement is not None:
            self.map.centre_on(placement.latitude, placement.longitude, PLACEMENT_ZOOM)
        self._show_numbers(placement)
        self.placement_changed.emit(self.placement)

    # ---- snapshot ----------------------------------------------------------------------------

    def take_snapshot(self) -> None:
        if self._taking:
            return
        work = self._take_snapshot()
        self._taking = True
        self.snapshot_button.setEnabled(False)
        self.status_label.setText("Taking a snapshot…")
        self.editor.set_placeholder("Taking a snapshot…")
        self._jobs.submit(
            "Placement snapshot", work, self._snapshot_taken, self._snapshot_failed, owner=self
        )

    @property
    def taking(self) -> bool:
        return self._taking

    def _snapshot_taken(self, snapshot: PlacementSnapshot) -> None:
        self._taking = False
        self.snapshot_button.setEnabled(True)
        first_of_this_camera = snapshot.address != self._address
        self._address, self._camera_id = snapshot.address, snapshot.camera_id
        self.editor.set_frame(snapshot.frame)
        if first_of_this_camera:
            self.set_placement(snapshot.placement)
        height, width = snapshot.frame.shape[:2]
        name = f"{snapshot.camera_name} ({snapshot.address})" if snapshot.camera_name else None
        stored = (
            "; its stored position and masks are loaded"
            if first_of_this_camera and snapshot.placement is not None
            else ""
        )
        self.status_label.setText(
            f"Snapshot of {name or snapshot.address}, {width}x{height}{stored}. Click the corners "
            "of each private area on the picture."
        )
        self.editor.setFocus()
        self.snapshot_ready.emit(snapshot)

    def _snapshot_failed(self, error: Exception) -> None:
        self._taking = False
        self.snapshot_button.setEnabled(True)
        reason = redact_url(str(error))
        self.status_label.setText(f"No snapshot: {reason}")
        self.editor.set_placeholder(f"No snapshot: {reason}")
        self.message.emit(f"Placement snapshot: {reason}")
        self.snapshot_button.setFocus()

    # ---- masks -----------------------------------------------------------------------------

    def _masks_changed(self, masks: list[PrivacyMask]) -> None:
        self.share = masked_share(masks)
        count = len(masks)
        self.coverage_label.setText(
            f"{count} mask{'' if count == 1 else 's'} · {self.share:.0%} of the picture masked"
        )
        self.delete_button.setEnabled(bool(masks))
        self.clear_button.setEnabled(bool(masks))
        self.warning.setVisible(mostly_private(self.share))
        self.warning_label.setText(mostly_private_text(self.share))
        if self.map_editor.placement is not None:
            self.placement_changed.emit(self.placement)

    def _draft_changed(self, corners: int) -> None:
        if corners:
            self.status_label.setText(
                f"{corners} corner{'' if corners == 1 else 's'}: click the next; double-click "
                "or Enter closes the mask (3 corners at least), Backspace takes one back, Esc "
                "drops it."
            )

    # ---- position, heading, field of view ----------------------------------------------------

    def _show_numbers(self, placement: CameraPlacement | None) -> None:
        for name, edit in self.fields.items():
            if placement is None:
                edit.clear()
                edit.setPlaceholderText("not set")
                continue
            value = getattr(placement, name)
            edit.setText(f"{value:.{FIELD_DECIMALS[name]}f}")
        self.map_hint.setText(MAP_HINT if placement is not None else NO_POSITION_HINT)
        if placement is not None:
            self.fields_message.hide()

    def _placement_set(self, placement: CameraPlacement) -> None:
        self._show_numbers(placement)
        self.placement_changed.emit(self.placement)

    def _typed(self, name: str) -> None:
        edit = self.fields[name]
        text = edit.text()
        current = self.map_editor.placement
        if current is not None and text == f"{getattr(current, name):.{FIELD_DECIMALS[name]}f}":
            return  # nothing typed: leaving the field changes nothing
        if current is None and not text.strip():
            return
        if current is None and name not in ("latitude", "longitude"):
            self.fields_message.setText(
                "Place the camera first: type its latitude and longitude, or click the map."
            )
            self.fields_message.show()
            return
        try:
            value = parse_placement_field(name, text)
            if current is None:
                changed = self._new_from_fields(name, value)
            else:
                changed = current.moved(**{name: value})
        except PlacementError as error:
            self.fields_message.setText(f"{error}. The camera was not changed.")
            self.fields_message.show()
            edit.selectAll()
            return
        self.fields_message.hide()
        if changed is None:
            return
        first = current is None
        self.map_editor.set_placement(changed)
        if first or name in ("latitude", "longitude"):
            self.map.centre_on(changed.latitude, changed.longitude, PLACEMENT_ZOOM)
        self._placement_set(changed)

    def _new_from_fields(self, name: str, value: float) -> CameraPlacement | None:
        """A first position, once both latitude and longitude are typed."""
        other = "longitude" if name == "latitude" else "latitude"
        text = self.fields[other].text()
        if not text.strip():
            self.fields_message.setText(
                f"Type the {PLACEMENT_FIELDS[other].label.lower()} too to place the camera."
            )
            self.fields_message.show()
            return None
        values = {name: value, other: parse_placement_field(other, text)}
        return CameraPlacement(values["latitude"], values["longitude"])


def _nudged(placement: CameraPlacement, north_m: float, east_m: float) -> CameraPlacement:
    metres_per_degree = 111_320.0
    latitude = placement.latitude + north_m / metres_per_degree
    longitude = placement.longitude + east_m * scale_factor(placement.latitude) / metres_per_degree
    return placement.moved(latitude=latitude, longitude=longitude)


def _distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


__all__ = ["InstallPlacement", "PlacementEditor", "mostly_private_text", "placement_map"]
