"""The camera map's layers: pyqtgraph items that paint numpy arrays in screen pixels.

Each layer lives in the map's ``ViewBox`` (data coordinates are Web Mercator metres), but paints
in viewport pixels (which Qt scales to the screen's): it reads the painter's transform once,
projects only what is in view with numpy, and draws symbols from a pre-rendered atlas in one
``drawPixmapFragments`` call, so a frame costs the same whether the registry holds five hundred
cameras or a hundred thousand.
Far out, cameras come from the cluster pyramid built with them (``app.models.camera_clusters``).
"""

from __future__ import annotations

import enum
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from app.models.camera_clusters import MAX_LEVEL, MIN_LEVEL
from app.models.geofence import Geofence, GeofenceCircle
from app.models.web_mercator import (
    HALF_WORLD_M,
    TileKey,
    scale_factor,
    tiles_covering,
    to_mercator,
    to_mercator_arrays,
    zoom_for,
)
from app.services.basemap import Pixels, StreetMap
from app.services.geofence_search import distance_text
from app.services.map_features import (
    POLICY_STATES,
    CameraFeatures,
    IncidentFeatures,
    UnitFeatures,
)
from app.services.registry_rows import PolicyNow
from app.widgets import palette

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

WORLD_RECT = QRectF(-HALF_WORLD_M, -HALF_WORLD_M, 2 * HALF_WORLD_M, 2 * HALF_WORLD_M)
INDIVIDUAL_ZOOM = MAX_LEVEL + 0.5  # from here in, every camera is drawn on its own
CONE_ZOOM = 16.5  # fields of view from here in
CONE_LIMIT = 600  # more cones than this in view is a smear, not information
CONE_FILL_BUDGET_PX = 1_200_000.0  # filled wedges up to about half a 1080p screen
STREET_MINOR_ZOOM = 12.5
STREET_LABEL_ZOOM = 15.0
UNIT_LABEL_ZOOM = 13.0
LABEL_SHARE_HORIZONTAL = 0.3  # where along its visible piece a street is named
LABEL_SHARE_VERTICAL = 0.62
SYMBOL_PX = 15  # a camera symbol's box, in logical pixels
UNIT_PX = 22
INCIDENT_PX = 24
HIT_PX = 10  # how near the pointer must be to a symbol to hover or click it


class MapLayer(enum.StrEnum):
    """What the legend can show and hide, in drawing order."""

    BASEMAP = "Streets and tiles"
    GEOFENCES = "Geofences"
    FIELDS_OF_VIEW = "Fields of view"
    CAMERAS = "Cameras"
    INCIDENTS = "Incidents"
    UNITS = "Units"


STATE_COLOURS = palette.ThemeColours(
    {
        PolicyNow.LIVE_ALLOWED: "MAP_LIVE_ALLOWED",
        PolicyNow.EMERGENCY_ONLY: "MAP_EMERGENCY_ONLY",
        PolicyNow.SCHEDULED_CLOSED: "MAP_SCHEDULED_CLOSED",
        PolicyNow.REVOKED: "MAP_REVOKED",
        PolicyNow.REGISTERED_ONLY: "MAP_REGISTERED_ONLY",
    }
)
STATE_SYMBOLS: dict[PolicyNow, str] = {
    PolicyNow.LIVE_ALLOWED: "circle",
    PolicyNow.EMERGENCY_ONLY: "triangle",
    PolicyNow.SCHEDULED_CLOSED: "square",
    PolicyNow.REVOKED: "cross",
    PolicyNow.REGISTERED_ONLY: "diamond",
}
STATE_LEGEND: dict[PolicyNow, str] = {
    PolicyNow.LIVE_ALLOWED: "Live allowed now",
    PolicyNow.EMERGENCY_ONLY: "Emergency only",
    PolicyNow.SCHEDULED_CLOSED: "Scheduled, closed now",
    PolicyNow.REVOKED: "Revoked or no policy",
    PolicyNow.REGISTERED_ONLY: "Registered only (hollow)",
}


def incident_colour(priority: int) -> str:
    return {
        1: palette.MAP_INCIDENT_P1,
        2: palette.MAP_INCIDENT_P2,
        3: palette.MAP_INCIDENT_P3,
    }.get(priority, palette.MAP_INCIDENT_LOW)


@dataclass(frozen=True, slots=True)
class MapFrame:
    """Projected metres to viewport pixels for one paint (north-up: no rotation, one scale)."""

    scale: float  # pixels per projected metre
    dx: float
    dy: float
    width: float  # of the viewport, in pixels
    height: float

    @classmethod
    def from_painter(cls, painter: QPainter, size: QSize) -> MapFrame:
        t = painter.transform()
        return cls(t.m11(), t.m31(), t.m32(), size.width(), size.height())

    @property
    def zoom(self) -> float:
        return zoom_for(1.0 / self.scale)

    def to_px(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        return x * self.scale + self.dx, self.dy - y * self.scale

    def to_map(self, px: float, py: float) -> tuple[float, float]:
        return (px - self.dx) / self.scale, (self.dy - py) / self.scale

    def bounds(self, margin_px: float = 0.0) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the viewport plus a margin, in projected metres."""
        west, north = self.to_map(-margin_px, -margin_px)
        east, south = self.to_map(self.width + margin_px, self.height + margin_px)
        return west, south, east, north


# --- symbols --------------------------------------------------------------------------------


def _pen(colour: str, width: float) -> QPen:
    pen = QPen(QColor(colour), width)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen


def draw_camera_symbol(painter: QPainter, state: PolicyNow, centre: QPointF, size: float) -> None:
    """One camera's symbol: shape by policy state, hollow for a registered camera."""
    colour = STATE_COLOURS[state]
    half = size / 2 - 1.5
    cx, cy = centre.x(), centre.y()
    shape = STATE_SYMBOLS[state]
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if shape == "cross":
        for width, pen_colour in ((5.0, palette.MAP_SYMBOL_OUTLINE), (2.6, colour)):
            painter.setPen(_pen(pen_colour, width))
            arm = half * 0.8
            painter.drawLine(QPointF(cx - arm, cy - arm), QPointF(cx + arm, cy + arm))
            painter.drawLine(QPointF(cx - arm, cy + arm), QPointF(cx + arm, cy - arm))
        return
    path = QPainterPath()
    if shape == "circle":
        path.addEllipse(centre, half * 0.9, half * 0.9)
    elif shape == "square":
        side = half * 0.8
        path.addRect(QRectF(cx - side, cy - side, 2 * side, 2 * side))
    elif shape == "triangle":
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(cx, cy - half),
                    QPointF(cx + half, cy + half * 0.8),
                    QPointF(cx - half, cy + half * 0.8),
                ]
            )
        )
        path.closeSubpath()
    else:  # diamond
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(cx, cy - half),
                    QPointF(cx + half, cy),
                    QPointF(cx, cy + half),
                    QPointF(cx - half, cy),
                ]
            )
        )
        path.closeSubpath()
    if state is PolicyNow.REGISTERED_ONLY:
        painter.strokePath(path, _pen(palette.MAP_SYMBOL_OUTLINE, 4.4))
        painter.strokePath(path, _pen(colour, 2.2))
    else:
        painter.strokePath(path, _pen(palette.MAP_SYMBOL_OUTLINE, 3.0))
        painter.fillPath(path, QColor(colour))


def _icon(size: int, ratio: float, draw: Callable[[QPainter, QPointF], None]) -> QPixmap:
    """A symbol on its own, centred on a transparent pixmap (the legend shows these)."""
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    draw(painter, QPointF(size / 2, size / 2))
    painter.end()
    return pixmap


def camera_icon(state: PolicyNow, size: int = SYMBOL_PX, ratio: float = 1.0) -> QPixmap:
    return _icon(size, ratio, lambda painter, at: draw_camera_symbol(painter, state, at, size))


def draw_unit_symbol(painter: QPainter, centre: QPointF, size: float, busy: bool) -> None:
    """A chevron pointing up (north); the layer rotates it to the unit's heading. Filled for an
    available unit, hollow for one en route or on scene: the two differ in shape as well as in
    colour."""
    half = size / 2 - 2
    cx, cy = centre.x(), centre.y()
    path = QPainterPath()
    path.addPolygon(
        QPolygonF(
            [
                QPointF(cx, cy - half),
                QPointF(cx + half * 0.85, cy + half),
                QPointF(cx, cy + half * 0.45),
                QPointF(cx - half * 0.85, cy + half),
            ]
        )
    )
    path.closeSubpath()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if busy:
        painter.strokePath(path, _pen(palette.MAP_SYMBOL_OUTLINE, 4.6))
        painter.strokePath(path, _pen(palette.MAP_UNIT_BUSY, 2.4))
    else:
        painter.strokePath(path, _pen(palette.MAP_SYMBOL_OUTLINE, 3.0))
        painter.fillPath(path, QColor(palette.MAP_UNIT))


def unit_icon(busy: bool, size: int = UNIT_PX, ratio: float = 1.0) -> QPixmap:
    return _icon(size, ratio, lambda painter, at: draw_unit_symbol(painter, at, size, busy))


def incident_icon(priority: int, emergency: bool, ratio: float = 1.0) -> QPixmap:
    """A badge with the priority in words ("P1"), ringed when it is an emergency."""
    size = INCIDENT_PX
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    box = QRectF(3, 3, size - 6, size - 6)
    if emergency:
        painter.setPen(_pen(palette.MAP_EMERGENCY_RING, 2.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 5, 5)
    painter.setPen(_pen(palette.MAP_SYMBOL_OUTLINE, 1.5))
    painter.setBrush(QColor(incident_colour(priority)))
    painter.drawRoundedRect(box, 4, 4)
    font = QFont()
    font.setPixelSize(12)  # 9 pt: the console's smallest text
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor(palette.MAP_INCIDENT_TEXT))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, f"P{min(priority, 5)}")
    painter.end()
    return pixmap


def _text_pixmap(
    text: str, colour: str, pixel_size: int, bold: bool, ratio: float, upright: bool = False
) -> QPixmap:
    """A label with a dark halo, readable on streets, tiles and symbols alike; ``upright``
    turns it to run bottom to top, along a north-south street."""
    font = QFont()
    font.setPixelSize(pixel_size)
    font.setBold(bold)
    path = QPainterPath()
    path.addText(0, 0, font, text)
    box = path.boundingRect().adjusted(-3, -3, 3, 3)
    pixmap = QPixmap(math.ceil(box.width() * ratio), math.ceil(box.height() * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(-box.left(), -box.top())
    painter.strokePath(path, _pen(palette.MAP_SYMBOL_OUTLINE, 3.0))
    painter.fillPath(path, QColor(colour))
    painter.end()
    if upright:
        turned = pixmap.transformed(QTransform().rotate(-90))
        turned.setDevicePixelRatio(ratio)
        return turned
    return pixmap


class PixmapCache:
    """Rendered labels and bubbles by key, the least recently used dropped beyond ``limit``."""

    def __init__(self, limit: int = 4096) -> None:
        self._items: OrderedDict[object, QPixmap] = OrderedDict()
        self._limit = limit

    def get(self, key: object, make: Callable[[], QPixmap]) -> QPixmap:
        pixmap = self._items.get(key)
        if pixmap is None:
            pixmap = self._items[key] = make()
            if len(self._items) > self._limit:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return pixmap

    def clear(self) -> None:
        self._items.clear()


def cluster_label(count: int) -> str:
    if count < 1000:
        return str(count)
    if count < 10_000:
        return f"{count / 1000:.1f}k"
    return f"{count // 1000}k"


CLUSTER_SIZES = (10, 100, 1000, 10_000)  # a bubble grows a step at each power of ten


def cluster_size_class(count: npt.ArrayLike) -> IntArray:
    return np.searchsorted(CLUSTER_SIZES, np.asarray(count), side="right").astype(np.int64)


def cluster_radius(size_class: npt.ArrayLike) -> FloatArray:
    return 12.0 + 3.0 * np.asarray(size_class, np.float64)


def _cluster_font() -> QFont:
    font = QFont()
    font.setPixelSize(12)
    font.setBold(True)
    return font


def cluster_pixmap(size_class: int, live_eighths: int, ratio: float, label: str = "") -> QPixmap:
    """A cluster's bubble, with a green arc for the share of its cameras live allowed now."""
    radius = float(cluster_radius(size_class))
    size = math.ceil(2 * radius + 4)
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    centre = QPointF(size / 2, size / 2)
    painter.setPen(_pen(palette.MAP_SYMBOL_OUTLINE, 1.0))
    painter.setBrush(QColor(palette.MAP_CLUSTER))
    painter.drawEllipse(centre, radius, radius)
    ring = QRectF(centre.x() - radius + 2, centre.y() - radius + 2, 2 * radius - 4, 2 * radius - 4)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(_pen(palette.MAP_CLUSTER_EDGE, 3.0))
    painter.drawEllipse(ring)
    if live_eighths:
        pen = _pen(palette.MAP_LIVE_ALLOWED, 3.0)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        painter.setPen(pen)
        painter.drawArc(ring, 90 * 16, -live_eighths * 45 * 16)
    if label:
        painter.setFont(_cluster_font())
        painter.setPen(QColor(palette.MAP_CLUSTER_TEXT))
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, label)
    painter.end()
    return pixmap


class SymbolAtlas:
    """Sprites side by side in one pixmap, drawn many at once with ``drawPixmapFragments``."""

    def __init__(self, sprites: Sequence[QPixmap], ratio: float) -> None:
        self.ratio = ratio
        self.cell = max(max(s.width(), s.height()) for s in sprites)
        self.pixmap = QPixmap(self.cell * len(sprites), self.cell)
        self.pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(self.pixmap)
        for number, sprite in enumerate(sprites):
            sprite_copy = QPixmap(sprite)
            sprite_copy.setDevicePixelRatio(1.0)  # the atlas is in device pixels
            left = number * self.cell + (self.cell - sprite_copy.width()) // 2
            painter.drawPixmap(left, (self.cell - sprite_copy.height()) // 2, sprite_copy)
        painter.end()

    def draw(
        self,
        painter: QPainter,
        px: FloatArray,
        py: FloatArray,
        sprite: IntArray,
        rotation: FloatArray | None = None,
    ) -> None:
        count = len(px)
        if count == 0:
            return
        # QPainter::PixmapFragment is ten doubles: x, y, source left, top, width, height,
        # scale x, scale y, rotation (degrees), opacity. The array outlives the call.
        fragments = np.empty((count, 10), np.float64)
        fragments[:, 0] = px
        fragments[:, 1] = py
        fragments[:, 2] = sprite * self.cell
        fragments[:, 3] = 0.0
        fragments[:, 4] = self.cell
        fragments[:, 5] = self.cell
        fragments[:, 6] = 1.0 / self.ratio
        fragments[:, 7] = 1.0 / self.ratio
        fragments[:, 8] = 0.0 if rotation is None else rotation
        fragments[:, 9] = 1.0
        first = cast(
            QPainter.PixmapFragment,
            shiboken6.wrapInstance(fragments.ctypes.data, QPainter.PixmapFragment),
        )
        painter.drawPixmapFragments(first, count, self.pixmap)


GLYPHS = "0123456789.k"
MAX_LABEL_GLYPHS = 4  # "9.9k", "100k"


class ClusterSprites:
    """Cluster bubbles (five sizes, nine arcs) and the glyphs of their counts, in two atlases,
    so a frame of a thousand clusters is two ``drawPixmapFragments`` calls."""

    def __init__(self, ratio: float) -> None:
        self.bubbles = SymbolAtlas(
            [cluster_pixmap(c, e, ratio) for c in range(len(CLUSTER_SIZES) + 1) for e in range(9)],
            ratio,
        )
        self.glyphs = SymbolAtlas(
            [_text_pixmap(g, palette.MAP_CLUSTER_TEXT, 12, True, ratio) for g in GLYPHS], ratio
        )
        metrics = QFontMetricsF(_cluster_font())
        self._advance = {g: metrics.horizontalAdvance(g) for g in GLYPHS}
        self._layouts: dict[int, tuple[list[int], list[float]]] = {}

    def _layout(self, count: int) -> tuple[list[int], list[float]]:
        """A count's glyphs and their centres from the label's centre, padded to four."""
        layout = self._layouts.get(count)
        if layout is None:
            label = cluster_label(count)
            left = -sum(self._advance[g] for g in label) / 2
            codes, centres = [], []
            for glyph in label:
                codes.append(GLYPHS.index(glyph))
                centres.append(left + self._advance[glyph] / 2)
                left += self._advance[glyph]
            padding = MAX_LABEL_GLYPHS - len(codes)
            layout = self._layouts[count] = (codes + [-1] * padding, centres + [0.0] * padding)
        return layout

    def draw(
        self,
        painter: QPainter,
        px: FloatArray,
        py: FloatArray,
        counts: IntArray,
        live_eighths: IntArray,
    ) -> None:
        if len(px) == 0:
            return
        self.bubbles.draw(painter, px, py, cluster_size_class(counts) * 9 + live_eighths)
        distinct, which = np.unique(counts, return_inverse=True)
        layouts = [self._layout(int(count)) for count in distinct]
        codes = np.array([codes for codes, _ in layouts], np.int64)[which]
        centres = np.array([centres for _, centres in layouts], np.float64)[which]
        drawn = codes >= 0
        glyph_x = (px[:, None] + centres)[drawn]
        glyph_y = np.broadcast_to(py[:, None], codes.shape)[drawn]
        self.glyphs.draw(painter, glyph_x, glyph_y, codes[drawn])


# --- layers ------------------------------------------------------------------------------------


class _Layer(pg.GraphicsObject):  # type: ignore[misc]  # pyqtgraph has no type information
    """A layer over the whole world that paints itself in viewport pixels."""

    def __init__(self) -> None:
        super().__init__()
        self._ratio = 1.0
        self._theme = palette.current()

    def boundingRect(self) -> QRectF:
        return WORLD_RECT

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        device = painter.device()
        size = widget.size() if widget is not None else QSize(device.width(), device.height())
        frame = MapFrame.from_painter(painter, size)
        if frame.scale <= 0:
            return
        ratio = widget.devicePixelRatioF() if widget is not None else 1.0
        if ratio != self._ratio or palette.current() is not self._theme:
            self._ratio, self._theme = ratio, palette.current()
            self.sprites_outdated()
        painter.save()
        painter.resetTransform()  # viewport pixels from here on; Qt scales them to the screen
        try:
            self.draw(painter, frame)
        finally:
            painter.restore()

    def sprites_outdated(self) -> None:
        """The screen's device pixel ratio or the theme changed: render sprites again."""

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        raise NotImplementedError


class StreetLayer(_Layer):
    """Street centre lines and names from a GeoJSON file (the demo city's by default)."""

    def __init__(self) -> None:
        super().__init__()
        self._streets: StreetMap | None = None
        self._labels = PixmapCache(512)
        self._paths: dict[bool, tuple[FloatArray, FloatArray, npt.NDArray[np.int32]]] = {}
        # Every segment of every line, and the line it belongs to: for placing names.
        self._segments = np.zeros((0, 4))
        self._segment_line = np.zeros(0, np.int64)

    @property
    def streets(self) -> StreetMap | None:
        return self._streets

    def set_streets(self, streets: StreetMap | None) -> None:
        self._streets = streets
        self._paths.clear()
        lines = streets.lines if streets is not None else ()
        for major in (False, True):
            chosen = [line for line in lines if line.major is major and len(line.x) > 1]
            if chosen:
                self._paths[major] = (
                    np.concatenate([line.x for line in chosen]),
                    np.concatenate([line.y for line in chosen]),
                    np.concatenate([np.r_[np.ones(len(ln.x) - 1, np.int32), 0] for ln in chosen]),
                )
        pieces = [
            (np.stack([ln.x[:-1], ln.y[:-1], ln.x[1:], ln.y[1:]], axis=1), number)
            for number, ln in enumerate(lines)
            if len(ln.x) > 1
        ]
        self._segments = np.concatenate([p for p, _ in pieces]) if pieces else np.zeros((0, 4))
        self._segment_line = np.concatenate(
            [np.full(len(p), n, np.int64) for p, n in pieces]
        ) if pieces else np.zeros(0, np.int64)  # fmt: skip
        self.update()

    def sprites_outdated(self) -> None:
        self._labels.clear()

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        if self._streets is None:
            return
        zoom = frame.zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = min(max(1.0, 2.0 ** (zoom - 15.0) * 3.0), 14.0)
        for major in (False, True):
            if major not in self._paths or (not major and zoom < STREET_MINOR_ZOOM):
                continue
            x, y, connect = self._paths[major]
            px, py = frame.to_px(x, y)
            path = pg.arrayToQPath(px, py, connect=connect, finiteCheck=False)
            colour = palette.MAP_STREET_MAJOR if major else palette.MAP_STREET
            pen = _pen(colour, width * (1.6 if major else 1.0))
            # Round caps cost Qt's rasterizer ten times as much as flat ones on long thin lines.
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        if zoom >= STREET_LABEL_ZOOM and len(self._segments):
            # Whole pixels and no antialiasing: a plain blit, many times cheaper than the
            # resampling Qt does for a pixmap at a fractional position with antialiasing on.
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            self._draw_labels(painter, frame)

    def _draw_labels(self, painter: QPainter, frame: MapFrame) -> None:
        assert self._streets is not None
        segments = self._segments
        ax, ay = frame.to_px(segments[:, 0], segments[:, 1])
        bx, by = frame.to_px(segments[:, 2], segments[:, 3])
        x0, x1 = np.clip(ax, 0, frame.width), np.clip(bx, 0, frame.width)
        y0, y1 = np.clip(ay, 0, frame.height), np.clip(by, 0, frame.height)
        visible = np.hypot(x1 - x0, y1 - y0)
        vertical = np.abs(by - ay) > np.abs(bx - ax)
        # Each line's longest piece on screen (segments of a line are consecutive).
        order = np.lexsort((-visible, self._segment_line))
        first = np.r_[True, self._segment_line[order][1:] != self._segment_line[order][:-1]]
        for piece in order[first]:
            if visible[piece] < 160:
                continue
            # Across-town and up-town names at different points along their pieces, so two
            # crossing streets do not put their names on the same corner.
            share = LABEL_SHARE_VERTICAL if vertical[piece] else LABEL_SHARE_HORIZONTAL
            at = QPointF(
                x0[piece] + (x1[piece] - x0[piece]) * share,
                y0[piece] + (y1[piece] - y0[piece]) * share,
            )
            name = self._streets.lines[self._segment_line[piece]].name
            upright = bool(vertical[piece])
            label = self._labels.get(
                (name, upright),
                partial(
                    _text_pixmap, name, palette.MAP_STREET_LABEL, 13, False, self._ratio, upright
                ),
            )
            size = label.deviceIndependentSize()
            # Skip a name the screen's edge would cut through.
            if not size.width() / 2 <= at.x() <= frame.width - size.width() / 2:
                continue
            if not size.height() / 2 <= at.y() <= frame.height - size.height() / 2:
                continue
            painter.drawPixmap(
                QPoint(round(at.x() - size.width() / 2), round(at.y() - size.height() / 2)), label
            )


class TileLayer(_Layer):
    """Raster tiles as they arrive; a tile not loaded yet is stood in for by a cached parent."""

    def __init__(self, memory_limit: int = 384) -> None:
        super().__init__()
        self._tiles: OrderedDict[TileKey, QPixmap] = OrderedDict()
        self._limit = memory_limit
        self.min_zoom, self.max_zoom = 0, 19
        # Resampling a screen of tiles smoothly costs more than a frame while the view moves
        # between zoom levels; the map turns it on again once the view has settled.
        self.smooth = True

    def clear(self) -> None:
        self._tiles.clear()
        self.update()

    def has(self, key: TileKey) -> bool:
        return key in self._tiles

    def add_tile(self, key: TileKey, pixels: Pixels) -> None:
        height, width = pixels.shape[:2]
        image = QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_ARGB32)
        # fromImage copies, so the numpy buffer need not outlive this call.
        self._tiles[key] = QPixmap.fromImage(image)
        self._tiles.move_to_end(key)
        while len(self._tiles) > self._limit:
            self._tiles.popitem(last=False)
        self.update()

    def tile_zoom(self, zoom: float) -> int:
        return min(max(round(zoom), self.min_zoom), self.max_zoom)

    def wanted(self, frame: MapFrame) -> list[TileKey]:
        return tiles_covering(*frame.bounds(), self.tile_zoom(frame.zoom))

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        if not self._tiles:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        for key in self.wanted(frame):
            found: TileKey | None = key
            while found is not None and found not in self._tiles and key.z - found.z < 6:
                found = found.parent()
            if found is None or found not in self._tiles:
                continue
            pixmap = self._tiles[found]
            west, south, east, north = key.bounds
            (left, right), (top, bottom) = frame.to_px(
                np.array([west, east]), np.array([north, south])
            )
            target = QRectF(left, top, right - left, bottom - top)
            if found == key:
                source = QRectF(0, 0, pixmap.width(), pixmap.height())
            else:
                # The part of the ancestor that covers this tile.
                levels = key.z - found.z
                share = pixmap.width() / 2**levels
                column = key.x - (found.x << levels)
                row = key.y - (found.y << levels)
                source = QRectF(column * share, row * share, share, share)
            painter.drawPixmap(target, pixmap, source)


def circle_on_screen(fence: GeofenceCircle, frame: MapFrame) -> tuple[QPointF, float]:
    """A circle's centre and radius in pixels (Web Mercator keeps a small circle round)."""
    x, y = to_mercator(fence.latitude, fence.longitude)
    (cx,), (cy,) = frame.to_px(np.array([x]), np.array([y]))
    return QPointF(cx, cy), fence.radius_m * scale_factor(fence.latitude) * frame.scale


def radius_handle(fence: GeofenceCircle, frame: MapFrame) -> QPointF:
    """Where the operator grabs a circle to change its radius: its east edge."""
    centre, radius = circle_on_screen(fence, frame)
    return QPointF(centre.x() + radius, centre.y())


class GeofenceLayer(_Layer):
    """The geofence (circle or polygon, outlined and lightly filled), the circle's radius handle
    and label, and the shape being drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.fence: Geofence | None = None
        self.handle = False  # the fence is a circle the operator may resize
        self.draft_corners: list[tuple[float, float]] = []  # a polygon being drawn (lat, lon)
        self.draft_pointer: tuple[float, float] | None = None  # where its next edge runs to
        self._labels = PixmapCache(64)

    def set_fence(self, fence: Geofence | None, *, handle: bool = False) -> None:
        self.fence = fence
        self.handle = handle and isinstance(fence, GeofenceCircle)
        self.update()

    def set_draft(
        self, corners: Sequence[tuple[float, float]], pointer: tuple[float, float] | None
    ) -> None:
        self.draft_corners = list(corners)
        self.draft_pointer = pointer
        self.update()

    def sprites_outdated(self) -> None:
        self._labels.clear()

    def _screen_points(
        self, points: Sequence[tuple[float, float]], frame: MapFrame
    ) -> list[QPointF]:
        x, y = to_mercator_arrays([lat for lat, _ in points], [lon for _, lon in points])
        px, py = frame.to_px(x, y)
        return [QPointF(a, b) for a, b in zip(px, py, strict=True)]

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(palette.MAP_GEOFENCE)
        fill.setAlpha(palette.MAP_GEOFENCE_FILL_ALPHA)
        outline = _pen(palette.MAP_GEOFENCE, 2.0)
        outline.setStyle(Qt.PenStyle.DashLine)
        fence = self.fence
        if isinstance(fence, GeofenceCircle):
            painter.setPen(outline)
            painter.setBrush(fill)
            centre, radius = circle_on_screen(fence, frame)
            painter.drawEllipse(centre, radius, radius)
            if self.handle:
                self._draw_handle(painter, fence, frame)
        elif fence is not None:
            painter.setPen(outline)
            painter.setBrush(fill)
            painter.drawPolygon(QPolygonF(self._screen_points(fence.points, frame)))
        if self.draft_corners:
            points = self._screen_points(
                [*self.draft_corners, *([self.draft_pointer] if self.draft_pointer else [])],
                frame,
            )
            painter.setPen(_pen(palette.MAP_GEOFENCE, 2.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolyline(QPolygonF(points))
            painter.setBrush(QColor(palette.MAP_GEOFENCE))
            painter.setPen(_pen(palette.MAP_SYMBOL_OUTLINE, 1.5))
            for corner in points[: len(self.draft_corners)]:
                painter.drawEllipse(corner, 4.0, 4.0)

    def _draw_handle(self, painter: QPainter, fence: GeofenceCircle, frame: MapFrame) -> None:
        handle = radius_handle(fence, frame)
        painter.setPen(_pen(palette.MAP_SYMBOL_OUTLINE, 1.5))
        painter.setBrush(QColor(palette.MAP_GEOFENCE))
        painter.drawRect(QRectF(handle.x() - 5, handle.y() - 5, 10, 10))
        text = distance_text(fence.radius_m)
        label = self._labels.get(
            text, partial(_text_pixmap, text, palette.TEXT, 13, True, self._ratio)
        )
        height = label.deviceIndependentSize().height()
        painter.drawPixmap(QPointF(handle.x() + 9, handle.y() - height / 2), label)


@dataclass(frozen=True, eq=False)
class VisibleCameras:
    """What the camera layer draws in one frame, in screen pixels."""

    px: FloatArray
    py: FloatArray
    camera: IntArray  # index into the features, or -1 for a cluster
    count: IntArray  # cameras in the symbol (1 for a camera)
    state_counts: IntArray  # (symbols, states)
    clustered: bool

    def nearest(self, x: float, y: float, within: float) -> int | None:
        """The index (into these arrays) of the symbol nearest (x, y), if within reach."""
        if len(self.px) == 0:
            return None
        distance = np.hypot(self.px - x, self.py - y)
        radii = cluster_radius(cluster_size_class(self.count))
        reach = np.where(self.count > 1, np.maximum(within, radii), within)
        candidates = np.flatnonzero(distance <= reach)
        if len(candidates) == 0:
            return None
        return int(candidates[np.argmin(distance[candidates])])


def visible_cameras(features: CameraFeatures, frame: MapFrame) -> VisibleCameras:
    """Cameras (or their clusters, far out) inside the frame plus a symbol's margin."""
    west, south, east, north = frame.bounds(margin_px=32)
    zoom = frame.zoom
    if zoom >= INDIVIDUAL_ZOOM or not features.clusters:
        x, y = features.x, features.y
        inside = np.flatnonzero((x >= west) & (x <= east) & (y >= south) & (y <= north))
        px, py = frame.to_px(x[inside], y[inside])
        counts = np.ones(len(inside), np.int64)
        states = np.zeros((len(inside), len(POLICY_STATES)), np.int64)
        states[np.arange(len(inside)), features.state[inside]] = 1
        return VisibleCameras(px, py, inside.astype(np.int64), counts, states, False)
    level = features.clusters[min(max(round(zoom), MIN_LEVEL), MAX_LEVEL)]
    x, y = level.x, level.y
    inside = np.flatnonzero((x >= west) & (x <= east) & (y >= south) & (y <= north))
    px, py = frame.to_px(x[inside], y[inside])
    return VisibleCameras(
        px, py, level.single[inside], level.count[inside], level.state_counts[inside], True
    )


class CameraLayer(_Layer):
    """Cameras by policy state now (shape and colour), clustered far out; selection and hover."""

    def __init__(self) -> None:
        super().__init__()
        self.features: CameraFeatures | None = None
        self.selected: int | None = None
        self.hovered: int | None = None
        self._atlas: SymbolAtlas | None = None
        self._clusters: ClusterSprites | None = None
        self._visible: tuple[MapFrame, VisibleCameras] | None = None

    def set_features(self, features: CameraFeatures | None) -> None:
        self.features = features
        self._visible = None
        self.update()

    def sprites_outdated(self) -> None:
        self._atlas = None
        self._clusters = None

    def visible(self, frame: MapFrame) -> VisibleCameras | None:
        """The frame's symbols, computed once per frame (painting and hit tests share them)."""
        if self.features is None:
            return None
        if self._visible is None or self._visible[0] != frame:
            self._visible = (frame, visible_cameras(self.features, frame))
        return self._visible[1]

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        shown = self.visible(frame)
        if shown is None or self.features is None:
            return
        if self._atlas is None:
            sprites = [camera_icon(state, SYMBOL_PX, self._ratio) for state in POLICY_STATES]
            self._atlas = SymbolAtlas(sprites, self._ratio)
        singles = np.flatnonzero(shown.camera >= 0)
        self._atlas.draw(
            painter,
            shown.px[singles],
            shown.py[singles],
            self.features.state[shown.camera[singles]].astype(np.int64),
        )
        clusters = np.flatnonzero(shown.camera < 0)
        if len(clusters):
            if self._clusters is None:
                self._clusters = ClusterSprites(self._ratio)
            counts = shown.count[clusters]
            live = shown.state_counts[clusters, POLICY_STATES.index(PolicyNow.LIVE_ALLOWED)]
            # Eighths, rounded, but one live camera among many still shows.
            eighths = np.where(live > 0, np.maximum(1, np.rint(8 * live / counts)), 0)
            self._clusters.draw(
                painter, shown.px[clusters], shown.py[clusters], counts, eighths.astype(np.int64)
            )
        self._draw_ring(painter, frame, self.hovered, palette.MAP_HOVER)
        self._draw_ring(painter, frame, self.selected, palette.MAP_SELECTED)

    def _draw_ring(
        self, painter: QPainter, frame: MapFrame, camera: int | None, colour: str
    ) -> None:
        """A ring round the hovered or selected camera, and its field of view in full."""
        if camera is None or self.features is None:
            return
        features = self.features
        px, py = frame.to_px(features.x[[camera]], features.y[[camera]])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if frame.zoom >= CONE_ZOOM - 1:
            wedge_x, wedge_y = cone_outline(
                px,
                py,
                features.reach[[camera]] * frame.scale,
                features.heading_deg[[camera]],
                features.fov_deg[[camera]],
                arc_points=25,
            )
            wedge = QPolygonF([QPointF(a, b) for a, b in zip(wedge_x[0], wedge_y[0], strict=True)])
            tint = QColor(STATE_COLOURS[POLICY_STATES[features.state[camera]]])
            tint.setAlpha(90)
            painter.setPen(_pen(colour, 1.5))
            painter.setBrush(tint)
            painter.drawPolygon(wedge)
        centre = QPointF(px[0], py[0])
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_pen(palette.MAP_SYMBOL_OUTLINE, 5.0))
        painter.drawEllipse(centre, SYMBOL_PX * 0.8, SYMBOL_PX * 0.8)
        painter.setPen(_pen(colour, 2.5))
        painter.drawEllipse(centre, SYMBOL_PX * 0.8, SYMBOL_PX * 0.8)


def cone_outline(
    px: FloatArray,
    py: FloatArray,
    reach_px: FloatArray,
    heading_deg: FloatArray,
    fov_deg: FloatArray,
    arc_points: int = 7,
) -> tuple[FloatArray, FloatArray]:
    """Wedges (one row per camera): the camera, its arc of range, back to the camera."""
    heading = np.radians(heading_deg)
    fov = np.radians(np.clip(fov_deg, 1.0, 360.0))
    angles = heading[:, None] + fov[:, None] * np.linspace(-0.5, 0.5, arc_points)[None, :]
    # Compass angles: 0 is up (north), clockwise; screen y grows downwards.
    arc_x = px[:, None] + reach_px[:, None] * np.sin(angles)
    arc_y = py[:, None] - reach_px[:, None] * np.cos(angles)
    return np.hstack([px[:, None], arc_x, px[:, None]]), np.hstack(
        [py[:, None], arc_y, py[:, None]]
    )


def draw_segments(painter: QPainter, x: FloatArray, y: FloatArray) -> None:
    """The outlines of polygons (rows of x, y) in one ``drawLines`` call."""
    lines = np.empty((x.shape[0] * (x.shape[1] - 1), 4), np.float64)
    lines[:, 0] = x[:, :-1].ravel()
    lines[:, 1] = y[:, :-1].ravel()
    lines[:, 2] = x[:, 1:].ravel()
    lines[:, 3] = y[:, 1:].ravel()
    # QLineF is four doubles; the array outlives the call.
    first = cast(QLineF, shiboken6.wrapInstance(lines.ctypes.data, QLineF))
    painter.drawLines(first, len(lines))


class ConeLayer(_Layer):
    """Each camera's field of view as a wedge of its range, tinted by its policy state.

    Filling costs what it covers: wedges are filled (without antialiasing, at a low alpha, where
    jagged edges do not show) while their area stays under ``CONE_FILL_BUDGET_PX``, outlined
    past it; beyond ``CONE_LIMIT`` cameras in view they would be a smear and are left out. The
    hovered and the selected camera's wedges are drawn in full by the camera layer.
    """

    def __init__(self, cameras: CameraLayer) -> None:
        super().__init__()
        self._cameras = cameras

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        features = self._cameras.features
        if features is None or frame.zoom < CONE_ZOOM or len(features) == 0:
            return
        reach_px = float(features.reach.max()) * frame.scale
        west, south, east, north = frame.bounds(margin_px=reach_px)
        x, y = features.x, features.y
        inside = np.flatnonzero((x >= west) & (x <= east) & (y >= south) & (y <= north))
        if len(inside) == 0 or len(inside) > CONE_LIMIT:
            return
        px, py = frame.to_px(x[inside], y[inside])
        reach = features.reach[inside] * frame.scale
        fov = np.clip(features.fov_deg[inside], 1.0, 360.0)
        wedge_x, wedge_y = cone_outline(px, py, reach, features.heading_deg[inside], fov)
        area = float(np.sum(np.radians(fov) / 2 * reach**2))
        fill = area <= CONE_FILL_BUDGET_PX
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        states = features.state[inside]
        for code, state in enumerate(POLICY_STATES):
            rows = np.flatnonzero(states == code)
            if len(rows) == 0:
                continue
            colour = QColor(STATE_COLOURS[state])
            if fill:
                connect = np.ones(wedge_x[rows].shape, np.int32)
                connect[:, -1] = 0
                path = pg.arrayToQPath(
                    wedge_x[rows].ravel(), wedge_y[rows].ravel(), connect.ravel(), finiteCheck=False
                )
                path.setFillRule(Qt.FillRule.WindingFill)  # overlaps one tint, not darker
                colour.setAlpha(palette.MAP_CONE_ALPHA)
                painter.fillPath(path, QBrush(colour))
            else:
                colour.setAlpha(150)
                pen = QPen(colour, 1.0)
                pen.setCosmetic(True)
                painter.setPen(pen)
                draw_segments(painter, wedge_x[rows], wedge_y[rows])


class PlacementLayer(_Layer):
    """One camera being placed by a field technician: its field of view as the map draws every
    camera's (``cone_outline``), its position, and a square handle at the end of its heading
    (dragged to turn it)."""

    def __init__(self) -> None:
        super().__init__()
        # (latitude, longitude, heading_deg, fov_deg, range_m), or None: nothing placed.
        self.placement: tuple[float, float, float, float, float] | None = None

    def set_placement(self, placement: tuple[float, float, float, float, float] | None) -> None:
        self.placement = placement
        self.update()

    def positions(self, frame: MapFrame) -> tuple[QPointF, QPointF, float] | None:
        """The camera's and its heading handle's screen points, and its range in pixels."""
        if self.placement is None:
            return None
        latitude, longitude, heading_deg, _fov, range_m = self.placement
        x, y = to_mercator(latitude, longitude)
        (px,), (py,) = frame.to_px(np.array([x]), np.array([y]))
        reach = range_m * scale_factor(latitude) * frame.scale
        heading = math.radians(heading_deg)
        handle = QPointF(px + reach * math.sin(heading), py - reach * math.cos(heading))
        return QPointF(px, py), handle, reach

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        shown = self.positions(frame)
        if shown is None or self.placement is None:
            return
        camera, handle, reach = shown
        heading_deg, fov_deg = self.placement[2], self.placement[3]
        wedge_x, wedge_y = cone_outline(
            np.array([camera.x()]),
            np.array([camera.y()]),
            np.array([reach]),
            np.array([heading_deg]),
            np.array([fov_deg]),
            arc_points=49,
        )
        wedge = QPolygonF([QPointF(a, b) for a, b in zip(wedge_x[0], wedge_y[0], strict=True)])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        tint = QColor(palette.MAP_SELECTED)
        tint.setAlpha(90)
        painter.setPen(_pen(palette.MAP_SELECTED, 2.0))
        painter.setBrush(tint)
        painter.drawPolygon(wedge)
        dashed = _pen(palette.MAP_SELECTED, 1.5)
        dashed.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(dashed)
        painter.drawLine(camera, handle)
        painter.setPen(_pen(palette.MAP_SYMBOL_OUTLINE, 1.5))
        painter.setBrush(QColor(palette.MAP_SELECTED))
        painter.drawRect(QRectF(handle.x() - 6, handle.y() - 6, 12, 12))
        painter.drawEllipse(camera, SYMBOL_PX * 0.45, SYMBOL_PX * 0.45)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_pen(palette.MAP_SYMBOL_OUTLINE, 5.0))
        painter.drawEllipse(camera, SYMBOL_PX * 0.8, SYMBOL_PX * 0.8)
        painter.setPen(_pen(palette.MAP_SELECTED, 2.5))
        painter.drawEllipse(camera, SYMBOL_PX * 0.8, SYMBOL_PX * 0.8)


def on_screen(px: FloatArray, py: FloatArray, frame: MapFrame, margin: float) -> npt.NDArray[Any]:
    """Indices of the symbols (``margin`` pixels from their centre) that touch the frame."""
    return np.flatnonzero(
        (px > -margin) & (px < frame.width + margin) & (py > -margin) & (py < frame.height + margin)
    )


class IncidentLayer(_Layer):
    """Open incidents as priority badges ("P1", ringed for an emergency), the most urgent on top."""

    def __init__(self) -> None:
        super().__init__()
        self.features = IncidentFeatures()
        self._sprite = np.zeros(0, np.int64)
        self._atlas: SymbolAtlas | None = None
        self._sprites: list[tuple[int, bool]] = [(p, e) for p in range(1, 6) for e in (False, True)]

    def set_features(self, features: IncidentFeatures) -> None:
        self.features = features
        emergency = np.array([i.emergency for i in features.incidents], np.int64)
        self._sprite = (np.clip(features.priority, 1, 5) - 1) * 2 + emergency
        self.update()

    def sprites_outdated(self) -> None:
        self._atlas = None

    def screen_positions(self, frame: MapFrame) -> tuple[FloatArray, FloatArray]:
        return frame.to_px(self.features.x, self.features.y)

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        if len(self.features) == 0:
            return
        if self._atlas is None:
            icons = [incident_icon(p, e, self._ratio) for p, e in self._sprites]
            self._atlas = SymbolAtlas(icons, self._ratio)
        px, py = self.screen_positions(frame)
        inside = on_screen(px, py, frame, INCIDENT_PX)
        self._atlas.draw(painter, px[inside], py[inside], self._sprite[inside])


class UnitLayer(_Layer):
    """Units (AVL) as chevrons pointing where they head, with their call signs closer in."""

    BUSY = frozenset({"en_route", "on_scene", "busy", "dispatched"})

    def __init__(self) -> None:
        super().__init__()
        self.features = UnitFeatures()
        self._busy = np.zeros(0, np.int64)
        self._atlas: SymbolAtlas | None = None
        self._labels = PixmapCache(1024)

    def set_features(self, features: UnitFeatures) -> None:
        self.features = features
        self._busy = np.array([u.status in self.BUSY for u in features.units], np.int64)
        self.update()

    def sprites_outdated(self) -> None:
        self._atlas = None
        self._labels.clear()

    def screen_positions(self, frame: MapFrame) -> tuple[FloatArray, FloatArray]:
        return frame.to_px(self.features.x, self.features.y)

    def draw(self, painter: QPainter, frame: MapFrame) -> None:
        if len(self.features) == 0:
            return
        if self._atlas is None:
            self._atlas = SymbolAtlas(
                [unit_icon(busy, UNIT_PX, self._ratio) for busy in (False, True)], self._ratio
            )
        px, py = self.screen_positions(frame)
        inside = on_screen(px, py, frame, UNIT_PX)
        self._atlas.draw(
            painter, px[inside], py[inside], self._busy[inside], self.features.heading_deg[inside]
        )
        if frame.zoom < UNIT_LABEL_ZOOM:
            return
        for n in inside:
            unit = self.features.units[n]
            label = self._labels.get(
                (unit.unit_id, self._ratio),
                partial(_text_pixmap, unit.unit_id, palette.MAP_UNIT_LABEL, 12, True, self._ratio),
            )
            painter.drawPixmap(QPoint(round(px[n] + UNIT_PX / 2), round(py[n] - 8)), label)
