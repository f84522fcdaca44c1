"""What the camera list, the camera map and the incident panel show, read from the registry
as plain values.

These functions run inside a background job with a session opened in the worker thread; they
return frozen dataclasses, which can cross to the UI thread (ORM objects cannot). No Qt here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.camera import Camera, CameraTier
from app.models.incident import Incident, IncidentStatus
from app.models.sharing_policy import PolicyError, PolicyMode, PolicyTerms, in_any_window
from app.services.address_history import earlier_call_counts

SessionFactory = Callable[[], Session]


class PolicyNow(enum.StrEnum):
    """May the camera be opened at the time of the read: the map's colour and symbol."""

    LIVE_ALLOWED = "live allowed"  # continuous, or inside a scheduled window
    EMERGENCY_ONLY = "emergency only"
    SCHEDULED_CLOSED = "scheduled, closed now"  # also a schedule the gate cannot read
    REVOKED = "revoked"  # also an integrated camera whose owner set no policy yet
    REGISTERED_ONLY = "registered only"  # location and contact only, never a feed


@dataclass(frozen=True, slots=True)
class CameraRow:
    camera_id: str
    name: str
    tier: CameraTier
    policy_now: str  # the owner's policy as it applies at the time of the read
    address: str
    # Where it is and what it sees, for the map (WGS84 degrees; compass heading).
    latitude: float
    longitude: float
    heading_deg: float
    fov_deg: float
    range_m: float
    owner_name: str
    verified_at: datetime | None  # UTC; None when the install was never checked
    policy_state: PolicyNow
    # The owner's terms as read, for the policy rules (a geofence's "may open now for this
    # incident"); None for registered cameras, an integrated one without a policy, or a
    # policy whose windows cannot be read (the gate refuses those too).
    policy: PolicyTerms | None = None


@dataclass(frozen=True, slots=True)
class IncidentRow:
    cad_number: str
    received_at: datetime  # UTC; shown in local time
    priority: int
    incident_type: str
    address: str
    status: IncidentStatus
    emergency: bool
    latitude: float
    longitude: float
    earlier_calls: int = 0  # incidents received before this one at the same address


def policy_now(camera: Camera, now: datetime) -> tuple[PolicyNow, str]:
    """The sharing policy in the words an operator needs: may this camera be opened now?"""
    if camera.tier is CameraTier.REGISTERED:
        return PolicyNow.REGISTERED_ONLY, "no live feed"
    policy = camera.current_policy
    if policy is None:
        return PolicyNow.REVOKED, "no policy set"
    if policy.mode is PolicyMode.CONTINUOUS:
        return PolicyNow.LIVE_ALLOWED, "continuous"
    if policy.mode is PolicyMode.EMERGENCY_ONLY:
        return PolicyNow.EMERGENCY_ONLY, "emergency only"
    if policy.mode is PolicyMode.REVOKED:
        return PolicyNow.REVOKED, "revoked"
    try:
        open_now = in_any_window(policy.windows, policy.time_zone, now)
    except PolicyError:
        return PolicyNow.SCHEDULED_CLOSED, "scheduled (invalid windows)"
    if open_now:
        return PolicyNow.LIVE_ALLOWED, "scheduled, open now"
    return PolicyNow.SCHEDULED_CLOSED, "scheduled, closed now"


def policy_terms(camera: Camera) -> PolicyTerms | None:
    policy = camera.current_policy
    if policy is None:
        return None
    try:
        return policy.terms()
    except PolicyError:
        return None


def camera_row(camera: Camera, now: datetime) -> CameraRow:
    state, text = policy_now(camera, now)
    return CameraRow(
        camera_id=camera.id,
        name=camera.name,
        tier=camera.tier,
        policy_now=text,
        address=camera.address,
        latitude=camera.latitude,
        longitude=camera.longitude,
        heading_deg=camera.heading_deg,
        fov_deg=camera.fov_deg,
        range_m=camera.range_m,
        owner_name=camera.owner.name,
        verified_at=camera.verified_at,
        policy_state=state,
        policy=policy_terms(camera),
    )


def read_camera_rows(sessions: SessionFactory, now: datetime) -> list[CameraRow]:
    with sessions() as session:
        cameras = session.scalars(
            select(Camera)
            .options(selectinload(Camera.policies), selectinload(Camera.owner))
            .order_by(Camera.id)
        )
        return [camera_row(camera, now) for camera in cameras]


def read_incident_rows(sessions: SessionFactory) -> list[IncidentRow]:
    with sessions() as session:
        return incident_rows(session)


def incident_rows(session: Session) -> list[IncidentRow]:
    """Every incident, with the number of earlier calls at its address."""
    rows = [
        IncidentRow(
            cad_number=incident.cad_number,
            received_at=incident.received_at,
            priority=incident.priority,
            incident_type=incident.incident_type,
            address=incident.address,
            status=incident.status,
            emergency=incident.emergency,
            latitude=incident.latitude,
            longitude=incident.longitude,
        )
        for incident in session.scalars(select(Incident))
    ]
    counts = earlier_call_counts(rows)
    return [replace(row, earlier_calls=count) for row, count in zip(rows, counts, strict=True)]


def triage_order(row: IncidentRow) -> tuple[bool, int, float]:
    """The panel's default order: open before closed, then most urgent, then newest."""
    return (row.status is IncidentStatus.CLOSED, row.priority, -row.received_at.timestamp())
