"""The geofence search: every camera inside a circle or polygon, nearest first, each with whether
it may be opened now for the incident at hand; each search recorded in the audit log.

The answer to "may it be opened" comes from the same rules the policy gate applies
(``app.models.policy.decide``), for the signed-in operator and the incident as purpose, on the
owner's terms as last read from the registry. It is advice for the list: opening a feed still
goes through the gate, which reads the registry again and decides for itself.

Searches run in background jobs. The ``CameraCatalog`` (rows and their spatial index) is built
once per registry read, off the UI thread, and never changed afterwards, so concurrent searches
may share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.models.audit_chain import AuditEventType, DetailValue
from app.models.camera import CameraTier
from app.models.geo_index import CameraIndex, polygon_centre
from app.models.geofence import Geofence, GeofenceCircle
from app.models.policy import ActorFacts, Purpose, PurposeKind, decide
from app.models.sharing_policy import PolicyError
from app.services.audit_log import AuditLog
from app.services.registry_rows import CameraRow, IncidentRow, PolicyNow

MAX_LISTED = 2000  # more would be a list nobody reads; the summary says how many were left out
COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
UNREADABLE_SCHEDULE = "the owner's schedule cannot be read"
_SOME_CASE = Purpose(PurposeKind.CASE, "case")


@dataclass(frozen=True, slots=True)
class CameraCatalog:
    """The cameras as last read from the registry, by id and by position."""

    rows: dict[str, CameraRow]
    index: CameraIndex

    @classmethod
    def build(cls, rows: Sequence[CameraRow]) -> CameraCatalog:
        return cls(
            {row.camera_id: row for row in rows},
            CameraIndex.build(
                [row.camera_id for row in rows],
                [row.latitude for row in rows],
                [row.longitude for row in rows],
            ),
        )


@dataclass(frozen=True, slots=True)
class GeofenceHit:
    camera: CameraRow
    distance_m: float
    bearing_deg: float  # from the geofence's reference point, clockwise from true north
    may_open: bool  # for this operator and this incident, now
    why: str  # the rule behind ``may_open``, in the operator's words

    @property
    def needs_footage_request(self) -> bool:
        """Registered cameras, and integrated ones the owner does not share now: their
        recordings can only be asked for."""
        return not self.may_open


@dataclass(frozen=True, slots=True)
class GeofenceResult:
    fence: Geofence
    incident: IncidentRow | None
    reference: tuple[float, float]  # (lat, lon) that distances and directions are measured from
    hits: list[GeofenceHit]  # nearest first, at most ``MAX_LISTED``
    total: int  # cameras inside, listed or not
    searched_at: datetime
    audit_seq: int

    @property
    def allowed_count(self) -> int:
        return sum(hit.may_open for hit in self.hits)

    @property
    def nearest_allowed(self) -> list[str]:
        return [hit.camera.camera_id for hit in self.hits if hit.may_open]


def compass_text(bearing_deg: float) -> str:
    """``"NE 41°"``: the eight-point direction an operator says on the radio, and the degrees."""
    point = COMPASS[round(bearing_deg / 45.0) % 8]
    return f"{point} {round(bearing_deg) % 360:d}°"


def distance_text(distance_m: float) -> str:
    if distance_m < 1000:
        return f"{distance_m:.0f} m"
    return f"{distance_m / 1000:.2f} km"


def fence_text(fence: Geofence) -> str:
    if isinstance(fence, GeofenceCircle):
        return f"within {distance_text(fence.radius_m)}"
    return f"inside a {len(fence.points)}-corner polygon"


def incident_purpose(incident: IncidentRow) -> Purpose:
    return Purpose(PurposeKind.INCIDENT, incident.cad_number)


def _judge(
    row: CameraRow, actor: ActorFacts, incident: IncidentRow | None, now: datetime
) -> tuple[bool, str]:
    if row.policy is None and row.policy_state is PolicyNow.SCHEDULED_CLOSED:
        return False, UNREADABLE_SCHEDULE
    # Without an incident the wall asks for a case number: judge for a case.
    purpose = incident_purpose(incident) if incident is not None else _SOME_CASE
    try:
        decision = decide(_CameraFacts(row), row.policy, actor, purpose, incident, now)
    except (PolicyError, ValueError):  # a time zone this workstation does not know
        return False, UNREADABLE_SCHEDULE
    return decision.allowed, decision.explanation


@dataclass(frozen=True, slots=True)
class _CameraFacts:
    row: CameraRow

    @property
    def id(self) -> str:
        return self.row.camera_id

    @property
    def tier(self) -> CameraTier:
        return self.row.tier


def reference_point(fence: Geofence, incident: IncidentRow | None) -> tuple[float, float]:
    """Where distances are measured from: the circle's centre, else the incident, else the
    middle of the polygon's corners."""
    if isinstance(fence, GeofenceCircle):
        return fence.latitude, fence.longitude
    if incident is not None:
        return incident.latitude, incident.longitude
    return polygon_centre(fence.points)


def search_geofence(
    catalog: CameraCatalog,
    fence: Geofence,
    *,
    incident: IncidentRow | None,
    actor: ActorFacts,
    now: datetime,
    limit: int = MAX_LISTED,
) -> tuple[list[GeofenceHit], int, tuple[float, float]]:
    """The cameras inside ``fence`` (nearest ``limit`` of them, nearest first), their total, and
    the point distances are measured from; raises GeofenceError for a shape that cannot be
    searched (a radius of 0 or beyond 50 km, a polygon that crosses itself)."""
    reference = reference_point(fence, incident)
    if isinstance(fence, GeofenceCircle):
        found = catalog.index.within_radius(fence.latitude, fence.longitude, fence.radius_m)
    else:
        inside = catalog.index.within_polygon(fence.points)
        found = catalog.index.seen_from(*reference, inside)
    hits = []
    for camera_id, distance_m, bearing_deg in found[:limit]:
        row = catalog.rows[camera_id]
        may_open, why = _judge(row, actor, incident, now)
        hits.append(GeofenceHit(row, distance_m, bearing_deg, may_open, why))
    return hits, len(found), reference


def _fence_details(fence: Geofence) -> dict[str, DetailValue]:
    if isinstance(fence, GeofenceCircle):
        return {
            "shape": "circle",
            "latitude": f"{fence.latitude:.6f}",
            "longitude": f"{fence.longitude:.6f}",
            "radius_m": round(fence.radius_m),
        }
    return {
        "shape": "polygon",
        "corners": len(fence.points),
        "polygon": ";".join(f"{lat:.6f},{lon:.6f}" for lat, lon in fence.points),
    }


def run_geofence_search(
    catalog: CameraCatalog,
    fence: Geofence,
    *,
    incident: IncidentRow | None,
    actor: ActorFacts,
    audit: AuditLog,
    limit: int = MAX_LISTED,
) -> GeofenceResult:
    """Search, then record the search (centre and radius or the polygon, and how many cameras
    it found) before anyone sees the answer, as the gate records a decision before a feed; an
    AuditWriteError means no answer."""
    now = audit.now()
    hits, total, reference = search_geofence(
        catalog, fence, incident=incident, actor=actor, now=now, limit=limit
    )
    allowed = sum(hit.may_open for hit in hits)
    receipt = audit.record(
        AuditEventType.GEOFENCE_QUERY,
        actor=actor.username,
        subject=incident.cad_number if incident is not None else "geofence without an incident",
        purpose=str(incident_purpose(incident)) if incident is not None else None,
        details={
            **_fence_details(fence),
            "incident": incident.cad_number if incident is not None else None,
            "results": total,
            "may_open_now": allowed,
        },
    )
    return GeofenceResult(fence, incident, reference, hits, total, now, receipt.seq)
