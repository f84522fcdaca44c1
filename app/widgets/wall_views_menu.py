"""The "Views" menu: the signed-in operator's saved views of the walls.

A view is every wall as it is when saved (the main window's and each wall window's): its
monitor, its layout and the camera on each tile. Restoring one sets each wall's layout, opens
wall windows for its monitors (on the primary monitor when one is not connected, with a
message), and opens each camera with ``VideoWall.open_camera``: through the policy gate, for the
selected incident, audited now. A camera the gate refuses says why on its tile. Views are read
and written by ``app.services.wall_views`` in background jobs; a damaged view is reported and
the others stay usable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QScreen
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QWidget

from app.models.wall_view import SavedWall, WallViewDefinition
from app.services.accounts import SignedInUser
from app.services.clock import Clock
from app.services.wall_views import (
    SessionFactory,
    WallViewError,
    WallViewExists,
    WallViewNotFound,
    clean_view_name,
    delete_view,
    load_view,
    save_view,
    view_names,
)
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.video_wall import LAYOUTS, VideoWall
from app.widgets.wall_window import WallWindow, WallWindows

TILE_COUNTS = {layout.name: layout.tile_count for layout in LAYOUTS}
VIEW_RESTORED = "view_restored"  # the audited reason of feeds a restored view leaves out
NO_VIEWS_TEXT = "No saved views yet"
READING_VIEWS_TEXT = "Reading your saved views…"


def saved_wall(wall: VideoWall, *, window: bool, screen: str) -> SavedWall:
    """``wall`` as a view keeps it: its layout and the camera on each tile, in reading order."""
    cameras = tuple(tile.camera.camera_id if tile.camera else None for tile in wall.tiles)
    return SavedWall(window=window, screen=screen, layout=wall.layout_name, cameras=cameras)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a saved wall goes: an open wall (the main one, or a window on its monitor), or a
    new wall window on ``screen``."""

    saved: SavedWall
    wall: VideoWall | None
    screen: QScreen | None


class WallViewsMenu(QMenu):
    """Restores a view per entry; ``save_action`` and ``delete_action`` go beside it."""

    message = Signal(str)  # for the status bar
    names_changed = Signal()
    restored = Signal(str)  # a view's name, once each of its cameras was asked of the gate

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        jobs: BackgroundJobs,
        user: SignedInUser,
        main_wall: VideoWall,
        wall_windows: WallWindows,
        selected_incident: Callable[[], str | None],
        locked: Callable[[], bool],
        clock: Clock,
        parent: QWidget,
    ) -> None:
        super().__init__("&Views", parent)
        self.setToolTipsVisible(True)
        self.menuAction().setToolTip("Restore one of your saved views of the walls")
        self._sessions = sessions
        self._jobs = jobs
        self._owner = user.username
        self._main_wall = main_wall
        self._wall_windows = wall_windows
        self._selected_incident = selected_incident
        self._locked = locked
        self._clock = clock
        self.names: list[str] | None = None  # None until the first read has answered
        self.name_dialog: QInputDialog | None = None
        self.replace_box: QMessageBox | None = None
        self.delete_dialog: QInputDialog | None = None
        self._replacing: tuple[str, WallViewDefinition] | None = None

        self.save_action = QAction("&Save view…", self)
        self.save_action.setShortcut(QKeySequence("Ctrl+Shift+V"))
        self.save_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.save_action.setToolTip(
            "Save every wall (this window's and each wall window's) under a name: its monitor, "
            "layout and cameras (Ctrl+Shift+V)"
        )
        self.save_action.triggered.connect(self.ask_save)
        self.delete_action = QAction("&Delete view…", self)
        self.delete_action.setToolTip("Delete one of your saved views")
        self.delete_action.triggered.connect(self.ask_delete)
        self._show_names()
        self.refresh()

    # ---- the list -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the operator's view names again, off the UI thread."""
        sessions, owner = self._sessions, self._owner
        self._jobs.submit(
            "Reading your saved views",
            lambda: view_names(sessions, owner),
            self._names_loaded,
            owner=self,
        )

    def _names_loaded(self, names: list[str]) -> None:
        self.names = names
        self._show_names()
        self.names_changed.emit()

    def _show_names(self) -> None:
        self.clear()
        if self.names is None:
            self.addAction(READING_VIEWS_TEXT).setEnabled(False)
            self.delete_action.setEnabled(False)
            return
        for name in self.names:
            action = self.addAction(name)
            action.setToolTip(
                f"Restore “{name}”: each wall's layout and cameras, every camera opened through "
                "the policy gate for the selected incident"
            )
            action.triggered.connect(self._restore_slot(name))
        if not self.names:
            self.addAction(NO_VIEWS_TEXT).setEnabled(False)
        self.delete_action.setEnabled(bool(self.names))

    def _restore_slot(self, name: str) -> Callable[[], None]:
        # A closure, not a lambda with a default argument: Qt would pass ``checked`` into it.
        return lambda: self.restore(name)

    # ---- save -----------------------------------------------------------------------------------

    def current_definition(self) -> WallViewDefinition:
        """Every wall as it is now: the main window's first, then each wall window's."""
        main_screen = self._main_wall.window().screen()
        walls = [saved_wall(self._main_wall, window=False, screen=main_screen.name())]
        walls += [
            saved_wall(window.wall, window=True, screen=window.screen_name)
            for window in self._wall_windows.windows
        ]
        return WallViewDefinition(walls=tuple(walls))

    def ask_save(self) -> None:
        """Ask for the view's name (window-modal, no nested event loop), then save."""
        if self.name_dialog is None:
            self.name_dialog = QInputDialog(self.parentWidget())
            self.name_dialog.setObjectName("saveViewDialog")
            self.name_dialog.setWindowTitle("Save view")
            self.name_dialog.setLabelText(
                "Name of the view: every wall's monitor, layout and cameras are saved."
            )
            self.name_dialog.setOkButtonText("Save")
            self.name_dialog.textValueSelected.connect(self.save_as)
        self.name_dialog.setTextValue("")
        self.name_dialog.open()

    def save_as(
        self, name: str, replace: bool = False, definition: WallViewDefinition | None = None
    ) -> None:
        """Save the walls as ``name``; asks first when it exists and ``replace`` is not set."""
        try:
            name = clean_view_name(name)
        except WallViewError as error:
            self.message.emit(str(error))
            return
        definition = definition or self.current_definition()
        sessions, owner, now = self._sessions, self._owner, self._clock()
        self._jobs.submit(
            f"Saving the view “{name}”",
            lambda: save_view(
                sessions, owner, name, definition, now, tile_counts=TILE_COUNTS, replace=replace
            ),
            lambda stored: self._saved(stored, definition),
            lambda error: self._save_failed(name, definition, error),
            owner=self,
        )

    def _saved(self, name: str, definition: WallViewDefinition) -> None:
        walls = _plural(len(definition.walls), "wall")
        cameras = _plural(definition.camera_count, "camera")
        self.message.emit(f"View “{name}” saved: {walls}, {cameras}")
        self.refresh()

    def _save_failed(self, name: str, definition: WallViewDefinition, error: Exception) -> None:
        if isinstance(error, WallViewExists):
            self._ask_replace(name, definition)
        elif isinstance(error, WallViewError):
            self.message.emit(str(error))
        else:
            self.message.emit(f"The view “{name}” was not saved: {error}")

    def _ask_replace(self, name: str, definition: WallViewDefinition) -> None:
        if self.replace_box is None:
            self.replace_box = QMessageBox(self.parentWidget())
            self.replace_box.setObjectName("replaceViewBox")
            self.replace_box.setIcon(QMessageBox.Icon.Question)
            self.replace_box.setWindowTitle("Replace view?")
            buttons = QMessageBox.StandardButton
            self.replace_box.setStandardButtons(buttons.Yes | buttons.Cancel)
            self.replace_box.setDefaultButton(buttons.Cancel)
            yes = self.replace_box.button(buttons.Yes)
            yes.setText("Replace")
            yes.clicked.connect(self._replace_confirmed)
        self._replacing = (name, definition)
        self.replace_box.setText(
            f"You already have a view named “{name}”. Replace it with the walls as they are now?"
        )
        self.replace_box.open()

    def _replace_confirmed(self) -> None:
        if self._replacing is not None:
            name, definition = self._replacing
            self._replacing = None
            self.save_as(name, replace=True, definition=definition)

    # ---- restore --------------------------------------------------------------------------------

    def restore(self, name: str) -> None:
        """Read the view off the UI thread, then put it on the walls."""
        sessions, owner = self._sessions, self._owner
        self._jobs.submit(
            f"Reading the view “{name}”",
            lambda: load_view(sessions, owner, name, tile_counts=TILE_COUNTS),
            lambda definition: self._apply(name, definition),
            lambda error: self._restore_failed(name, error),
            owner=self,
        )

    def _restore_failed(self, name: str, error: Exception) -> None:
        if isinstance(error, WallViewError):
            self.message.emit(str(error))
        else:
            self.message.emit(f"The view “{name}” could not be read: {error}")
        if isinstance(error, WallViewNotFound):
            self.refresh()

    def _placements(self, definition: WallViewDefinition) -> tuple[list[_Placement], list[str]]:
        """Each saved wall's place, and the saved monitors that are not connected."""
        screens = {screen.name(): screen for screen in QGuiApplication.screens()}
        primary = QGuiApplication.primaryScreen()
        unused: list[WallWindow] = self._wall_windows.windows
        placements, missing = [], []
        for saved in definition.walls:
            if not saved.window:
                placements.append(_Placement(saved, self._main_wall, None))
                continue
            screen = screens.get(saved.screen)
            if screen is None:
                missing.append(saved.screen)
                screen = primary
            window = next((w for w in unused if w.screen_name == screen.name()), None)
            if window is None:
                placements.append(_Placement(saved, None, screen))
            else:
                unused.remove(window)
                placements.append(_Placement(saved, window.wall, screen))
        return placements, missing

    def _apply(self, name: str, definition: WallViewDefinition) -> None:
        if self._locked():
            self.message.emit(f"The view “{name}” was not restored: the console is locked.")
            return
        placements, missing = self._placements(definition)
        if not self._selected_incident() and any(
            p.saved.camera_count and (p.wall is None or p.wall.case_purpose is None)
            for p in placements
        ):
            self.message.emit(
                f"Select the incident these cameras are for, then restore “{name}” again: each "
                "camera is opened for it through the policy gate."
            )
            return
        requested = 0
        for placement in placements:
            saved, wall = placement.saved, placement.wall
            if wall is None:
                assert placement.screen is not None
                wall = self._wall_windows.open_on(placement.screen, saved.layout).wall
            else:
                wall.set_layout(saved.layout)
            requested += self._fill(wall, saved.cameras)
        self._wall_windows.layouts_changed()
        text = f"View “{name}” restored: {_plural(requested, 'camera')} asked of the policy gate"
        primary = QGuiApplication.primaryScreen()
        for screen in missing:
            where = primary.name() if primary is not None else "the primary monitor"
            text += f"; monitor {screen} is not connected, its wall opened on {where}"
        self.message.emit(text)
        self.restored.emit(name)

    @staticmethod
    def _fill(wall: VideoWall, cameras: tuple[str | None, ...]) -> int:
        """Put ``cameras`` on ``wall``'s tiles; returns how many feeds were asked for."""
        requested = 0
        for index, tile in enumerate(wall.tiles):
            camera_id = cameras[index] if index < len(cameras) else None
            if camera_id is None:
                if not tile.is_empty:
                    wall.close_tile(tile, VIEW_RESTORED)
            elif tile.camera is None or tile.camera.camera_id != camera_id or tile.handle is None:
                wall.open_camera(tile, camera_id)
                requested += 1
        return requested

    # ---- delete ---------------------------------------------------------------------------------

    def ask_delete(self) -> None:
        """Ask which view to delete; choosing one is the confirmation."""
        if not self.names:
            self.message.emit("You have no saved views to delete.")
            return
        if self.delete_dialog is None:
            self.delete_dialog = QInputDialog(self.parentWidget())
            self.delete_dialog.setObjectName("deleteViewDialog")
            self.delete_dialog.setWindowTitle("Delete view")
            self.delete_dialog.setLabelText("View to delete (this cannot be undone):")
            self.delete_dialog.setOkButtonText("Delete")
            self.delete_dialog.setComboBoxEditable(False)
            self.delete_dialog.textValueSelected.connect(self.delete)
        self.delete_dialog.setComboBoxItems(self.names)
        self.delete_dialog.open()

    def delete(self, name: str) -> None:
        sessions, owner = self._sessions, self._owner
        self._jobs.submit(
            f"Deleting the view “{name}”",
            lambda: delete_view(sessions, owner, name),
            lambda _: self._deleted(name),
            lambda error: self._delete_failed(name, error),
            owner=self,
        )

    def _deleted(self, name: str) -> None:
        self.message.emit(f"View “{name}” deleted")
        self.refresh()

    def _delete_failed(self, name: str, error: Exception) -> None:
        if isinstance(error, WallViewError):
            self.message.emit(str(error))
        else:
            self.message.emit(f"The view “{name}” was not deleted: {error}")
        self.refresh()
