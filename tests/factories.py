"""Small builders of registry content for tests: real rows in a real database."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app.models import (
    Camera,
    CameraTier,
    Incident,
    IncidentStatus,
    Owner,
    OwnerKind,
    PolicyMode,
    SharingPolicy,
)
from app.services.sqlite_store import REGISTRY, open_database
from app.settings import Settings

ZONE = "America/Chicago"


def metres_east(
    latitude: float, longitude: float, east: float, north: float = 0.0
) -> tuple[float, float]:
    """A point ``east`` and ``north`` metres (on the ground) from another."""
    return (
        latitude + north / 111_320.0,
        longitude + east / (111_320.0 * math.cos(math.radians(latitude))),
    )


def registry_sessions(settings: Settings) -> Callable[[], Session]:
    return sessionmaker(open_database(settings.registry_db, REGISTRY), expire_on_commit=False)


def add_owner(session: Session, owner_id: str = "own-1") -> Owner:
    owner = Owner(id=owner_id, name="Harbor Deli", kind=OwnerKind.BUSINESS, time_zone=ZONE)
    session.add(owner)
    return owner


def add_camera(
    session: Session,
    camera_id: str,
    *,
    mode: PolicyMode | None,
    at: datetime,
    tier: CameraTier = CameraTier.INTEGRATED,
    windows: list[dict[str, str]] | None = None,
    url: str | None = "rtsp://127.0.0.1:8554/cam",
    owner_id: str = "own-1",
) -> Camera:
    camera = Camera(
        id=camera_id,
        owner_id=owner_id,
        name=f"Camera {camera_id}",
        tier=tier,
        latitude=41.88,
        longitude=-87.63,
        main_stream_url=url if tier is CameraTier.INTEGRATED else None,
    )
    session.add(camera)
    if mode is not None:
        set_policy(session, camera_id, mode, at, windows)
    return camera


def set_policy(
    session: Session,
    camera_id: str,
    mode: PolicyMode,
    at: datetime,
    windows: list[dict[str, str]] | None = None,
) -> SharingPolicy:
    versions = [p.version for p in session.query(SharingPolicy).filter_by(camera_id=camera_id)]
    policy = SharingPolicy(
        camera_id=camera_id,
        version=max(versions, default=0) + 1,
        mode=mode,
        time_zone=ZONE,
        window_specs=windows or [],
        changed_at=at,
    )
    policy.check()
    session.add(policy)
    return policy


def add_incident(
    session: Session, cad_number: str, at: datetime, *, emergency: bool = False
) -> Incident:
    incident = Incident(
        cad_number=cad_number,
        incident_type="Burglary in progress",
        priority=1 if emergency else 3,
        latitude=41.88,
        longitude=-87.63,
        address="1200 W Harbor St",
        received_at=at,
        status=IncidentStatus.DISPATCHED,
        emergency=emergency,
    )
    session.add(incident)
    return incident
