"""Walls that survive a crash: kept on disk while the console runs, offered back after one.

``WallRecovery`` writes every wall's layout and feeds (camera, purpose, tile) through a
``WallSessionStore`` whenever one changes, off the UI thread and one write at a time. When it
starts, it reads the last session of the signed-in user: if that did not end cleanly, the
layouts come back at once (the main wall's, and a wall window per saved monitor) and the
operator is asked whether to open the feeds again. Yes asks the policy gate for each one again,
for the purpose it had, on the same tile (each audited as a new request, a refusal shown on its
tile); No leaves the tiles empty. A feed is never resumed without the gate.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from app.services.wall_session import WallSession, WallSessionStore, WallState
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.video_wall import VideoWall
from app.widgets.wall_window import WallWindows

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 250  # changes in a burst (a layout change closing feeds) make one write
RESTORED_TITLE = "Beacon closed unexpectedly"


def reopen_question(previous: WallSession) -> str:
    """What the operator is asked after an unclean end, with the time in local time."""
    at = previous.updated_at.astimezone().strftime("%H:%M")
    count = previous.feed_count
    feeds = "1 feed" if count == 1 else f"{count} feeds"
    return (
        f"Beacon closed unexpectedly at {at} with {feeds} open. Open them again? Each is "
        "asked of the policy gate again, for the purpose it had."
    )


class WallRecovery(QObject):
    """Keeps the walls on disk for a restart and offers them back after an unclean end."""

    message = Signal(str)  # for the status bar

    def __init__(
        self,
        store: WallSessionStore,
        jobs: BackgroundJobs,
        main_wall: VideoWall,
        wall_windows: WallWindows,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._jobs = jobs
        self._main_wall = main_wall
        self._wall_windows = wall_windows
        self._parent = parent
        # Nothing is written until the last session was read and, after an unclean end, the
        # operator answered: until then the file still holds the feeds to offer.
        self._saving = False
        self._writing = False
        self._dirty = False
        self._stopped = False
        self._previous: WallSession | None = None
        self._restored: list[tuple[WallState, VideoWall]] = []  # each saved wall and its wall
        self.question: QMessageBox | None = None
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self._save)
        main_wall.changed.connect(self._schedule)
        wall_windows.changed.connect(self._schedule)
        wall_windows.feeds_changed.connect(self._schedule)

    def start(self) -> None:
        """Read the last session off the UI thread, then restore or start saving."""
        self._jobs.submit(
            "Reading your walls from the last session",
            self._store.unclean_end,
            self._last_session_read,
            self._last_session_failed,
            owner=self,
        )

    def pause(self) -> None:
        """Hide the question while the console is locked: it is answered by who unlocks."""
        if self.question is not None:
            self.question.hide()

    def resume(self) -> None:
        """Ask again after an unlock, when the question was still open."""
        if self._previous is not None and not self._stopped and self.question is not None:
            self.question.open()

    def stop(self) -> None:
        """No more writes: the session is ending (the shell then records the clean end)."""
        self._stopped = True
        self._save_timer.stop()
        if self.question is not None:
            self.question.close()

    # ---- after an unclean end -------------------------------------------------------------

    def _last_session_read(self, previous: WallSession | None) -> None:
        if self._stopped:
            return
        if previous is None:
            self._start_saving()
            return
        self._previous = previous
        self._restore_layouts(previous)
        if previous.feed_count == 0:
            self._start_saving()
            return
        self._ask(previous)

    def _last_session_failed(self, error: Exception) -> None:
        log.error("reading the last session's walls failed", exc_info=error)
        self.message.emit(f"Your walls from the last session could not be read: {error}")
        self._start_saving()

    def _restore_layouts(self, previous: WallSession) -> None:
        """Each saved wall's layout: the main wall's, and a wall window per saved monitor
        (the one already open there, else a new one; on the primary monitor when the saved
        one is not connected)."""
        screens = {screen.name(): screen for screen in QGuiApplication.screens()}
        primary = QGuiApplication.primaryScreen()
        unused = self._wall_windows.windows
        for saved in previous.walls:
            if saved.screen is None:
                self._main_wall.set_layout(saved.layout)
                self._restored.append((saved, self._main_wall))
                continue
            screen = screens.get(saved.screen) or primary
            window = next((w for w in unused if w.screen_name == screen.name()), None)
            if window is None:
                window = self._wall_windows.open_on(screen, saved.layout)
            else:
                unused.remove(window)
                window.wall.set_layout(saved.layout)
            self._restored.append((saved, window.wall))
        self._wall_windows.layouts_changed()

    def _ask(self, previous: WallSession) -> None:
        box = QMessageBox(self._parent)
        box.setObjectName("reopenFeedsBox")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(RESTORED_TITLE)
        box.setText(reopen_question(previous))
        buttons = QMessageBox.StandardButton
        box.setStandardButtons(buttons.Yes | buttons.No)
        box.setDefaultButton(buttons.Yes)
        box.button(buttons.Yes).setText("Open them again")
        box.button(buttons.No).setText("Leave the tiles empty")
        box.button(buttons.Yes).clicked.connect(self.reopen_feeds)
        box.button(buttons.No).clicked.connect(self.leave_empty)
        self.question = box
        box.open()

    def reopen_feeds(self) -> None:
        """Ask the gate again for each feed of the last session, on its wall and tile.

        Walls and tiles the operator changed while the question was open win: a feed whose
        wall window was closed, or whose tile is gone or shows another camera, is left out.
        """
        if self._previous is None or self._stopped:
            return
        previous, self._previous = self._previous, None
        restored, self._restored = self._restored, []
        open_walls = [self._main_wall, *(window.wall for window in self._wall_windows.windows)]
        asked = 0
        for saved, wall in restored:
            if wall not in open_walls:
                continue
            for feed in saved.feeds:
                tile = wall.tiles[feed.tile - 1] if feed.tile <= len(wall.tiles) else None
                if tile is not None and tile.is_empty:
                    wall.reopen(tile, feed.camera_id, feed.feed_purpose)
                    asked += 1
        text = f"{asked} of the last session's feeds asked of the policy gate again"
        left_out = previous.feed_count - asked
        if left_out:
            text += f"; {left_out} left out: their tiles were taken or closed meanwhile"
        self.message.emit(text)
        self._start_saving()

    def leave_empty(self) -> None:
        if self._previous is None or self._stopped:
            return
        self._previous = None
        self._restored = []
        self.message.emit("The last session's feeds were not opened again")
        self._start_saving()

    # ---- saving ---------------------------------------------------------------------------

    def _start_saving(self) -> None:
        self._saving = True
        self._schedule()

    def _schedule(self) -> None:
        if self._saving and not self._stopped:
            self._save_timer.start()

    def current_walls(self) -> tuple[WallState, ...]:
        """Every wall as it is now: the main window's first, then each wall window's."""
        walls = [
            WallState(layout=self._main_wall.layout_name, feeds=tuple(self._main_wall.open_feeds()))
        ]
        walls += [
            WallState(
                screen=window.screen_name,
                layout=window.wall.layout_name,
                feeds=tuple(window.wall.open_feeds()),
            )
            for window in self._wall_windows.windows
        ]
        return tuple(walls)

    def _save(self) -> None:
        if self._stopped:
            return
        if self._writing:
            self._dirty = True  # written again when the running write has finished
            return
        self._writing = True
        walls, store = self.current_walls(), self._store
        self._jobs.submit(
            "Keeping your walls for a restart",
            lambda: store.save(walls),
            self._saved,
            self._save_failed,
            owner=self,
        )

    def _saved(self, _stored: bool) -> None:
        self._writing = False
        if self._dirty:
            self._dirty = False
            self._save()

    def _save_failed(self, error: Exception) -> None:
        self._writing = False
        log.error("keeping the walls for a restart failed", exc_info=error)
        self.message.emit(
            f"Your walls could not be kept for a restart ({error}); the feeds are not affected."
        )
