"""The evidence vault's tables: footage requests the server knows, their single-use upload
tokens, uploads in progress, the evidence files received, and the append-only custody log.

The database holds metadata and each file's data key wrapped by the vault key; never the vault
key, never a plaintext data key, never an upload link's secret (only its SHA-256). The custody
log is append-only in the database itself (triggers of migration s003 refuse UPDATE and DELETE).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UtcDateTime
from server.models import ServerBase


class EvidenceRequestStatus(enum.StrEnum):
    OPEN = "open"  # the owner's link works until it is used or expires
    FULFILLED = "fulfilled"  # the owner uploaded footage and said done
    DECLINED = "declined"  # the owner has nothing, or will not share it (with a reason)
    EXPIRED = "expired"  # nobody answered before the request expired


class CustodyAction(enum.StrEnum):
    RECEIVED = "received"
    VIEWED = "viewed"
    EXPORTED = "exported"
    DELETED = "deleted"


def _choice(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class EvidenceRequest(ServerBase):
    """A workstation's footage request, registered so its owner can upload through a link."""

    __tablename__ = "evidence_requests"
    __table_args__ = (
        UniqueConstraint(
            "workstation_id", "reference", name="uq_evidence_requests_workstation_reference"
        ),
        UniqueConstraint("receipt_number", name="uq_evidence_requests_receipt_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workstation_id: Mapped[str] = mapped_column(String(64), ForeignKey("workstations.id"))
    reference: Mapped[str] = mapped_column(String(32))  # the workstation's FR-<id>
    cad_number: Mapped[str] = mapped_column(String(64), index=True)
    incident_type: Mapped[str] = mapped_column(String(100))
    camera_id: Mapped[str] = mapped_column(String(64))
    camera_name: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    time_zone: Mapped[str] = mapped_column(String(64))  # the camera owner's, for the page
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[EvidenceRequestStatus] = mapped_column(_choice(EvidenceRequestStatus))
    decline_reason: Mapped[str | None] = mapped_column(String(2000))
    receipt_number: Mapped[str | None] = mapped_column(String(32))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class UploadToken(ServerBase):
    """The secret of an owner's upload link; only its SHA-256 is stored. Used once."""

    __tablename__ = "evidence_upload_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_evidence_upload_tokens_token_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class EvidenceUpload(ServerBase):
    """A file being uploaded: how much of it the vault holds (encrypted), so it can resume.

    ``id`` becomes the evidence file's id when the upload completes: the encrypted segments are
    bound to it from the first byte.
    """

    __tablename__ = "evidence_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))  # sanitised, metadata only
    size: Mapped[int] = mapped_column(BigInteger)  # as the owner's browser declared it
    received: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes stored so far
    stored_bytes: Mapped[int] = mapped_column(BigInteger)  # length of the vault file so far
    segments: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(40))
    nonce_prefix: Mapped[bytes] = mapped_column(LargeBinary(8))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EvidenceFile(ServerBase):
    """One file an owner sent, as received: its hash, what it probed as, how it is sealed."""

    __tablename__ = "evidence_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"), index=True)
    cad_number: Mapped[str] = mapped_column(String(64), index=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    camera_name: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str] = mapped_column(String(255))  # sanitised, metadata only
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext, as it arrived
    container: Mapped[str] = mapped_column(String(100))
    codec: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(40))
    nonce_prefix: Mapped[bytes] = mapped_column(LargeBinary(8))
    segments: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class HoldAction(enum.StrEnum):
    SET = "set"
    CLEARED = "cleared"


class LegalHoldEvent(ServerBase):
    """An administrator setting or clearing an incident's legal hold, with the reason; rows are
    never changed (migration s004). An incident is held while its newest event is ``set``: the
    retention job then deletes none of its evidence."""

    __tablename__ = "evidence_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cad_number: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[HoldAction] = mapped_column(_choice(HoldAction))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column(UtcDateTime)


class CustodyEvent(ServerBase):
    """Who did what with a piece of evidence, when and why; rows are never changed."""

    __tablename__ = "evidence_custody"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence_files.id"), index=True)
    action: Mapped[CustodyAction] = mapped_column(_choice(CustodyAction))
    actor: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column(UtcDateTime)
