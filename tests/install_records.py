"""What a field technician has on site when saving an install record, for the install record
tests: a check report from the real check engine's judging, a placement, and a snapshot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from app.models import Role
from app.models.camera_placement import CameraPlacement
from app.services.accounts import SignedInUser, create_user
from app.services.audit_log import AuditLog
from app.services.install_check import InstallCheckReport, StreamReport, judge
from app.services.install_records import SavedInstallRecord, Snapshot, save_install_record
from app.video.install_probe import StreamMeasurement
from tests.conftest import ManualClock
from tests.factories import add_camera, add_owner

CAMERA = "cam-harbor-1"
TECHNICIAN = SignedInUser("kim", "Kim Alvarez", Role.FIELD_TECH)
TECHNICIAN_PASSWORD = "ladder-and-drill-42"  # a test account's
STREAM_ADDRESS = "rtsp://***@127.0.0.1:8554/harbor"
# The top-left quarter of the picture, as the technician drew it over the neighbour's window.
WINDOW_MASK = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]


def placement(**changes: object) -> CameraPlacement:
    """The placement the technician set on the Placement tab."""
    values: dict[str, object] = {
        "latitude": 41.8802,
        "longitude": -87.6301,
        "heading_deg": 135.0,
        "fov_deg": 92.0,
        "range_m": 35.0,
        "privacy_masks": [WINDOW_MASK],
    }
    values.update(changes)
    return CameraPlacement(**values)  # type: ignore[arg-type]


def measurement(*, healthy: bool = True, stream: str = "main") -> StreamMeasurement:
    if not healthy:
        return StreamMeasurement(
            stream=stream,  # type: ignore[arg-type]
            address=STREAM_ADDRESS,
            duration_s=10,
            error=f"{STREAM_ADDRESS}: connection refused",
        )
    return StreamMeasurement(
        stream=stream,  # type: ignore[arg-type]
        address=STREAM_ADDRESS,
        duration_s=10,
        connect_ms=120,
        time_to_first_frame_ms=640,
        codec="h264",
        profile="Main",
        width=1920,
        height=1080,
        fps_declared=25,
        fps_measured=25,
        bitrate_kbps=4100,
        keyframe_interval_s=1,
        keyframes=10,
        frames=250,
        dropped_frames=0,
        late_frames=0,
        timestamp_jumps=0,
        disconnects=0,
        stalls=0,
        measured_s=10,
    )


def check_report(camera_id: str = CAMERA, *, healthy: bool = True) -> InstallCheckReport:
    """A finished check of ``camera_id``'s main stream: pass when healthy, else fail."""
    found = measurement(healthy=healthy)
    return InstallCheckReport(
        "camera",
        camera_id,
        TECHNICIAN.username,
        datetime(2026, 11, 18, 15, 20, tzinfo=UTC),
        10,
        [StreamReport(found, judge(found))],
        camera_id=camera_id,
    )


def street_picture(width: int = 640, height: int = 360) -> npt.NDArray[np.uint8]:
    """A bright picture (nothing of it black) of the camera's view, BGR."""
    picture = np.full((height, width, 3), 200, np.uint8)
    picture[:, :, 0] = np.linspace(120, 250, width, dtype=np.uint8)
    return picture


def add_technician_and_camera(sessions: Callable[[], Session], clock: ManualClock) -> None:
    """The technician's account and the camera being installed (with its owner)."""
    with sessions() as session:
        create_user(
            session,
            TECHNICIAN.username,
            TECHNICIAN.display_name,
            Role.FIELD_TECH,
            TECHNICIAN_PASSWORD,
            clock,
        )
        add_owner(session)
        camera = add_camera(session, CAMERA, mode=None, at=clock())
        camera.name = "Harbor Deli front door"
        camera.address = "1200 W Harbor St"
        session.commit()


def save(
    sessions: Callable[[], Session],
    audit: AuditLog,
    clock: ManualClock,
    *,
    healthy: bool = True,
    notes: str = "Mounted under the awning, 3 m up.",
) -> SavedInstallRecord:
    return save_install_record(
        sessions,
        audit,
        camera_id=CAMERA,
        technician=TECHNICIAN,
        workstation="tech-laptop-7",
        report=check_report(healthy=healthy),
        placement=placement(),
        snapshots=[Snapshot(street_picture())],
        notes=notes,
        now=clock(),
    )
