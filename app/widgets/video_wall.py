"""The video wall: a grid of tiles in the centre of the console.

Live video is not wired yet; an empty tile says so by inviting a camera, and never shows a
made-up frame. Colours and fonts come from the theme (``VideoTile`` in ``theme.qss``), which
Qt's style sheet engine turns into the tile's palette and its styled background.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QStyle, QStyleOption, QWidget

EMPTY_TILE_HINT = "Drop a camera here"


class VideoTile(QWidget):
    """One place on the wall; empty for now, painted in ``paintEvent``."""

    def __init__(self, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number = number
        self.setObjectName("videoTile")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName(f"Video tile {number}: empty")

    @property
    def hint(self) -> str:
        return EMPTY_TILE_HINT

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 90)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        # The styled background: the tile's colour and border from theme.qss.
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, option, painter, self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        inner = self.rect().adjusted(12, 8, -12, -8)
        painter.drawText(
            inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, str(self.number)
        )
        painter.drawText(QRect(self.rect()), Qt.AlignmentFlag.AlignCenter, self.hint)
        painter.end()


class VideoWall(QWidget):
    """A rows x columns grid of ``VideoTile``s (2 x 2 for now)."""

    def __init__(self, rows: int = 2, columns: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("videoWall")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QGridLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        self.tiles: list[VideoTile] = []
        for index in range(rows * columns):
            tile = VideoTile(index + 1)
            layout.addWidget(tile, index // columns, index % columns)
            self.tiles.append(tile)
        for row in range(rows):
            layout.setRowStretch(row, 1)
        for column in range(columns):
            layout.setColumnStretch(column, 1)
