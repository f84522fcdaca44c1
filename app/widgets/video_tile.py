"""One place on the video wall: the newest frame of one feed, and why there is none when not.

The wall polls the tile's ``FeedHandle`` at display rate (``poll``); the tile keeps the newest
frame (already a copy, so it is wrapped, not copied again) and paints it in ``paintEvent`` as a
``QImage`` over the numpy buffer, letterboxed. The overlay names the camera, its tier, the
purpose the feed was opened for, when the last frame arrived and the measured frame rate (both
once a second); the feed's state is always shown, big and centred, whenever there is no live
picture, so a dark tile always says why it is dark.

A new frame alone repaints only the picture: the background, bars and overlay strips are
painted when something they show changes (at most once a second for a live feed). A full
paint per frame cost the UI thread 0.4 ms, most of it laying out the overlay's text again.

Colours: the empty tile's from ``theme.qss`` (``VideoTile``), the rest from
``app/widgets/palette.py``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QEnterEvent,
    QFont,
    QFontMetrics,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QSizePolicy,
    QStyle,
    QStyleOption,
    QToolButton,
    QWidget,
)

from app.services.clock import Clock, utc_now
from app.video.feed_state import FeedStatus
from app.video.feed_supervisor import FeedHandle
from app.video.frame_exchange import Frame, Image
from app.widgets import palette

EMPTY_TILE_HINT = "Drop a camera here"
OPENING_TEXT = "opening…"
CAMERA_MIME = "application/x-beacon-camera-id"  # camera ids from the camera list, one per line
TILE_MIME = "application/x-beacon-tile"  # a tile of the wall (its number), to swap two tiles
FPS_WINDOW_S = 2.0
PAINT_HISTORY = 256  # decode-to-paint latencies a tile keeps (about 17 s at 15 fps)
CLOSE_BUTTON_SIZE = 26
SMALLEST_TEXT_PX = 12  # 9 pt at 96 dpi, the smallest text of the console; scaled with the screen
RECALL_DEPTH = 6  # earlier cameras a tile remembers for quick recall
BORDER = 1


def camera_mime(camera_ids: Sequence[str]) -> QMimeData:
    """A drag of cameras onto the wall: their ids, one a line (several make a tour)."""
    mime = QMimeData()
    text = "\n".join(camera_ids)
    mime.setData(CAMERA_MIME, QByteArray(text.encode()))
    mime.setText(text)
    return mime


@dataclass(frozen=True, slots=True)
class TileCamera:
    """What the overlay says about the camera on a tile."""

    camera_id: str
    name: str
    tier: str  # "integrated" or "registered"
    purpose: str  # "incident:2026-000101", "case:24-1187"


def letterbox(picture: QSize, box: QRect) -> QRect:
    """The largest rectangle of ``picture``'s aspect ratio inside ``box``, centred in it."""
    if picture.isEmpty() or box.isEmpty():
        return QRect()
    fitted = picture.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    left = box.left() + (box.width() - fitted.width()) // 2
    top = box.top() + (box.height() - fitted.height()) // 2
    return QRect(left, top, fitted.width(), fitted.height())


def _rate(frames_per_s: float) -> str:
    """A measured frame rate; "—" before there is one (a feed's first second)."""
    return f"{frames_per_s:.1f}" if frames_per_s > 0 else "—"


class VideoTile(QWidget):
    """One tile of the wall: empty, opening, refused, or showing a feed."""

    camera_dropped = Signal(object, str)  # (this tile, camera id) dropped from the camera list
    cameras_dropped = Signal(object, list)  # (this tile, camera ids): several cameras, a tour
    tile_dropped = Signal(int, int)  # (number of the dragged tile, number of this tile)
    close_requested = Signal(object)  # this tile: the × or Delete
    maximise_requested = Signal(object)  # this tile: double-click, Enter or Return

    def __init__(
        self,
        number: int,
        parent: QWidget | None = None,
        *,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.number = number
        self._clock = clock
        self._monotonic = monotonic
        self.camera: TileCamera | None = None
        self.handle: FeedHandle | None = None
        self.requested_stream: str | None = None  # the stream last asked of the handle
        self.overlay_visible = True
        self.health_visible = False
        self.recent_cameras: deque[TileCamera] = deque(maxlen=RECALL_DEPTH)  # newest first
        self._tour_text = ""
        self._message: str | None = None  # shown when there is no handle: opening, denied
        self._refused = False
        self._array: Image | None = None  # the numpy buffer under _image: keep it alive
        self._image: QImage | None = None
        self._frame_number = 0
        self._last_frame_at = ""  # the overlay's clock and frame rate, set once a second
        self._last_frame_second = 0
        self._shown_fps = 0.0
        self._arrivals: deque[float] = deque()
        self._overlay_metrics: tuple[QFont, QFont, int] | None = None  # for the tile's height
        # Where the last full paint put the picture, if it drew nothing over it; else null.
        self._picture_target = QRect()
        # Stream health: frames painted, and how long each took from decoder to screen
        # (milliseconds, newest last). Bounded, cheap: one subtraction per painted frame.
        self.frames_painted = 0
        self.paint_latencies_ms: deque[float] = deque(maxlen=PAINT_HISTORY)
        self._unpainted_decoded_ns = 0  # decoded_at_ns of the frame not yet painted, else 0
        self._shown_state = ""
        self._drag_over = False
        self._press_at: QPoint | None = None

        self.setObjectName("videoTile")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)

        self.close_button = QToolButton(self)
        self.close_button.setObjectName("tileCloseButton")
        self.close_button.setText("×")
        self.close_button.setToolTip("Close this feed (Delete)")
        self.close_button.setAccessibleName("Close this feed")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button.setFixedSize(CLOSE_BUTTON_SIZE, CLOSE_BUTTON_SIZE)
        self.close_button.clicked.connect(lambda: self.close_requested.emit(self))
        self.close_button.hide()
        self._update_accessible_name()

    # ---- what the tile shows ----------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        return self.camera is None

    @property
    def hint(self) -> str:
        return EMPTY_TILE_HINT

    @property
    def has_picture(self) -> bool:
        return self._image is not None

    @property
    def picture(self) -> Image | None:
        """The frame on screen (BGRX, as shown: scaled and privacy-masked), or None."""
        return self._array if self._image is not None else None

    @property
    def frame_number(self) -> int:
        """The decoder's number of the frame on screen (0 before the first)."""
        return self._frame_number

    @property
    def status_text(self) -> str:
        """The state in words: the hint, ``opening…``, ``denied: …``, ``live``, ``ended: …``."""
        if self.camera is None:
            return self.hint
        if self.handle is None:
            return self._message or OPENING_TEXT
        return self.handle.state.text

    @property
    def measured_fps(self) -> float:
        """Frames per second that reached this tile over the last two seconds."""
        if len(self._arrivals) < 2:
            return 0.0
        span = self._arrivals[-1] - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else 0.0

    def show_opening(self, camera: TileCamera) -> None:
        """The gate is being asked for ``camera``; nothing to paint yet."""
        self.remember(self.camera)
        self._reset()
        self.camera = camera
        for shown in [c for c in self.recent_cameras if c.camera_id == camera.camera_id]:
            self.recent_cameras.remove(shown)
        self._message = OPENING_TEXT
        self._changed()

    def show_refusal(self, text: str) -> None:
        """The feed was not opened (``denied: …``, not recorded, …); the camera stays named."""
        self.handle = None
        self._drop_picture()
        self._message = text
        self._refused = True
        self._changed()

    def attach(self, handle: FeedHandle) -> None:
        self.handle = handle
        self.requested_stream = handle.stream
        self._message = None
        self._refused = False
        if self.camera is not None:
            self.camera = TileCamera(
                self.camera.camera_id, self.camera.name, self.camera.tier, str(handle.lease.purpose)
            )
        self._changed()

    def clear(self) -> FeedHandle | None:
        """Empty the tile; returns the handle it showed (its lease is the caller's to end)."""
        handle = self.handle
        self.remember(self.camera)
        self._reset()
        self._changed()
        return handle

    def remember(self, camera: TileCamera | None) -> None:
        """Put ``camera`` first in the tile's recall list (once: an older entry moves up)."""
        if camera is None:
            return
        for earlier in [c for c in self.recent_cameras if c.camera_id == camera.camera_id]:
            self.recent_cameras.remove(earlier)
        self.recent_cameras.appendleft(camera)

    def set_tour_text(self, text: str) -> None:
        """``tour 2/5`` while the tile tours cameras, else empty."""
        if text != self._tour_text:
            self._tour_text = text
            self.update()

    @property
    def tour_text(self) -> str:
        return self._tour_text

    def set_health_visible(self, visible: bool) -> None:
        if visible != self.health_visible:
            self.health_visible = visible
            self.update()

    def set_overlay_visible(self, visible: bool) -> None:
        if visible != self.overlay_visible:
            self.overlay_visible = visible
            self.update()

    def poll(self) -> bool:
        """Take the handle's newest frame and state; repaint (and return True) on a change."""
        handle = self.handle
        if handle is None:
            return False
        changed = False
        whole_tile = False  # else only the picture changed
        state = handle.state
        if state.status is FeedStatus.ENDED:
            # An ended lease may no longer be watched: the last frame goes too.
            changed = whole_tile = self._drop_picture()
        else:
            frame = handle.latest()
            if frame is not None:
                whole_tile = self._show_frame(frame)
                changed = True
        if state.text != self._shown_state:
            self._shown_state = state.text
            self._update_accessible_name()
            changed = whole_tile = True
        if changed:
            target = self._picture_only_target()
            if whole_tile or target is None:
                self.update()
            else:
                self.update(target)
        return changed

    def _picture_only_target(self) -> QRect | None:
        """Where a new frame goes when nothing but the picture needs painting, else None: the
        picture must land where the last full paint put one with nothing over it."""
        if self._image is None or not self._picture_target.isValid():
            return None
        target = letterbox(self._image.size(), self.picture_rect())
        return target if target == self._picture_target else None

    def _inner_rect(self) -> QRect:
        """The tile inside its border."""
        return self.rect().adjusted(BORDER, BORDER, -BORDER, -BORDER)

    def picture_rect(self) -> QRect:
        """Where the picture goes: between the overlay's strips, so they never hide any of it
        (a camera's own burned-in time or label, say); the whole tile with the overlay off."""
        inner = self._inner_rect()
        if not self.overlay_visible or self.camera is None:
            return inner
        strip = self._strip_height()
        picture = inner.adjusted(0, strip, 0, -strip)
        return picture if picture.height() >= strip else inner

    def device_size(self) -> tuple[int, int]:
        """The picture area in device pixels: what the decoder should scale frames to."""
        ratio = self.devicePixelRatioF()
        picture = self.picture_rect()
        return max(1, round(picture.width() * ratio)), max(1, round(picture.height() * ratio))

    def _show_frame(self, frame: Frame) -> bool:
        """Keep ``frame`` for painting; True when the overlay's clock and frame rate change."""
        array = frame.image  # a copy made by FeedHandle.latest(): ours to keep, no second copy
        height, width = array.shape[:2]
        self._image = QImage(
            array.data, width, height, array.strides[0], QImage.Format.Format_RGB32
        )
        self._array = array  # the QImage does not own the buffer; keep it while it is painted
        self._frame_number = frame.number
        self._unpainted_decoded_ns = frame.decoded_at_ns
        now = self._monotonic()
        self._arrivals.append(now)
        while self._arrivals and now - self._arrivals[0] > FPS_WINDOW_S:
            self._arrivals.popleft()
        arrived = self._clock()
        second = int(arrived.timestamp())
        # Once a second; and as soon as a new feed has a rate to show, not "0.0 fps" meanwhile.
        if second == self._last_frame_second and (self._shown_fps or len(self._arrivals) < 2):
            return False
        self._last_frame_second = second
        self._last_frame_at = arrived.astimezone().strftime("%H:%M:%S")
        self._shown_fps = self.measured_fps
        return True

    def _drop_picture(self) -> bool:
        had = self._image is not None
        self._image = None
        self._array = None
        self._arrivals.clear()
        self._unpainted_decoded_ns = 0
        self._picture_target = QRect()
        return had

    def _reset(self) -> None:
        self.camera = None
        self.handle = None
        self.requested_stream = None
        self._message = None
        self._refused = False
        self._drop_picture()
        self._frame_number = 0
        self._last_frame_at = ""
        self._last_frame_second = 0
        self._shown_fps = 0.0
        self._shown_state = ""

    def _changed(self) -> None:
        self._update_accessible_name()
        self.close_button.setVisible(self.underMouse() and not self.is_empty)
        self.update()

    def _update_accessible_name(self) -> None:
        if self.camera is None:
            self.setAccessibleName(f"Video tile {self.number}: empty")
        else:
            self.setAccessibleName(
                f"Video tile {self.number}: {self.camera.name}, {self.status_text}"
            )

    def set_number(self, number: int) -> None:
        if number != self.number:
            self.number = number
            self._update_accessible_name()
            self.update()

    # ---- painting ---------------------------------------------------------------------------

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 90)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        # Only where poll asked for the picture alone; any other change updates the whole tile.
        if self._picture_target.contains(event.rect()):
            self._paint_picture(painter, self._picture_target)  # a new frame, nothing else
            self._paint_focus(painter)
            painter.end()
            return
        option = QStyleOption()
        option.initFrom(self)
        # The styled background: the tile's colour and border from theme.qss (which also sets
        # the palette's window colour; filled first, as an opaque widget must paint every pixel).
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window))
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, option, painter, self)
        inner = self._inner_rect()
        if self.camera is None:
            self._paint_empty(painter, inner)
        else:
            self._paint_feed(painter, inner)
        self._paint_focus(painter)
        painter.end()

    def _paint_focus(self, painter: QPainter) -> None:
        if self._drag_over or self.hasFocus():
            pen = QPen(QColor(palette.VIDEO_FOCUS))
            pen.setWidth(2)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self._inner_rect().adjusted(0, 0, -1, -1))

    def _paint_empty(self, painter: QPainter, inner: QRect) -> None:
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.setFont(self.font())
        text_box = inner.adjusted(11, 7, -11, -7)
        painter.drawText(
            text_box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, str(self.number)
        )
        painter.drawText(inner, Qt.AlignmentFlag.AlignCenter, self.hint)

    def _paint_feed(self, painter: QPainter, inner: QRect) -> None:
        painter.fillRect(inner, QColor(palette.VIDEO_BARS))
        self._picture_target = QRect()
        area = self.picture_rect()
        big = self._big_text()
        if self._image is not None:
            target = letterbox(self._image.size(), area)
            self._paint_picture(painter, target)
            # The next frame may repaint just the picture if nothing is drawn over it: no state
            # text, no health panel, and strips beside it (a tile too small draws them over it).
            strips_over = self.overlay_visible and area == inner
            if big is None and not self.health_visible and not strips_over:
                self._picture_target = target
        if big is not None:
            if self._image is not None:
                painter.fillRect(inner, QColor(palette.VIDEO_DIM))
            self._paint_big_text(painter, inner, big, self._state_colour())
        if self.overlay_visible:
            self._paint_overlay(painter, inner)
        if self.health_visible and self.handle is not None:
            self._paint_health(painter, inner)

    def _paint_picture(self, painter: QPainter, target: QRect) -> None:
        image = self._image
        assert image is not None
        if target.size() != image.size():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRectF(target), image)
        self._count_painted()

    def health_lines(self) -> list[tuple[str, str]]:
        """The stream's health as the tile shows it on demand: (what, value) pairs."""
        handle = self.handle
        if handle is None:
            return []
        state = handle.state
        size = f" · {state.width}×{state.height}" if state.width else ""
        latencies = sorted(self.paint_latencies_ms)
        to_screen = (
            f"{latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms (p95)" if latencies else "—"
        )
        bitrate = f"{state.bitrate_kbps:,.0f} kbit/s" if state.bitrate_kbps > 0 else "unknown"
        behind = (
            f"{state.latency_ms:,.0f} ms behind the camera"
            if state.latency_ms is not None
            else "no camera clock in the stream"
        )
        return [
            ("stream", f"{handle.stream}{size}"),
            ("frame rate", f"{_rate(state.fps)} decoded · {_rate(self.measured_fps)} shown"),
            ("bitrate", bitrate),
            ("latency", behind),
            ("decoder to screen", to_screen),
            ("frames dropped", f"{handle.dropped_frames}"),
            ("reconnects", f"{state.reconnects}"),
        ]

    def _paint_health(self, painter: QPainter, inner: QRect) -> None:
        lines = self.health_lines()
        font = self._overlay_font()
        metrics = QFontMetrics(font)
        label_width = max(metrics.horizontalAdvance(label) for label, _ in lines) + 12
        value_width = max(metrics.horizontalAdvance(value) for _, value in lines)
        line_height = metrics.height() + 2
        top = inner.top() + (self._strip_height() if self.overlay_visible else 0) + 6
        box = QRect(
            inner.left() + 6, top, label_width + value_width + 16, 8 + line_height * len(lines)
        )
        painter.fillRect(box.intersected(inner), QColor(palette.VIDEO_SCRIM))
        painter.setFont(font)
        middle = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        for number, (label, value) in enumerate(lines):
            row = QRect(
                box.left() + 8, box.top() + 4 + number * line_height, box.width() - 16, line_height
            )
            painter.setPen(QColor(palette.VIDEO_TEXT_MUTED))
            painter.drawText(row, middle, label)
            painter.setPen(QColor(palette.VIDEO_TEXT))
            painter.drawText(row.adjusted(label_width, 0, 0, 0), middle, value)

    def _count_painted(self) -> None:
        """Record a newly decoded frame's first paint (a repaint of the same frame is not one).
        ``decoded_at_ns`` is the decoder's ``time.monotonic_ns``: CLOCK_MONOTONIC, system-wide."""
        decoded_at = self._unpainted_decoded_ns
        if decoded_at:
            self._unpainted_decoded_ns = 0
            self.frames_painted += 1
            self.paint_latencies_ms.append((time.monotonic_ns() - decoded_at) / 1e6)

    def _big_text(self) -> str | None:
        """The state, big and centred, whenever there is no live picture."""
        if self.handle is None:
            return self._message or OPENING_TEXT
        state = self.handle.state
        if state.status is not FeedStatus.LIVE or self._image is None:
            return state.text
        return None

    def _state_colour(self) -> QColor:
        if self.handle is None:
            return QColor(palette.VIDEO_DENIED if self._refused else palette.VIDEO_TEXT)
        status = self.handle.state.status
        if status is FeedStatus.LIVE:
            return QColor(palette.VIDEO_LIVE)
        if status is FeedStatus.CONNECTING:
            return QColor(palette.VIDEO_TEXT)
        return QColor(palette.VIDEO_WARNING)

    def _paint_big_text(self, painter: QPainter, inner: QRect, text: str, colour: QColor) -> None:
        strip = self._strip_height() if self.overlay_visible else 0
        box = inner.adjusted(14, strip + 6, -14, -(strip + 6))
        if box.height() < 12:
            box = inner.adjusted(6, 2, -6, -2)
        font = QFont(self.font())
        font.setBold(True)
        flags = int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap)
        size = max(SMALLEST_TEXT_PX, min(26, inner.height() // 8))
        while True:
            font.setPixelSize(size)
            needed = QFontMetrics(font).boundingRect(box, flags, text)
            if (needed.width() <= box.width() and needed.height() <= box.height()) or (
                size <= SMALLEST_TEXT_PX
            ):
                break
            size -= 1
        painter.setFont(font)
        painter.setPen(colour)
        painter.drawText(box, flags, text)

    def _overlay_fonts(self) -> tuple[QFont, QFont, int]:
        """The overlay's plain and bold fonts and its strips' height, for the tile's height
        (made again after a resize or a font change)."""
        if self._overlay_metrics is None:
            plain = QFont(self.font())
            plain.setPixelSize(max(SMALLEST_TEXT_PX, min(14, self.height() // 14)))
            bold = QFont(plain)
            bold.setBold(True)
            self._overlay_metrics = (plain, bold, QFontMetrics(plain).height() + 8)
        return self._overlay_metrics

    def _overlay_font(self, bold: bool = False) -> QFont:
        plain, bold_font, _ = self._overlay_fonts()
        return bold_font if bold else plain

    def _strip_height(self) -> int:
        return self._overlay_fonts()[2]

    def _paint_overlay(self, painter: QPainter, inner: QRect) -> None:
        camera = self.camera
        assert camera is not None
        height = self._strip_height()
        scrim = QColor(palette.VIDEO_SCRIM)
        top = QRect(inner.left(), inner.top(), inner.width(), height)
        bottom = QRect(inner.left(), inner.bottom() - height + 1, inner.width(), height)
        painter.fillRect(top, scrim)
        painter.fillRect(bottom, scrim)
        pad = 8
        middle = Qt.AlignmentFlag.AlignVCenter

        # Top: number, camera name (bold), tier; room on the right for the close button.
        text_top = top.adjusted(pad, 0, -(pad + CLOSE_BUTTON_SIZE + 4), 0)
        bold, plain = self._overlay_font(bold=True), self._overlay_font()
        tier = f"  ·  {camera.tier}" + (f"  ·  {self._tour_text}" if self._tour_text else "")
        tier_width = QFontMetrics(plain).horizontalAdvance(tier)
        name_room = max(0, text_top.width() - tier_width)
        name = QFontMetrics(bold).elidedText(
            f"{self.number}  {camera.name}", Qt.TextElideMode.ElideRight, name_room
        )
        painter.setFont(bold)
        painter.setPen(QColor(palette.VIDEO_TEXT))
        painter.drawText(text_top, Qt.AlignmentFlag.AlignLeft | middle, name)
        name_width = QFontMetrics(bold).horizontalAdvance(name)
        painter.setFont(plain)
        painter.setPen(QColor(palette.VIDEO_TEXT_MUTED))
        tier_box = text_top.adjusted(name_width, 0, 0, 0)
        tier_text = QFontMetrics(plain).elidedText(
            tier, Qt.TextElideMode.ElideRight, max(0, tier_box.width())
        )
        painter.drawText(tier_box, Qt.AlignmentFlag.AlignLeft | middle, tier_text)

        # Bottom: purpose on the left; last frame time, measured fps and state on the right.
        text_bottom = bottom.adjusted(pad, 0, -pad, 0)
        metrics = QFontMetrics(plain)
        facts: list[tuple[str, QColor]] = []
        if self.handle is not None:
            if self._last_frame_at:
                facts.append((f"{self._last_frame_at}  ·  ", QColor(palette.VIDEO_TEXT_MUTED)))
            if self._last_frame_at and self._shown_fps:  # no rate yet at a feed's first frame
                facts.append((f"{self._shown_fps:.1f} fps  ·  ", QColor(palette.VIDEO_TEXT_MUTED)))
            facts.append((self.handle.state.text, self._state_colour()))
        right_width = sum(metrics.horizontalAdvance(text) for text, _ in facts)
        if right_width > text_bottom.width() * 0.7 and len(facts) > 1:
            facts = facts[-1:]  # a narrow tile keeps the state, drops time and fps
            right_width = metrics.horizontalAdvance(facts[0][0])
        purpose_room = max(0, text_bottom.width() - right_width - 12)
        purpose = metrics.elidedText(camera.purpose, Qt.TextElideMode.ElideRight, purpose_room)
        painter.setPen(QColor(palette.VIDEO_TEXT))
        painter.drawText(text_bottom, Qt.AlignmentFlag.AlignLeft | middle, purpose)
        x = text_bottom.right() + 1 - right_width
        for text, colour in facts:
            width = metrics.horizontalAdvance(text)
            box = QRect(x, text_bottom.top(), width, text_bottom.height())
            painter.setPen(colour)
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | middle, text)
            x += width

    # ---- mouse, keyboard, drag and drop -------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._overlay_metrics = None
        super().resizeEvent(event)
        self.close_button.move(self.width() - BORDER - CLOSE_BUTTON_SIZE - 4, BORDER + 3)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._overlay_metrics = None
        super().changeEvent(event)

    def enterEvent(self, event: QEnterEvent) -> None:
        self.close_button.setVisible(not self.is_empty)
        super().enterEvent(event)

    def leaveEvent(self, event: object) -> None:
        self.close_button.hide()
        super().leaveEvent(event)  # type: ignore[arg-type]

    def focusInEvent(self, event: object) -> None:
        self.update()
        super().focusInEvent(event)  # type: ignore[arg-type]

    def focusOutEvent(self, event: object) -> None:
        self.update()
        super().focusOutEvent(event)  # type: ignore[arg-type]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.maximise_requested.emit(self)
        elif key == Qt.Key.Key_Delete and not self.is_empty:
            self.close_requested.emit(self)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.maximise_requested.emit(self)
            event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press_at = None
        super().mouseReleaseEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        start = self._press_at
        if (
            start is None
            or self.is_empty
            or not event.buttons() & Qt.MouseButton.LeftButton
            or (event.position().toPoint() - start).manhattanLength()
            < QApplication.startDragDistance()
        ):
            return
        self._press_at = None
        mime = QMimeData()
        mime.setData(TILE_MIME, QByteArray(str(self.number).encode()))
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(self.grab().scaledToWidth(min(240, max(1, self.width()))))
        drag.exec(Qt.DropAction.MoveAction)

    @staticmethod
    def dragged_tile_number(mime: QMimeData) -> int | None:
        if not mime.hasFormat(TILE_MIME):
            return None
        try:
            return int(bytes(mime.data(TILE_MIME).data()).decode())
        except ValueError:
            return None

    @staticmethod
    def dragged_camera_ids(mime: QMimeData) -> list[str]:
        if not mime.hasFormat(CAMERA_MIME):
            return []
        text = bytes(mime.data(CAMERA_MIME).data()).decode(errors="replace")
        return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))

    def _accepts(self, mime: QMimeData) -> bool:
        if self.dragged_camera_ids(mime):
            return True
        number = self.dragged_tile_number(mime)
        return number is not None and number != self.number

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
            self._drag_over = True
            self.update()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._drag_over = False
        self.update()
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._drag_over = False
        self.update()
        mime = event.mimeData()
        camera_ids = self.dragged_camera_ids(mime)
        number = self.dragged_tile_number(mime)
        if len(camera_ids) == 1:
            event.acceptProposedAction()
            self.camera_dropped.emit(self, camera_ids[0])
        elif camera_ids:
            event.acceptProposedAction()
            self.cameras_dropped.emit(self, camera_ids)
        elif number is not None and number != self.number:
            event.acceptProposedAction()
            self.tile_dropped.emit(number, self.number)
        else:
            event.ignore()
