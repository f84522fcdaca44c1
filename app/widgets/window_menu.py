"""The "Window" menu: wall windows on the monitors, and the operator's saved views.

    New wall window on ▸ DP-1 — 1920×1080 (primary) | DP-2 — 2560×1440 | ...
    New wall window on the next free monitor      Ctrl+Shift+N
    ───
    Wall on DP-2 · 2x2                              (one entry per open wall window: shows it)
    Close all wall windows
    ───
    Save view…                                      Ctrl+Shift+V
    Views ▸ <each saved view>
    Delete view…

The monitor and window entries are rebuilt whenever wall windows or monitors change.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QGuiApplication, QScreen
from PySide6.QtWidgets import QMenu, QWidget

from app.widgets.wall_views_menu import WallViewsMenu
from app.widgets.wall_window import WallWindow, WallWindows, screen_text


class WindowMenu(QMenu):
    def __init__(
        self, wall_windows: WallWindows, views_menu: WallViewsMenu, parent: QWidget
    ) -> None:
        super().__init__("&Window", parent)
        self.setToolTipsVisible(True)
        self._wall_windows = wall_windows
        self.views_menu = views_menu
        self.new_window_menu = QMenu("&New wall window on", self)
        self.new_window_menu.setToolTipsVisible(True)
        self.new_window_menu.menuAction().setToolTip(
            "Open a wall window full screen on a monitor of your choice"
        )
        self.addMenu(self.new_window_menu)
        self.addAction(wall_windows.next_monitor_action)
        self.addSeparator()
        self._window_actions: list[QAction] = []
        self.addAction(wall_windows.close_all_action)
        self.addSeparator()
        self.addAction(views_menu.save_action)
        self.addMenu(views_menu)
        self.addAction(views_menu.delete_action)
        wall_windows.changed.connect(self.rebuild)
        self.rebuild()

    @property
    def locked_out_actions(self) -> tuple[QAction, ...]:
        """What a locked console must not do: the whole menu, and the shortcuts in it."""
        return (
            self.menuAction(),
            self._wall_windows.next_monitor_action,
            self.views_menu.save_action,
            self.views_menu.delete_action,
        )

    @property
    def window_actions(self) -> list[QAction]:
        """One entry per open wall window, oldest first."""
        return list(self._window_actions)

    def rebuild(self) -> None:
        self.new_window_menu.clear()
        for screen in QGuiApplication.screens():
            action = self.new_window_menu.addAction(screen_text(screen))
            action.setToolTip(f"Open a wall window full screen on monitor {screen.name()}")
            action.triggered.connect(self._open_slot(screen))
        for action in self._window_actions:
            self.removeAction(action)
            action.deleteLater()
        self._window_actions = []
        for window in self._wall_windows.windows:
            action = QAction(f"Wall on {window.screen_name} · {window.wall.layout_name}", self)
            action.setToolTip(f"Bring the wall window on {window.screen_name} to the front")
            action.triggered.connect(self._show_slot(window))
            self.insertAction(self._wall_windows.close_all_action, action)
            self._window_actions.append(action)

    def _open_slot(self, screen: QScreen) -> Callable[[], object]:
        # A closure, not a lambda with a default argument: Qt would pass ``checked`` into it.
        return lambda: self._wall_windows.open_on(screen)

    @staticmethod
    def _show_slot(window: WallWindow) -> Callable[[], None]:
        def show() -> None:
            window.raise_()
            window.activateWindow()

        return show
