"""Install records on the sync server: workstations send the records their field technicians
saved; supervisors read a camera's records.

``PUT /v1/install-records/{record_id}`` (a workstation token) stores a record under the UUID the
workstation gave it, with its snapshots (JPEG, base64 in the JSON body). The same record sent
again (its acknowledgement was lost) is taken as one: 200 and nothing stored, where the first
time was 201. A different record under an id already taken is refused with 409 and nothing
changes. A record names its camera by id only: it may be of a camera this server's registry
does not have (registered on the workstation alone). A new record of a registry camera is also
a registry change (in the same transaction): the camera takes the record's placement (position,
heading, field of view, range, privacy masks), its install state and ``verified_at``, so every
workstation's registry sync brings the technician's corrections, and the next administrator's
change cannot silently undo them. A record older than the camera's ``verified_at`` is stored
but changes nothing (two technicians' laptops synced out of order).

``GET /v1/cameras/{camera_id}/install-records`` (a supervisor or administrator token) lists a
camera's records, newest first, with the snapshots' sizes and SHA-256, and the pictures
themselves with ``include_snapshots=true``.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run
time.
"""

import base64
import binascii
import hashlib
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.camera_placement import CameraPlacement, PlacementError
from app.models.install_record import (
    MAX_NOTES_LENGTH,
    MAX_SNAPSHOTS,
    InstallVerdict,
    install_state_after,
)
from app.models.registry_records import CAMERA_FIELDS, CameraRecord, record_document
from server.api import AUTH_ERRORS, BODY_ERRORS, ServerContext, token_dependency
from server.models import (
    ApiToken,
    ReceivedInstallRecord,
    ReceivedInstallSnapshot,
    RegistryCamera,
    TokenRole,
)
from server.registry import ChangeLog, put_camera
from server.schemas import NO_NUL, ErrorMessage
from server.tokens import require_role

MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024  # a 1920 px JPEG of quality 85 is well under this
JPEG_START = b"\xff\xd8\xff"

CameraIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NO_NUL, examples=["cam-harbor-1"])
]


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlacementDocument(_Forbid):
    """Where the technician placed the camera: WGS84 degrees, heading clockwise from north,
    field of view, range, privacy masks as polygons in normalised image coordinates."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    heading_deg: float = Field(ge=0, lt=360)
    fov_deg: float = Field(ge=1, le=360)
    range_m: float = Field(gt=0)
    privacy_masks: list[list[Annotated[list[float], Field(min_length=2, max_length=2)]]] = Field(
        max_length=64
    )

    @model_validator(mode="after")
    def _a_placement(self) -> "PlacementDocument":
        try:
            CameraPlacement(**self.model_dump())
        except PlacementError as exc:
            raise ValueError(str(exc)) from None
        return self


class SnapshotUpload(_Forbid):
    stream: Literal["main", "sub"]
    width: int = Field(ge=1, le=10_000)
    height: int = Field(ge=1, le=10_000)
    jpeg: str = Field(
        description="the JPEG file, base64", max_length=(MAX_SNAPSHOT_BYTES * 4) // 3 + 4
    )

    @field_validator("jpeg")
    @classmethod
    def _a_jpeg(cls, value: str) -> str:
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is not base64") from None
        if not data.startswith(JPEG_START):
            raise ValueError("is not a JPEG file")
        return value

    def data(self) -> bytes:
        return base64.b64decode(self.jpeg)


class InstallRecordUpload(_Forbid):
    """A field technician's install record as the workstation saved it."""

    id: uuid.UUID
    camera_id: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    technician: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    workstation: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    created_at: AwareDatetime
    verdict: Literal["pass", "warn", "fail"]
    check_report: dict[str, Any] = Field(
        description="the install check's report (its JSON form, with its `format`)"
    )
    placement: PlacementDocument
    notes: str = Field(max_length=MAX_NOTES_LENGTH, pattern=NO_NUL)
    snapshots: list[SnapshotUpload] = Field(min_length=1, max_length=MAX_SNAPSHOTS)

    @field_validator("check_report")
    @classmethod
    def _a_report(cls, value: dict[str, Any]) -> dict[str, Any]:
        report_format = value.get("format")
        if not isinstance(report_format, int) or isinstance(report_format, bool):
            raise ValueError("has no `format` (the report's format number)")
        return value

    @field_validator("snapshots")
    @classmethod
    def _one_of_the_main_stream(cls, value: list[SnapshotUpload]) -> list[SnapshotUpload]:
        if not any(snapshot.stream == "main" for snapshot in value):
            raise ValueError("needs a snapshot of the main stream")
        return value


class InstallRecordReceipt(BaseModel):
    id: uuid.UUID
    stored: bool = Field(description="false: the server already had this record")
    received_at: datetime


class SnapshotInfo(BaseModel):
    stream: str
    width: int
    height: int
    bytes: int
    sha256: str
    jpeg: str | None = Field(description="the JPEG file, base64, when asked for")


class InstallRecordInfo(BaseModel):
    id: uuid.UUID
    camera_id: str
    workstation_id: str = Field(description="the workstation that sent it")
    workstation: str = Field(description="the workstation's own name for itself")
    technician: str
    created_at: datetime
    received_at: datetime
    verdict: str
    check_report: dict[str, Any]
    placement: dict[str, Any]
    notes: str
    snapshots: list[SnapshotInfo]


class CameraInstallRecords(BaseModel):
    camera_id: str
    records: list[InstallRecordInfo] = Field(description="newest first")


def _content_hash(upload: InstallRecordUpload) -> str:
    canonical = json.dumps(
        upload.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
    ).encode()
    return hashlib.sha256(canonical).hexdigest()


def _dumped(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class RecordTaken(Exception):
    """Another record is stored under this id."""


def store_record(
    session: Session, upload: InstallRecordUpload, workstation_id: str, now: datetime
) -> ReceivedInstallRecord | None:
    """Store ``upload`` (in the caller's transaction): the new row, or None when this very record
    is stored already; RecordTaken when a different one is."""
    record_id = str(upload.id)
    digest = _content_hash(upload)
    stored = session.get(ReceivedInstallRecord, record_id)
    if stored is not None:
        if stored.content_sha256 != digest or stored.workstation_id != workstation_id:
            raise RecordTaken(record_id)
        return None
    row = ReceivedInstallRecord(
        id=record_id,
        workstation_id=workstation_id,
        camera_id=upload.camera_id,
        technician=upload.technician,
        workstation=upload.workstation,
        created_at=upload.created_at,
        received_at=now,
        verdict=upload.verdict,
        check_report=_dumped(upload.check_report),
        placement=_dumped(upload.placement.model_dump()),
        notes=upload.notes,
        content_sha256=digest,
    )
    session.add(row)
    session.add_all(
        ReceivedInstallSnapshot(
            record_id=record_id,
            position=position,
            stream=snapshot.stream,
            width=snapshot.width,
            height=snapshot.height,
            jpeg=snapshot.data(),
        )
        for position, snapshot in enumerate(upload.snapshots)
    )
    session.flush()
    _place_registry_camera(session, upload, now)
    return row


def _place_registry_camera(session: Session, upload: InstallRecordUpload, now: datetime) -> None:
    """The registry camera as the record placed it (see the module's docstring)."""
    camera = session.get(RegistryCamera, upload.camera_id)
    if camera is None or (
        camera.verified_at is not None and camera.verified_at > upload.created_at
    ):
        return
    document = record_document(camera, ("id", *CAMERA_FIELDS)) | upload.placement.model_dump()
    document["install_state"] = install_state_after(InstallVerdict(upload.verdict))
    document["verified_at"] = upload.created_at
    put_camera(ChangeLog(session, now), CameraRecord.model_validate(document))


def _info(
    row: ReceivedInstallRecord, snapshots: list[ReceivedInstallSnapshot], with_pictures: bool
) -> InstallRecordInfo:
    return InstallRecordInfo(
        id=uuid.UUID(row.id),
        camera_id=row.camera_id,
        workstation_id=row.workstation_id,
        workstation=row.workstation,
        technician=row.technician,
        created_at=row.created_at,
        received_at=row.received_at,
        verdict=row.verdict,
        check_report=json.loads(row.check_report),
        placement=json.loads(row.placement),
        notes=row.notes,
        snapshots=[
            SnapshotInfo(
                stream=snapshot.stream,
                width=snapshot.width,
                height=snapshot.height,
                bytes=len(snapshot.jpeg),
                sha256=hashlib.sha256(snapshot.jpeg).hexdigest(),
                jpeg=base64.b64encode(snapshot.jpeg).decode("ascii") if with_pictures else None,
            )
            for snapshot in snapshots
        ],
    )


def install_records_router(context: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/v1")
    sessions, clock = context.sessions, context.clock
    Token = Annotated[ApiToken, Depends(token_dependency(context))]

    @router.put(
        "/install-records/{record_id}",
        response_model=InstallRecordReceipt,
        summary="Store a field technician's install record (workstations)",
        responses={
            **AUTH_ERRORS,
            **BODY_ERRORS,
            201: {"model": InstallRecordReceipt, "description": "stored"},
            409: {
                "model": ErrorMessage,
                "description": "a different record is stored under this id; nothing changed",
            },
            413: {"model": ErrorMessage, "description": "the body is larger than the server takes"},
        },
    )
    def put_install_record(
        record_id: uuid.UUID, upload: InstallRecordUpload, token: Token, response: Response
    ) -> InstallRecordReceipt:
        """The record as the workstation saved it; `id` must be the path's. 201 when stored,
        200 when the server already had this very record (sent again after a lost answer)."""
        require_role(token, TokenRole.WORKSTATION)
        if upload.id != record_id:
            raise HTTPException(  # shaped as FastAPI's own 422, as the schema documents it
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [
                    {
                        "loc": ["body", "id"],
                        "msg": f"the record's id is {upload.id} but the path names {record_id}",
                        "type": "value_error",
                    }
                ],
            )
        assert token.workstation_id is not None  # a workstation token has its workstation
        workstation_id, now = token.workstation_id, clock()

        def store() -> ReceivedInstallRecord | None:
            with sessions.begin() as session:
                return store_record(session, upload, workstation_id, now)

        try:
            try:
                row = store()
            except IntegrityError:
                # The same id stored at that moment by another request: as if it came first.
                row = store()
        except RecordTaken:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"a different install record is stored under {record_id}; nothing changed",
            ) from None
        if row is None:
            with sessions() as session:
                stored = session.get(ReceivedInstallRecord, str(record_id))
                assert stored is not None
                return InstallRecordReceipt(
                    id=record_id, stored=False, received_at=stored.received_at
                )
        response.status_code = status.HTTP_201_CREATED
        return InstallRecordReceipt(id=record_id, stored=True, received_at=now)

    @router.get(
        "/cameras/{camera_id}/install-records",
        response_model=CameraInstallRecords,
        summary="A camera's install records, newest first (supervisors)",
        responses=AUTH_ERRORS,
    )
    def camera_install_records(
        camera_id: CameraIdPath,
        token: Token,
        include_snapshots: Annotated[
            bool, Query(description="the pictures themselves (base64), not only their sizes")
        ] = False,
    ) -> CameraInstallRecords:
        require_role(token, TokenRole.SUPERVISOR, TokenRole.ADMIN)
        with sessions() as session:
            rows = session.scalars(
                select(ReceivedInstallRecord)
                .where(ReceivedInstallRecord.camera_id == camera_id)
                .order_by(ReceivedInstallRecord.created_at.desc(), ReceivedInstallRecord.id)
            ).all()
            pictures: dict[str, list[ReceivedInstallSnapshot]] = {row.id: [] for row in rows}
            for snapshot in session.scalars(
                select(ReceivedInstallSnapshot)
                .where(ReceivedInstallSnapshot.record_id.in_(pictures))
                .order_by(ReceivedInstallSnapshot.record_id, ReceivedInstallSnapshot.position)
            ):
                pictures[snapshot.record_id].append(snapshot)
            records = [_info(row, pictures[row.id], include_snapshots) for row in rows]
        return CameraInstallRecords(camera_id=camera_id, records=records)

    return router
