"""What the camera map draws, as numpy arrays built off the UI thread.

Cameras come from the camera rows the console already reads (with their policy state at the time
of the read); units and open incidents are read here, in a background job, on the map's own
refresh. Positions are projected to Web Mercator once, here, so a frame only scales and culls.
No Qt here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.camera_clusters import ClusterLevel, cluster_pyramid
from app.models.incident import Incident, IncidentStatus
from app.models.unit import Unit
from app.models.web_mercator import to_mercator_arrays
from app.services.registry_rows import CameraRow, PolicyNow

SessionFactory = Callable[[], Session]
FloatArray = npt.NDArray[np.float64]

# A camera's state as a small integer in the arrays: its index here.
POLICY_STATES: tuple[PolicyNow, ...] = tuple(PolicyNow)
STATE_CODES: dict[PolicyNow, int] = {state: code for code, state in enumerate(POLICY_STATES)}
Bounds = tuple[float, float, float, float]  # west, south, east, north in projected metres


def _bounds(x: FloatArray, y: FloatArray) -> Bounds | None:
    if len(x) == 0:
        return None
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


@dataclass(frozen=True, eq=False)
class CameraFeatures:
    """Every camera of one read, index-aligned: ``rows[i]`` is drawn at ``(x[i], y[i])``."""

    rows: tuple[CameraRow, ...]
    index: dict[str, int]  # camera id -> position in the arrays
    x: FloatArray  # projected metres
    y: FloatArray
    heading_deg: FloatArray  # compass: clockwise from north
    fov_deg: FloatArray
    reach: FloatArray  # how far it sees, in projected metres (range_m times the scale factor)
    state: npt.NDArray[np.uint8]  # STATE_CODES
    clusters: dict[int, ClusterLevel]
    bounds: Bounds | None

    def __len__(self) -> int:
        return len(self.rows)


def camera_features(rows: Sequence[CameraRow]) -> CameraFeatures:
    """Arrays and the cluster pyramid of ``rows`` (about 0.3 s per 100,000 cameras)."""
    rows = tuple(rows)
    latitudes = np.fromiter((row.latitude for row in rows), np.float64, len(rows))
    longitudes = np.fromiter((row.longitude for row in rows), np.float64, len(rows))
    x, y = to_mercator_arrays(latitudes, longitudes)
    codes = np.fromiter((STATE_CODES[row.policy_state] for row in rows), np.uint8, len(rows))
    ranges = np.fromiter((row.range_m for row in rows), np.float64, len(rows))
    return CameraFeatures(
        rows=rows,
        index={row.camera_id: number for number, row in enumerate(rows)},
        x=x,
        y=y,
        heading_deg=np.fromiter((row.heading_deg for row in rows), np.float64, len(rows)),
        fov_deg=np.fromiter((row.fov_deg for row in rows), np.float64, len(rows)),
        reach=ranges / np.cos(np.radians(latitudes)),
        state=codes,
        clusters=cluster_pyramid(x, y, codes, len(POLICY_STATES)),
        bounds=_bounds(x, y),
    )


# --- units and incidents ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitPosition:
    unit_id: str  # the call sign
    kind: str
    status: str
    latitude: float
    longitude: float
    heading_deg: float
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IncidentPoint:
    cad_number: str
    incident_type: str
    priority: int  # 1 is the most urgent
    emergency: bool
    status: IncidentStatus
    address: str
    latitude: float
    longitude: float
    received_at: datetime


@dataclass(frozen=True, eq=False)
class UnitFeatures:
    units: tuple[UnitPosition, ...] = ()
    x: FloatArray = field(default_factory=lambda: np.zeros(0))
    y: FloatArray = field(default_factory=lambda: np.zeros(0))
    heading_deg: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.units)


@dataclass(frozen=True, eq=False)
class IncidentFeatures:
    incidents: tuple[IncidentPoint, ...] = ()
    x: FloatArray = field(default_factory=lambda: np.zeros(0))
    y: FloatArray = field(default_factory=lambda: np.zeros(0))
    priority: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.incidents)


def unit_features(units: Sequence[UnitPosition]) -> UnitFeatures:
    units = tuple(units)
    x, y = to_mercator_arrays([u.latitude for u in units], [u.longitude for u in units])
    return UnitFeatures(units, x, y, np.array([u.heading_deg for u in units], np.float64))


def incident_features(incidents: Sequence[IncidentPoint]) -> IncidentFeatures:
    # The most urgent last, so they are drawn on top of the others.
    ordered = tuple(sorted(incidents, key=lambda i: (-i.priority, i.emergency, i.received_at)))
    x, y = to_mercator_arrays([i.latitude for i in ordered], [i.longitude for i in ordered])
    return IncidentFeatures(ordered, x, y, np.array([i.priority for i in ordered], np.int64))


@dataclass(frozen=True, eq=False)
class LiveLayers:
    """Units and open incidents as read together, for one refresh of the map."""

    units: UnitFeatures
    incidents: IncidentFeatures


def read_live_layers(sessions: SessionFactory) -> LiveLayers:
    """Every unit's last position and every open incident (run in a background job)."""
    with sessions() as session:
        units = [
            UnitPosition(
                unit.id,
                unit.kind,
                unit.status,
                unit.latitude,
                unit.longitude,
                unit.heading_deg,
                unit.updated_at,
            )
            for unit in session.scalars(select(Unit).order_by(Unit.id))
        ]
        incidents = [
            IncidentPoint(
                incident.cad_number,
                incident.incident_type,
                incident.priority,
                incident.emergency,
                incident.status,
                incident.address,
                incident.latitude,
                incident.longitude,
                incident.received_at,
            )
            for incident in session.scalars(
                select(Incident).where(Incident.status != IncidentStatus.CLOSED)
            )
        ]
    return LiveLayers(unit_features(units), incident_features(incidents))
