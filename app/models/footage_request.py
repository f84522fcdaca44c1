"""FootageRequest: a request to an owner for recorded video of a time window.

Its life: ``drafted`` (made for one camera of an incident; stays drafted while it cannot be
sent, with the last failure in ``last_error``) -> ``sent`` (e-mailed to the camera's owner,
``message_id`` names the mail, ``expires_at`` is when waiting stops) -> ``fulfilled`` or
``declined`` when the owner answers (``answered_at``), or ``expired`` when no answer came in
time. A late answer to an expired request is still recorded: the owner did answer.
"""

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


ANSWERS = frozenset({FootageRequestStatus.FULFILLED, FootageRequestStatus.DECLINED})
# The states an owner's answer may follow.
ANSWERABLE = frozenset({FootageRequestStatus.SENT, FootageRequestStatus.EXPIRED})
# Requests still open: a second request for the same camera and time would ask twice.
OPEN_STATUSES = frozenset({FootageRequestStatus.DRAFTED, FootageRequestStatus.SENT})


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
    # Revision 0004: what a request needs after it is drafted.
    message_id: Mapped[str | None] = mapped_column(String(255), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    answer_note: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)

    @property
    def reference(self) -> str:
        """What the owner quotes in an answer; the id is unique in this registry."""
        return f"FR-{self.id}"
