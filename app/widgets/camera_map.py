"""The camera map: cameras by policy state now, their fields of view, units, incidents and
geofences over streets or raster tiles, in Web Mercator, north-up.

Built on pyqtgraph: a ``ViewBox`` with its aspect locked does the panning and zooming, and the
layers (``app.widgets.map_layers``) paint numpy arrays prepared off the UI thread. The operator
pans by dragging or with the arrow keys, zooms with the wheel or + and -, fits every camera with
Home, hovers a symbol for its card, clicks a camera to select it (a cluster to zoom into it),
double-clicks or presses Enter to open it on a free tile, and drags a camera onto a wall tile,
which opens it through the policy gate exactly as a drag from the camera list does (the same
``CAMERA_MIME``). Letters switch layers (listed in the legend; L folds the legend).

Nothing here reads files or the network on the UI thread: the camera arrays and the cluster
pyramid are built in a background job, units and incidents are read in one every few seconds
while the map is visible, the basemap is opened in one, and tiles are fetched and decoded by
``TileLoader`` threads whose results arrive as queued signals.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QEvent,
    QObject,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QDrag,
    QKeyEvent,
    QMouseEvent,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.models.geofence import Geofence, GeofenceCircle
from app.models.web_mercator import (
    HALF_WORLD_M,
    TileKey,
    ground_resolution,
    metres_per_pixel,
    scale_factor,
    to_mercator,
    to_mercator_arrays,
    to_wgs84,
)
from app.services.basemap import (
    Basemap,
    StreetMap,
    TileLoader,
    TileResult,
    TileSource,
    open_basemap,
    read_street_geojson,
)
from app.services.clock import Clock, utc_now
from app.services.demo_city import STREETS_GEOJSON
from app.services.map_features import (
    POLICY_STATES,
    CameraFeatures,
    LiveLayers,
    SessionFactory,
    camera_features,
    read_live_layers,
)
from app.services.registry_rows import CameraRow, PolicyNow
from app.settings import MapSettings, Settings
from app.widgets import palette
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.geofence_editor import DrawMode, GeofenceEditor
from app.widgets.map_layers import (
    HIT_PX,
    INCIDENT_PX,
    STATE_LEGEND,
    UNIT_PX,
    CameraLayer,
    ConeLayer,
    GeofenceLayer,
    IncidentLayer,
    MapFrame,
    MapLayer,
    StreetLayer,
    TileLayer,
    UnitLayer,
    camera_icon,
)
from app.widgets.map_overlays import LAYER_KEYS, MapCard, MapLegend, MapScaleBar, placed
from app.widgets.resources import resources_dir
from app.widgets.video_tile import camera_mime

log = logging.getLogger(__name__)

MIN_ZOOM, MAX_ZOOM = 3.0, 21.0
WHEEL_ZOOM_PER_NOTCH = 0.5
KEY_ZOOM_STEP = 1.0
CLUSTER_ZOOM_STEP = 2.0  # a click on a cluster zooms in this far, about it
PAN_SHARE = 0.25  # an arrow key pans a quarter of the view
FIT_MARGIN_PX = 48
TILE_RETRY_S = 30.0  # a failed tile is asked for again after this long
TILE_MEMORY = 4096  # failed and missing tiles remembered (so not asked for again at once)
SETTLE_MS = 150  # after this long without a pan or zoom, tiles are resampled smoothly
LIVE_INTERVAL_MS = 3000  # units (AVL) and incidents, re-read while the map is visible
DEFAULT_CENTRE = (41.88, -87.63)  # until there are cameras to fit
DEFAULT_ZOOM = 12.0
DEFAULT_RADIUS_M = MapSettings().default_radius_m
TILE_CACHE_DIR = "tile-cache"  # in the data directory, unless basemap.cache_dir says otherwise


def verified_text(verified_at: datetime | None, now: datetime) -> str:
    if verified_at is None:
        return "never verified"
    days = (now - verified_at).days
    when = verified_at.astimezone().strftime("%Y-%m-%d")
    ago = "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"
    return f"{when} ({ago})"


OPEN_NOW: dict[PolicyNow, str] = {
    PolicyNow.LIVE_ALLOWED: "yes",
    PolicyNow.EMERGENCY_ONLY: "only for an emergency incident",
    PolicyNow.SCHEDULED_CLOSED: "no, outside the owner's schedule",
    PolicyNow.REVOKED: "no",
    PolicyNow.REGISTERED_ONLY: "never: location and contact only",
}


def camera_card(row: CameraRow, now: datetime) -> tuple[str, list[str]]:
    """The hover card of one camera: who owns it, what it is, may it be opened, how sure we are."""
    return f"{row.name}  ·  {row.camera_id}", [
        f"Owner: {row.owner_name}",
        f"Tier: {row.tier.value}",
        f"Policy now: {row.policy_now}",
        f"Open now: {OPEN_NOW[row.policy_state]}",
        f"Last verified: {verified_text(row.verified_at, now)}",
        f"Address: {row.address or 'not recorded'}",
    ]


@dataclass(frozen=True, slots=True)
class MapHit:
    """What is under the pointer."""

    kind: str  # "camera", "cluster", "unit" or "incident"
    index: int  # into the features (camera, unit, incident) or the frame's symbols (cluster)
    at: QPointF  # the symbol's centre on screen


class _TileBridge(QObject):
    """Carries tile results from loader threads to the UI thread (a queued signal).

    Not parented to the map: a loader thread may still hold it after the map is gone, and
    emitting on a live object with no receivers is harmless.
    """

    arrived = Signal(object)  # TileResult


class MapViewBox(pg.ViewBox):  # type: ignore[misc]  # pyqtgraph has no type information
    """A north-up view in Web Mercator metres: aspect locked, no menu, zoom clamped."""

    def __init__(self, owner: CameraMap) -> None:
        super().__init__(lockAspect=True, enableMenu=False, defaultPadding=0.0, invertY=False)
        self._owner = owner
        self.setMouseMode(pg.ViewBox.PanMode)
        self.enableAutoRange(enable=False)
        self.setLimits(xMin=-HALF_WORLD_M, xMax=HALF_WORLD_M, yMin=-HALF_WORLD_M, yMax=HALF_WORLD_M)

    def wheelEvent(self, ev: object, axis: int | None = None) -> None:
        delta = ev.delta()  # type: ignore[attr-defined]
        anchor = self.mapToView(ev.pos())  # type: ignore[attr-defined]
        self._owner.zoom_by(delta / 120 * WHEEL_ZOOM_PER_NOTCH, (anchor.x(), anchor.y()))
        ev.accept()  # type: ignore[attr-defined]

    def mouseDragEvent(self, ev: object, axis: int | None = None) -> None:
        # Left drags pan; right and middle drags would zoom a rubber band, which a map does not.
        if ev.button() == Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            self._owner.placed_by_operator()
            super().mouseDragEvent(ev, axis)
        else:
            ev.ignore()  # type: ignore[attr-defined]


class CameraMap(pg.GraphicsView):  # type: ignore[misc]  # pyqtgraph has no type information
    """The map of every registered camera, with units, incidents and geofences."""

    camera_hovered = Signal(str)  # a camera id; "" when the pointer leaves cameras
    camera_clicked = Signal(str)  # a camera id, selected with a click
    camera_activated = Signal(str)  # double-click or Enter: open it on a free tile
    view_changed = Signal()  # panned or zoomed
    geofence_edited = Signal(object)  # a Geofence the operator drew, or a circle resized

    def __init__(
        self,
        jobs: BackgroundJobs,
        *,
        open_basemap: Callable[[], Basemap] | None = None,
        fallback_streets: Callable[[], StreetMap] | None = None,
        read_live_layers: Callable[[], LiveLayers] | None = None,
        live_interval_ms: int = LIVE_INTERVAL_MS,
        default_radius_m: float = DEFAULT_RADIUS_M,
        clock: Clock = utc_now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, background=QColor(palette.MAP_BACKGROUND))
        self.setObjectName("cameraMap")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Camera map")
        self._jobs = jobs
        self._clock = clock
        self._fallback_streets = fallback_streets
        self._read_live_layers = read_live_layers
        self.default_radius_m = default_radius_m
        self._features: CameraFeatures | None = None
        self._pending_rows: list[CameraRow] | None = None
        self._building = False
        self._live_loading = False
        self._selected: str | None = None
        self._hovered: str | None = None
        self._press: tuple[QPointF, MapHit | None] | None = None
        self._pointer: QPointF | None = None
        # Until the operator (or a caller) places the view, it shows every camera.
        self._placed = False
        self._centre = to_mercator(*DEFAULT_CENTRE)
        self._zoom = DEFAULT_ZOOM
        self._applying = False
        self._loader: TileLoader | None = None
        self._tile_failures: dict[TileKey, tuple[str, float]] = {}
        self._tiles_missing: set[TileKey] = set()
        self._map_notice = ""
        self._tile_notice = ""

        # The layers cover the whole viewport: no background to cache or fill under them
        # beyond the scene's own (pyqtgraph would otherwise cache it and the style fill it).
        self.setCacheMode(pg.QtWidgets.QGraphicsView.CacheModeFlag.CacheNone)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.viewport().setAutoFillBackground(False)
        self.view_box = MapViewBox(self)
        self.setCentralItem(self.view_box)
        self.street_layer = StreetLayer()
        self.tile_layer = TileLayer()
        self.geofence_layer = GeofenceLayer()
        self.camera_layer = CameraLayer()
        self.cone_layer = ConeLayer(self.camera_layer)
        self.incident_layer = IncidentLayer()
        self.unit_layer = UnitLayer()
        self._layer_items: dict[MapLayer, tuple[pg.GraphicsObject, ...]] = {
            MapLayer.BASEMAP: (self.tile_layer, self.street_layer),
            MapLayer.GEOFENCES: (self.geofence_layer,),
            MapLayer.FIELDS_OF_VIEW: (self.cone_layer,),
            MapLayer.CAMERAS: (self.camera_layer,),
            MapLayer.INCIDENTS: (self.incident_layer,),
            MapLayer.UNITS: (self.unit_layer,),
        }
        for depth, items in enumerate(self._layer_items.values()):
            for item in items:
                item.setZValue(depth)
                self.view_box.addItem(item, ignoreBounds=True)

        self.legend = MapLegend(self)
        self.legend.layer_toggled.connect(self.set_layer_visible)
        self.scale_bar = MapScaleBar(self)
        self.readout = QLabel(self)
        self.readout.setObjectName("mapReadout")
        self.status_label = QLabel("Loading cameras…", self)
        self.status_label.setObjectName("mapStatus")
        self.attribution = QLabel(self)
        self.attribution.setObjectName("mapAttribution")
        self.attribution.setTextFormat(Qt.TextFormat.PlainText)  # it comes from files and settings
        self.notice = QLabel(self)
        self.notice.setObjectName("mapNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.hint = QLabel(self)
        self.hint.setObjectName("mapHint")
        self.hint.hide()
        self.card = MapCard(self)
        self.geofence_editor = GeofenceEditor(self)
        self.geofence_editor.edited.connect(self.geofence_edited)
        overlays = (self.readout, self.status_label, self.attribution, self.notice, self.hint)
        for overlay in overlays:
            overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

        self._bridge = _TileBridge()
        self._bridge.arrived.connect(self._tile_arrived)
        self.view_box.sigRangeChanged.connect(self._range_changed)

        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self._view_settled)

        self._live_timer = QTimer(self)
        self._live_timer.setInterval(live_interval_ms)
        self._live_timer.timeout.connect(self.refresh_live_layers)
        if read_live_layers is not None:
            self._live_timer.start()
        if open_basemap is not None:
            jobs.submit(
                "Opening the map's basemap",
                open_basemap,
                self._basemap_opened,
                self._basemap_failed,
                owner=self,
            )
        self._apply_view()

    # ---- public API ---------------------------------------------------------------------------

    @property
    def selected_camera_id(self) -> str | None:
        return self._selected

    @property
    def hovered_camera_id(self) -> str | None:
        return self._hovered

    @property
    def camera_count(self) -> int:
        """Cameras drawn (0 until the first set of rows has been prepared)."""
        return 0 if self._features is None else len(self._features)

    @property
    def preparing(self) -> bool:
        """True while camera rows are being turned into map arrays in the background."""
        return self._building

    @property
    def centre(self) -> tuple[float, float]:
        """(latitude, longitude) of the middle of the view."""
        return to_wgs84(*self._centre)

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def metres_per_pixel(self) -> float:
        """Metres on the ground per screen pixel at the middle of the view."""
        return ground_resolution(self.centre[0], self._zoom)

    def set_cameras(self, rows: Sequence[CameraRow]) -> None:
        """Show these cameras (arrays and clusters are built off the UI thread; the newest rows
        win if they arrive faster than they are built)."""
        self._pending_rows = list(rows)
        if not self._building:
            self._build_next()

    def set_live_layers(self, layers: LiveLayers) -> None:
        self.unit_layer.set_features(layers.units)
        self.incident_layer.set_features(layers.incidents)
        self._update_status()

    @property
    def geofence(self) -> Geofence | None:
        return self.geofence_editor.fence

    def set_geofence(self, fence: Geofence | None) -> None:
        """Show this geofence (a circle gets a handle to drag its radius); None: no geofence."""
        self.geofence_editor.set_fence(fence)

    def start_drawing(self, mode: DrawMode) -> None:
        """Let the operator draw a circle or a polygon (DrawMode.NONE: stop drawing)."""
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self.geofence_editor.start(mode)

    def show_geofence(self, fence: Geofence) -> None:
        """Centre the view on a geofence and zoom so all of it shows, with a margin."""
        if isinstance(fence, GeofenceCircle):
            centre = to_mercator(fence.latitude, fence.longitude)
            half_width = half_height = fence.radius_m * scale_factor(fence.latitude)
        else:
            xs, ys = to_mercator_arrays(
                [lat for lat, _ in fence.points], [lon for _, lon in fence.points]
            )
            centre = ((xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2)
            half_width, half_height = (xs.max() - xs.min()) / 2, (ys.max() - ys.min()) / 2
        width = max(self.view_box.width() - 2 * FIT_MARGIN_PX, 50)
        height = max(self.view_box.height() - 2 * FIT_MARGIN_PX, 50)
        metres = max(2 * half_width / width, 2 * half_height / height, metres_per_pixel(MAX_ZOOM))
        self._centre = centre
        self._zoom = min(max(math.log2(metres_per_pixel(0) / metres), MIN_ZOOM), MAX_ZOOM)
        self._placed = True
        self._apply_view()

    def show_hint(self, text: str) -> None:
        """A line of instructions at the bottom of the map (drawing a geofence); "" hides it."""
        self.hint.setText(text)
        self.hint.setVisible(bool(text))
        self._place_overlays()

    def select_camera(self, camera_id: str | None) -> None:
        """Select a camera (None: none); not an operator's click, so no signal."""
        self._selected = camera_id
        self.camera_layer.selected = self._index_of(camera_id)
        self.camera_layer.update()

    def centre_on(self, latitude: float, longitude: float, zoom: float | None = None) -> None:
        self._centre = to_mercator(latitude, longitude)
        if zoom is not None:
            self._zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self._placed = True
        self._apply_view()

    def fit_cameras(self) -> None:
        """Zoom to show every camera (Home); it keeps doing so as the map is resized and the
        cameras are read again, until the view is moved."""
        self._placed = False
        if self._features is None or self._features.bounds is None:
            self._apply_view()
            return
        west, south, east, north = self._features.bounds
        width = max(self.view_box.width() - 2 * FIT_MARGIN_PX, 50)
        height = max(self.view_box.height() - 2 * FIT_MARGIN_PX, 50)
        metres = max((east - west) / width, (north - south) / height, metres_per_pixel(MAX_ZOOM))
        self._centre = ((west + east) / 2, (south + north) / 2)
        self._zoom = min(max(math.log2(metres_per_pixel(0) / metres), MIN_ZOOM), MAX_ZOOM)
        self._apply_view()

    def zoom_by(self, levels: float, anchor: tuple[float, float] | None = None) -> None:
        """Zoom in (positive) or out by ``levels``, keeping ``anchor`` (projected metres) put."""
        zoom = min(max(self._zoom + levels, MIN_ZOOM), MAX_ZOOM)
        if zoom == self._zoom:
            return
        if anchor is not None:
            factor = 2.0 ** (self._zoom - zoom)
            cx, cy = self._centre
            self._centre = (
                anchor[0] + (cx - anchor[0]) * factor,
                anchor[1] + (cy - anchor[1]) * factor,
            )
        self._zoom = zoom
        self._placed = True
        self._apply_view()

    def pan_by(self, dx_px: float, dy_px: float) -> None:
        """Move the view by screen pixels (right and down positive)."""
        mpp = metres_per_pixel(self._zoom)
        self._centre = (self._centre[0] + dx_px * mpp, self._centre[1] - dy_px * mpp)
        self._placed = True
        self._apply_view()

    def layer_visible(self, layer: MapLayer) -> bool:
        return bool(self._layer_items[layer][0].isVisible())

    def set_layer_visible(self, layer: MapLayer, visible: bool) -> None:
        for item in self._layer_items[layer]:
            item.setVisible(visible)
        self.legend.set_layer_checked(layer, visible)
        if layer is MapLayer.BASEMAP:
            self._request_tiles()
        self._refresh_hover()

    def map_frame(self) -> MapFrame:
        """Projected metres to viewport pixels, as the view stands."""
        rect = self.view_box.viewRect()
        geometry = self.view_box.sceneBoundingRect()
        scale = geometry.width() / rect.width() if rect.width() > 0 else 0.0
        return MapFrame(
            scale,
            geometry.left() - rect.left() * scale,
            geometry.top() + (rect.top() + rect.height()) * scale,
            geometry.width(),
            geometry.height(),
        )

    def screen_position(self, latitude: float, longitude: float) -> QPointF:
        frame = self.map_frame()
        x, y = to_mercator(latitude, longitude)
        return QPointF(x * frame.scale + frame.dx, frame.dy - y * frame.scale)

    def geo_position(self, point: QPointF) -> tuple[float, float]:
        """(latitude, longitude) under a viewport point."""
        return to_wgs84(*self.map_frame().to_map(point.x(), point.y()))

    def camera_screen_position(self, camera_id: str) -> QPointF | None:
        index = self._index_of(camera_id)
        if index is None or self._features is None:
            return None
        frame = self.map_frame()
        x, y = self._features.x[index], self._features.y[index]
        return QPointF(x * frame.scale + frame.dx, frame.dy - y * frame.scale)

    def hit_at(self, point: QPointF) -> MapHit | None:
        """The unit, incident, camera or cluster drawn under a viewport point (topmost first)."""
        frame = self.map_frame()
        if frame.scale <= 0:
            return None
        x, y = point.x(), point.y()
        for kind, layer, reach in (
            ("unit", self.unit_layer, UNIT_PX / 2),
            ("incident", self.incident_layer, INCIDENT_PX / 2),
        ):
            if not layer.isVisible() or len(layer.features) == 0:
                continue
            px, py = layer.screen_positions(frame)
            distance = np.hypot(px - x, py - y)
            # The nearest, and of symbols on one spot the last drawn: the one on top.
            nearest = len(distance) - 1 - int(np.argmin(distance[::-1]))
            if distance[nearest] <= reach:
                return MapHit(kind, nearest, QPointF(px[nearest], py[nearest]))
        shown = self.camera_layer.visible(frame) if self.camera_layer.isVisible() else None
        if shown is None:
            return None
        symbol = shown.nearest(x, y, HIT_PX)
        if symbol is None:
            return None
        at = QPointF(shown.px[symbol], shown.py[symbol])
        camera = int(shown.camera[symbol])
        return MapHit("camera", camera, at) if camera >= 0 else MapHit("cluster", symbol, at)

    def camera_at(self, point: QPointF) -> str | None:
        hit = self.hit_at(point)
        if hit is None or hit.kind != "camera" or self._features is None:
            return None
        return self._features.rows[hit.index].camera_id

    def refresh_live_layers(self) -> None:
        """Read units and open incidents again (a background job); skipped while hidden."""
        if self._read_live_layers is None or self._live_loading or not self.isVisible():
            return
        self._live_loading = True
        self._jobs.submit(
            "Reading units and incidents for the map",
            self._read_live_layers,
            self._live_loaded,
            self._live_failed,
            owner=self,
        )

    @property
    def tile_loader(self) -> TileLoader | None:
        """The threads loading raster tiles (None when the basemap is the street layer)."""
        return self._loader

    def placed_by_operator(self) -> None:
        """The operator moved the view: new cameras no longer re-fit it."""
        self._placed = True

    def shutdown(self) -> None:
        """Stop the tile threads (also done when the map is destroyed)."""
        if self._loader is not None:
            self._loader.close()
            self._loader = None

    def close(self) -> bool:
        # pyqtgraph's close() clears the scene and drops the viewport, which crashes PySide6
        # 6.11 when the widget is closed: a map closes as any widget does.
        self.shutdown()
        return bool(QWidget.close(self))

    # ---- cameras ------------------------------------------------------------------------------

    def _build_next(self) -> None:
        rows, self._pending_rows = self._pending_rows, None
        if rows is None:
            return
        self._building = True
        self._jobs.submit(
            "Preparing the camera map",
            lambda: camera_features(rows),
            self._features_ready,
            self._features_failed,
            owner=self,
        )

    def _features_ready(self, features: CameraFeatures) -> None:
        self._building = False
        self._features = features
        self.camera_layer.set_features(features)
        self.camera_layer.selected = self._index_of(self._selected)
        self.camera_layer.hovered = self._index_of(self._hovered)
        self.cone_layer.update()
        if not self._placed:
            self.fit_cameras()
        self._update_status()
        self._refresh_hover()
        self._build_next()

    def _features_failed(self, error: Exception) -> None:
        self._building = False
        log.error("preparing the camera map failed", exc_info=error)
        self._show_notice(f"The cameras could not be drawn: {error}")
        self._build_next()

    def _index_of(self, camera_id: str | None) -> int | None:
        if camera_id is None or self._features is None:
            return None
        return self._features.index.get(camera_id)

    def _update_status(self) -> None:
        cameras = self.camera_count
        parts = [f"{cameras:,} cameras" if not self._building or cameras else "Loading cameras…"]
        parts.append(f"{len(self.unit_layer.features)} units")
        parts.append(f"{len(self.incident_layer.features)} open incidents")
        self.status_label.setText("  ·  ".join(parts))
        self._place_overlays()

    # ---- units and incidents -----------------------------------------------------------------

    def _live_loaded(self, layers: LiveLayers) -> None:
        self._live_loading = False
        self.set_live_layers(layers)
        self._refresh_hover()

    def _live_failed(self, error: Exception) -> None:
        self._live_loading = False
        self._jobs.failed.emit(f"Reading units and incidents for the map failed: {error}")

    # ---- basemap ------------------------------------------------------------------------------

    def _basemap_opened(self, basemap: Basemap) -> None:
        if isinstance(basemap, StreetMap):
            self.street_layer.set_streets(basemap)
            self._set_attribution(basemap.attribution)
            return
        self.use_tile_source(basemap)

    def use_tile_source(self, source: TileSource) -> None:
        """Draw raster tiles from ``source`` (loaded on its own threads) under the cameras."""
        self.shutdown()
        self.tile_layer.clear()
        self._tile_failures.clear()
        self._tiles_missing.clear()
        bridge = self._bridge
        self._loader = TileLoader(source, bridge.arrived.emit)
        loader = self._loader
        self.destroyed.connect(loader.close)
        self.tile_layer.min_zoom, self.tile_layer.max_zoom = source.min_zoom, source.max_zoom
        self._set_attribution(source.attribution)
        self._request_tiles()

    def _basemap_failed(self, error: Exception) -> None:
        text = f"Basemap unavailable: {error}. Cameras, units and incidents are still shown."
        self._show_notice(text)
        if self._fallback_streets is not None:
            self._jobs.submit(
                "Reading the street layer",
                self._fallback_streets,
                self._basemap_opened,
                owner=self,
            )

    def _set_attribution(self, text: str) -> None:
        self.attribution.setText(text)
        self.attribution.setVisible(bool(text))
        self._place_overlays()

    def _tile_arrived(self, result: TileResult) -> None:
        if self._loader is None:
            return
        if result.pixels is not None:
            self._tile_failures.pop(result.key, None)
            self.tile_layer.add_tile(result.key, result.pixels)
        elif result.error is not None:
            if len(self._tile_failures) >= TILE_MEMORY:
                self._tile_failures.clear()  # ask again for tiles long out of view
            self._tile_failures[result.key] = (result.error, time.monotonic())
        else:
            if len(self._tiles_missing) >= TILE_MEMORY:
                self._tiles_missing.clear()
            self._tiles_missing.add(result.key)
        self._update_tile_notice()

    def _request_tiles(self) -> None:
        if self._loader is None:
            return
        if not self.tile_layer.isVisible():
            self._loader.want([])
            return
        frame = self.map_frame()
        if frame.scale <= 0:
            return
        now = time.monotonic()
        wanted = [
            key
            for key in self.tile_layer.wanted(frame)
            if not self.tile_layer.has(key)
            and key not in self._tiles_missing
            and now - self._tile_failures.get(key, ("", -math.inf))[1] >= TILE_RETRY_S
        ]
        self._loader.want(wanted)
        self._update_tile_notice()

    def _update_tile_notice(self) -> None:
        frame = self.map_frame()
        in_view = self.tile_layer.wanted(frame) if frame.scale > 0 else []
        failed = [self._tile_failures[key][0] for key in in_view if key in self._tile_failures]
        if failed and self.tile_layer.isVisible():
            self._tile_notice = (
                f"Map tiles unavailable ({len(failed)} of {len(in_view)} in view): {failed[0]}. "
                "The map still works: cameras, units and incidents are drawn."
            )
        else:
            self._tile_notice = ""
        self._update_notice()

    def _show_notice(self, text: str) -> None:
        self._map_notice = text
        self._update_notice()

    def _update_notice(self) -> None:
        text = self._tile_notice or self._map_notice
        if text == self.notice_text:
            return  # asked on every pan: nothing to move
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
        self._place_overlays()

    @property
    def notice_text(self) -> str:
        return self.notice.text() if self.notice.isVisibleTo(self) else ""

    # ---- view ---------------------------------------------------------------------------------

    def _apply_view(self) -> None:
        width, height = self.view_box.width(), self.view_box.height()
        if width <= 0 or height <= 0:
            return
        mpp = metres_per_pixel(self._zoom)
        cx, cy = self._centre
        self._applying = True
        try:
            self.view_box.setRange(
                QRectF(cx - width * mpp / 2, cy - height * mpp / 2, width * mpp, height * mpp),
                padding=0.0,
            )
        finally:
            self._applying = False

    def _range_changed(self, *_args: object) -> None:
        if not self._applying:  # a drag panned the view, or a resize moved it
            rect = self.view_box.viewRect()
            width = self.view_box.width()
            if width > 0 and rect.width() > 0:
                self._centre = (rect.center().x(), rect.center().y())
                self._zoom = math.log2(metres_per_pixel(0) / (rect.width() / width))
        self.tile_layer.smooth = False
        self._settle_timer.start()
        self.scale_bar.set_ground_resolution(self.metres_per_pixel)
        self._update_readout()
        self._request_tiles()
        self._refresh_hover()
        self.view_changed.emit()

    def _view_settled(self) -> None:
        self.tile_layer.smooth = True
        self.tile_layer.update()

    def _update_readout(self) -> None:
        if self._pointer is not None:
            latitude, longitude = self.geo_position(self._pointer)
        else:
            latitude, longitude = self.centre
        north_south = "N" if latitude >= 0 else "S"
        east_west = "E" if longitude >= 0 else "W"
        self.readout.setText(
            f"{abs(latitude):.5f}° {north_south}   {abs(longitude):.5f}° {east_west}"
            f"   ·   zoom {self._zoom:.1f}"
        )
        self.readout.adjustSize()

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        if not hasattr(self, "card"):
            super().resizeEvent(event)  # pyqtgraph resizes its central item while it is built
            return
        centre, zoom = self._centre, self._zoom
        super().resizeEvent(event)
        # Keep the scale and the middle when the dock is resized: show more, not bigger.
        self._centre, self._zoom = centre, zoom
        if self._placed:
            self._apply_view()
        else:
            self.fit_cameras()
        self._place_overlays()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._place_overlays()
        self.refresh_live_layers()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.StyleChange:  # the theme switched (palette.apply_theme)
            self.setBackground(QColor(palette.MAP_BACKGROUND))
        super().changeEvent(event)

    def _place_overlays(self) -> None:
        area = QRectF(self.rect())
        self.legend.fit_into(self.width(), self.height())
        placed(self.legend, area, Qt.Corner.TopLeftCorner)
        placed(self.status_label, area, Qt.Corner.TopRightCorner)
        placed(self.attribution, area, Qt.Corner.BottomRightCorner, margin=4)
        placed(self.readout, area, Qt.Corner.BottomLeftCorner, margin=6)
        if self.hint.isVisibleTo(self):
            self.hint.setMaximumWidth(max(self.width() - 2 * 16, 100))
            self.hint.adjustSize()
            bottom = self.readout.y() - self.scale_bar.height() - 10
            self.hint.move((self.width() - self.hint.width()) // 2, bottom - self.hint.height())
        self.scale_bar.move(6, self.readout.y() - self.scale_bar.height() - 2)
        if self.notice.isVisibleTo(self):
            width = min(max(self.width() - 2 * 16, 200), 640)
            self.notice.setFixedWidth(width)
            self.notice.adjustSize()
            top = self.status_label.geometry().bottom() + 8
            self.notice.move((self.width() - width) // 2, top)
        for overlay in (self.legend, self.status_label, self.attribution, self.readout,
                        self.scale_bar, self.notice, self.hint, self.card):  # fmt: skip
            overlay.raise_()

    # ---- pointer --------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            if self.geofence_editor.press(event.position()):
                self._set_hover(None, None)
                event.accept()
                return
            hit = self.hit_at(event.position())
            self._press = (event.position(), hit)
            if hit is not None and hit.kind == "camera":
                event.accept()
                return  # a camera is clicked or dragged onto the wall, not panned
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._pointer = event.position()
        self._update_readout()
        if self.geofence_editor.move(event.position()):
            event.accept()
            return
        press = self._press
        if press is not None and press[1] is not None and press[1].kind == "camera":
            moved = (event.position() - press[0]).manhattanLength()
            if moved >= QApplication.startDragDistance():
                self._press = None
                self._drag_camera(press[1].index)
            event.accept()
            return
        super().mouseMoveEvent(event)
        if not event.buttons():
            self._update_hover(event.position())
            on_handle = self.geofence_editor.hovering_handle(event.position())
            if on_handle:
                self.viewport().setCursor(Qt.CursorShape.SizeHorCursor)
            elif self.viewport().cursor().shape() == Qt.CursorShape.SizeHorCursor:
                self.viewport().unsetCursor()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.geofence_editor.release(
            event.position()
        ):
            self._press = None
            event.accept()
            return
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        hit = press[1]
        if hit is not None and hit.kind == "camera":
            self._click_camera(hit.index)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if (event.position() - press[0]).manhattanLength() >= QApplication.startDragDistance():
            return  # the map was panned
        if hit is not None and hit.kind == "cluster":
            self.zoom_by(CLUSTER_ZOOM_STEP, self.map_frame().to_map(hit.at.x(), hit.at.y()))
        else:
            self.select_camera(None)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.geofence_editor.double_click(event.position()):
            event.accept()
            return
        camera = self.camera_at(event.position())
        if camera is not None:
            self.camera_activated.emit(camera)
        elif event.button() == Qt.MouseButton.LeftButton:
            self.zoom_by(1.0, self.map_frame().to_map(event.position().x(), event.position().y()))
        event.accept()

    def viewportEvent(self, event: QEvent) -> bool:
        # The pointer left the map, or went onto the legend or another overlay.
        if event.type() == QEvent.Type.Leave:
            self._pointer = None
            self._set_hover(None, None)
        return bool(super().viewportEvent(event))

    def _click_camera(self, index: int) -> None:
        assert self._features is not None
        camera_id = self._features.rows[index].camera_id
        self.select_camera(camera_id)
        self.camera_clicked.emit(camera_id)

    def _drag_camera(self, index: int) -> None:
        assert self._features is not None
        row = self._features.rows[index]
        drag = QDrag(self)
        drag.setMimeData(camera_mime([row.camera_id]))
        drag.setPixmap(camera_icon(row.policy_state, 22, self.devicePixelRatioF()))
        self._set_hover(None, None)
        drag.exec(Qt.DropAction.CopyAction)

    def _refresh_hover(self) -> None:
        if self._pointer is not None and self.underMouse():
            self._update_hover(self._pointer)
        elif self.card.isVisible():
            self._set_hover(None, None)

    def _update_hover(self, point: QPointF) -> None:
        hit = self.hit_at(point)
        if hit is None:
            self._set_hover(None, None)
            return
        title, lines = self._card_text(hit)
        self._set_hover(hit, (title, lines))

    def _set_hover(self, hit: MapHit | None, text: tuple[str, list[str]] | None) -> None:
        camera_id = None
        if hit is not None and hit.kind == "camera" and self._features is not None:
            camera_id = self._features.rows[hit.index].camera_id
        if camera_id != self._hovered:
            self._hovered = camera_id
            self.camera_layer.hovered = None if hit is None or hit.kind != "camera" else hit.index
            self.camera_layer.update()
            self.camera_hovered.emit(camera_id or "")
        if hit is None or text is None:
            self.card.hide()
            return
        self.card.show_at(text[0], text[1], hit.at)

    def _card_text(self, hit: MapHit) -> tuple[str, list[str]]:
        now = self._clock()
        if hit.kind == "camera":
            assert self._features is not None
            return camera_card(self._features.rows[hit.index], now)
        if hit.kind == "cluster":
            shown = self.camera_layer.visible(self.map_frame())
            assert shown is not None
            counts = shown.state_counts[hit.index]
            lines = [
                f"{int(n):,} {STATE_LEGEND[state].lower()}"
                for state, n in zip(POLICY_STATES, counts, strict=True)
                if n
            ]
            return f"{int(shown.count[hit.index]):,} cameras here", [*lines, "Click to zoom in"]
        if hit.kind == "unit":
            unit = self.unit_layer.features.units[hit.index]
            seen = max(0, round((now - unit.updated_at).total_seconds() / 60))
            return f"Unit {unit.unit_id}  ·  {unit.kind}", [
                f"Status: {unit.status.replace('_', ' ')}",
                f"Heading {unit.heading_deg:.0f}°",
                f"Position {seen} min old",
            ]
        incident = self.incident_layer.features.incidents[hit.index]
        urgency = "EMERGENCY, " if incident.emergency else ""
        received = incident.received_at.astimezone().strftime("%H:%M")
        return f"{incident.cad_number}  ·  {incident.incident_type}", [
            f"{urgency}priority {incident.priority}",
            f"Status: {incident.status.value.replace('_', ' ')}",
            f"Address: {incident.address or 'not given'}",
            f"Received {received}",
        ]

    # ---- keys -----------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if self.geofence_editor.key(key):
            event.accept()
            return
        step_x = self.view_box.width() * PAN_SHARE
        step_y = self.view_box.height() * PAN_SHARE
        pans = {
            Qt.Key.Key_Left: (-step_x, 0.0),
            Qt.Key.Key_Right: (step_x, 0.0),
            Qt.Key.Key_Up: (0.0, -step_y),
            Qt.Key.Key_Down: (0.0, step_y),
        }
        layers = {Qt.Key[f"Key_{letter}"]: layer for layer, letter in LAYER_KEYS.items()}
        if key in pans:
            self.pan_by(*pans[key])
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(KEY_ZOOM_STEP)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(-KEY_ZOOM_STEP)
        elif key == Qt.Key.Key_Home:
            self.fit_cameras()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._selected is not None:
            self.camera_activated.emit(self._selected)
        elif key == Qt.Key.Key_Escape and self._selected is not None:
            self.select_camera(None)
        elif key == Qt.Key.Key_L:
            self.legend.set_expanded(not self.legend.expanded)
            self._place_overlays()
        elif key in layers and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.set_layer_visible(layers[key], not self.layer_visible(layers[key]))
        else:
            super().keyPressEvent(event)
            return
        event.accept()


MAP_SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Map: pan", "Arrow keys or drag"),
    ("Map: zoom in, zoom out", "+ and -, or the wheel"),
    ("Map: show every camera", "Home"),
    ("Map: open the selected camera on a free tile", "Enter or double-click"),
    ("Map: open a camera on a chosen tile", "Drag it onto the tile"),
    (
        "Map: show or hide "
        + ", ".join(f"{layer.value.lower()} ({key})" for layer, key in LAYER_KEYS.items()),
        ", ".join(LAYER_KEYS.values()),
    ),
    ("Map: fold or unfold the legend", "L"),
    ("Map: change the geofence's radius", "Drag its square handle"),
    ("Map: finish a polygon, take its last corner back", "Enter or double-click, Backspace"),
    ("Map: stop drawing a geofence", "Esc"),
)


def console_map(
    settings: Settings, sessions: SessionFactory, jobs: BackgroundJobs, clock: Clock = utc_now
) -> CameraMap:
    """The console's map: the basemap the settings name (else the bundled demo streets, which
    also stand in when the configured one cannot be opened), units and open incidents read
    from the registry while it is shown."""
    streets = resources_dir() / STREETS_GEOJSON
    basemap = settings.basemap
    cache_dir = settings.data_dir / TILE_CACHE_DIR
    return CameraMap(
        jobs,
        open_basemap=lambda: open_basemap(basemap, cache_dir=cache_dir, streets=streets),
        fallback_streets=lambda: read_street_geojson(streets),
        read_live_layers=lambda: read_live_layers(sessions),
        default_radius_m=settings.map.default_radius_m,
        clock=clock,
    )
