"""What the camera list and the incident panel show, read from the registry as plain values.

These functions run inside a background job with a session opened in the worker thread; they
return frozen dataclasses, which can cross to the UI thread (ORM objects cannot). No Qt here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.camera import Camera, CameraTier
from app.models.incident import Incident, IncidentStatus
from app.models.sharing_policy import PolicyError, PolicyMode, in_any_window

SessionFactory = Callable[[], Session]


@dataclass(frozen=True, slots=True)
class CameraRow:
    camera_id: str
    name: str
    tier: CameraTier
    policy_now: str  # the owner's policy as it applies at the time of the read
    address: str


@dataclass(frozen=True, slots=True)
class IncidentRow:
    cad_number: str
    received_at: datetime  # UTC; shown in local time
    priority: int
    incident_type: str
    address: str
    status: IncidentStatus
    emergency: bool


def policy_now_text(camera: Camera, now: datetime) -> str:
    """The sharing policy in the words an operator needs: may this camera be opened now?"""
    if camera.tier is CameraTier.REGISTERED:
        return "no live feed"
    policy = camera.current_policy
    if policy is None:
        return "no policy set"
    if policy.mode is PolicyMode.CONTINUOUS:
        return "continuous"
    if policy.mode is PolicyMode.EMERGENCY_ONLY:
        return "emergency only"
    if policy.mode is PolicyMode.REVOKED:
        return "revoked"
    try:
        open_now = in_any_window(policy.windows, policy.time_zone, now)
    except PolicyError:
        return "scheduled (invalid windows)"
    return "scheduled, open now" if open_now else "scheduled, closed now"


def read_camera_rows(sessions: SessionFactory, now: datetime) -> list[CameraRow]:
    with sessions() as session:
        cameras = session.scalars(
            select(Camera).options(selectinload(Camera.policies)).order_by(Camera.id)
        )
        return [
            CameraRow(
                camera_id=camera.id,
                name=camera.name,
                tier=camera.tier,
                policy_now=policy_now_text(camera, now),
                address=camera.address,
            )
            for camera in cameras
        ]


def read_incident_rows(sessions: SessionFactory) -> list[IncidentRow]:
    with sessions() as session:
        return incident_rows(session)


def incident_rows(session: Session) -> list[IncidentRow]:
    return [
        IncidentRow(
            cad_number=incident.cad_number,
            received_at=incident.received_at,
            priority=incident.priority,
            incident_type=incident.incident_type,
            address=incident.address,
            status=incident.status,
            emergency=incident.emergency,
        )
        for incident in session.scalars(select(Incident))
    ]


def triage_order(row: IncidentRow) -> tuple[bool, int, float]:
    """The panel's default order: open before closed, then most urgent, then newest."""
    return (row.status is IncidentStatus.CLOSED, row.priority, -row.received_at.timestamp())
