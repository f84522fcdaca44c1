"""What floats over the camera map: the legend with its layer switches, the scale bar, the
pointer's coordinates, the hover card, the notice and the attribution.

They are child widgets of the map (``CameraMap``), placed by it when it resizes; their colours
come from the ``#cameraMap`` rules of ``resources/theme.qss``, the scale bar's from the palette.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models.web_mercator import nice_length
from app.services.map_features import POLICY_STATES
from app.widgets import palette
from app.widgets.map_layers import (
    STATE_LEGEND,
    MapLayer,
    camera_icon,
    cluster_pixmap,
    incident_icon,
    unit_icon,
)

METRES_PER_FOOT = 0.3048
FEET_PER_MILE = 5280
LONGEST_IN_FEET = 1500  # longer bars are counted in miles ("0.5 mi", not "2000 ft")
SCALE_BAR_MAX_PX = 130

# The keys the map answers to while it has focus (also in the main window's shortcut help).
LAYER_KEYS: dict[MapLayer, str] = {
    MapLayer.BASEMAP: "B",
    MapLayer.GEOFENCES: "G",
    MapLayer.FIELDS_OF_VIEW: "V",
    MapLayer.CAMERAS: "C",
    MapLayer.INCIDENTS: "I",
    MapLayer.UNITS: "U",
}


def metric_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


class MapScaleBar(QWidget):
    """Two bars, metric and imperial, each a round length no longer than about 130 pixels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapScaleBar")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.metres = 0.0  # the metric bar's length on the ground
        self.metric_px = 0.0  # and on screen
        self.feet = 0.0
        self.imperial_label = ""
        self.imperial_px = 0.0
        font = QFont(self.font())
        font.setPixelSize(12)  # 9 pt, the console's smallest text; scales with the screen
        font.setBold(True)
        self.setFont(font)
        # Room for the longest label ("2000 ft") after the longest bar, whatever the font.
        label = QFontMetrics(font).horizontalAdvance("2000 ft") + 12
        self.setFixedSize(SCALE_BAR_MAX_PX + label, 44)

    def set_ground_resolution(self, metres_per_px: float) -> None:
        """Metres on the ground per screen pixel, at the middle of the map."""
        if not math.isfinite(metres_per_px) or metres_per_px <= 0:
            return
        self.metres = nice_length(metres_per_px * SCALE_BAR_MAX_PX)
        self.metric_px = self.metres / metres_per_px
        feet_per_px = metres_per_px / METRES_PER_FOOT
        longest_feet = feet_per_px * SCALE_BAR_MAX_PX
        if longest_feet >= LONGEST_IN_FEET:
            miles = nice_length(longest_feet / FEET_PER_MILE)
            self.feet = miles * FEET_PER_MILE
            self.imperial_label = f"{miles:g} mi"
        else:
            self.feet = nice_length(longest_feet)
            self.imperial_label = f"{self.feet:g} ft"
        self.imperial_px = self.feet / feet_per_px
        self.update()

    @property
    def metric_label(self) -> str:
        return metric_text(self.metres)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.metres <= 0:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        left = 4.0
        for top, length, text, ticks_up in (
            (14.0, self.metric_px, self.metric_label, True),
            (30.0, self.imperial_px, self.imperial_label, False),
        ):
            tick = -6.0 if ticks_up else 6.0
            points = [
                QPointF(left, top + tick),
                QPointF(left, top),
                QPointF(left + length, top),
                QPointF(left + length, top + tick),
            ]
            for colour, width in (
                (palette.MAP_SCALE_BAR_SHADOW, 4.0),
                (palette.MAP_SCALE_BAR, 2.0),
            ):
                painter.setPen(QPen(QColor(colour), width))
                painter.drawPolyline(points)
            text_at = QPointF(left + length + 6, top + 4.5)
            painter.setPen(QColor(palette.MAP_SCALE_BAR_SHADOW))
            painter.drawText(text_at + QPointF(1, 1), text)
            painter.setPen(QColor(palette.MAP_SCALE_BAR))
            painter.drawText(text_at, text)
        painter.end()


class MapCard(QFrame):
    """A card about what the pointer is over: a camera, a cluster, a unit or an incident."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapCard")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.title = QLabel()
        self.title.setObjectName("mapCardTitle")
        self.body = QLabel()
        self.body.setObjectName("mapCardBody")
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        self.hide()

    @property
    def text(self) -> str:
        return f"{self.title.text()}\n{self.body.text()}"

    def show_at(self, title: str, lines: Sequence[str], anchor: QPointF) -> None:
        self.title.setText(title)
        self.body.setText("\n".join(lines))
        self.adjustSize()
        parent = self.parentWidget()
        bounds = parent.rect() if parent is not None else QRect(0, 0, 10_000, 10_000)
        x, y = round(anchor.x()) + 16, round(anchor.y()) + 16
        if x + self.width() > bounds.right() - 4:
            x = round(anchor.x()) - 16 - self.width()
        if y + self.height() > bounds.bottom() - 4:
            y = round(anchor.y()) - 16 - self.height()
        self.move(QPoint(max(x, 4), max(y, 4)))
        self.show()
        self.raise_()


LegendGroup = tuple[str, tuple[tuple[QPixmap, str], ...]]  # a heading and its (symbol, words)


class MapLegendKey(QWidget):
    """What every symbol means: headed groups of rows (symbol, words), in one or two columns.

    Drawn once into a pixmap and blitted after that: the map repaints under the legend on every
    pan and zoom, and a key of a dozen styled labels would cost a millisecond each time. The
    symbols are made again with each drawing (``groups_at``), sharp at the screen's pixel ratio
    and in the theme's colours after a switch.
    """

    ICON_BOX = QSize(26, 22)
    ROW_HEIGHT = 23
    COLUMN_GAP = 20

    def __init__(
        self, groups_at: Callable[[float], Sequence[LegendGroup]], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mapLegendKey")
        self._groups_at = groups_at
        groups = self._groups = tuple(groups_at(1.0))  # for the words and their widths
        self._two_columns = True
        self._cache: QPixmap | None = None
        self.entries = [words for _, rows in groups for _, words in rows]
        self.setAccessibleName("Map legend")
        self.setAccessibleDescription("; ".join(self.entries))

    @property
    def columns(self) -> list[tuple[LegendGroup, ...]]:
        """The first group (the cameras) on its own, the rest beside it; or all in one."""
        if self._two_columns and len(self._groups) > 1:
            return [self._groups[:1], self._groups[1:]]
        return [self._groups]

    def set_two_columns(self, two: bool) -> None:
        if two != self._two_columns:
            self._two_columns = two
            self._cache = None
            self.updateGeometry()
            self.adjustSize()

    def _heading_font(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        return font

    def _column_width(self, column: Sequence[LegendGroup]) -> int:
        text = QFontMetrics(self.font())
        heading = QFontMetrics(self._heading_font())
        icon = self.ICON_BOX.width() + 8
        rows = [icon + text.horizontalAdvance(words) for _, rows in column for _, words in rows]
        return max(rows + [heading.horizontalAdvance(title) for title, _ in column])

    def sizeHint(self) -> QSize:
        columns = self.columns
        widths = [self._column_width(column) for column in columns]
        rows = max(sum(1 + len(r) for _, r in column) for column in columns)
        return QSize(sum(widths) + self.COLUMN_GAP * (len(widths) - 1), rows * self.ROW_HEIGHT)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._cache = None
            self.updateGeometry()
        super().changeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        ratio = self.devicePixelRatioF()
        if (
            self._cache is None
            or self._cache.deviceIndependentSize().toSize() != self.size()
            or self._cache.devicePixelRatio() != ratio
        ):
            self._cache = self._render(ratio)
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._cache)
        painter.end()

    def _render(self, ratio: float) -> QPixmap:
        pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        left = 0
        text_left = self.ICON_BOX.width() + 8
        self._groups = tuple(self._groups_at(ratio))
        for column in self.columns:
            top = 0
            for heading, rows in column:
                painter.setFont(self._heading_font())
                painter.setPen(QColor(palette.TEXT_MUTED))
                painter.drawText(
                    QRect(left, top, 1000, self.ROW_HEIGHT),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                    heading,
                )
                top += self.ROW_HEIGHT
                painter.setFont(self.font())
                painter.setPen(QColor(palette.TEXT))
                for icon, text in rows:
                    size = icon.deviceIndependentSize()
                    painter.drawPixmap(
                        QPoint(
                            left + round((self.ICON_BOX.width() - size.width()) / 2),
                            top + round((self.ROW_HEIGHT - size.height()) / 2),
                        ),
                        icon,
                    )
                    painter.drawText(
                        QRect(left + text_left, top, 1000, self.ROW_HEIGHT),
                        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                        text,
                    )
                    top += self.ROW_HEIGHT
            left += self._column_width(column) + self.COLUMN_GAP
        painter.end()
        return pixmap


def legend_groups(ratio: float = 1.0) -> list[LegendGroup]:
    cameras = tuple((camera_icon(state, 16, ratio), STATE_LEGEND[state]) for state in POLICY_STATES)
    cluster = (cluster_pixmap(1, 3, ratio, "24"), "Cluster (green arc: share live)")
    return [
        ("Cameras: may one be opened now?", (*cameras, cluster)),
        (
            "Units (pointing where they head)",
            (
                (unit_icon(False, 20, ratio), "Available"),
                (unit_icon(True, 20, ratio), "En route or on scene (hollow)"),
            ),
        ),
        (
            "Incidents",
            (
                (incident_icon(1, False, ratio), "Priority 1 (most urgent) to 5"),
                (incident_icon(2, True, ratio), "White ring: emergency"),
            ),
        ),
    ]


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("mapLegendHeading")
    return label


class MapLegend(QFrame):
    """The layer switches (with their keys) and what every symbol means; folds to its title."""

    layer_toggled = Signal(object, bool)  # a MapLayer, shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapLegend")
        self.toggle_button = QToolButton()
        self.toggle_button.setObjectName("mapLegendToggle")
        self.toggle_button.setText("Legend and layers (L)")
        self.toggle_button.setToolTip("Fold or unfold the legend and the layer switches (L)")
        self.toggle_button.setCheckable(True)
        self.toggle_button.setChecked(True)
        self.toggle_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle_button.setArrowType(Qt.ArrowType.DownArrow)
        self.toggle_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.toggle_button.toggled.connect(self.set_expanded)
        self._operator_chose = False

        self.body = QWidget()
        self.body.setObjectName("mapLegendBody")
        grid = QGridLayout(self.body)
        grid.setContentsMargins(0, 4, 0, 0)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(3)

        layers = QVBoxLayout()
        layers.setSpacing(2)
        layers.addWidget(_heading("Layers"))
        self.checkboxes: dict[MapLayer, QCheckBox] = {}
        for layer in MapLayer:
            box = QCheckBox(f"{layer.value}   {LAYER_KEYS[layer]}")
            box.setChecked(True)
            box.setToolTip(f"Show or hide {layer.value.lower()} on the map ({LAYER_KEYS[layer]})")
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            box.toggled.connect(lambda shown, layer=layer: self.layer_toggled.emit(layer, shown))
            self.checkboxes[layer] = box
            layers.addWidget(box)
        layers.addStretch(1)

        self.key = MapLegendKey(legend_groups)
        grid.addLayout(layers, 0, 0)
        grid.addWidget(self.key, 0, 1, Qt.AlignmentFlag.AlignTop)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 10, 8)
        layout.setSpacing(2)
        layout.addWidget(self.toggle_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    @property
    def expanded(self) -> bool:
        return self.body.isVisibleTo(self)

    def set_expanded(self, expanded: bool) -> None:
        """Unfold or fold; the operator's choice (the button, L) from then on."""
        self._operator_chose = True
        self._show_body(expanded)

    def _show_body(self, expanded: bool) -> None:
        self.body.setVisible(expanded)
        self.toggle_button.blockSignals(True)
        self.toggle_button.setChecked(expanded)
        self.toggle_button.blockSignals(False)
        self.toggle_button.setArrowType(
            Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow
        )
        self.adjustSize()

    def fit_into(self, width: int, height: int) -> None:
        """Lay out for a map this size: the key in two columns or one, and, until the operator
        folds or unfolds it, folded when it would cover the middle of the map (where the map
        centres incidents) or not fit at all."""
        self.key.set_two_columns(True)
        self.body.adjustSize()
        if self.body.sizeHint().width() + 40 > width:
            self.key.set_two_columns(False)
            self.body.adjustSize()
        if not self._operator_chose:
            hint = self.body.sizeHint()
            legend_width, legend_height = hint.width() + 40, hint.height() + 60
            fits = legend_width <= width and legend_height <= height
            clear_of_middle = legend_width < width / 2 or legend_height < height / 2
            self._show_body(fits and clear_of_middle)
        self.adjustSize()

    def set_layer_checked(self, layer: MapLayer, shown: bool) -> None:
        box = self.checkboxes[layer]
        box.blockSignals(True)
        box.setChecked(shown)
        box.blockSignals(False)


def placed(widget: QWidget, area: QRectF, corner: Qt.Corner, margin: int = 8) -> None:
    """Move ``widget`` (at its size hint) into a corner of ``area``."""
    widget.adjustSize()
    size = widget.size()
    left = area.left() + margin
    right = area.right() - margin - size.width()
    top = area.top() + margin
    bottom = area.bottom() - margin - size.height()
    x = left if corner in (Qt.Corner.TopLeftCorner, Qt.Corner.BottomLeftCorner) else right
    y = top if corner in (Qt.Corner.TopLeftCorner, Qt.Corner.TopRightCorner) else bottom
    widget.move(round(x), round(y))
