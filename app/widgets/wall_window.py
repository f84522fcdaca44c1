"""Wall windows: more video walls, each full screen on a monitor of its own.

An RTCC desk has two to four monitors. The main window keeps the console (camera list,
incidents, its own wall); any monitor can also show a ``WallWindow``: a top-level window holding
one more ``VideoWall`` built on the same policy gate, feed supervisor, audit log and selected
incident, so a feed on any wall is opened, watched and closed the same way. ``WallWindows``
keeps them for the session:

- opens one full screen on a chosen monitor, titled with the monitor's name;
- remembers, per monitor arrangement (the connected monitors' names and geometries), which
  monitors have a wall window and each one's layout, and opens them again at the next sign-in
  with empty tiles: feeds are opened by the operator, never silently;
- moves a window whose monitor was unplugged to the primary monitor, its feeds still running;
- hides every wall behind a plain locked screen while the console is locked (feeds out of sight
  pause, as everywhere on the wall);
- closes a window's feeds through the gate (audited) when it closes, and every window when the
  session ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QScreen
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from app.services.registry_rows import CameraRow
from app.widgets.video_wall import LAYOUTS, VideoWall

log = logging.getLogger(__name__)

ARRANGEMENTS_KEY = "wall_windows/arrangements"
WALL_WINDOW_CLOSED = "wall_window_closed"  # the audited reason of feeds closed with their window
LOCKED_WALL_TEXT = "Locked — sign in on the main window"


def screen_text(screen: QScreen) -> str:
    """How a monitor is named in menus: "DP-2 — 2560×1440 (primary)", in device pixels."""
    size = screen.size() * screen.devicePixelRatio()
    text = f"{screen.name()} — {size.width()}×{size.height()}"
    if screen is QGuiApplication.primaryScreen():
        text += " (primary)"
    return text


def arrangement_key(screens: Iterable[QScreen]) -> str:
    """The monitor arrangement: each connected monitor's name and geometry, sorted."""
    parts = []
    for screen in screens:
        area = screen.geometry()
        parts.append(f"{screen.name()}@{area.x()},{area.y()} {area.width()}x{area.height()}")
    return "; ".join(sorted(parts))


class SavedWallWindow(BaseModel):
    """A wall window as remembered for a monitor arrangement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    screen: str
    layout: str


_ARRANGEMENTS = TypeAdapter(dict[str, list[SavedWallWindow]])


class WallWindow(QWidget):
    """One more wall, full screen on a monitor; closing it closes its feeds through the gate."""

    closed = Signal(object)  # this window, once its feeds are being closed

    def __init__(self, wall: VideoWall, screen: QScreen) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setObjectName("wallWindow")
        self.wall = wall
        self._screen = screen
        self.locked_screen = QWidget()
        self.locked_screen.setObjectName("lockScreen")
        self.locked_screen.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        locked_text = QLabel(LOCKED_WALL_TEXT)
        locked_text.setObjectName("lockTitle")
        locked_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        QVBoxLayout(self.locked_screen).addWidget(locked_text)
        self._pages = QStackedWidget()
        self._pages.addWidget(wall)
        self._pages.addWidget(self.locked_screen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._pages)
        self._set_title()

    @property
    def target_screen(self) -> QScreen:
        """The monitor this window was placed on."""
        return self._screen

    @property
    def screen_name(self) -> str:
        return self._screen.name()

    @property
    def locked(self) -> bool:
        return self._pages.currentWidget() is self.locked_screen

    def _set_title(self) -> None:
        self.setWindowTitle(f"Beacon wall — {self._screen.name()}")

    def place_on(self, screen: QScreen, *, full_screen: bool = True) -> None:
        """Show the window on ``screen``: full screen, or maximised (a normal window)."""
        self._screen = screen
        self._set_title()
        if self.isVisible():
            self.showNormal()  # a full-screen window keeps its old monitor's geometry otherwise
        self.setScreen(screen)
        self.setGeometry(screen.availableGeometry())
        if full_screen:
            self.showFullScreen()
        else:
            self.showMaximized()

    def toggle_full_screen(self) -> None:
        self.place_on(self._screen, full_screen=not self.isFullScreen())

    def set_locked(self, locked: bool) -> None:
        """Hide the wall (its feeds pause) behind the locked screen, or show it again."""
        self._pages.setCurrentWidget(self.locked_screen if locked else self.wall)

    def closeEvent(self, event: QCloseEvent) -> None:
        dialog = self.wall.case_dialog
        if dialog is not None and dialog.isVisible():
            dialog.reject()  # else a case typed later would open a feed on a closed window
        for tile in self.wall.tiles:
            if not tile.is_empty:
                self.wall.close_tile(tile, WALL_WINDOW_CLOSED)
        super().closeEvent(event)
        self.closed.emit(self)


class WallWindows(QObject):
    """The session's wall windows, remembered per monitor arrangement in ``window_state``."""

    message = Signal(str)  # for the status bar
    changed = Signal()  # a window opened, closed, moved or changed layout; or a monitor came/went
    feeds_changed = Signal()  # a feed started, ended or moved on one of the windows' walls

    def __init__(
        self,
        new_wall: Callable[[], VideoWall],
        window_state: QSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._new_wall = new_wall
        self._state = window_state
        self._windows: list[WallWindow] = []
        # Closed windows are kept (hidden) until the session ends: a feed still being opened
        # when its window closed is then ended by its wall as soon as the gate answers.
        self._closed: list[WallWindow] = []
        self._cameras: list[CameraRow] = []
        self._locked = False
        self._ended = False
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.screenRemoved.connect(self._screen_removed)
        app.screenAdded.connect(self._screen_added)
        self.next_monitor_action = QAction("New wall window on the next &free monitor", self)
        self.next_monitor_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.next_monitor_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.next_monitor_action.setToolTip(
            "Open a wall window full screen on the first monitor without a wall (Ctrl+Shift+N)"
        )
        self.next_monitor_action.triggered.connect(self.open_on_free_monitor)
        self.close_all_action = QAction("&Close all wall windows", self)
        self.close_all_action.setToolTip(
            "Close every wall window; their feeds are closed through the policy gate (audited)"
        )
        self.close_all_action.triggered.connect(self.close_all)
        self.close_all_action.setEnabled(False)

    @property
    def windows(self) -> list[WallWindow]:
        """The open wall windows, oldest first."""
        return list(self._windows)

    def open_on(self, screen: QScreen, layout: str | None = None) -> WallWindow:
        """A new wall window full screen on ``screen`` (empty tiles, in ``layout`` if given)."""
        wall = self._new_wall()
        if layout is not None:
            wall.set_layout(layout)
        wall.set_cameras(self._cameras)
        wall.message.connect(self.message)
        wall.changed.connect(self.feeds_changed)
        wall.layout_group.triggered.connect(self._layout_changed)
        window = WallWindow(wall, screen)
        window.set_locked(self._locked)
        window.closed.connect(self._window_closed)
        self._windows.append(window)
        window.place_on(screen)
        self.save_arrangement()
        self._changed()
        return window

    def open_on_free_monitor(self) -> WallWindow | None:
        """A wall window on the first monitor with no wall (the main window's counts as one)."""
        main = self.parent()
        main_screen = main.screen() if isinstance(main, QWidget) else None
        taken = {window.screen_name for window in self._windows}
        if main_screen is not None:
            taken.add(main_screen.name())
        screen = next((s for s in QGuiApplication.screens() if s.name() not in taken), None)
        if screen is None:
            self.message.emit(
                "Every monitor already shows a wall. To add another anyway, choose a monitor "
                "in Window › New wall window on."
            )
            return None
        return self.open_on(screen)

    def close_all(self) -> None:
        for window in self.windows:
            window.close()

    def end_session(self) -> None:
        """Remember the arrangement, then close every window and its feeds; once, at sign-out."""
        if self._ended:
            return
        self.save_arrangement()
        self._ended = True
        self.close_all()
        for window in self._closed:
            window.deleteLater()
        self._closed.clear()

    def set_locked(self, locked: bool) -> None:
        self._locked = locked
        for window in self._windows:
            window.set_locked(locked)

    def set_cameras(self, rows: Sequence[CameraRow]) -> None:
        """Names and tiers for the tiles' overlays, as the main wall gets them."""
        self._cameras = list(rows)
        for window in self._windows:
            window.wall.set_cameras(self._cameras)

    def layouts_changed(self) -> None:
        """Remember layouts set by a program (a restored view) rather than by the operator."""
        self._layout_changed()

    def _layout_changed(self) -> None:
        self.save_arrangement()
        self._changed()

    def _window_closed(self, window: WallWindow) -> None:
        if window in self._windows:
            self._windows.remove(window)
        if self._ended:
            window.deleteLater()
            return
        self._closed.append(window)
        self.save_arrangement()
        self._changed()

    def _changed(self) -> None:
        self.close_all_action.setEnabled(bool(self._windows))
        self.changed.emit()

    # ---- monitors ---------------------------------------------------------------------------

    def _screen_removed(self, screen: QScreen) -> None:
        # Qt has already dropped ``screen`` from its list when it says so; a test may not have.
        remaining = [s for s in QGuiApplication.screens() if s is not screen]
        primary = QGuiApplication.primaryScreen()
        target = primary if primary is not None and primary is not screen else None
        target = target or next(iter(remaining), None)
        moved = [window for window in self._windows if window.target_screen is screen]
        if target is not None and moved:
            for window in moved:
                window.place_on(target, full_screen=False)
            what = "its wall window" if len(moved) == 1 else f"its {len(moved)} wall windows"
            self.message.emit(
                f"Monitor {screen.name()} was disconnected: {what} moved to {target.name()}"
            )
            self.save_arrangement(remaining)
        self._changed()

    def _screen_added(self, _screen: QScreen) -> None:
        self._changed()  # the menu offers the new monitor; windows stay where they are

    # ---- remembered arrangements ------------------------------------------------------------

    def _arrangements(self) -> dict[str, list[SavedWallWindow]]:
        text = self._state.value(ARRANGEMENTS_KEY)
        if not isinstance(text, str) or not text:
            return {}
        try:
            return _ARRANGEMENTS.validate_json(text)
        except ValidationError:
            log.warning("the remembered wall windows are unreadable; starting without them")
            return {}

    def save_arrangement(self, screens: Sequence[QScreen] | None = None) -> None:
        """Remember the open windows (monitor, layout) for the connected monitors."""
        arrangements = self._arrangements()
        key = arrangement_key(QGuiApplication.screens() if screens is None else screens)
        arrangements[key] = [
            SavedWallWindow(screen=window.screen_name, layout=window.wall.layout_name)
            for window in self._windows
        ]
        self._state.setValue(ARRANGEMENTS_KEY, _ARRANGEMENTS.dump_json(arrangements).decode())

    def restore_arrangement(self) -> None:
        """Open the wall windows remembered for the connected monitors, with empty tiles."""
        screens = {screen.name(): screen for screen in QGuiApplication.screens()}
        layouts = {layout.name for layout in LAYOUTS}
        for saved in self._arrangements().get(arrangement_key(screens.values()), []):
            screen = screens.get(saved.screen)
            if screen is not None:
                self.open_on(screen, saved.layout if saved.layout in layouts else None)
