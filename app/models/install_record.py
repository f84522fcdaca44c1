"""InstallRecord: a field technician's record of a camera install, as it was checked on site.

One record per install check the technician saves: who checked which camera from which
workstation and when, the verdict, the whole check report (its JSON form, ``format`` key and
all), the placement the technician set (position, heading, field of view, range, privacy
masks), the notes, and the masked snapshots (``InstallSnapshot``, JPEG). A record is never
changed after it is saved (the registry database refuses it: triggers of revision 0006); a
second check makes a new record. Only its sync state moves: ``queued`` until the sync server
took it, then ``sent`` with ``sent_at``; ``last_error`` says why the last try failed.

The id is a UUID made on the workstation, so the server takes a record sent twice (the
acknowledgement lost) as one.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime
from app.models.camera import InstallState

MAX_NOTES_LENGTH = 4000
MAX_SNAPSHOTS = 4  # a record with its pictures stays well under the sync server's body limit


class InstallVerdict(enum.StrEnum):
    """The install check's overall verdict (``CheckStatus`` of the check engine)."""

    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    WARN = "warn"
    FAIL = "fail"


def install_state_after(verdict: InstallVerdict) -> InstallState:
    """What a camera's install state becomes with a record of ``verdict``: a warning is still a
    working install (its checks say what to watch)."""
    return InstallState.FAILED if verdict is InstallVerdict.FAIL else InstallState.VERIFIED


class InstallRecordSyncState(enum.StrEnum):
    QUEUED = "queued"  # saved here, not yet taken by the sync server
    SENT = "sent"  # the sync server acknowledged it


class InstallRecord(Base):
    __tablename__ = "install_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, as text
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    technician: Mapped[str] = mapped_column(String(64))  # the signed-in user's name
    workstation: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verdict: Mapped[InstallVerdict] = mapped_column(
        Enum(InstallVerdict, native_enum=False, length=16)
    )
    check_report: Mapped[dict[str, Any]] = mapped_column(JSON)
    placement: Mapped[dict[str, Any]] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text, default="")
    sync_state: Mapped[InstallRecordSyncState] = mapped_column(
        Enum(InstallRecordSyncState, native_enum=False, length=16),
        default=InstallRecordSyncState.QUEUED,
        index=True,
    )
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)

    snapshots: Mapped[list[InstallSnapshot]] = relationship(
        order_by="InstallSnapshot.position", cascade="all, delete-orphan"
    )


class InstallSnapshot(Base):
    """One masked picture of a record, as a JPEG."""

    __tablename__ = "install_snapshots"

    record_id: Mapped[str] = mapped_column(ForeignKey("install_records.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: the first shown
    stream: Mapped[str] = mapped_column(String(16))  # "main" or "sub"
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
