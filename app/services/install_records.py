"""Install records: a field technician's install check saved with the camera, audited, queued
for the sync server.

``save_install_record`` takes what the technician has on site (the check report, the placement
set on the live snapshot, the snapshots, the notes) and, in one registry transaction, writes
the ``InstallRecord``, sets the camera's install state (verified on pass or warn, failed on
fail) and ``verified_at``, and applies the placement to the camera. The ``install_verified``
audit event (camera, verdict, record id; never a stream address) is written after the rows are
flushed and before they are committed, so a record is never visible without its event, and an
audit log that refuses leaves nothing saved (fail closed).

Snapshots are masked here, whatever the caller did: the placement's privacy masks are blacked
out with the decoder's own ``apply_privacy_masks`` before a picture is encoded, so an unmasked
picture can never be saved. They are then scaled to at most ``MAX_SNAPSHOT_WIDTH`` pixels wide
and stored as JPEG of quality ``JPEG_QUALITY``.

Everything here blocks on the databases: run it off the UI thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.audit_chain import AuditEventType, Outcome
from app.models.camera import Camera, PrivacyMask
from app.models.camera_placement import CameraPlacement
from app.models.install_record import (
    MAX_NOTES_LENGTH,
    MAX_SNAPSHOTS,
    InstallRecord,
    InstallRecordSyncState,
    InstallSnapshot,
    InstallVerdict,
    install_state_after,
)
from app.models.policy import Purpose, PurposeKind
from app.models.stream_url import redact_url
from app.models.user import User
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.install_check import InstallCheckReport
from app.video.decode_process import apply_privacy_masks

SessionFactory = Callable[[], Session]

MAX_SNAPSHOT_WIDTH = 1920
JPEG_QUALITY = 85
STREAMS = ("main", "sub")


class InstallRecordError(Exception):
    """The record was not saved (or cannot be read); the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A picture of one of the camera's streams, BGR (or the wall's BGRX), as decoded."""

    image: npt.NDArray[np.uint8]
    stream: str = "main"


@dataclass(frozen=True, slots=True)
class SavedSnapshot:
    stream: str
    width: int
    height: int
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class SavedInstallRecord:
    """A saved record as plain values (for the Record tab, the PDF report and the CLI)."""

    record_id: str
    camera_id: str
    camera_name: str
    camera_address: str
    owner_name: str
    technician: str  # user name
    technician_name: str  # display name, or the user name when the account is gone
    workstation: str
    created_at: datetime
    verdict: InstallVerdict
    check_report: dict[str, Any]
    placement: dict[str, Any]
    notes: str
    snapshots: tuple[SavedSnapshot, ...]
    sync_state: InstallRecordSyncState
    sent_at: datetime | None
    last_error: str | None


def masked_jpeg(snapshot: Snapshot, masks: list[PrivacyMask]) -> SavedSnapshot:
    """The snapshot with ``masks`` blacked out, at most MAX_SNAPSHOT_WIDTH wide, as JPEG."""
    image = snapshot.image
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InstallRecordError(
            f"a snapshot is a BGR picture (height x width x 3 bytes), not an array of shape "
            f"{image.shape} and type {image.dtype}"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InstallRecordError("the snapshot is empty; take it again from the live stream")
    bgr = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR) if image.shape[2] == 4 else image.copy()
    apply_privacy_masks(cv2, bgr, masks)
    height, width = bgr.shape[:2]
    if width > MAX_SNAPSHOT_WIDTH:
        height = max(1, round(height * MAX_SNAPSHOT_WIDTH / width))
        width = MAX_SNAPSHOT_WIDTH
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise InstallRecordError("the snapshot could not be encoded as JPEG")
    return SavedSnapshot(snapshot.stream, width, height, encoded.tobytes())


def _redacted(value: Any) -> Any:
    """A JSON value with any credentials in a URL it holds replaced by ``***``."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def _checked_report(report: InstallCheckReport, camera_id: str) -> InstallVerdict:
    if not report.streams:
        raise InstallRecordError("the install check has no result yet: run it, then save")
    if report.camera_id is not None and report.camera_id != camera_id:
        raise InstallRecordError(
            f"the check is of camera {report.camera_id}, not of {camera_id}: check this camera "
            "and save again"
        )
    if report.stopped_reason is not None:
        raise InstallRecordError(
            f"the check did not run to the end ({report.stopped_reason}): run it again, then save"
        )
    return InstallVerdict(report.verdict.value)


def save_install_record(
    sessions: SessionFactory,
    audit: AuditLog,
    *,
    camera_id: str,
    technician: SignedInUser,
    workstation: str,
    report: InstallCheckReport,
    placement: CameraPlacement,
    snapshots: Sequence[Snapshot],
    notes: str,
    now: datetime,
) -> SavedInstallRecord:
    """Save the install record of ``camera_id``, audited, queued for the sync server (see the
    module's docstring). Raises InstallRecordError (nothing saved) for what the technician can
    fix, AuditWriteError when the audit log refuses (nothing saved)."""
    verdict = _checked_report(report, camera_id)
    notes = notes.strip()
    if len(notes) > MAX_NOTES_LENGTH:
        raise InstallRecordError(
            f"the notes have {len(notes)} characters; keep them to {MAX_NOTES_LENGTH}"
        )
    placed = placement.to_dict()
    if not any(snapshot.stream == "main" for snapshot in snapshots):
        raise InstallRecordError(
            "an install record needs a snapshot of the main stream: take one, then save"
        )
    if len(snapshots) > MAX_SNAPSHOTS:
        raise InstallRecordError(f"an install record keeps at most {MAX_SNAPSHOTS} snapshots")
    unknown = [snapshot.stream for snapshot in snapshots if snapshot.stream not in STREAMS]
    if unknown:
        raise InstallRecordError(f"a snapshot is of the main or sub stream, not {unknown[0]!r}")
    pictures = []
    for position, snapshot in enumerate(snapshots):
        saved = masked_jpeg(snapshot, placed["privacy_masks"])
        pictures.append(
            InstallSnapshot(
                position=position,
                stream=saved.stream,
                width=saved.width,
                height=saved.height,
                jpeg=saved.jpeg,
            )
        )
    record_id = str(uuid.uuid4())
    with sessions() as session:
        camera = session.get(Camera, camera_id, options=[selectinload(Camera.owner)])
        if camera is None:
            raise InstallRecordError(
                f"no camera {camera_id!r} in the registry (removed meanwhile?); nothing was saved"
            )
        record = InstallRecord(
            id=record_id,
            camera_id=camera_id,
            technician=technician.username,
            workstation=workstation,
            created_at=now,
            verdict=verdict,
            check_report=_redacted(report.to_dict()),
            placement=placed,
            notes=notes,
            sync_state=InstallRecordSyncState.QUEUED,
            snapshots=pictures,
        )
        session.add(record)
        camera.install_state = install_state_after(verdict)
        camera.verified_at = now
        for name, value in placed.items():
            setattr(camera, name, value)
        session.flush()
        # Before the commit: no record without its event; a refused write saves nothing.
        audit.record(
            AuditEventType.INSTALL_VERIFIED,
            actor=technician.username,
            outcome=Outcome.FAILURE if verdict is InstallVerdict.FAIL else Outcome.SUCCESS,
            subject=camera.name,
            camera_id=camera_id,
            purpose=str(Purpose(PurposeKind.INSTALL, camera_id)),
            details={
                "record": record_id,
                "verdict": verdict.value,
                "snapshots": len(pictures),
                "privacy_masks": len(placed["privacy_masks"]),
            },
        )
        session.commit()
        return _saved(session, record, camera)


def read_install_record(sessions: SessionFactory, record_id: str) -> SavedInstallRecord:
    with sessions() as session:
        record = session.get(
            InstallRecord, record_id, options=[selectinload(InstallRecord.snapshots)]
        )
        if record is None:
            raise InstallRecordError(f"no install record {record_id} on this workstation")
        camera = session.get(Camera, record.camera_id, options=[selectinload(Camera.owner)])
        assert camera is not None  # a foreign key, and records are never removed
        return _saved(session, record, camera)


def camera_install_records(sessions: SessionFactory, camera_id: str) -> list[SavedInstallRecord]:
    """A camera's install records, newest first."""
    with sessions() as session:
        camera = session.get(Camera, camera_id, options=[selectinload(Camera.owner)])
        if camera is None:
            raise InstallRecordError(f"no camera {camera_id!r} in the registry")
        records = session.scalars(
            select(InstallRecord)
            .where(InstallRecord.camera_id == camera_id)
            .options(selectinload(InstallRecord.snapshots))
            .order_by(InstallRecord.created_at.desc())
        ).all()
        return [_saved(session, record, camera) for record in records]


def _saved(session: Session, record: InstallRecord, camera: Camera) -> SavedInstallRecord:
    user = session.scalar(select(User).where(User.username == record.technician))
    return SavedInstallRecord(
        record_id=record.id,
        camera_id=camera.id,
        camera_name=camera.name,
        camera_address=camera.address,
        owner_name=camera.owner.name,
        technician=record.technician,
        technician_name=user.display_name if user is not None else record.technician,
        workstation=record.workstation,
        created_at=record.created_at,
        verdict=record.verdict,
        check_report=record.check_report,
        placement=record.placement,
        notes=record.notes,
        snapshots=tuple(
            SavedSnapshot(s.stream, s.width, s.height, s.jpeg) for s in record.snapshots
        ),
        sync_state=record.sync_state,
        sent_at=record.sent_at,
        last_error=record.last_error,
    )


__all__ = [
    "JPEG_QUALITY",
    "MAX_SNAPSHOT_WIDTH",
    "InstallRecordError",
    "SavedInstallRecord",
    "SavedSnapshot",
    "Snapshot",
    "camera_install_records",
    "masked_jpeg",
    "read_install_record",
    "save_install_record",
]
