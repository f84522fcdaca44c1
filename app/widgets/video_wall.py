"""The video wall: tiles of live feeds in the centre of the console.

Feeds open only through the policy gate, off the UI thread: a camera dropped on a tile (or
opened from the camera list) is requested for the incident selected in the incident panel, or
for a case number the operator states once; the gate decides and audits, then the supervisor
starts decoding into the tile. One timer at display rate polls each visible tile's handle and
repaints only the tiles that got a new frame or state. Tiles out of sight (behind a maximised
tile, the wall hidden or minimised) pause their decoding; small tiles take the sub stream and
large ones the main stream. Closing a tile ends its lease through the gate, which audits it.

Layouts follow the video management systems operators know (Milestone, Genetec): NxN grids, and
1+5, 1+7 and 2+8, where one or two large tiles sit top-left of a 3x3 or 4x4 grid and small tiles
fill the rest in reading order. Tiles are placed by hand (not by a ``QGridLayout``), so spans
and gaps are exact and a maximised tile simply takes the whole wall.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

from app.models.policy import Purpose, PurposeKind
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.clock import Clock, utc_now
from app.services.policy_gate import (
    FeedDenied,
    FeedLease,
    LeaseEndedError,
    PolicyGate,
    Stream,
    TilePlacement,
    UnknownCameraError,
)
from app.services.registry_rows import CameraRow
from app.services.snapshot_export import ExportError, ExportReceipt, export_clip, export_snapshot
from app.services.wall_session import OpenFeed
from app.video.feed_state import FeedStatus
from app.video.feed_supervisor import ClipExportError, FeedHandle, FeedSupervisor
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.case_number_dialog import CaseNumberDialog
from app.widgets.video_tile import EMPTY_TILE_HINT, TileCamera, VideoTile

log = logging.getLogger(__name__)

__all__ = ["EMPTY_TILE_HINT", "LAYOUTS", "VideoTile", "VideoWall", "WallLayout"]

DISPLAY_INTERVAL_MS = 33  # about 30 Hz: the rate the wall looks for new frames
MAIN_STREAM_AREA = 960 * 540  # device pixels: a tile this large gets the main stream
SUB_STREAM_BELOW = 0.8  # ... and goes back to the sub stream only below 80 % of it
MARGIN, SPACING = 6, 6
NOT_RECORDED_TEXT = "not opened: this feed could not be recorded in the audit log"
NO_FREE_TILE_TEXT = "No free tile on the wall: close a tile or choose a larger layout."
NO_TOUR_CAMERAS_TEXT = "Select two or more cameras in the camera list to tour them."
TOUR_INTERVAL_S = 10.0
MAIN_WALL = "main wall"  # the console window's own wall, as the audit log names it

Cell = tuple[int, int, int, int]  # row, column, row span, column span


@dataclass(frozen=True, slots=True)
class WallLayout:
    """A square grid of ``grid`` x ``grid`` cells; ``large`` tiles (row, column, span) come
    first, then one tile per remaining cell in reading order."""

    name: str
    grid: int
    large: tuple[tuple[int, int, int], ...] = ()

    @property
    def cells(self) -> list[Cell]:
        covered: set[tuple[int, int]] = set()
        cells: list[Cell] = []
        for row, column, span in self.large:
            cells.append((row, column, span, span))
            covered |= {(row + r, column + c) for r in range(span) for c in range(span)}
        for row in range(self.grid):
            for column in range(self.grid):
                if (row, column) not in covered:
                    cells.append((row, column, 1, 1))
        return cells

    @property
    def tile_count(self) -> int:
        return len(self.cells)


LAYOUTS: tuple[WallLayout, ...] = (
    WallLayout("1x1", 1),
    WallLayout("2x2", 2),
    WallLayout("3x3", 3),
    WallLayout("4x4", 4),
    WallLayout("5x5", 5),
    WallLayout("1+5", 3, ((0, 0, 2),)),
    WallLayout("1+7", 4, ((0, 0, 3),)),
    WallLayout("2+8", 4, ((0, 0, 2), (0, 2, 2))),
)
LAYOUT_BY_NAME = {layout.name: layout for layout in LAYOUTS}


@dataclass(eq=False)
class Tour:
    """Cameras cycled on one tile, or page by page over several tiles, each step through the
    gate (a new lease for each camera, the one before closed as ``tour_step``)."""

    tiles: list[VideoTile]
    cameras: list[str]
    purpose: Purpose
    timer: QTimer = field(repr=False)
    step: int = 0

    @property
    def pages(self) -> int:
        return math.ceil(len(self.cameras) / len(self.tiles))

    def page(self, step: int) -> list[str]:
        first = (step % self.pages) * len(self.tiles)
        return self.cameras[first : first + len(self.tiles)]


def refusal_text(error: Exception) -> str:
    """What a tile says when its feed was not opened."""
    if isinstance(error, FeedDenied):
        return f"denied: {error.decision.explanation}"
    if isinstance(error, AuditWriteError):
        return NOT_RECORDED_TEXT
    if isinstance(error, UnknownCameraError):
        return "not opened: this camera is no longer in the registry"
    if isinstance(error, LeaseEndedError):
        return f"not opened: {error}"
    return f"not opened: {error}"


class VideoWall(QWidget):
    """Tiles in one of ``LAYOUTS``, fed through the policy gate and the feed supervisor."""

    message = Signal(str)  # for the status bar: what the operator should know about the wall
    changed = Signal()  # the layout changed, or a feed started, ended or moved to another tile
    snapshot_saved = Signal(object)  # ExportReceipt
    clip_saved = Signal(object)  # ExportReceipt

    def __init__(
        self,
        *,
        gate: PolicyGate,
        supervisor: FeedSupervisor,
        jobs: BackgroundJobs,
        user: SignedInUser,
        audit: AuditLog,
        export_dir: Path,
        selected_incident: Callable[[], str | None] = lambda: None,
        selected_cameras: Callable[[], list[str]] = list,
        clock: Clock = utc_now,
        layout: str = "2x2",
        tour_interval_s: float = TOUR_INTERVAL_S,
        clip_seconds: float = 30,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("videoWall")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._gate = gate
        self._supervisor = supervisor
        self._jobs = jobs
        self._user = user
        self._audit = audit
        self._export_dir = export_dir
        self._selected_incident = selected_incident
        self._selected_cameras = selected_cameras
        self._clock = clock
        self._tour_interval_s = tour_interval_s
        self._clip_seconds = clip_seconds
        self._tours: list[Tour] = []
        self._pool: list[VideoTile] = []
        self._layout = LAYOUT_BY_NAME[layout]
        self._maximised: VideoTile | None = None
        self._case: Purpose | None = None
        # What waits for a case number: the camera's name for the dialog, and what to do next.
        self._waiting_for_case: tuple[str, Callable[[Purpose], None]] | None = None
        self._requests: dict[VideoTile, int] = {}
        self._request_ids = itertools.count(1)
        self._cameras: dict[str, CameraRow] = {}
        self._overlay_visible = True
        self.case_dialog: CaseNumberDialog | None = None

        self._build_actions()
        self._ensure_tiles(self._layout.tile_count)
        self._place_tiles()

        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(DISPLAY_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    # ---- actions ----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.layout_group = QActionGroup(self)
        self.layout_group.setExclusive(True)
        self.layout_actions: list[QAction] = []
        for number, layout in enumerate(LAYOUTS, start=1):
            action = QAction(layout.name, self)
            action.setCheckable(True)
            action.setChecked(layout is self._layout)
            action.setShortcut(QKeySequence(f"Ctrl+Shift+{number}"))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(f"Wall layout {layout.name} ({layout.tile_count} tiles)")
            action.setStatusTip(f"Wall layout {layout.name}")
            action.triggered.connect(lambda _=False, name=layout.name: self.set_layout(name))
            self.layout_group.addAction(action)
            self.layout_actions.append(action)
            self.addAction(action)
        self.overlay_action = QAction("Tile &overlay", self)
        self.overlay_action.setCheckable(True)
        self.overlay_action.setChecked(True)
        self.overlay_action.setShortcut(QKeySequence("O"))
        self.overlay_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.overlay_action.toggled.connect(self.set_overlay_visible)
        self.addAction(self.overlay_action)
        self.restore_action = QAction("Back to the wall", self)
        self.restore_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.restore_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.restore_action.setEnabled(False)
        self.restore_action.triggered.connect(self.restore)
        self.addAction(self.restore_action)
        self.snapshot_action = QAction("Save &snapshot", self)
        self.snapshot_action.setShortcut(QKeySequence("Ctrl+S"))
        self.snapshot_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.snapshot_action.setToolTip(
            "Save the focused (or maximised) tile's picture as evidence: PNG, SHA-256, audited"
        )
        self.snapshot_action.triggered.connect(lambda: self.save_snapshot(self.current_tile()))
        self.addAction(self.snapshot_action)
        self.clip_action = QAction(f"Save the last {self._clip_seconds:g} s as a &clip", self)
        self.clip_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.clip_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.clip_action.setToolTip(
            f"Save the focused (or maximised) tile's last {self._clip_seconds:g} seconds as "
            "evidence: MP4, SHA-256, audited"
        )
        self.clip_action.triggered.connect(lambda: self.save_clip(self.current_tile()))
        self.addAction(self.clip_action)
        self.case_action = QAction("Case &number for new feeds…", self)
        self.case_action.triggered.connect(lambda: self._ask_case(None))
        self.addAction(self.case_action)
        self.recall_action = self._tile_action(
            "&Recall the previous camera",
            "Backspace",
            "Open the camera this tile showed before (each tile remembers its last cameras)",
            self.recall,
        )
        self.health_action = self._tile_action(
            "Stream &health",
            "H",
            "Show or hide the focused tile's stream health: fps, bitrate, latency, reconnects",
            self.toggle_health,
        )
        self.tour_tile_action = QAction("&Tour the selected cameras on this tile", self)
        self.tour_tile_action.setShortcut(QKeySequence("Ctrl+T"))
        self.tour_tile_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.tour_tile_action.setToolTip(
            "Cycle the cameras selected in the camera list on the focused (or first) tile, "
            "each step through the policy gate"
        )
        self.tour_tile_action.triggered.connect(self._tour_selected_on_tile)
        self.addAction(self.tour_tile_action)
        self.tour_wall_action = QAction("Tour the selected cameras across the &wall", self)
        self.tour_wall_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.tour_wall_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.tour_wall_action.setToolTip(
            "Show the selected cameras page by page over every tile of the wall"
        )
        self.tour_wall_action.triggered.connect(
            lambda: self.start_tour(self.tiles, self._selected_cameras())
        )
        self.addAction(self.tour_wall_action)
        self.stop_tour_action = self._tile_action(
            "Sto&p the tour",
            "Ctrl+Shift+P",
            "Stop the focused tile's tour; the camera on screen stays open",
            self.stop_tour,
        )

    def _tile_action(
        self, text: str, keys: str, tip: str, slot: Callable[[VideoTile], None]
    ) -> QAction:
        """An action on the focused (or maximised) tile, with its keys while the wall has focus."""
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{tip} ({keys})")

        def apply() -> None:
            tile = self.current_tile()
            if tile is not None:
                slot(tile)

        action.triggered.connect(apply)
        self.addAction(action)
        return action

    # ---- tiles and layouts ------------------------------------------------------------------

    @property
    def layout_name(self) -> str:
        return self._layout.name

    @property
    def tiles(self) -> list[VideoTile]:
        """The tiles of the current layout, in reading order (tile 1 first)."""
        return self._pool[: self._layout.tile_count]

    @property
    def maximised(self) -> VideoTile | None:
        return self._maximised

    @property
    def case_purpose(self) -> Purpose | None:
        """The case number stated for feeds opened without a selected incident."""
        return self._case

    def _ensure_tiles(self, count: int) -> None:
        while len(self._pool) < count:
            tile = VideoTile(len(self._pool) + 1, self, clock=self._clock)
            tile.set_overlay_visible(self._overlay_visible)
            tile.camera_dropped.connect(self.open_camera)
            tile.cameras_dropped.connect(lambda tile, ids: self.start_tour([tile], ids))
            tile.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            tile.customContextMenuRequested.connect(
                lambda position, tile=tile: self.tile_menu(tile).exec(tile.mapToGlobal(position))
            )
            tile.tile_dropped.connect(self.swap)
            tile.close_requested.connect(self.close_tile)
            tile.maximise_requested.connect(self.toggle_maximise)
            self._pool.append(tile)

    def set_layout(self, name: str) -> None:
        """Show ``name``'s tiles; feeds that no longer fit move to free tiles, or are closed."""
        layout = LAYOUT_BY_NAME[name]
        self._ensure_tiles(layout.tile_count)
        count = layout.tile_count
        free = [index for index in range(count) if self._pool[index].is_empty]
        for index in range(count, len(self._pool)):
            if not self._pool[index].is_empty and free:
                target = free.pop(0)
                self._pool[target], self._pool[index] = self._pool[index], self._pool[target]
        for tour in [t for t in self._tours if any(tile in self._pool[count:] for tile in t.tiles)]:
            self._end_tour(tour)
        left_out = [tile for tile in self._pool[count:] if not tile.is_empty]
        for tile in left_out:
            self.close_tile(tile, reason="wall_layout_changed")
        if left_out:
            noun = "feed" if len(left_out) == 1 else "feeds"
            self.message.emit(f"Closed {len(left_out)} {noun} that did not fit the {name} layout")
        self._layout = layout
        for action in self.layout_actions:
            action.setChecked(action.text() == name)
        if self._maximised is not None and self._maximised not in self.tiles:
            self._maximised = None
            self.restore_action.setEnabled(False)
        self._renumber()
        self._place_tiles()
        self.changed.emit()

    def _renumber(self) -> None:
        for number, tile in enumerate(self._pool, start=1):
            tile.set_number(number)

    def tile_rects(self) -> list[QRect]:
        """Where the current layout puts its tiles, in wall coordinates."""
        area = self.rect().adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        grid = self._layout.grid

        def edge(start: int, length: int, index: int) -> int:
            return start + round(index * (length + SPACING) / grid)

        rects = []
        for row, column, rows, columns in self._layout.cells:
            left = edge(area.left(), area.width(), column)
            right = edge(area.left(), area.width(), column + columns) - SPACING
            top = edge(area.top(), area.height(), row)
            bottom = edge(area.top(), area.height(), row + rows) - SPACING
            rects.append(QRect(left, top, max(1, right - left), max(1, bottom - top)))
        return rects

    def _place_tiles(self) -> None:
        if self._maximised is not None:
            for tile in self._pool:
                if tile is not self._maximised:
                    tile.hide()
            self._maximised.setGeometry(self.rect().adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN))
            self._maximised.show()
            self._maximised.raise_()
            return
        rects = self.tile_rects()
        for index, tile in enumerate(self._pool):
            if index < len(rects):
                tile.setGeometry(rects[index])
                tile.show()
            else:
                tile.hide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_tiles()

    def swap(self, first: int, second: int) -> None:
        """Swap the tiles numbered ``first`` and ``second`` (their feeds go with them)."""
        count = self._layout.tile_count
        if first == second or not (1 <= first <= count and 1 <= second <= count):
            return
        i, j = first - 1, second - 1
        self._pool[i], self._pool[j] = self._pool[j], self._pool[i]
        self._renumber()
        self._place_tiles()
        self.changed.emit()

    def toggle_maximise(self, tile: VideoTile) -> None:
        if self._maximised is tile:
            self.restore()
        else:
            self.maximise(tile)

    def maximise(self, tile: VideoTile) -> None:
        """Give ``tile`` the whole wall; the others pause until ``restore`` (Esc)."""
        if tile.is_empty or tile not in self.tiles:
            return
        self._maximised = tile
        self.restore_action.setEnabled(True)
        self._place_tiles()
        tile.setFocus(Qt.FocusReason.OtherFocusReason)

    def restore(self) -> None:
        tile = self._maximised
        if tile is None:
            return
        self._maximised = None
        self.restore_action.setEnabled(False)
        self._place_tiles()
        tile.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = visible
        if self.overlay_action.isChecked() != visible:
            self.overlay_action.setChecked(visible)
        for tile in self._pool:
            tile.set_overlay_visible(visible)

    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_cameras(self, rows: Sequence[CameraRow]) -> None:
        """Names and tiers for the tiles' overlays (from the camera list's last read)."""
        self._cameras = {row.camera_id: row for row in rows}

    # ---- opening and closing feeds ------------------------------------------------------------

    def open_camera(self, tile: VideoTile, camera_id: str) -> None:
        """Open ``camera_id`` on ``tile`` for the selected incident, or the stated case."""
        self.stop_tour(tile)
        self._with_purpose(
            self._camera_name(camera_id), lambda p: self._open_on(tile, camera_id, p)
        )

    def _open_on(self, tile: VideoTile, camera_id: str, purpose: Purpose) -> None:
        if tile in self.tiles:
            self._open(tile, camera_id, purpose)

    def reopen(self, tile: VideoTile, camera_id: str, purpose: Purpose) -> None:
        """Ask the gate again for a feed ``tile`` had before the console closed unexpectedly,
        for the purpose it had then (audited as a new request; a refusal shows on the tile)."""
        self.stop_tour(tile)
        self._open_on(tile, camera_id, purpose)

    def open_feeds(self) -> list[OpenFeed]:
        """The feeds the gate granted that still run, by tile (what a restart asks for again)."""
        feeds = []
        for tile in self.tiles:
            handle = tile.handle
            if handle is not None and handle.state.status is not FeedStatus.ENDED:
                lease = handle.lease
                feeds.append(
                    OpenFeed(
                        tile=tile.number, camera_id=lease.camera_id, purpose=str(lease.purpose)
                    )
                )
        return feeds

    def _with_purpose(self, name: str, then: Callable[[Purpose], None]) -> None:
        """Run ``then`` with the purpose feeds are opened for now, asking for a case number
        first when no incident is selected and none was stated."""
        purpose = self._purpose_now()
        if purpose is None:
            self._ask_case((name, then))
        else:
            then(purpose)

    def recall(self, tile: VideoTile, camera: TileCamera | None = None) -> None:
        """Open the tile's previous camera (or ``camera`` of its recall list) again."""
        recent = camera or next(iter(tile.recent_cameras), None)
        if recent is None:
            self.message.emit(f"Tile {tile.number} has no earlier camera to recall.")
            return
        self.open_camera(tile, recent.camera_id)

    def _recall_slot(self, tile: VideoTile, camera: TileCamera) -> Callable[[], None]:
        # A closure, not a lambda with a default argument: Qt would pass ``checked`` into it.
        return lambda: self.recall(tile, camera)

    def toggle_health(self, tile: VideoTile) -> None:
        tile.set_health_visible(not tile.health_visible)

    # ---- tours --------------------------------------------------------------------------------

    @property
    def tours(self) -> list[Tour]:
        return list(self._tours)

    def tour_of(self, tile: VideoTile) -> Tour | None:
        return next((tour for tour in self._tours if tile in tour.tiles), None)

    def _tour_selected_on_tile(self) -> None:
        tile = self.current_tile() or next(iter(self.tiles), None)
        if tile is not None:
            self.start_tour([tile], self._selected_cameras())

    def start_tour(self, tiles: Sequence[VideoTile], camera_ids: Sequence[str]) -> None:
        """Cycle ``camera_ids`` over ``tiles`` every ``tour_interval_s``, starting now."""
        cameras = list(dict.fromkeys(camera_ids))
        tiles = [tile for tile in tiles if tile in self.tiles]
        if len(cameras) < 2 or not tiles:
            self.message.emit(NO_TOUR_CAMERAS_TEXT)
            return
        for tile in tiles:
            self.stop_tour(tile)
        name = f"a tour of {len(cameras)} cameras"
        self._with_purpose(name, lambda purpose: self._begin_tour(tiles, cameras, purpose))

    def _begin_tour(self, tiles: list[VideoTile], cameras: list[str], purpose: Purpose) -> None:
        timer = QTimer(self)
        timer.setInterval(round(self._tour_interval_s * 1000))
        tour = Tour([tile for tile in tiles if tile in self.tiles], cameras, purpose, timer)
        if not tour.tiles:
            return
        timer.timeout.connect(lambda: self._tour_step(tour))
        self._tours.append(tour)
        self._tour_step(tour)
        timer.start()
        where = f"tile {tiles[0].number}" if len(tiles) == 1 else "the wall"
        self.message.emit(
            f"Touring {len(cameras)} cameras on {where}, {self._tour_interval_s:g} s each"
        )

    def _tour_step(self, tour: Tour) -> None:
        if not self.isVisible():
            return  # locked or hidden: nobody watches, so no camera is opened meanwhile
        page = tour.page(tour.step)
        text = f"tour {tour.step % tour.pages + 1}/{tour.pages}"
        if len(tour.tiles) == 1:
            text = f"tour {tour.step % len(tour.cameras) + 1}/{len(tour.cameras)}"
        for index, tile in enumerate(tour.tiles):
            if index < len(page):
                self._open(tile, page[index], tour.purpose, "tour_step")
            else:
                self._release(tile, "tour_step")
            tile.set_tour_text(text)
        tour.step += 1

    def stop_tour(self, tile: VideoTile) -> None:
        """End the tour ``tile`` is part of; what is on screen stays open."""
        tour = self.tour_of(tile)
        if tour is not None:
            self._end_tour(tour)

    def _end_tour(self, tour: Tour) -> None:
        tour.timer.stop()
        tour.timer.deleteLater()
        self._tours.remove(tour)
        for tile in tour.tiles:
            tile.set_tour_text("")

    # ---- the tile's menu ----------------------------------------------------------------------

    def tile_menu(self, tile: VideoTile) -> QMenu:
        """What can be done with ``tile``: right-click, or the menu key."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        showing = not tile.is_empty
        if showing:
            text = "Back to the wall" if tile is self._maximised else "Maximise"
            menu.addAction(text, lambda: self.toggle_maximise(tile))
            menu.addAction("Save snapshot", lambda: self.save_snapshot(tile))
            menu.addAction(
                f"Save the last {self._clip_seconds:g} s as a clip", lambda: self.save_clip(tile)
            )
            health = menu.addAction("Stream health", lambda: self.toggle_health(tile))
            health.setCheckable(True)
            health.setChecked(tile.health_visible)
        recall = menu.addMenu("Recall")
        recall.setEnabled(bool(tile.recent_cameras))
        for camera in tile.recent_cameras:
            recall.addAction(camera.name, self._recall_slot(tile, camera))
        if self.tour_of(tile) is not None:
            menu.addAction("Stop the tour", lambda: self.stop_tour(tile))
        if showing:
            menu.addSeparator()
            menu.addAction("Close the feed", lambda: self.close_tile(tile))
        return menu

    def open_in_free_tile(self, camera_id: str) -> None:
        """Open ``camera_id`` on the first empty tile (the camera list's Enter, double-click)."""
        free = next((tile for tile in self.tiles if tile.is_empty), None)
        if free is None:
            self.message.emit(NO_FREE_TILE_TEXT)
            return
        self.open_camera(free, camera_id)

    def open_cameras(self, camera_ids: Sequence[str], purpose: Purpose | None = None) -> None:
        """Open cameras on free tiles (the geofence's "open the nearest allowed"), each through
        the gate for ``purpose`` (None: the selected incident, else a case number asked for).
        Cameras already on the wall stay where they are; when the layout has too few free
        tiles it grows to the smallest grid that holds them all."""
        showing = {tile.camera.camera_id for tile in self.tiles if tile.camera is not None}
        wanted = [camera for camera in dict.fromkeys(camera_ids) if camera not in showing]
        if not wanted:
            self.message.emit("Those cameras are already on the wall.")
            return
        busy = len(self.tiles) - sum(tile.is_empty for tile in self.tiles)
        if sum(tile.is_empty for tile in self.tiles) < len(wanted):
            larger = next(
                (
                    layout
                    for layout in LAYOUTS
                    if not layout.large
                    and layout.tile_count > len(self.tiles)
                    and layout.tile_count >= busy + len(wanted)
                ),
                None,
            )
            if larger is not None:
                self.set_layout(larger.name)
        free = [tile for tile in self.tiles if tile.is_empty]
        placed = list(zip(free, wanted, strict=False))
        if len(placed) < len(wanted):
            self.message.emit(
                f"Opening {len(placed)} of {len(wanted)} cameras: no free tile for the other "
                f"{len(wanted) - len(placed)}. Close tiles or choose a larger layout."
            )

        def open_all(purpose: Purpose) -> None:
            for tile, camera_id in placed:
                if tile in self.tiles and tile.is_empty:
                    self._open(tile, camera_id, purpose)

        if purpose is not None:
            open_all(purpose)
        else:
            self._with_purpose(f"{len(placed)} cameras", open_all)

    def _purpose_now(self) -> Purpose | None:
        cad_number = self._selected_incident()
        if cad_number:
            return Purpose(PurposeKind.INCIDENT, cad_number)
        return self._case

    def _ask_case(self, waiting: tuple[str, Callable[[Purpose], None]] | None) -> None:
        if self.case_dialog is None:
            self.case_dialog = CaseNumberDialog(self)
            self.case_dialog.case_entered.connect(self._case_entered)
            self.case_dialog.rejected.connect(self._case_cancelled)
        self._waiting_for_case = waiting
        name = waiting[0] if waiting is not None else "this camera"
        if self._case is not None:
            self.case_dialog.case_edit.setText(self._case.reference)
        self.case_dialog.ask(name)

    def _case_entered(self, purpose: Purpose) -> None:
        self._case = purpose
        waiting, self._waiting_for_case = self._waiting_for_case, None
        if waiting is not None:
            waiting[1](purpose)

    def _case_cancelled(self) -> None:
        self._waiting_for_case = None

    def _camera_name(self, camera_id: str) -> str:
        row = self._cameras.get(camera_id)
        return row.name if row is not None else camera_id

    def _open(
        self, tile: VideoTile, camera_id: str, purpose: Purpose, replaced: str = "replaced_on_wall"
    ) -> None:
        self._release(tile, replaced)
        row = self._cameras.get(camera_id)
        tile.show_opening(
            TileCamera(
                camera_id,
                row.name if row is not None else camera_id,
                row.tier.value if row is not None else "",
                str(purpose),
            )
        )
        request = next(self._request_ids)
        self._requests[tile] = request
        gate, supervisor, user = self._gate, self._supervisor, self._user
        stream = self._wanted_stream(tile)
        size = tile.device_size()
        placement = TilePlacement(self.wall_name(), tile.number)

        def work() -> FeedHandle:
            # Reads the registry and writes (fsyncs) the audit log, then reads the keyring.
            lease = gate.open_feed(camera_id, user, purpose, placement=placement)
            try:
                return supervisor.open(lease, stream, size)
            except Exception:
                gate.close(lease, "feed_not_started")
                raise

        self._jobs.submit(
            f"Opening {tile.camera.name if tile.camera else camera_id}",
            work,
            lambda handle: self._opened(tile, request, handle),
            lambda error: self._open_failed(tile, request, error),
            owner=self,
        )

    def _opened(self, tile: VideoTile, request: int, handle: FeedHandle) -> None:
        if self._requests.get(tile) != request:
            # The tile was closed or given another camera while the gate decided.
            self._end_lease(handle.lease, "closed_by_operator")
            return
        del self._requests[tile]
        tile.attach(handle)
        self.changed.emit()

    def _open_failed(self, tile: VideoTile, request: int, error: Exception) -> None:
        if self._requests.get(tile) != request:
            return
        del self._requests[tile]
        if not isinstance(error, FeedDenied | AuditWriteError):
            log.error("opening a feed failed", exc_info=error)
        tile.show_refusal(refusal_text(error))

    def wall_name(self) -> str:
        """The wall as the audit log names it: the console's own, or a wall window's monitor."""
        window = self.window()
        if window is self or isinstance(window, QMainWindow):
            return MAIN_WALL
        # Asked of the application, not of the window: a QScreen got from QWidget.screen() left
        # the shared Python wrapper of that screen dead once the window was deleted (PySide 6).
        screen = QGuiApplication.screenAt(window.geometry().center())
        return f"wall on {screen.name()}" if screen is not None else "wall on another monitor"

    def current_tile(self) -> VideoTile | None:
        """The tile an action applies to: the maximised one, else the one with the focus."""
        if self._maximised is not None:
            return self._maximised
        return next((tile for tile in self.tiles if tile.hasFocus()), None)

    def save_snapshot(self, tile: VideoTile | None) -> None:
        """Export the tile's picture (as shown: scaled and masked), off the UI thread."""
        picture = tile.picture if tile is not None else None
        if tile is None or tile.handle is None or picture is None:
            self.message.emit("No picture to save: select a tile that shows a live feed.")
            return
        lease = tile.handle.lease
        fields = self._evidence_fields(lease)
        self._export(
            "snapshot", lease, lambda: export_snapshot(picture, **fields), self.snapshot_saved
        )

    def save_clip(self, tile: VideoTile | None) -> None:
        """Export the tile's last ``clip_seconds`` (as shown: masked) as an MP4, off the UI
        thread; the decode process writes it from its rolling buffer."""
        if tile is None or tile.handle is None:
            self.message.emit("No clip to save: select a tile that shows a live feed.")
            return
        handle = tile.handle
        fields, seconds = self._evidence_fields(handle.lease), self._clip_seconds
        self._export(
            "clip",
            handle.lease,
            lambda: export_clip(handle.export_clip, seconds=seconds, **fields),
            self.clip_saved,
        )

    def _evidence_fields(self, lease: FeedLease) -> dict[str, Any]:
        """Who saves what, from which camera and why: the same for every export."""
        return {
            "camera_id": lease.camera_id,
            "camera_name": lease.camera_name,
            "purpose": str(lease.purpose),
            "actor": self._user.username,
            "export_dir": self._export_dir,
            "audit": self._audit,
        }

    def _export(
        self,
        kind: str,
        lease: FeedLease,
        work: Callable[[], ExportReceipt],
        saved: SignalInstance,
    ) -> None:
        """Run an export job; say in the status bar what was saved where, or why not."""

        def done(receipt: ExportReceipt) -> None:
            saved.emit(receipt)
            self.message.emit(
                f"{kind.capitalize()} of {lease.camera_name} saved: {receipt.path} "
                f"(SHA-256 {receipt.sha256[:16]}…)"
            )

        def failed(error: Exception) -> None:
            if isinstance(error, AuditWriteError):
                self.message.emit(
                    f"{kind.capitalize()} not saved: it could not be recorded in the audit log."
                )
            else:
                self.message.emit(f"{kind.capitalize()} not saved: {error}")
                if not isinstance(error, ExportError | ClipExportError):
                    log.error("saving a %s failed", kind, exc_info=error)

        self._jobs.submit(f"Saving a {kind} of {lease.camera_name}", work, done, failed)

    def close_tile(self, tile: VideoTile, reason: str = "closed_by_operator") -> None:
        """Empty ``tile`` and end its lease through the gate (audited), off the UI thread."""
        if tile is self._maximised:
            self.restore()
        self.stop_tour(tile)
        self._release(tile, reason)

    def _release(self, tile: VideoTile, reason: str) -> None:
        self._requests.pop(tile, None)  # a lease still on its way is ended when it arrives
        handle = tile.clear()
        if handle is not None:
            self._end_lease(handle.lease, reason)
            self.changed.emit()

    def _end_lease(self, lease: FeedLease, reason: str) -> None:
        gate = self._gate
        self._jobs.submit(
            f"Closing the feed of {lease.camera_name}",
            lambda: gate.close(lease, reason),
            lambda _: None,
        )

    # ---- display rate -------------------------------------------------------------------------

    def refresh(self) -> None:
        """One display tick: pause hidden feeds, fit streams to tiles, paint new frames."""
        window = self.window()
        on_screen = self.isVisible() and not window.isMinimized()
        for tile in self._pool:
            handle = tile.handle
            if handle is None:
                continue
            if handle.state.status is FeedStatus.ENDED:
                tile.poll()  # shows why, and drops the last frame
                continue
            showing = on_screen and tile.isVisible()
            handle.set_paused(not showing)
            if showing:
                self._fit_stream(tile, handle)
                tile.poll()

    def _wanted_stream(self, tile: VideoTile) -> Stream:
        width, height = tile.device_size()
        area = width * height
        if area >= MAIN_STREAM_AREA:
            return "main"
        if tile.requested_stream == "main" and area >= MAIN_STREAM_AREA * SUB_STREAM_BELOW:
            return "main"
        return "sub"

    def _fit_stream(self, tile: VideoTile, handle: FeedHandle) -> None:
        width, height = tile.device_size()
        if (width, height) != (handle.width, handle.height):
            handle.resize(width, height)
        wanted = self._wanted_stream(tile)
        if wanted == tile.requested_stream or not handle.lease.has_stream(wanted):
            return
        tile.requested_stream = wanted
        # Restarting the decoder reads the camera's credentials (the keyring): off the UI
        # thread. The tile keeps painting its last frame until the new stream's first one.
        self._jobs.submit(
            f"Switching {handle.lease.camera_name} to its {wanted} stream",
            lambda: handle.switch_stream(wanted),
            lambda _: None,
        )
