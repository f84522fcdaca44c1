"""Drawing and editing the geofence on the camera map.

The operator drags the circle's handle to change its radius, draws a new circle (press at the
centre, drag out the radius; a click without a drag keeps the current radius) or a polygon
(click each corner; double-click or Enter to finish, Backspace takes the last corner back).
Esc cancels a drawing. The map hands its pointer and key events here first; what is drawn is
announced with ``edited`` once the operator lets go, never on every pointer move, because each
shape is searched and audited.
"""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, Qt, Signal

from app.models.geo_index import MAX_RADIUS_M
from app.models.geofence import Geofence, GeofenceCircle, GeofencePolygon
from app.models.web_mercator import scale_factor
from app.widgets.map_layers import circle_on_screen, radius_handle

if TYPE_CHECKING:
    from app.widgets.camera_map import CameraMap

HANDLE_REACH_PX = 10.0
MIN_RADIUS_M = 10.0  # a drag shorter than this is a click
SAME_CORNER_PX = 4.0  # a second click this close to the last corner adds nothing

CIRCLE_HINT = "Press at the centre and drag out the radius (a click keeps the radius) · Esc cancels"
POLYGON_HINT = (
    "Click each corner · double-click or Enter to finish · Backspace takes the last corner back"
    " · Esc cancels"
)


class DrawMode(enum.StrEnum):
    NONE = "none"
    CIRCLE = "circle"
    POLYGON = "polygon"


class GeofenceEditor(QObject):
    edited = Signal(object)  # a Geofence the operator drew or changed
    mode_changed = Signal(str)  # a DrawMode value

    def __init__(self, camera_map: CameraMap) -> None:
        super().__init__(camera_map)
        self._map = camera_map
        self._layer = camera_map.geofence_layer
        self.mode = DrawMode.NONE
        self._corners: list[tuple[float, float]] = []
        self._circle_centre: tuple[float, float] | None = None
        self._resizing = False

    @property
    def fence(self) -> Geofence | None:
        return self._layer.fence

    @property
    def busy(self) -> bool:
        """Drawing or resizing: the pointer belongs to the editor."""
        return self.mode is not DrawMode.NONE or self._resizing

    def set_fence(self, fence: Geofence | None) -> None:
        self._layer.set_fence(fence, handle=True)

    def start(self, mode: DrawMode) -> None:
        self._forget_draft()
        self._resizing = False
        self.mode = mode
        if mode is DrawMode.NONE:
            self._map.viewport().unsetCursor()
            self._map.show_hint("")
        else:
            self._map.viewport().setCursor(Qt.CursorShape.CrossCursor)
            self._map.show_hint(CIRCLE_HINT if mode is DrawMode.CIRCLE else POLYGON_HINT)
        self.mode_changed.emit(mode.value)

    def cancel(self) -> None:
        if self.fence is not None and self._resizing:
            self._layer.update()
        self.start(DrawMode.NONE)

    # ---- pointer --------------------------------------------------------------------------

    def press(self, point: QPointF) -> bool:
        if self.mode is DrawMode.CIRCLE:
            self._circle_centre = self._map.geo_position(point)
            return True
        if self.mode is DrawMode.POLYGON:
            return True  # corners are added on release, so a double-click adds one, not two
        if self._on_handle(point):
            self._resizing = True
            return True
        return False

    def move(self, point: QPointF) -> bool:
        if self._resizing and isinstance(self.fence, GeofenceCircle):
            centre = (self.fence.latitude, self.fence.longitude)
            self._layer.set_fence(self._circle(centre, point), handle=True)
            return True
        if self.mode is DrawMode.CIRCLE:
            if self._circle_centre is not None:
                self._layer.set_fence(self._circle(self._circle_centre, point), handle=True)
            return True
        if self.mode is DrawMode.POLYGON:
            if self._corners:
                self._layer.set_draft(self._corners, self._map.geo_position(point))
            return True
        return False

    def hovering_handle(self, point: QPointF) -> bool:
        return self.mode is DrawMode.NONE and self._on_handle(point)

    def release(self, point: QPointF) -> bool:
        if self._resizing and isinstance(self.fence, GeofenceCircle):
            self._resizing = False
            fence = self._circle((self.fence.latitude, self.fence.longitude), point)
            self._layer.set_fence(fence, handle=True)
            self.edited.emit(fence)
            return True
        if self.mode is DrawMode.CIRCLE:
            centre = self._circle_centre or self._map.geo_position(point)
            fence = self._circle(centre, point)
            if self._pixels_between(centre, point) < self._radius_px(MIN_RADIUS_M, centre[0]):
                radius = self.fence.radius_m if isinstance(self.fence, GeofenceCircle) else None
                fence = GeofenceCircle(*centre, radius or self._map.default_radius_m)
            self.start(DrawMode.NONE)
            self._layer.set_fence(fence, handle=True)
            self.edited.emit(fence)
            return True
        if self.mode is DrawMode.POLYGON:
            corner = self._map.geo_position(point)
            if not self._corners or self._pixels_between(self._corners[-1], point) > SAME_CORNER_PX:
                self._corners.append(corner)
            self._layer.set_draft(self._corners, corner)
            return True
        return False

    def double_click(self, point: QPointF) -> bool:
        if self.mode is DrawMode.POLYGON:
            self._finish_polygon()
            return True
        return self.mode is not DrawMode.NONE

    def key(self, key: Qt.Key) -> bool:
        if self.mode is DrawMode.NONE and not self._resizing:
            return False
        if key == Qt.Key.Key_Escape:
            self.cancel()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.mode is DrawMode.POLYGON:
            self._finish_polygon()
        elif key == Qt.Key.Key_Backspace and self.mode is DrawMode.POLYGON:
            if self._corners:
                self._corners.pop()
            self._layer.set_draft(self._corners, self._layer.draft_pointer)
        else:
            return False
        return True

    # ---- shapes ---------------------------------------------------------------------------

    def _finish_polygon(self) -> None:
        corners = tuple(self._corners)
        if len(corners) < 3:
            self._map.show_hint(f"A polygon needs 3 corners or more ({len(corners)} so far)")
            return
        self.start(DrawMode.NONE)
        fence = GeofencePolygon(corners)
        self._layer.set_fence(fence, handle=True)
        self.edited.emit(fence)

    def _forget_draft(self) -> None:
        self._corners = []
        self._circle_centre = None
        self._layer.set_draft([], None)

    def _circle(self, centre: tuple[float, float], point: QPointF) -> GeofenceCircle:
        metres = self._pixels_between(centre, point) / self._radius_px(1.0, centre[0])
        return GeofenceCircle(*centre, min(max(metres, MIN_RADIUS_M), MAX_RADIUS_M))

    def _radius_px(self, metres: float, latitude: float) -> float:
        return metres * scale_factor(latitude) * self._map.map_frame().scale

    def _pixels_between(self, place: tuple[float, float], point: QPointF) -> float:
        at = self._map.screen_position(*place)
        return math.hypot(point.x() - at.x(), point.y() - at.y())

    def _on_handle(self, point: QPointF) -> bool:
        fence = self.fence
        if not isinstance(fence, GeofenceCircle) or not self._layer.isVisible():
            return False
        frame = self._map.map_frame()
        if frame.scale <= 0:
            return False
        handle = radius_handle(fence, frame)
        _, radius = circle_on_screen(fence, frame)
        if radius < 2 * HANDLE_REACH_PX:
            return False  # a dot of a circle: clicks there are for what lies under it
        return math.hypot(point.x() - handle.x(), point.y() - handle.y()) <= HANDLE_REACH_PX
