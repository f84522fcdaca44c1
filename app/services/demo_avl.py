"""The demo city's AVL: its units drive their streets, so the map shows units moving live.

An agency's AVL positions would arrive through an adapter as CAD records do; the demo has none,
so this moves the demo's units in the registry on every poll of the demo CAD script: units that
are available or en route drive along the street they are on (the demo's streets run east-west
and north-south, and a unit's heading says which) at ``speed_m_s``, turning back at the edge of
the city; units on scene stay put. Positions, headings and ``updated_at`` are written as an AVL
adapter would write them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.unit import Unit
from app.services.demo_city import (
    CENTRE_LAT,
    CENTRE_LON,
    HEIGHT_M,
    METRES_PER_DEG_LAT,
    METRES_PER_DEG_LON,
    WIDTH_M,
)

PATROL_SPEED_M_S = 8.0  # about 18 mph: a patrol car working its beat
MAX_STEP_S = 10.0  # after a pause (a locked console), units do not jump across town


class DemoAvl:
    """Moves the demo's units; called with the CAD poll's session and time."""

    def __init__(self, speed_m_s: float = PATROL_SPEED_M_S) -> None:
        self._speed_m_s = speed_m_s
        self._last: datetime | None = None

    def __call__(self, session: Session, now: datetime) -> int:
        """Move every moving unit for the time since the last call; the number moved."""
        last, self._last = self._last, now
        if last is None or now <= last:
            return 0
        step_m = self._speed_m_s * min((now - last).total_seconds(), MAX_STEP_S)
        moved = 0
        for unit in session.scalars(select(Unit)):
            if unit.status == "on_scene":
                continue
            drive(unit, step_m)
            unit.updated_at = now
            moved += 1
        return moved


def drive(unit: Unit, metres: float) -> None:
    """Drive ``metres`` along the unit's heading, rounded to the street axis it is on; turn
    back at the city's edge."""
    heading = round(unit.heading_deg / 90.0) % 4 * 90.0  # 0 N, 90 E, 180 S, 270 W
    east = (unit.longitude - CENTRE_LON) * METRES_PER_DEG_LON
    north = (unit.latitude - CENTRE_LAT) * METRES_PER_DEG_LAT
    if heading in (90.0, 270.0):
        east, forward = _bounce(east, metres if heading == 90.0 else -metres, WIDTH_M / 2)
        heading = 90.0 if forward else 270.0
    else:
        north, forward = _bounce(north, metres if heading == 0.0 else -metres, HEIGHT_M / 2)
        heading = 0.0 if forward else 180.0
    unit.longitude = CENTRE_LON + east / METRES_PER_DEG_LON
    unit.latitude = CENTRE_LAT + north / METRES_PER_DEG_LAT
    unit.heading_deg = heading


def _bounce(position: float, step: float, half_span: float) -> tuple[float, bool]:
    """Where a move of ``step`` metres (signed) from ``position`` ends within ±half_span,
    turning back at the edges, and whether it ends going the positive way.

    Unfolded, the back-and-forth is one way round a loop of twice the span: going the negative
    way is the loop's second half."""
    span = 2 * half_span
    along = position + half_span
    start = along if step >= 0 else 2 * span - along
    lap = (start + abs(step)) % (2 * span)
    if lap <= span:
        return lap - half_span, True
    return 2 * span - lap - half_span, False
