"""Drawing a camera's privacy masks on a snapshot of its picture.

The technician clicks each corner of a polygon over what must never be shown (a neighbour's
windows, a private yard); a double click or Enter closes it, Backspace takes the last corner
back, Esc drops the polygon being drawn. A click inside a finished mask selects it (PageDown and
PageUp step through them) and Delete removes it. Masks are hatched and outlined while drawn;
``preview_masked`` shows instead exactly what the wall shows: the snapshot blacked out by the
wall's own renderer (:func:`app.video.decode_process.apply_privacy_masks`).

Masks are polygons in normalised image coordinates ([[x, y], ...], 0..1), as
``Camera.privacy_masks`` holds them: a pixel column x maps to x / (width - 1), the inverse of the
renderer's mapping.
"""

from __future__ import annotations

import copy

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.models.camera import PrivacyMask
from app.video.decode_process import apply_privacy_masks
from app.widgets import palette

Frame = npt.NDArray[np.uint8]

SAME_CORNER_PX = 4.0  # a click this close to the last corner adds nothing (a double click)
CORNER_PX = 4.0
DRAW_HINT = (
    "Click each corner of a private area · double-click or Enter closes it · Backspace takes "
    "the last corner back · Esc drops it · click a mask and press Delete to remove it"
)


class PrivacyMaskEditor(QWidget):
    """The snapshot with its privacy masks, drawn and edited with the mouse and keys."""

    masks_changed = Signal(object)  # list[PrivacyMask], after every finished change
    draft_changed = Signal(int)  # corners of the polygon being drawn (0: none)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("privacyMaskEditor")
        self.setAccessibleName("Snapshot with privacy masks")
        self.setToolTip(DRAW_HINT)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._frame: Frame | None = None
        self._image: QImage | None = None
        self._masked_frame: Frame | None = None
        self._masked_image: QImage | None = None
        self._masks: list[PrivacyMask] = []
        self.draft: list[list[float]] = []
        self.selected: int | None = None
        self._pointer: QPointF | None = None
        self._preview = False
        self.placeholder = "No snapshot yet"

    # ---- state ---------------------------------------------------------------------------

    @property
    def masks(self) -> list[PrivacyMask]:
        return copy.deepcopy(self._masks)

    @property
    def frame(self) -> Frame | None:
        return self._frame

    @property
    def frame_size(self) -> QSize:
        if self._frame is None:
            return QSize()
        return QSize(self._frame.shape[1], self._frame.shape[0])

    @property
    def preview_masked(self) -> bool:
        return self._preview

    def set_frame(self, frame: Frame | None) -> None:
        """Show this picture (BGR, kept as it is: the editor never writes into it)."""
        self._frame = None if frame is None else np.ascontiguousarray(frame)
        self._image = None if self._frame is None else _qimage(self._frame)
        self._forget_masked()
        self.update()

    def set_masks(self, masks: list[PrivacyMask]) -> None:
        self._masks = copy.deepcopy(masks)
        self.selected = None
        self._drop_draft()
        self._changed()

    def set_preview_masked(self, on: bool) -> None:
        self._preview = on
        self.update()

    def set_placeholder(self, text: str) -> None:
        """What shows while there is no snapshot (why not, or that one is coming)."""
        self.placeholder = text
        self.update()

    def masked_frame(self) -> Frame | None:
        """The snapshot as the wall would show it (masks blacked out), BGR; None without one."""
        if self._frame is None:
            return None
        if self._masked_frame is None:
            import cv2

            masked = self._frame.copy()
            apply_privacy_masks(cv2, masked, self._masks)
            self._masked_frame = masked
            self._masked_image = _qimage(masked)
        return self._masked_frame

    def remove_selected(self) -> bool:
        if self.selected is None:
            return False
        del self._masks[self.selected]
        self.selected = None
        self._changed()
        return True

    def close_draft(self) -> bool:
        """Finish the polygon being drawn (three corners at least)."""
        if len(self.draft) < 3:
            return False
        self._masks.append(self.draft)
        self.selected = len(self._masks) - 1
        self._drop_draft()
        self._changed()
        return True

    # ---- geometry ------------------------------------------------------------------------

    def image_rect(self) -> QRectF:
        """Where the picture is painted: as large as fits, its aspect kept, centred."""
        if self._frame is None:
            return QRectF()
        height, width = self._frame.shape[:2]
        scale = min(self.width() / width, self.height() / height)
        shown_w, shown_h = width * scale, height * scale
        return QRectF((self.width() - shown_w) / 2, (self.height() - shown_h) / 2, shown_w, shown_h)

    def to_normalised(self, point: QPointF) -> list[float]:
        """A widget point as normalised image coordinates (clamped into the picture)."""
        rect = self.image_rect()
        height, width = self._frame.shape[:2] if self._frame is not None else (2, 2)
        px = (point.x() - rect.left()) / rect.width() * width - 0.5
        py = (point.y() - rect.top()) / rect.height() * height - 0.5
        return [
            round(min(max(px / (width - 1), 0.0), 1.0), 5),
            round(min(max(py / (height - 1), 0.0), 1.0), 5),
        ]

    def to_widget(self, point: list[float]) -> QPointF:
        rect = self.image_rect()
        height, width = self._frame.shape[:2] if self._frame is not None else (2, 2)
        return QPointF(
            rect.left() + (point[0] * (width - 1) + 0.5) * rect.width() / width,
            rect.top() + (point[1] * (height - 1) + 0.5) * rect.height() / height,
        )

    def mask_at(self, point: QPointF) -> int | None:
        """The topmost mask under a widget point."""
        for index in reversed(range(len(self._masks))):
            if self._polygon(self._masks[index]).containsPoint(point, Qt.FillRule.OddEvenFill):
                return index
        return None

    # ---- events --------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        event.accept()  # corners are added on release, so a double click adds one, not two

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._frame is None:
            return
        point = event.position()
        if not self.draft:
            hit = self.mask_at(point)
            if hit is not None:
                self.selected = hit
                self.update()
                return
            self.selected = None
        self._add_corner(point)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.draft:
            self._add_corner(event.position())  # the same corner as the click's: not added
            self.close_draft()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._pointer = event.position()
        if self.draft:
            self.update()

    def leaveEvent(self, event: object) -> None:
        self._pointer = None
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.draft:
            self.close_draft()
        elif key == Qt.Key.Key_Backspace and self.draft:
            self.draft.pop()
            self.draft_changed.emit(len(self.draft))
            self.update()
        elif key == Qt.Key.Key_Escape and (self.draft or self.selected is not None):
            if self.draft:
                self._drop_draft()
            else:
                self.selected = None
            self.update()
        elif key == Qt.Key.Key_Delete and self.selected is not None:
            self.remove_selected()
        elif key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp) and self._masks:
            step = 1 if key == Qt.Key.Key_PageDown else -1
            if self.selected is None:
                self.selected = 0 if step == 1 else len(self._masks) - 1
            else:
                self.selected = (self.selected + step) % len(self._masks)
            self.update()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def event(self, event: QEvent) -> bool:
        # Esc drops a polygon being drawn before any window shortcut (the check's Cancel) sees it.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and (self.draft or self.selected is not None)
        ):
            event.accept()
            return True
        return super().event(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, 270)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, 135)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(palette.VIDEO_BARS))
        if self._frame is None:
            painter.setPen(QColor(palette.VIDEO_TEXT_MUTED))
            painter.drawText(
                self.rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.placeholder,
            )
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            if self._preview:
                self.masked_frame()
                assert self._masked_image is not None
                painter.drawImage(self.image_rect(), self._masked_image)
            else:
                assert self._image is not None
                painter.drawImage(self.image_rect(), self._image)
                self._paint_masks(painter)
            self._paint_draft(painter)
            # Where the picture ends: its own black edges look like the bars around it.
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(QColor(palette.BORDER), 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.image_rect().adjusted(-1, -1, 0, 0))
        if self.hasFocus():
            painter.setPen(QPen(QColor(palette.FOCUS), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        painter.end()

    # ---- internals ------------------------------------------------------------------------

    def _paint_masks(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        # Hatched and outlined, not only tinted: the shape shows on any picture.
        for index, mask in enumerate(self._masks):
            chosen = index == self.selected
            outline = QColor(palette.FOCUS if chosen else palette.WARNING)
            hatch = QBrush(outline, Qt.BrushStyle.BDiagPattern)
            shade = QColor(palette.VIDEO_SCRIM)
            shade.setAlpha(110)
            polygon = self._polygon(mask)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(shade)
            painter.drawPolygon(polygon)
            painter.setBrush(hatch)
            painter.drawPolygon(polygon)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(palette.VIDEO_BARS), 5 if chosen else 4))
            painter.drawPolygon(polygon)
            painter.setPen(QPen(outline, 3 if chosen else 2))
            painter.drawPolygon(polygon)

    def _paint_draft(self, painter: QPainter) -> None:
        if not self.draft:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        points = [self.to_widget(p) for p in self.draft]
        if self._pointer is not None:
            points.append(self._pointer)
        line = QPen(QColor(palette.ACCENT), 2, Qt.PenStyle.DashLine)
        painter.setPen(line)
        painter.drawPolyline(QPolygonF(points))
        painter.setBrush(QColor(palette.ACCENT))
        painter.setPen(QPen(QColor(palette.VIDEO_BARS), 1))
        for point in points[: len(self.draft)]:
            painter.drawEllipse(point, CORNER_PX, CORNER_PX)

    def _add_corner(self, point: QPointF) -> None:
        if not self.image_rect().contains(point):
            return
        if self.draft and _distance(self.to_widget(self.draft[-1]), point) <= SAME_CORNER_PX:
            return
        self.draft.append(self.to_normalised(point))
        self.draft_changed.emit(len(self.draft))
        self.update()

    def _polygon(self, mask: PrivacyMask) -> QPolygonF:
        return QPolygonF([self.to_widget(point) for point in mask])

    def _drop_draft(self) -> None:
        if self.draft:
            self.draft = []
            self.draft_changed.emit(0)

    def _forget_masked(self) -> None:
        self._masked_frame = None
        self._masked_image = None

    def _changed(self) -> None:
        self._forget_masked()
        self.update()
        self.masks_changed.emit(self.masks)


def _qimage(frame: Frame) -> QImage:
    """A QImage over the BGR array (kept alive by the editor while it is painted)."""
    height, width = frame.shape[:2]
    return QImage(frame.data, width, height, frame.strides[0], QImage.Format.Format_BGR888)


def _distance(a: QPointF, b: QPointF) -> float:
    return float(np.hypot(a.x() - b.x(), a.y() - b.y()))
