"""The supervisor's replay of an operator's session: what the console showed, moment by moment.

Pick a source (this workstation's audit log, or the sync server's copy of every workstation's),
a workstation and a session (login to logout); then scrub the timeline, click it, or play it at
1x, 4x or 16x. At every moment the tile grid shows which camera was on which wall tile and for
which incident, the sketch shows the geofences drawn, and the event list highlights the latest
event. Denials, revocations and exports are ticks of their own colour on the timeline, with keys
to jump between them (D, R, E forwards; with Shift backwards). The session can be exported as an
HTML or PDF report that ends with the chain verification result.

Everything is built from audit events (``app.models.session_replay``); reading them, verifying
their chain and writing the report run in background jobs. Opening a session is recorded as
``audit_read``, writing its report as ``audit_export``.
"""

from __future__ import annotations

import hashlib
import html
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QElapsedTimer,
    QModelIndex,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.models.audit_chain import AuditEventType, Outcome
from app.models.geofence import GeofenceCircle
from app.models.session_replay import (
    DrawnGeofence,
    EventMark,
    OperatorSession,
    ReplayEvent,
    ReplayState,
    SessionReplay,
    find_sessions,
)
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.audit_replay_sources import ChainCheck, LoadedEvents, ReplaySource
from app.services.clock import Clock, utc_now
from app.services.geofence_search import distance_text
from app.widgets import palette
from app.widgets.action_buttons import action_button, shortcut_action
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.pdf_document import pdf_bytes
from app.widgets.row_table_model import ModelIndex, RowTableModel, row_table_view

log = logging.getLogger(__name__)

SPEEDS = (1, 4, 16)
PLAY_TICK_MS = 50  # the replay clock moves by the real time elapsed, times the speed
TIMELINE_HEIGHT = 64
TIME_LABEL_HEIGHT = 16
MARK_COLOURS = palette.ThemeColours(
    {EventMark.DENIAL: "EMERGENCY", EventMark.REVOCATION: "WARNING", EventMark.EXPORT: "ACCENT"}
)
# Each mark's shape at the top of its tick, so no one has to tell the colours apart.
MARK_SHAPES = {
    EventMark.DENIAL: "triangle",
    EventMark.REVOCATION: "square",
    EventMark.EXPORT: "circle",
}
MARK_SHAPE_PX = 9
PLAIN_EVENT = "event"  # a column with events but none of the marked kinds
MARK_KEYS = {EventMark.DENIAL: "D", EventMark.REVOCATION: "R", EventMark.EXPORT: "E"}
MARK_PLURALS = {
    EventMark.DENIAL: "denials",
    EventMark.REVOCATION: "revocations",
    EventMark.EXPORT: "exports",
}
NO_SESSION_TEXT = "Choose a workstation and a session to replay."
REPORT_TITLE = "Beacon session replay report"


def local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def clock_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")


def duration_text(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def count_text(count: int, mark: EventMark) -> str:
    return f"{count} {mark.value if count == 1 else MARK_PLURALS[mark]}"


def event_text(event: ReplayEvent) -> str:
    """One event in words, for the event list and the report."""
    what = event.event_type.replace("_", " ")
    if event.camera_id:
        what += f": {event.subject or event.camera_id}"
    elif event.subject and event.subject != event.actor:
        what += f": {event.subject}"
    return what


# ---- the session list and the event list --------------------------------------------------------


class SessionTableModel(RowTableModel[OperatorSession]):
    COLUMNS = (
        "Operator",
        "Role",
        "Start",
        "End",
        "Ended by",
        "Events",
        "Denials",
        "Revocations",
        "Exports",
    )

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        session = self._rows[index.row()]
        column = index.column()
        values = (
            session.actor,
            session.role or "",
            local_time(session.start),
            local_time(session.end),
            session.ended_by,
            len(session.events),
            session.count(EventMark.DENIAL),
            session.count(EventMark.REVOCATION),
            session.count(EventMark.EXPORT),
        )
        return values[column]


class EventTableModel(RowTableModel[ReplayEvent]):
    COLUMNS = ("Time", "Seq", "Event", "Tile", "Purpose", "Reason", "Outcome")

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        event = self._rows[index.row()]
        if role == Qt.ItemDataRole.ForegroundRole:
            mark = event.mark
            return QBrush(QColor(MARK_COLOURS[mark])) if mark is not None else None
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        tile = event.tile
        values = (
            clock_time(event.time),
            event.seq,
            event_text(event),
            f"{tile[0]}, tile {tile[1]}" if tile else "",
            event.purpose or "",
            event.reason or "",
            event.outcome,
        )
        return values[index.column()]


# ---- the timeline -------------------------------------------------------------------------------


def draw_mark_shape(painter: QPainter, mark: EventMark, centre: QPointF) -> None:
    """A mark's shape (``MARK_SHAPES``) in its colour, edged in the panel's colour."""
    half = MARK_SHAPE_PX / 2
    cx, cy = centre.x(), centre.y()
    path = QPainterPath()
    shape = MARK_SHAPES[mark]
    if shape == "circle":
        path.addEllipse(centre, half, half)
    elif shape == "square":
        path.addRect(QRectF(cx - half + 0.5, cy - half + 0.5, 2 * half - 1, 2 * half - 1))
    else:  # a triangle pointing down at the tick
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(cx - half, cy - half),
                    QPointF(cx + half, cy - half),
                    QPointF(cx, cy + half),
                ]
            )
        )
        path.closeSubpath()
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(palette.PANEL), 1.5))
    painter.setBrush(QColor(MARK_COLOURS[mark]))
    painter.drawPath(path)
    painter.restore()


class ReplayTimeline(QWidget):
    """The session from login to logout: an event tick per pixel column (coloured when it holds
    a denial, revocation or export), locked periods shaded, the replay's moment as a line.
    Press or drag to scrub."""

    scrubbed = Signal(object)  # datetime

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replayTimeline")
        self.setMinimumHeight(TIMELINE_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Session timeline")
        self._replay: SessionReplay | None = None
        self._moment: datetime | None = None
        # Each pixel column's most telling event: a mark, PLAIN_EVENT, or None (no event).
        self._columns: list[EventMark | str | None] = []

    def set_replay(self, replay: SessionReplay | None) -> None:
        self._replay = replay
        self._moment = replay.start if replay is not None else None
        self._columns = []
        self.update()

    def set_moment(self, moment: datetime) -> None:
        self._moment = moment
        self.update()

    def _span(self) -> QRectF:
        """Where the ticks go; the session's start and end times are written below it."""
        return QRectF(8, 4, max(1, self.width() - 16), self.height() - 8 - TIME_LABEL_HEIGHT)

    def x_of(self, moment: datetime) -> float:
        replay = self._replay
        span = self._span()
        if replay is None:
            return span.left()
        total = (replay.end - replay.start).total_seconds()
        fraction = (moment - replay.start).total_seconds() / total if total > 0 else 1.0
        return span.left() + min(1.0, max(0.0, fraction)) * span.width()

    def moment_at(self, x: float) -> datetime | None:
        replay = self._replay
        if replay is None:
            return None
        span = self._span()
        fraction = min(1.0, max(0.0, (x - span.left()) / span.width()))
        return replay.start + (replay.end - replay.start) * fraction

    def _tick_columns(self) -> list[EventMark | str | None]:
        """Per pixel column: its most telling event (denial, revocation, export, then any),
        found by binary search, so a 100,000-event session paints as fast as one of a
        hundred."""
        replay = self._replay
        width = int(self._span().width())
        if replay is None or len(self._columns) == width:
            return self._columns
        columns: list[EventMark | str | None] = []
        left = -1  # the last event of the column before
        for column in range(width):
            moment = self.moment_at(self._span().left() + column + 1)
            assert moment is not None
            right = replay.index_at(moment) if column < width - 1 else len(replay.events) - 1
            tick: EventMark | str | None = None
            if right > left:
                tick = PLAIN_EVENT
                for mark in (EventMark.EXPORT, EventMark.REVOCATION, EventMark.DENIAL):
                    found = replay.next_mark(mark, left)
                    if found is not None and found <= right:
                        tick = mark
            columns.append(tick)
            left = max(left, right)
        self._columns = columns
        return columns

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._columns = []  # one tick per pixel column: count them again
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(palette.PANEL))
        span = self._span()
        painter.setPen(QPen(QColor(palette.BORDER)))
        painter.drawRect(span.adjusted(-1, -1, 0, 0))
        replay = self._replay
        if replay is not None:
            shade = QColor(palette.BORDER)
            for start, end in replay.session.locked:
                left = self.x_of(start)
                right = self.x_of(end if end is not None else replay.end)
                painter.fillRect(
                    QRectF(left, span.top(), max(1, right - left), span.height()), shade
                )
            shaped_until = -math.inf  # shapes never overlap: the first of a run has one
            for column, tick in enumerate(self._tick_columns()):
                if tick is None:
                    continue
                x = span.left() + column + 0.5
                marked = isinstance(tick, EventMark)
                colour = MARK_COLOURS[tick] if isinstance(tick, EventMark) else palette.TEXT_MUTED
                top = span.top() if marked else span.top() + span.height() * 0.45
                painter.setPen(QPen(QColor(colour), 2 if marked else 1))
                painter.drawLine(QPointF(x, top), QPointF(x, span.bottom()))
                if isinstance(tick, EventMark) and x > shaped_until:
                    draw_mark_shape(painter, tick, QPointF(x, span.top() + MARK_SHAPE_PX / 2))
                    shaped_until = x + MARK_SHAPE_PX + 2
            labels = QRectF(span.left(), span.bottom() + 2, span.width(), TIME_LABEL_HEIGHT)
            painter.setPen(QColor(palette.TEXT_MUTED))
            painter.drawText(labels, Qt.AlignmentFlag.AlignLeft, local_time(replay.start))
            painter.drawText(labels, Qt.AlignmentFlag.AlignRight, local_time(replay.end))
            if self._moment is not None:
                x = self.x_of(self._moment)
                painter.setPen(QPen(QColor(palette.TEXT), 2))
                painter.drawLine(QPointF(x, 2), QPointF(x, span.bottom() + 2))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._scrub(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._scrub(event.position().x())

    def _scrub(self, x: float) -> None:
        moment = self.moment_at(x)
        if moment is not None:
            self.scrubbed.emit(moment)


# ---- the wall tiles and the geofence sketch ------------------------------------------------------


def wall_grids(session: OperatorSession) -> dict[str, int]:
    """The walls the session used, each with the side of the smallest square grid holding its
    highest tile number (the layout itself is not in the audit log)."""
    highest: dict[str, int] = {}
    for event in session.events:
        where = event.tile
        if where is not None:
            highest[where[0]] = max(highest.get(where[0], 1), where[1])
    return {wall: max(1, math.ceil(math.sqrt(top))) for wall, top in sorted(highest.items())}


def tile_text(state: ReplayState | None, wall: str, tile: int) -> str:
    """What tile ``tile`` of ``wall`` showed: its feed, the refusal it showed, or nothing."""
    if state is None:
        return f"Tile {tile}\n—"
    feed = state.feed_on(wall, tile)
    if feed is None:
        refusal = state.refusal_on(wall, tile)
        if refusal is None:
            return f"Tile {tile}\n—"
        why = f"{refusal.reason} " if refusal.reason else ""
        return f"Tile {tile}\ndenied: {refusal.camera_name}\n{why}at {clock_time(refusal.time)}"
    incident = f"incident {feed.incident}" if feed.incident else (feed.purpose or "no purpose")
    camera = (
        feed.camera_name
        if feed.camera_name == feed.camera_id
        else f"{feed.camera_name} ({feed.camera_id})"
    )
    return f"Tile {tile}\n{camera}\n{incident}\nsince {clock_time(feed.since)}"


class ReplayTileGrid(QWidget):
    """Each wall of the session as a grid of tiles, showing the camera and incident of the
    moment; feeds the console did not record a tile for are listed under them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replayTiles")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._tiles: dict[tuple[str, int], QLabel] = {}
        self._grids: dict[str, int] = {}
        self._unplaced = QLabel()
        self._unplaced.setObjectName("mutedText")
        self._unplaced.setWordWrap(True)
        self._holder: QWidget | None = None

    def set_session(self, session: OperatorSession | None) -> None:
        if self._holder is not None:
            self._layout.removeWidget(self._holder)
            self._holder.deleteLater()
        self._tiles.clear()
        self._holder = QWidget(self)
        column = QVBoxLayout(self._holder)
        column.setContentsMargins(0, 0, 0, 0)
        self._grids = wall_grids(session) if session is not None else {}
        for wall, side in self._grids.items():
            title = QLabel(wall.capitalize())
            title.setObjectName("geofenceTitle")
            column.addWidget(title)
            grid = QGridLayout()
            grid.setSpacing(4)
            for number in range(1, side * side + 1):
                label = QLabel()
                label.setFrameShape(QFrame.Shape.StyledPanel)
                label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                label.setWordWrap(True)
                label.setMargin(6)
                label.setMinimumSize(120, 64)
                label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
                grid.addWidget(label, (number - 1) // side, (number - 1) % side)
                self._tiles[(wall, number)] = label
            column.addLayout(grid, 1)
        column.addWidget(self._unplaced)
        self._layout.addWidget(self._holder)
        self.set_state(None)

    def set_state(self, state: ReplayState | None) -> None:
        for (wall, number), label in self._tiles.items():
            label.setText(tile_text(state, wall, number))
            shows_feed = state is not None and state.feed_on(wall, number) is not None
            refused = not shows_feed and state is not None and state.refusal_on(wall, number)
            label.setEnabled(shows_feed or bool(refused))  # empty tiles in the muted colour
            # A refusal in the colour the console's own tile shows it in.
            label.setStyleSheet(f"color: {palette.VIDEO_DENIED};" if refused else "")
        unplaced = [feed for feed in state.feeds if feed.wall is None] if state else []
        self._unplaced.setText(
            "Open without a recorded tile: "
            + ", ".join(f"{feed.camera_name} ({feed.purpose})" for feed in unplaced)
            if unplaced
            else ""
        )
        self._unplaced.setVisible(bool(unplaced))

    def text_of(self, wall: str, tile: int) -> str:
        return self._tiles[(wall, tile)].text()

    @property
    def walls(self) -> dict[str, int]:
        return dict(self._grids)


class GeofenceSketch(QWidget):
    """The geofences drawn by the moment shown: the newest bold, the ones before it faint, on a
    local flat projection (metres east and north of the newest one's centre)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replayGeofences")
        self.setMinimumSize(180, 140)
        self._fences: tuple[DrawnGeofence, ...] = ()

    def set_fences(self, fences: tuple[DrawnGeofence, ...]) -> None:
        if fences != self._fences:
            self._fences = fences
            self.update()

    @staticmethod
    def _points(drawn: DrawnGeofence) -> list[tuple[float, float]]:
        fence = drawn.fence
        if isinstance(fence, GeofenceCircle):
            return [(fence.latitude, fence.longitude)]
        return list(fence.points)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(palette.MAP_BACKGROUND))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self._fences:
            painter.setPen(QColor(palette.TEXT_MUTED))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No geofence drawn yet")
            painter.end()
            return
        newest = self._fences[-1]
        origin = self._points(newest)[0]
        if isinstance(newest.fence, GeofenceCircle):
            origin = (newest.fence.latitude, newest.fence.longitude)
        metres_per_lat = 111_320.0
        metres_per_lon = metres_per_lat * math.cos(math.radians(origin[0]))

        def metres(point: tuple[float, float]) -> tuple[float, float]:
            return (
                (point[1] - origin[1]) * metres_per_lon,
                (point[0] - origin[0]) * metres_per_lat,
            )

        reach = 1.0
        for drawn in self._fences:
            radius = drawn.fence.radius_m if isinstance(drawn.fence, GeofenceCircle) else 0.0
            for point in self._points(drawn):
                east, north = metres(point)
                reach = max(reach, abs(east) + radius, abs(north) + radius)
        scale = (min(self.width(), self.height()) / 2 - 10) / reach
        centre = QPointF(self.width() / 2, self.height() / 2)

        def to_screen(point: tuple[float, float]) -> QPointF:
            east, north = metres(point)
            return QPointF(centre.x() + east * scale, centre.y() - north * scale)

        for number, drawn in enumerate(self._fences):
            latest = number == len(self._fences) - 1
            edge = QColor(palette.MAP_GEOFENCE)
            edge.setAlpha(255 if latest else 90)
            fill = QColor(palette.MAP_GEOFENCE)
            fill.setAlpha(palette.MAP_GEOFENCE_FILL_ALPHA if latest else 0)
            painter.setPen(QPen(edge, 2 if latest else 1))
            painter.setBrush(QBrush(fill))
            fence = drawn.fence
            if isinstance(fence, GeofenceCircle):
                radius = fence.radius_m * scale
                middle = to_screen((fence.latitude, fence.longitude))
                painter.drawEllipse(middle, radius, radius)
                if latest:  # the centre (the incident, as a rule) and the radius, measured
                    painter.drawLine(middle + QPointF(-5, 0), middle + QPointF(5, 0))
                    painter.drawLine(middle + QPointF(0, -5), middle + QPointF(0, 5))
                    painter.drawLine(middle, middle + QPointF(radius, 0))
                    painter.setPen(QColor(palette.TEXT))
                    painter.drawText(
                        QRectF(middle.x(), middle.y() - 22, radius, 20),
                        Qt.AlignmentFlag.AlignCenter,
                        distance_text(fence.radius_m),
                    )
            else:
                path = QPainterPath()
                path.addPolygon(QPolygonF([to_screen(point) for point in fence.points]))
                path.closeSubpath()
                painter.drawPath(path)
        painter.end()


def geofence_line(drawn: DrawnGeofence) -> str:
    fence = drawn.fence
    if isinstance(fence, GeofenceCircle):
        shape = (
            f"circle, centre {fence.latitude:.6f}, {fence.longitude:.6f}, "
            f"radius {distance_text(fence.radius_m)}"
        )
    else:
        corners = "; ".join(f"{lat:.6f}, {lon:.6f}" for lat, lon in fence.points)
        shape = f"polygon of {len(fence.points)} corners ({corners})"
    found = f", {drawn.results} cameras" if drawn.results is not None else ""
    incident = f", incident {drawn.incident}" if drawn.incident else ""
    return f"{clock_time(drawn.time)}: {shape}{incident}{found}"


# ---- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """Who made the report, when, from where."""

    source: str
    generated_at: datetime
    generated_by: str


@dataclass(frozen=True, slots=True)
class _FeedSpan:
    opened: ReplayEvent
    closed: ReplayEvent | None


def _feed_spans(events: Sequence[ReplayEvent]) -> list[_FeedSpan]:
    """Each feed allowed in the session with the event that closed it (None: still open)."""
    spans: list[_FeedSpan] = []
    open_spans: list[int] = []
    for event in events:
        if event.event_type == AuditEventType.FEED_ALLOWED:
            open_spans.append(len(spans))
            spans.append(_FeedSpan(event, None))
        elif event.event_type == AuditEventType.FEED_CLOSED:
            candidates = [i for i in open_spans if spans[i].opened.camera_id == event.camera_id]
            exact = [i for i in candidates if spans[i].opened.tile == event.tile]
            chosen = next(iter(exact or candidates), None)
            if chosen is not None:
                spans[chosen] = _FeedSpan(spans[chosen].opened, event)
                open_spans.remove(chosen)
    return spans


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table border="1" cellspacing="0" cellpadding="4"><tr>{head}</tr>{body}</table>'


def chain_statement(check: ChainCheck, session: OperatorSession) -> str:
    """Whether the session's own events lie inside what the chain verification covered."""
    first, last = session.first_seq, session.last_seq
    if check.covers(first, last):
        return f"This session's events ({first} to {last}) are all inside the verified range."
    if check.first_bad_seq is not None and check.first_bad_seq <= last:
        return (
            f"This session's events ({first} to {last}) reach the break at event "
            f"{check.first_bad_seq}: what follows it in this report cannot be trusted."
        )
    return f"This session's events ({first} to {last}) are NOT all inside the verified range."


def session_report_html(replay: SessionReplay, check: ChainCheck, facts: ReportFacts) -> str:
    """The session as a self-contained HTML report: who, where, when, every feed with its tile,
    incident, opening and closing and why, the denials, revocations, exports and geofences,
    and the chain verification result."""
    session = replay.session
    events = replay.events
    feeds = [
        (
            span.opened.subject or span.opened.camera_id or "",
            f"{span.opened.tile[0]}, tile {span.opened.tile[1]}" if span.opened.tile else "",
            span.opened.incident or span.opened.purpose or "",
            local_time(span.opened.time),
            local_time(span.closed.time) if span.closed else "still open at the session's end",
            (span.closed.reason or "") if span.closed else "",
        )
        for span in _feed_spans(events)
    ]

    def marked(mark: EventMark) -> list[tuple[object, ...]]:
        return [
            (
                event.seq,
                local_time(event.time),
                event_text(event),
                event.incident or event.purpose or "",
                event.reason or str(event.details.get("path") or ""),
            )
            for event in events
            if event.mark is mark
        ]

    fences = [
        (event.seq, geofence_line(drawn))
        for index, event in enumerate(events)
        if event.event_type == AuditEventType.GEOFENCE_QUERY
        for drawn in replay.state_after(index).geofences[-1:]
        if drawn.seq == event.seq
    ]
    locked = [
        (local_time(start), local_time(end) if end is not None else "the session's end")
        for start, end in session.locked
    ]
    mark_headers = ("Seq", "Time", "Event", "Incident or purpose", "Reason or file")
    verdict_colour = "#1c6b3a" if check.intact else "#a01b1b"
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in check.notes)
    esc = html.escape
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Session of {esc(session.actor)} on {esc(session.workstation)}</title>
<style>
body {{ font-family: sans-serif; font-size: 10pt; color: #111; }}
h1 {{ font-size: 15pt; }} h2 {{ font-size: 12pt; margin-top: 14pt; }}
table {{ border-collapse: collapse; }} th {{ background: #e4e7eb; text-align: left; }}
.verdict {{ color: {verdict_colour}; font-weight: bold; }}
</style></head><body>
<h1>Session replay report: {esc(session.actor)} on {esc(session.workstation)}</h1>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Operator</th><td>{esc(session.actor)} ({esc(session.role or "role not recorded")})</td></tr>
<tr><th>Workstation</th><td>{esc(session.workstation)}</td></tr>
<tr><th>Signed in</th><td>{esc(local_time(session.start))}</td></tr>
<tr><th>Until</th><td>{esc(local_time(session.end))} ({esc(session.ended_by)}),
 {esc(duration_text(session.end - session.start))}</td></tr>
<tr><th>Events</th><td>{len(events)} (seq {session.first_seq} to {session.last_seq})</td></tr>
<tr><th>Source</th><td>{esc(facts.source)}</td></tr>
<tr><th>Report</th><td>made {esc(local_time(facts.generated_at))} by
 {esc(facts.generated_by)}</td></tr>
</table>
<h2>Chain verification</h2>
<p class="verdict">{esc(check.summary)}</p>
<p>{esc(chain_statement(check, session))}</p>
<ul>{notes}</ul>
<h2>Feeds ({len(feeds)})</h2>
{_table(("Camera", "Tile", "Incident or purpose", "Opened", "Closed", "Why closed"), feeds)}
<h2>Denials ({session.count(EventMark.DENIAL)})</h2>
{_table(mark_headers, marked(EventMark.DENIAL))}
<h2>Revocations ({session.count(EventMark.REVOCATION)})</h2>
{_table(mark_headers, marked(EventMark.REVOCATION))}
<h2>Exports ({session.count(EventMark.EXPORT)})</h2>
{_table(mark_headers, marked(EventMark.EXPORT))}
<h2>Geofences ({len(fences)})</h2>
{_table(("Seq", "Geofence"), fences)}
<h2>Locked</h2>
{_table(("From", "Until"), locked)}
</body></html>
"""


def write_report(
    path: Path,
    data: bytes,
    *,
    audit: AuditLog,
    actor: str,
    session: OperatorSession,
    check: ChainCheck,
    source_kind: str,
) -> str:
    """Write the report under a temporary name, record it, then rename: no report file without
    its audit_export event. Its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        audit.record(
            AuditEventType.AUDIT_EXPORT,
            actor=actor,
            subject=f"session of {session.actor} on {session.workstation}",
            outcome=Outcome.SUCCESS,
            details={
                "kind": "session_report",
                "format": path.suffix.lstrip(".").lower(),
                "source": source_kind,
                "workstation": session.workstation,
                "session_actor": session.actor,
                "first_seq": session.first_seq,
                "last_seq": session.last_seq,
                "chain": "intact" if check.intact else "not verified",
                "sha256": digest,
                "bytes": len(data),
                "path": str(path),
            },
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return digest


# ---- the replay window --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Loaded:
    workstation: str
    sessions: list[OperatorSession]
    check: ChainCheck


class AuditReplay(QWidget):
    """The supervisor's replay window (see the module's docstring)."""

    message = Signal(str)
    report_written = Signal(object)  # Path

    def __init__(
        self,
        *,
        jobs: BackgroundJobs,
        audit: AuditLog,
        user: SignedInUser,
        sources: Sequence[tuple[str, ReplaySource]],
        export_dir: Path,
        store_token: Callable[[str], None] | None = None,
        clock: Clock = utc_now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("auditReplay")
        self.setWindowTitle("Beacon — session replay")
        self._jobs = jobs
        self._audit = audit
        self._user = user
        self._sources = list(sources)
        self._export_dir = export_dir
        self._store_token = store_token
        self._clock = clock
        self._loaded: _Loaded | None = None
        self._replay: SessionReplay | None = None
        self._moment: datetime | None = None
        self._state: ReplayState | None = None
        self._speed = SPEEDS[0]
        self._request = 0  # the newest load wins when the supervisor clicks faster than the disk
        self._elapsed = QElapsedTimer()
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(PLAY_TICK_MS)
        self._play_timer.timeout.connect(self._tick)
        self._build()
        self.load_workstations()

    # ---- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.source_box = QComboBox()
        self.source_box.setAccessibleName("Source of the events")
        for name, _source in self._sources:
            self.source_box.addItem(name)
        self.source_box.currentIndexChanged.connect(lambda _index: self.load_workstations())
        self.token_button = QPushButton("Token…")
        self.token_button.setToolTip("Store your supervisor token for the sync server")
        self.token_button.setVisible(self._store_token is not None)
        self.token_button.clicked.connect(self._ask_token)
        self.reload_button = QPushButton("Reload")
        self.reload_button.clicked.connect(self.load_workstations)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.chain_label = QLabel()
        self.chain_label.setWordWrap(True)
        self.chain_label.setAccessibleName("Chain verification")
        top = QHBoxLayout()
        top.addWidget(QLabel("Source"))
        top.addWidget(self.source_box, 1)
        top.addWidget(self.token_button)
        top.addWidget(self.reload_button)

        self.workstation_list = QListWidget()
        self.workstation_list.setObjectName("replayWorkstations")
        self.workstation_list.setAccessibleName("Workstations")
        self.workstation_list.currentTextChanged.connect(self._workstation_chosen)
        self.session_model = SessionTableModel()
        self.session_table = row_table_view(self.session_model, "replaySessions", "Sessions")
        self.session_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.session_table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._session_chosen(current)
        )
        sessions_column = self._titled("Sessions", self.session_table, self.chain_label)
        pickers = QSplitter(Qt.Orientation.Horizontal)
        pickers.addWidget(self._titled("Workstations", self.workstation_list))
        pickers.addWidget(sessions_column)
        pickers.setSizes([200, 900])

        self.timeline = ReplayTimeline()
        self.timeline.scrubbed.connect(self.seek)
        self.position_label = QLabel(NO_SESSION_TEXT)
        self.position_label.setObjectName("mutedText")
        self._build_transport()

        self.tile_grid = ReplayTileGrid()
        self.focus_label = QLabel()
        self.focus_label.setWordWrap(True)
        self.geofence_sketch = GeofenceSketch()
        self.geofence_label = QLabel()
        self.geofence_label.setObjectName("mutedText")
        self.geofence_label.setWordWrap(True)
        map_column = QWidget()
        map_layout = QVBoxLayout(map_column)
        map_layout.setContentsMargins(0, 0, 0, 0)
        map_layout.addWidget(self._heading("Geofences drawn"))
        map_layout.addWidget(self.geofence_sketch, 1)
        map_layout.addWidget(self.geofence_label)
        wall_column = QWidget()
        wall_layout = QVBoxLayout(wall_column)
        wall_layout.setContentsMargins(0, 0, 0, 0)
        wall_layout.addWidget(self.focus_label)
        wall_layout.addWidget(self.tile_grid, 1)
        screens = QSplitter(Qt.Orientation.Horizontal)
        screens.addWidget(wall_column)
        screens.addWidget(map_column)
        screens.setSizes([800, 320])

        self.event_model = EventTableModel()
        self.event_table = row_table_view(self.event_model, "replayEvents", "Events")
        self.event_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.event_table.clicked.connect(lambda index: self.jump_to(index.row()))

        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(pickers)
        body.addWidget(screens)
        body.addWidget(self.event_table)
        body.setSizes([220, 400, 240])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error_label)
        layout.addWidget(self.timeline)
        layout.addLayout(self.transport)
        layout.addWidget(body, 1)
        self._set_session_controls(False)

    def _build_transport(self) -> None:
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.play_action = shortcut_action(self, "Play", "Space", self.toggle_play, context)
        self.play_button = action_button(self.play_action)
        self.play_button.setObjectName("primaryButton")
        self.speed_box = QComboBox()
        self.speed_box.setAccessibleName("Playback speed")
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed}x", speed)
        self.speed_box.currentIndexChanged.connect(
            lambda index: self.set_speed(int(self.speed_box.itemData(index)))
        )
        self.step_back_action = shortcut_action(
            self, "Previous event", "Left", lambda: self._step(-1), context
        )
        self.step_action = shortcut_action(
            self, "Next event", "Right", lambda: self._step(1), context
        )
        # Two rows, playback and the jumps: one row of all of them needs 1700 pixels, more than a
        # laptop or a 4K screen at 150 % has (tests/widgets/test_readability.py).
        playback, jumps = QHBoxLayout(), QHBoxLayout()
        self.transport = QVBoxLayout()
        self.transport.addLayout(playback)
        self.transport.addLayout(jumps)
        playback.addWidget(self.play_button)
        playback.addWidget(self.speed_box)
        playback.addWidget(action_button(self.step_back_action))
        playback.addWidget(action_button(self.step_action))
        self.jump_actions: dict[tuple[EventMark, int], Any] = {}
        for mark in EventMark:
            key = MARK_KEYS[mark]
            for direction, keys, text in (
                (-1, f"Shift+{key}", f"◀ {mark.value}"),
                (1, key, f"{mark.value} ▶"),
            ):
                where = "previous" if direction < 0 else "next"
                action = shortcut_action(
                    self,
                    text,
                    keys,
                    self._jump_slot(mark, direction),
                    context,
                )
                action.setToolTip(f"Jump to the {where} {mark.value} ({keys})")
                self.jump_actions[(mark, direction)] = action
                button = action_button(action)
                button.setProperty("mark", mark.value)  # its colour: theme.qss
                jumps.addWidget(button)
        jumps.addStretch(1)
        playback.addStretch(1)
        playback.addWidget(self.position_label)
        playback.addStretch(1)
        self.report_action = shortcut_action(
            self, "Export report…", "Ctrl+E", self.ask_report_path, context
        )
        playback.addWidget(action_button(self.report_action))

    def _jump_slot(self, mark: EventMark, direction: int) -> Callable[[], None]:
        return lambda: self.jump(mark, direction)

    def _heading(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("geofenceTitle")
        return label

    def _titled(self, title: str, *widgets: QWidget) -> QWidget:
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._heading(title))
        for widget in widgets:
            layout.addWidget(widget)
        return holder

    def _set_session_controls(self, enabled: bool) -> None:
        for action in (
            self.play_action,
            self.step_back_action,
            self.step_action,
            self.report_action,
            *self.jump_actions.values(),
        ):
            action.setEnabled(enabled)
        self.speed_box.setEnabled(enabled)

    # ---- sources, workstations, sessions --------------------------------------------------

    @property
    def source(self) -> ReplaySource:
        return self._sources[max(0, self.source_box.currentIndex())][1]

    @property
    def source_kind(self) -> str:
        return self.source.kind

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def load_workstations(self) -> None:
        self._request += 1
        request, source = self._request, self.source
        self._show_error("")
        self.workstation_list.clear()
        self._show_sessions(None)
        self._jobs.submit(
            f"Reading the workstations of {source.name}",
            source.workstations,
            lambda names: self._workstations_loaded(request, names),
            lambda error: self._failed(request, error),
            owner=self,
        )

    def _workstations_loaded(self, request: int, names: list[str]) -> None:
        if request != self._request:
            return
        if not names:
            self._show_error(f"{self.source.name} holds no events yet.")
            return
        self.workstation_list.addItems(names)
        self.workstation_list.setCurrentRow(0)

    def _failed(self, request: int, error: Exception) -> None:
        if request == self._request:
            self._show_error(f"Could not read {self.source.name}: {error}")

    def _workstation_chosen(self, workstation: str) -> None:
        if not workstation:
            return
        self._request += 1
        request, source = self._request, self.source
        self._show_sessions(None)

        def work() -> _Loaded:
            loaded: LoadedEvents = source.load(workstation)
            return _Loaded(workstation, find_sessions(loaded.events), loaded.check)

        self._jobs.submit(
            f"Reading the sessions of {workstation}",
            work,
            lambda loaded: self._sessions_loaded(request, loaded),
            lambda error: self._failed(request, error),
            owner=self,
        )

    def _sessions_loaded(self, request: int, loaded: _Loaded) -> None:
        if request != self._request:
            return
        self._show_sessions(loaded)
        if not loaded.sessions:
            self._show_error(f"No sign-in of any operator on {loaded.workstation} in this source.")

    def _show_sessions(self, loaded: _Loaded | None) -> None:
        self._loaded = loaded
        self.session_model.replace_rows(loaded.sessions if loaded is not None else [])
        self.session_table.resizeColumnsToContents()
        check = loaded.check if loaded is not None else None
        self.chain_label.setText(f"Chain verification: {check.summary}" if check else "")
        # Red when the chain does not vouch for these events, muted when it does.
        self.chain_label.setObjectName("mutedText" if check and check.intact else "errorText")
        self.chain_label.style().unpolish(self.chain_label)
        self.chain_label.style().polish(self.chain_label)
        self._set_replay(None)

    def _session_chosen(self, current: QModelIndex) -> None:
        loaded = self._loaded
        if loaded is None or not current.isValid():
            return
        session = loaded.sessions[current.row()]
        self._request += 1
        request = self._request
        audit, actor, kind = self._audit, self._user.username, self.source_kind

        def work() -> SessionReplay:
            # Opening someone's session is itself a fact for the audit log.
            audit.record(
                AuditEventType.AUDIT_READ,
                actor=actor,
                subject=f"session of {session.actor} on {session.workstation}",
                details={
                    "action": "replay",
                    "source": kind,
                    "workstation": session.workstation,
                    "session_actor": session.actor,
                    "first_seq": session.first_seq,
                    "last_seq": session.last_seq,
                },
            )
            return SessionReplay(session)

        def failed(error: Exception) -> None:
            if request != self._request:
                return
            if isinstance(error, AuditWriteError):
                self._show_error(
                    "The replay could not be recorded in the audit log, so it is not shown. "
                    "Free disk space on this workstation or call the administrator."
                )
            else:
                self._show_error(f"The session could not be replayed: {error}")

        self._jobs.submit(
            f"Opening the session of {session.actor}",
            work,
            lambda replay: self._replay_ready(request, replay),
            failed,
            owner=self,
        )

    def _replay_ready(self, request: int, replay: SessionReplay) -> None:
        if request == self._request:
            self._set_replay(replay)

    def select_session(self, row: int) -> None:
        self.session_table.selectRow(row)
        self.session_table.setCurrentIndex(self.session_model.index(row, 0))

    @property
    def sessions(self) -> Sequence[OperatorSession]:
        return self.session_model.rows

    # ---- the replay ------------------------------------------------------------------------

    @property
    def replay(self) -> SessionReplay | None:
        return self._replay

    @property
    def moment(self) -> datetime | None:
        return self._moment

    @property
    def state(self) -> ReplayState | None:
        return self._state

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    @property
    def check(self) -> ChainCheck | None:
        return self._loaded.check if self._loaded is not None else None

    def _set_replay(self, replay: SessionReplay | None) -> None:
        self.pause()
        self._replay = replay
        self.timeline.set_replay(replay)
        self.tile_grid.set_session(replay.session if replay is not None else None)
        self.event_model.replace_rows(replay.events if replay is not None else [])
        self.event_table.resizeColumnsToContents()  # Qt measures the first 1,000 rows
        self._set_session_controls(replay is not None)
        if replay is None:
            self._moment = self._state = None
            self.position_label.setText(NO_SESSION_TEXT)
            self.focus_label.setText("")
            self.geofence_sketch.set_fences(())
            self.geofence_label.setText("")
            return
        self.seek(replay.start)

    def seek(self, moment: datetime) -> None:
        """Show the console as it was at ``moment`` (clamped to the session)."""
        replay = self._replay
        if replay is None:
            return
        moment = min(max(moment, replay.start), replay.end)
        self._show(replay.state_at(moment))

    def jump_to(self, index: int) -> None:
        """Show the moment right after event ``index``."""
        replay = self._replay
        if replay is None or not 0 <= index < len(replay.events):
            return
        self._show(replay.state_after(index))

    def jump(self, mark: EventMark, direction: int) -> None:
        replay, state = self._replay, self._state
        if replay is None or state is None:
            return
        index = (
            replay.next_mark(mark, state.event_index)
            if direction > 0
            else replay.previous_mark(mark, state.event_index)
        )
        if index is None:
            where = "after" if direction > 0 else "before"
            self.message.emit(f"No {mark.value} {where} this moment.")
            self.position_label.setText(f"No {mark.value} {where} this moment.")
            return
        self.pause()
        self.jump_to(index)

    def _step(self, direction: int) -> None:
        if self._state is not None:
            self.pause()
            self.jump_to(self._state.event_index + direction)

    def _show(self, state: ReplayState) -> None:
        replay = self._replay
        assert replay is not None
        changed = self._state is None or (
            state.event_index != self._state.event_index
            or state.feeds != self._state.feeds
            or state.geofences != self._state.geofences
        )
        self._moment = state.moment
        self._state = state
        self.timeline.set_moment(state.moment)
        total = len(replay.events)
        counts = ", ".join(count_text(replay.session.count(mark), mark) for mark in EventMark)
        locked = " · LOCKED" if state.locked else ""
        self.position_label.setText(
            f"{local_time(state.moment)} · event {state.event_index + 1} of {total}{locked}"
            f" · {counts}"
        )
        if not changed:
            return
        self.tile_grid.set_state(state)
        self.focus_label.setText(
            f"Incident in focus: {state.incident}" if state.incident else "No incident in focus"
        )
        self.geofence_sketch.set_fences(state.geofences)
        self.geofence_label.setText("\n".join(geofence_line(d) for d in reversed(state.geofences)))
        if state.event_index >= 0:
            self.event_table.selectRow(state.event_index)
            self.event_table.scrollTo(
                self.event_model.index(state.event_index, 0),
                QAbstractItemView.ScrollHint.PositionAtCenter,
            )
        else:
            self.event_table.clearSelection()

    # ---- playing -----------------------------------------------------------------------------

    def set_speed(self, speed: int) -> None:
        if speed not in SPEEDS:
            raise ValueError(f"the replay plays at {', '.join(f'{s}x' for s in SPEEDS)}")
        self._speed = speed
        index = self.speed_box.findData(speed)
        if index != self.speed_box.currentIndex():
            self.speed_box.setCurrentIndex(index)

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        replay = self._replay
        if replay is None:
            return
        if self._moment is not None and self._moment >= replay.end:
            self.seek(replay.start)
        self._elapsed.start()
        self._play_timer.start()
        self.play_action.setText("Pause")

    def pause(self) -> None:
        self._play_timer.stop()
        self.play_action.setText("Play")

    def _tick(self) -> None:
        replay, moment = self._replay, self._moment
        if replay is None or moment is None:
            self.pause()
            return
        elapsed_ms = self._elapsed.restart()
        moment += timedelta(milliseconds=elapsed_ms * self._speed)
        if moment >= replay.end:
            moment = replay.end
            self.pause()
        self.seek(moment)

    # ---- tokens and reports -------------------------------------------------------------------

    def _ask_token(self) -> None:
        store = self._store_token
        if store is None:
            return
        token, accepted = QInputDialog.getText(
            self,
            "Supervisor token",
            "Paste the supervisor token the sync server's administrator gave you.\n"
            "It is kept in this workstation's keyring.",
            QLineEdit.EchoMode.Password,
        )
        if not accepted:
            return
        self._jobs.submit(
            "Storing the supervisor token",
            lambda: store(token),
            lambda _: self.load_workstations(),
            lambda error: self._show_error(f"The token was not stored: {error}"),
            owner=self,
        )

    def ask_report_path(self) -> None:
        replay = self._replay
        if replay is None:
            return
        session = replay.session
        name = (
            f"session-{session.workstation}-{session.actor}-"
            f"{session.start.astimezone():%Y%m%d-%H%M%S}.pdf"
        )
        path, _chosen = QFileDialog.getSaveFileName(
            self,
            "Export the session report",
            str(self._export_dir / name),
            "PDF (*.pdf);;HTML (*.html)",
        )
        if path:
            self.export_report(Path(path))

    def export_report(self, path: Path) -> None:
        """Write the session's report to ``path`` (.pdf or .html) off the UI thread, audited."""
        replay, loaded = self._replay, self._loaded
        if replay is None or loaded is None:
            return
        suffix = path.suffix.lower()
        if suffix not in (".pdf", ".html", ".htm"):
            self._show_error(f"{path.name}: a report is a .pdf or an .html file")
            return
        facts = ReportFacts(self.source.name, self._clock(), self._user.username)
        report_html = session_report_html(replay, loaded.check, facts)
        # Laid out here (Qt text layout belongs to the UI thread), in memory; written by a job.
        data = (
            pdf_bytes(report_html, title=REPORT_TITLE)
            if suffix == ".pdf"
            else report_html.encode("utf-8")
        )
        audit, actor, kind, check = self._audit, self._user.username, self.source_kind, loaded.check
        session = replay.session

        def work() -> str:
            path.parent.mkdir(parents=True, exist_ok=True)
            return write_report(
                path,
                data,
                audit=audit,
                actor=actor,
                session=session,
                check=check,
                source_kind=kind,
            )

        def done(digest: str) -> None:
            self._show_error("")
            self.message.emit(f"Report saved: {path} (SHA-256 {digest[:16]}…)")
            self.report_written.emit(path)

        def failed(error: Exception) -> None:
            if isinstance(error, AuditWriteError):
                self._show_error(
                    "The report was not saved: it could not be recorded in the audit log."
                )
            else:
                self._show_error(f"The report was not saved: {error}")

        self._jobs.submit("Writing the session report", work, done, failed, owner=self)
