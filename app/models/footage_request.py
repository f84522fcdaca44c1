"""FootageRequest: a request to an owner for recorded video of a time window."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class FootageRequestStatus(enum.StrEnum):
    DRAFTED = "drafted"
    SENT = "sent"
    FULFILLED = "fulfilled"
    DECLINED = "declined"
    EXPIRED = "expired"


class FootageRequest(Base):
    __tablename__ = "footage_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[FootageRequestStatus] = mapped_column(
        Enum(FootageRequestStatus, native_enum=False, length=16),
        default=FootageRequestStatus.DRAFTED,
    )
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    note: Mapped[str] = mapped_column(String(2000), default="")
