"""What a tile repaints: a new frame alone repaints the picture only; the whole tile when the
overlay's clock and rate move (once a second), the state changes, or something covers the
picture. The screen must look the same either way."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QGuiApplication, QImage

from app.video.feed_state import FeedState, FeedStatus
from app.widgets.video_tile import VideoTile
from tests.conftest import ManualClock
from tests.widgets.tile_stubs import StubHandle, frame, live_tile


class PaintedRects(QObject):
    """The rectangle of every paint event the watched tile gets."""

    def __init__(self, tile: VideoTile) -> None:
        super().__init__()
        self.rects: list[QRect] = []
        tile.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())  # type: ignore[attr-defined]
        return False


def shown_tile(
    qtbot: Any, clock: ManualClock, frames: int = 2
) -> tuple[VideoTile, StubHandle, PaintedRects]:
    """A tile on screen after ``frames`` frames (two: its overlay shows a frame rate)."""
    tile, handle = live_tile(qtbot, clock)
    tile.show()
    qtbot.waitExposed(tile)
    for number in range(1, frames + 1):
        handle.next = frame(number, age_ms=1)
        tile.poll()
        qtbot.waitUntil(lambda number=number: tile.frames_painted == number)
    return tile, handle, PaintedRects(tile)


def next_frame(qtbot: Any, tile: VideoTile, handle: StubHandle, number: int, grey: int) -> None:
    handle.next = frame(number, age_ms=1, grey=grey)
    assert tile.poll()
    qtbot.waitUntil(lambda: tile.frames_painted == number)


def on_screen(tile: VideoTile) -> QImage:
    """The tile as the window system has it (what partial repaints left), not a fresh paint."""
    screen = QGuiApplication.primaryScreen()
    top_left = tile.mapToGlobal(tile.rect().topLeft())
    return screen.grabWindow(0, top_left.x(), top_left.y(), tile.width(), tile.height()).toImage()


def test_a_new_frame_repaints_only_the_picture_and_the_screen_matches_a_full_paint(
    qtbot: Any, clock: ManualClock
) -> None:
    tile, handle, painted = shown_tile(qtbot, clock)
    for number, grey in ((3, 40), (4, 200)):
        next_frame(qtbot, tile, handle, number, grey)
    picture = tile.picture_rect()
    assert painted.rects, "the new frames were painted"
    assert all(picture.contains(rect) for rect in painted.rects), painted.rects
    assert all(rect != tile.rect() for rect in painted.rects)

    partial = on_screen(tile)
    tile.repaint()  # everything, the slow way
    assert on_screen(tile) == partial
    centre = tile.picture_rect().center()
    assert partial.pixelColor(centre).red() == 200, "the newest frame is on screen"


def test_the_overlays_clock_and_rate_repaint_the_whole_tile_once_a_second(
    qtbot: Any, clock: ManualClock
) -> None:
    tile, handle, painted = shown_tile(qtbot, clock)
    next_frame(qtbot, tile, handle, 3, 60)
    assert tile.rect() not in painted.rects

    clock.advance(seconds=1)
    next_frame(qtbot, tile, handle, 4, 70)
    assert painted.rects[-1] == tile.rect(), "a new second: the overlay's clock moved"
    next_frame(qtbot, tile, handle, 5, 80)
    assert painted.rects[-1] != tile.rect()


def test_a_state_change_or_the_health_panel_repaints_the_whole_tile(
    qtbot: Any, clock: ManualClock
) -> None:
    tile, handle, painted = shown_tile(qtbot, clock)
    tile.set_health_visible(True)  # painted over the picture: every frame repaints it
    qtbot.waitUntil(lambda: tile.rect() in painted.rects)
    painted.rects.clear()
    next_frame(qtbot, tile, handle, 3, 90)
    assert painted.rects[-1] == tile.rect()

    tile.set_health_visible(False)
    handle.state = FeedState(FeedStatus.RECONNECTING, "stream lost", attempt=1)
    painted.rects.clear()
    assert tile.poll()
    qtbot.waitUntil(lambda: bool(painted.rects))
    assert painted.rects[-1] == tile.rect(), "the state is written over the last frame"


def test_a_tile_too_small_for_strips_beside_the_picture_repaints_whole(
    qtbot: Any, clock: ManualClock
) -> None:
    tile, handle, painted = shown_tile(qtbot, clock)
    tile.resize(170, 60)  # the strips are drawn over the picture
    for number in (3, 4, 5):
        next_frame(qtbot, tile, handle, number, 30 * number)
        assert painted.rects[-1] == tile.rect()


def test_a_new_feed_shows_its_rate_from_its_second_frame(qtbot: Any, clock: ManualClock) -> None:
    tile, handle, painted = shown_tile(qtbot, clock, frames=1)  # no rate yet
    assert tile.measured_fps == 0
    next_frame(qtbot, tile, handle, 2, 50)
    assert painted.rects[-1] == tile.rect(), "the overlay's rate appeared"
    next_frame(qtbot, tile, handle, 3, 60)
    assert painted.rects[-1] != tile.rect()
